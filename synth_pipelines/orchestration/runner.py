"""Headless runs of one dataset, as the CLI and the e2e tests do them: the refresh job (snapshot to
QA'd features and, for a spec with `tables:`, QA'd tables), then the same publication gates the gate
sensor applies, then the publish job for what passed its gate (the features, the tables release, or both)."""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import string
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg

from synth_pipelines.core.assessment import Assessment
from synth_pipelines.core.preview import preview_limits, preview_spec, work_ratio
from synth_pipelines.core.snapshot import take_snapshot
from synth_pipelines.core.validation import assess_snapshot
from synth_pipelines.orchestration.code_location import CODE_LOCATION_NAME, build_definitions
from synth_pipelines.orchestration.factory import (DATASET_TAG, add_snapshot_partitions, release_gate,
                                                  snapshot_as_of, snapshot_refusal, today_partition)
from synth_pipelines.orchestration.multitable import tables_gate
from synth_pipelines.orchestration.resources import SynthStorage
from synth_pipelines.paths import storage_root
from synth_pipelines.spec import LoadedSpec


# (stage, message, logging level): a stage starting (message None) or a line it logged.
ProgressCallback = Callable[[str, "str | None", int], None]


@dataclass
class RunOutcome:
    run_id: str
    success: bool
    release: dict[str, Any] | None
    failed_checks: dict[str, str] = field(default_factory=dict)  # blocking checks that failed
    advisory_failures: dict[str, str] = field(default_factory=dict)  # reported, not blocking
    error: str | None = None
    gate: str | None = None
    awaiting_approval: bool = False  # the gate waits only for a (new) approval
    # Every QA check as QualityCheck.to_dict() gives it (name, passed, blocking, summary, metrics).
    checks: list[dict[str, Any]] = field(default_factory=list)
    qa_report: str | None = None  # the internal QA report of this run (HTML)
    error_class: str | None = None  # the exception class of `error`, e.g. SpecError
    # A spec with `tables:`: its <dataset>_tables release, passed through its own gate (tables_gate).
    tables_release: dict[str, Any] | None = None
    tables_gate: str | None = None
    tables_awaiting_approval: bool = False
    tables_gate_open: bool = False


def instance_for_cli() -> dg.DagsterInstance:
    """The DAGSTER_HOME instance when one is set (runs then show in `dagster dev`), else a temporary one."""
    if os.environ.get("DAGSTER_HOME"):
        return dg.DagsterInstance.get()
    return dg.DagsterInstance.ephemeral()


def _first_error(result: dg.ExecuteInProcessResult) -> tuple[str, str] | None:
    """(step: message, exception class) of the first failed step."""
    for event in result.all_events:
        if event.is_step_failure:
            info = event.event_specific_data.error
            while info.cause is not None:  # Dagster wraps the stage's own exception; show that one
                info = info.cause
            return f"{event.step_key}: {info.message.strip()}", info.cls_name
    return None


def _check_results(result: dg.ExecuteInProcessResult) -> list[dict[str, Any]]:
    checks = []
    for evaluation in result.get_asset_check_evaluations():
        meta = {k: v.value for k, v in evaluation.metadata.items()}
        details = meta.get("details") or {}
        name, path = evaluation.check_name, evaluation.asset_key.path
        if len(path) == 3 and path[1] == "tables":  # a synthesized table's check (<dataset>/tables/<table>)
            name = f"{path[2]}: {name}"
        checks.append({"name": name, "passed": evaluation.passed,
                       "blocking": evaluation.severity == dg.AssetCheckSeverity.ERROR,
                       "summary": str(meta.get("summary", "")), "report_html": meta.get("report_html"),
                       "metrics": [{"name": name, **values} for name, values in details.items()]})
    return checks


def _progress_listener(dataset: str, on_progress: ProgressCallback) -> Callable[[Any], None]:
    """Turns a run's event log entries into (stage, message, level) calls: step starts and logged lines."""

    def listen(entry: Any) -> None:
        # A sharded stage's steps are `<graph>.<op>[shard]`: the graph names the stage.
        step = (entry.step_key or "").split(".")[0]
        stage = step.removeprefix(f"{dataset}__").removeprefix(f"{dataset}_") or "run"
        if entry.is_dagster_event:
            if entry.dagster_event_type == dg.DagsterEventType.STEP_START:
                on_progress(stage, None, logging.INFO)
        elif entry.user_message and entry.level >= logging.INFO:
            on_progress(stage, entry.user_message, entry.level)

    return listen


def _execute(job: dg.JobDefinition, instance: dg.DagsterInstance, partition: str, log_level: str,
             on_progress: ProgressCallback | None, dataset: str, tags: Mapping[str, str] | None = None,
             asset_selection: list[dg.AssetKey] | None = None) -> dg.ExecuteInProcessResult:
    run_id = str(uuid.uuid4())
    if on_progress is not None:
        instance.add_event_listener(run_id, _progress_listener(dataset, on_progress))
    return job.execute_in_process(run_config={"loggers": {"console": {"config": {"log_level": log_level}}}},
                                  instance=instance, raise_on_error=False, partition_key=partition, run_id=run_id,
                                  tags=tags, asset_selection=asset_selection)


def record_backfill(instance: dg.DagsterInstance, loaded: LoadedSpec, partitions: list[str]) -> str:
    """Record a backfill of the dataset's refresh job over `partitions` in the instance, as `dagster job
    backfill` does, and return its id: runs tagged with it (backfill_tags) show under the UI's Backfills tab.

    It is recorded as COMPLETED, Dagster's state for "every run was requested by its launcher" (this
    process runs them itself), so a daemon never launches them a second time."""
    from dagster._core.definitions.repository_definition.valid_definitions import SINGLETON_REPOSITORY_NAME
    from dagster._core.execution.backfill import BulkActionStatus, PartitionBackfill
    from dagster._core.remote_origin import (RegisteredCodeLocationOrigin, RemotePartitionSetOrigin,
                                             RemoteRepositoryOrigin)
    from dagster._core.remote_representation.external_data import partition_set_snap_name_for_job_name
    from dagster._core.utils import BACKFILL_TAG_LENGTH
    from dagster._time import get_current_timestamp

    repository = RemoteRepositoryOrigin(code_location_origin=RegisteredCodeLocationOrigin(location_name=CODE_LOCATION_NAME),
                                        repository_name=SINGLETON_REPOSITORY_NAME)
    job = f"{loaded.spec.dataset}_refresh"
    backfill = PartitionBackfill(
        backfill_id=new_backfill_id(BACKFILL_TAG_LENGTH), status=BulkActionStatus.COMPLETED, from_failure=False,
        tags={DATASET_TAG: loaded.spec.dataset}, backfill_timestamp=get_current_timestamp(),
        partition_set_origin=RemotePartitionSetOrigin(repository_origin=repository,
                                                      partition_set_name=partition_set_snap_name_for_job_name(job)),
        partition_names=partitions, title=f"{loaded.spec.release_name} over {partitions[0]}..{partitions[-1]}",
        description=f"synth-pipelines backfill of {loaded.path}")
    instance.add_backfill(backfill)
    return backfill.backfill_id


def new_backfill_id(length: int) -> str:
    """A new backfill id in Dagster's shape (lowercase letters). Not Dagster's make_new_backfill_id: it draws
    from the global `random`, which a run's seeded generator resets, so two backfills recorded in one
    process after a run each drew the same id."""
    return "".join(secrets.choice(string.ascii_lowercase) for _ in range(length))


def end_backfill(instance: dg.DagsterInstance, backfill_id: str) -> None:
    """Stamp the recorded backfill's end, so the UI shows how long it took (not a clock still running)."""
    from dagster._time import get_current_timestamp

    backfill = instance.get_backfill(backfill_id)
    if backfill is not None:
        instance.update_backfill(backfill.with_end_timestamp(get_current_timestamp()))


def backfill_tags(backfill_id: str) -> dict[str, str]:
    """The tags that file a run under a recorded backfill (Dagster's own backfill tag)."""
    from dagster._core.storage.tags import BACKFILL_ID_TAG

    return {BACKFILL_ID_TAG: backfill_id}


def materialize_dataset(loaded: LoadedSpec, instance: dg.DagsterInstance, storage: SynthStorage | None = None,
                        log_level: str = "INFO", partition_key: str | None = None,
                        publish: bool = True, on_progress: ProgressCallback | None = None,
                        tags: Mapping[str, str] | None = None, publish_tables: bool = True) -> RunOutcome:
    """Run the refresh job for one snapshot partition (default: today's) and publish what passes its gate
    (publish_partition; `publish_tables` False: not the tables release, found published already).

    The partition is added to the instance first; a past day whose snapshot can be neither reused nor
    rebuilt (snapshot_refusal) is refused before that, so it never shows as a partition.
    `log_level` is Dagster's console logger's (the CLI silences it: it prints stack traces);
    `on_progress` hears each stage start and each line a stage logs; `tags` go on both runs."""
    storage = storage or SynthStorage.from_env()
    partition = partition_key or today_partition(loaded)
    refusal = snapshot_refusal(loaded, storage, partition)
    if refusal is not None:
        return RunOutcome(run_id="", success=False, release=None, error=str(refusal), error_class="SpecError")
    add_snapshot_partitions(instance, loaded, [partition])
    defs = build_definitions([loaded], storage)
    name = loaded.spec.dataset
    result = _execute(defs.resolve_job_def(f"{name}_refresh"), instance, partition, log_level, on_progress, name, tags)
    checks = _check_results(result)
    error = _first_error(result)
    outcome = RunOutcome(
        run_id=result.run_id, success=False, release=None, error=error and error[0],
        error_class=error and error[1], checks=checks,
        qa_report=next((c["report_html"] for c in checks if c["report_html"]), None),
        failed_checks={c["name"]: c["summary"] for c in checks if not c["passed"] and c["blocking"]},
        advisory_failures={c["name"]: c["summary"] for c in checks if not c["passed"] and not c["blocking"]})
    if not result.success or not publish:
        return outcome
    return publish_partition(loaded, instance, storage, partition, log_level, on_progress, outcome, defs, tags,
                             tables=publish_tables)


def publish_partition(loaded: LoadedSpec, instance: dg.DagsterInstance, storage: SynthStorage | None = None,
                      partition_key: str | None = None, log_level: str = "INFO",
                      on_progress: ProgressCallback | None = None, outcome: RunOutcome | None = None,
                      defs: dg.Definitions | None = None, tags: Mapping[str, str] | None = None, *,
                      features: bool = True, tables: bool = True) -> RunOutcome:
    """Apply the publication gates to a partition's QA'd features and, for a spec with `tables:`, its
    tables, and publish in one run of the publish job what passed its gate. `features` / `tables`
    False: leave that release out (the caller found it published already). `outcome.success`: the
    features were published; `outcome.tables_release`: the tables were."""
    storage = storage or SynthStorage.from_env()
    defs = defs or build_definitions([loaded], storage)
    partition = partition_key or today_partition(loaded)
    outcome = outcome or RunOutcome(run_id="", success=False, release=None)
    name = loaded.spec.dataset
    selection = []
    if features:
        decision, _ = release_gate(loaded, storage, partition)
        outcome.gate, outcome.awaiting_approval = decision.reason, decision.awaiting_approval
        selection += [dg.AssetKey([name, "published_features"])] if decision.open else []
    if tables and loaded.spec.tables is not None:
        decision, _ = tables_gate(loaded, storage, partition)
        outcome.tables_gate, outcome.tables_awaiting_approval = decision.reason, decision.awaiting_approval
        outcome.tables_gate_open = decision.open
        selection += [dg.AssetKey([name, "published_tables"])] if decision.open else []
    if not selection:
        return outcome
    add_snapshot_partitions(instance, loaded, [partition])  # QA'd features: the snapshot exists
    published = _execute(defs.resolve_job_def(f"{name}_publish"), instance, partition, log_level, on_progress, name,
                         tags, asset_selection=selection)
    outcome.run_id = published.run_id
    error = _first_error(published)
    outcome.error, outcome.error_class = (error[0], error[1]) if error else (None, None)
    outcome.release = published_release(published, name)
    outcome.success = outcome.release is not None
    outcome.tables_release = published_tables_release(published, name)
    return outcome


def published_release(result: dg.ExecuteInProcessResult, dataset: str) -> dict[str, Any] | None:
    """What a publish run released (release, path, rows, manifest, qa_report), read back from the
    published_features materialization's metadata."""
    for materialization in result.asset_materializations_for_node(f"{dataset}__published_features"):
        return release_from_metadata(materialization.metadata)
    return None


def published_tables_release(result: dg.ExecuteInProcessResult, dataset: str) -> dict[str, Any] | None:
    """What a publish run released of the tables (release, path, rows and location per table, manifest)."""
    for materialization in result.asset_materializations_for_node(f"{dataset}__published_tables"):
        values = {k: getattr(v, "value", v) for k, v in materialization.metadata.items()}
        return {"release": values["release"], "path": values["location"],
                "rows": values["rows"], "tables": values["tables"], "manifest": values["manifest"]}
    return None


def release_from_metadata(metadata: Mapping[str, Any]) -> dict[str, Any]:
    values = {k: getattr(v, "value", v) for k, v in metadata.items()}
    return {"release": values["release"], "path": values["location"], "rows": values["dagster/row_count"],
            "manifest": values["manifest"], "qa_report": values["qa_report"]}


@dataclass
class PreviewOutcome:
    """A preview run: the full data's assessment, the preview's outcome, stage timings and QA, and an
    extrapolation of the measured training time to the full run."""

    assessment: Assessment
    outcome: RunOutcome | None  # None when the assessment found errors and nothing ran
    root: Path
    step_seconds: dict[str, float] = field(default_factory=dict)
    qa_checks: list[dict[str, Any]] = field(default_factory=list)
    preview_train_rows: int = 0
    preview_training_seconds: float = 0.0
    estimated_full_training_seconds: float = 0.0
    preview_synthetic_rows: int = 0  # as the preview's QA saw them
    estimated_full_generation_seconds: float = 0.0
    limits: list[str] = field(default_factory=list)  # what the preview cannot predict (core.preview.preview_limits)


def preview_root(dataset: str) -> Path:
    """Where previews live: apart from the snapshots, work files and runs of real runs."""
    return storage_root() / "preview" / dataset


def preview_dataset(loaded: LoadedSpec, partition_key: str | None = None, log_level: str = "WARNING",
                    on_progress: ProgressCallback | None = None) -> PreviewOutcome:
    """Run the dataset's own job on a preview spec (core.preview) in a fresh storage root, never publishing.

    The source is read once, into the preview's snapshot: the full train rows are assessed from it
    (errors stop here), then the job reuses it as a retained snapshot and samples its view."""
    spec = loaded.spec
    root = preview_root(spec.dataset)
    shutil.rmtree(root, ignore_errors=True)  # each preview starts clean; it never reuses an older one
    storage = SynthStorage(root=str(root))
    partition = partition_key or today_partition(loaded)
    as_of = snapshot_as_of(loaded, SynthStorage.from_env(), partition)  # the real storage's retained snapshots
    if on_progress is not None:
        on_progress("source_snapshot", "reading the source for the preview and the assessment", logging.INFO)
    snapshot = take_snapshot(spec, storage.snapshots(spec.dataset), snapshot_id=partition, as_of=as_of)
    assessment = assess_snapshot(loaded, snapshot)
    if assessment.errors:
        return PreviewOutcome(assessment=assessment, outcome=None, root=root)
    preview = preview_spec(loaded)
    instance = dg.DagsterInstance.ephemeral()  # preview runs stay out of the instance's run history
    outcome = materialize_dataset(preview, instance, storage=storage, log_level=log_level,
                                  partition_key=partition, publish=False, on_progress=on_progress)
    result = PreviewOutcome(assessment=assessment, outcome=outcome, root=root,
                            step_seconds={s.step_key.removeprefix(f"{spec.dataset}__"): round(s.end_time - s.start_time, 1)
                                          for s in instance.get_run_step_stats(outcome.run_id)
                                          if s.end_time and s.start_time})
    model_file = storage.work(spec.dataset, partition, "synthesizer") / "synthesizer.json"
    qa_file = storage.work(spec.dataset, partition, "qa") / "qa_report.json"
    if model_file.is_file():
        model = json.loads(model_file.read_text())
        result.preview_train_rows, result.preview_training_seconds = model["train_rows"], model["training_seconds"]
        # Training work grows about linearly with rows and with the cut work setting (epochs, trees).
        result.estimated_full_training_seconds = round(
            model["training_seconds"] * assessment.rows / max(model["train_rows"], 1)
            * work_ratio(spec.generator, preview.spec.generator), 1)
    discriminator_rows = None
    if qa_file.is_file():
        qa = json.loads(qa_file.read_text())
        result.qa_checks = qa["checks"]
        result.preview_synthetic_rows = qa["settings"]["rows"]["synthetic"]
        discriminator_rows = next((m["details"].get("rows_per_side") for c in qa["checks"] for m in c["metrics"]
                                   if m["name"] == "discriminator_auc"), None)
        generation = result.step_seconds.get("synthetic_rows")
        if generation and result.preview_synthetic_rows:  # batches of the same model: linear in rows
            result.estimated_full_generation_seconds = round(
                generation * spec.synthetic.rows / result.preview_synthetic_rows, 1)
    if result.preview_train_rows and result.preview_synthetic_rows:
        result.limits = preview_limits(spec, preview.spec, train_rows=result.preview_train_rows,
                                       synthetic_rows=result.preview_synthetic_rows,
                                       discriminator_rows=discriminator_rows, full_train_rows=assessment.rows)
    return result

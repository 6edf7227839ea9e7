"""Headless runs of one dataset, as the CLI and the e2e tests do them: the refresh job (snapshot to
QA'd features), then the same publication gate the gate sensor applies, then the publish job."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg

from synth_pipelines.core.assessment import Assessment
from synth_pipelines.core.preview import preview_spec, work_ratio
from synth_pipelines.core.snapshot import take_snapshot
from synth_pipelines.core.validation import assess_snapshot
from synth_pipelines.orchestration.code_location import build_definitions
from synth_pipelines.orchestration.factory import release_gate, snapshot_as_of, today_partition
from synth_pipelines.orchestration.resources import SynthStorage
from synth_pipelines.paths import storage_root
from synth_pipelines.spec import LoadedSpec


@dataclass
class RunOutcome:
    run_id: str
    success: bool
    release: dict[str, Any] | None
    failed_checks: dict[str, str] = field(default_factory=dict)  # blocking checks that failed
    advisory_failures: dict[str, str] = field(default_factory=dict)  # reported, not blocking
    error: str | None = None
    gate: str | None = None


def instance_for_cli() -> dg.DagsterInstance:
    """The DAGSTER_HOME instance when one is set (runs then show in `dagster dev`), else a temporary one."""
    if os.environ.get("DAGSTER_HOME"):
        return dg.DagsterInstance.get()
    return dg.DagsterInstance.ephemeral()


def _first_error(result: dg.ExecuteInProcessResult) -> str | None:
    for event in result.all_events:
        if event.is_step_failure:
            info = event.event_specific_data.error
            while info.cause is not None:  # Dagster wraps the stage's own exception; show that one
                info = info.cause
            return f"{event.step_key}: {info.message.strip()}"
    return None


def materialize_dataset(loaded: LoadedSpec, instance: dg.DagsterInstance, storage: SynthStorage | None = None,
                        log_level: str = "INFO", partition_key: str | None = None,
                        publish: bool = True) -> RunOutcome:
    """Run the refresh job for one snapshot partition (default: today's) and publish if the gate opens."""
    storage = storage or SynthStorage()
    defs = build_definitions([loaded], storage)
    partition = partition_key or today_partition(loaded)
    run_config = {"loggers": {"console": {"config": {"log_level": log_level}}}}
    name = loaded.spec.dataset
    result = defs.resolve_job_def(f"{name}_refresh").execute_in_process(
        run_config=run_config, instance=instance, raise_on_error=False, partition_key=partition)
    failed = [e for e in result.get_asset_check_evaluations() if not e.passed]
    outcome = RunOutcome(
        run_id=result.run_id, success=False, release=None, error=_first_error(result),
        failed_checks={e.check_name: str(e.metadata["summary"].value) for e in failed
                       if e.severity == dg.AssetCheckSeverity.ERROR},
        advisory_failures={e.check_name: str(e.metadata["summary"].value) for e in failed
                           if e.severity != dg.AssetCheckSeverity.ERROR})
    if not result.success or not publish:
        return outcome
    decision, _ = release_gate(loaded, storage, partition)
    outcome.gate = decision.reason
    if not decision.open:
        return outcome
    published = defs.resolve_job_def(f"{name}_publish").execute_in_process(
        run_config=run_config, instance=instance, raise_on_error=False, partition_key=partition)
    outcome.error = _first_error(published)
    if published.success:
        outcome.release = published_release(published, name)
        outcome.success = True
    return outcome


def published_release(result: dg.ExecuteInProcessResult, dataset: str) -> dict[str, Any] | None:
    """What a publish run released (release, path, rows, manifest, qa_report), read back from the
    published_features materialization's metadata."""
    for materialization in result.asset_materializations_for_node(f"{dataset}__published_features"):
        return release_from_metadata(materialization.metadata)
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


def preview_root(dataset: str) -> Path:
    """Where previews live: apart from the snapshots, work files and runs of real runs."""
    return storage_root() / "preview" / dataset


def preview_dataset(loaded: LoadedSpec, partition_key: str | None = None, log_level: str = "WARNING") -> PreviewOutcome:
    """Run the dataset's own job on a preview spec (core.preview) in a fresh storage root, never publishing.

    The source is read once, into the preview's snapshot: the full train rows are assessed from it
    (errors stop here), then the job reuses it as a retained snapshot and samples its view."""
    spec = loaded.spec
    root = preview_root(spec.dataset)
    shutil.rmtree(root, ignore_errors=True)  # each preview starts clean; it never reuses an older one
    storage = SynthStorage(root=str(root))
    partition = partition_key or today_partition(loaded)
    as_of = snapshot_as_of(loaded, SynthStorage(), partition)  # the real storage's retained snapshots
    snapshot = take_snapshot(spec, storage.snapshots(spec.dataset), snapshot_id=partition, as_of=as_of)
    assessment = assess_snapshot(loaded, snapshot)
    if assessment.errors:
        return PreviewOutcome(assessment=assessment, outcome=None, root=root)
    preview = preview_spec(loaded)
    instance = dg.DagsterInstance.ephemeral()  # preview runs stay out of the instance's run history
    outcome = materialize_dataset(preview, instance, storage=storage, log_level=log_level,
                                  partition_key=partition, publish=False)
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
    if qa_file.is_file():
        result.qa_checks = json.loads(qa_file.read_text())["checks"]
    return result

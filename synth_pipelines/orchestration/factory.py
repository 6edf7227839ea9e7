"""One group of assets per dataset spec: every stage of the pipeline, as thin calls into core/.

Assets hand small descriptors (paths, ids, counts) to each other through the IO manager; the
data itself is Parquet under SynthStorage. The train/holdout split is a multi-asset, so the
lineage graph shows that the synthesizer only ever reads `train_rows`.

Partitions: every asset is partitioned by snapshot; the partition key is the snapshot id, a day
(YYYY-MM-DD). The partitions are dynamic: a day is added when its snapshot is due or taken (the
refresh and source-change sensors, the CLI), so the UI lists the snapshots that exist, not a
calendar of empty days. The first run of a partition reads the source; later runs of it (a
backfill of a new feature version) reuse the retained snapshot, so `features_v2/snapshot=2026-11-01` is built from exactly the rows
`features_v1/snapshot=2026-11-01` was. The feature version is the code version of the feature
and release assets, so bumping it marks them stale in the UI.
"""


import hashlib
import json
import logging
import shutil
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
import pyarrow.parquet as pq

from synth_pipelines.core.assessment import Assessment, assess_training_rows
from synth_pipelines.core.column_origins import feature_origins
from synth_pipelines.core.files import keep_newest_folders
from synth_pipelines.core.features import FeatureExpressionError, drop_replaced_columns, replaced_columns
from synth_pipelines.core.gate import Approval, GateDecision, approval_path, gate_decision, load_approval
from synth_pipelines.core.generator_settings import SettingProblem
from synth_pipelines.core.lookups import lookup_foreign_keys, lookup_tables
from synth_pipelines.core.manifest import build_manifest
from synth_pipelines.core.publish import publish_local
from synth_pipelines.core.quality.report import ReportHeader, write_reports
from synth_pipelines.core.quality.runner import run_quality
from synth_pipelines.core.quality.results import QualityCheck
from synth_pipelines.core.quality.parts import SyntheticParts
from synth_pipelines.core.quality.thresholds import CHECK_DESCRIPTIONS, CHECK_NAMES
from synth_pipelines.core.quality.verdict import verdict_markdown
from synth_pipelines.core.shards import part_files
from synth_pipelines.core.snapshot import Snapshot, load_snapshot, take_snapshot
from synth_pipelines.core.synthesis import Synthesizer, train_synthesizer
from synth_pipelines.core.differential_privacy import published_privacy
from synth_pipelines.core.privacy_ledger import BudgetExceeded, summary
from synth_pipelines.core.quality.report import PUBLISHED_FOLDER
from synth_pipelines.core.training_view import build_training_view, decimals_as_floats, split_view
from synth_pipelines.core.validation import validate_against_source
from synth_pipelines.orchestration.release_regression import CHECK_NAME as REGRESSION_CHECK
from synth_pipelines.orchestration.release_regression import (previous_release_section, regression_outcome,
                                                                release_regression_check)
from synth_pipelines.orchestration.resources import SynthStorage, column_metadata, real_frame_metadata
from synth_pipelines.spec import FieldError, LoadedSpec, SpecError

DATASET_TAG = "synth_pipelines/dataset"
# Partitioned asset checks are "preview" in Dagster 1.13; we rely on them knowingly (one QA run per snapshot).
warnings.filterwarnings("ignore", category=dg.PreviewWarning, message="Specifying a partitions_def on an AssetCheckSpec")
# A backfill policy is beta in 1.13; ours only says one partition per run (see build_dataset_assets).
warnings.filterwarnings("ignore", category=dg.BetaWarning, message="Parameter `backfill_policy`")
QA_CHECKS = CHECK_NAMES
# QA reports kept per snapshot, one per run: their figures are drawn from real rows, and each rerun adds one.
QA_RUNS_KEPT = 10


@dataclass(frozen=True)
class TableFile:
    """A Parquet file produced by a stage, with the snapshot it descends from."""

    snapshot_id: str
    path: str
    rows: int

    def read(self) -> pd.DataFrame:
        """The rows as QA and the stages compare them: DECIMAL columns as floats, like the training view."""
        return decimals_as_floats(pq.read_table([str(p) for p in part_files(Path(self.path))]))


@dataclass(frozen=True)
class TrainedModel:
    snapshot_id: str
    synthesizer: Synthesizer


class _ToDagsterLog(logging.Handler):
    """Forwards the pipeline's INFO lines (a plugin's epoch and loss, the QA check being computed) to
    the run's event log."""

    def __init__(self, context: dg.AssetExecutionContext) -> None:
        super().__init__(logging.INFO)
        self.context = context

    def emit(self, record: logging.LogRecord) -> None:
        log = self.context.log.warning if record.levelno >= logging.WARNING else self.context.log.info
        log(self.format(record))


@contextmanager
def progress_to_run_log(context: dg.AssetExecutionContext) -> Iterator[None]:
    """While the block runs, lines logged under `synth_pipelines` at INFO reach the Dagster log."""
    logger = logging.getLogger("synth_pipelines")
    handler = _ToDagsterLog(context)
    previous = logger.level
    logger.addHandler(handler)
    if logger.getEffectiveLevel() > logging.INFO:
        logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)


def _hash(part: Any) -> str:
    return hashlib.sha256(json.dumps(part, sort_keys=True, default=str).encode()).hexdigest()[:12]


def build_dataset_assets(loaded: LoadedSpec) -> list[Any]:
    spec = loaded.spec
    name = spec.dataset
    view_spec = spec.training_view
    partitions = snapshot_partitions(loaded)
    common = {"group_name": name, "owners": spec.owners, "tags": {DATASET_TAG: name}}
    # One partition per run in a backfill: each snapshot trains its own synthesizer, and a run of many
    # partitions would hold all their models and rows at once.
    one_per_run = dg.BackfillPolicy.multi_run(max_partitions_per_run=1)
    partitioned = {**common, "partitions_def": partitions, "backfill_policy": one_per_run}

    def key(stage: str) -> dg.AssetKey:
        return dg.AssetKey([name, stage])

    def privacy_with_ledger(storage: SynthStorage, model: TrainedModel) -> dict[str, Any] | None:
        """The synthesizer's DP record with the dataset's privacy ledger (its spend so far), or None."""
        privacy = model.synthesizer.privacy
        if privacy is None:
            return None
        return published_privacy(privacy, summary(storage.privacy_ledger(name), limit=spec.generator.epsilon_limit,
                                                  entry_id=privacy.get("ledger_entry")))

    @dg.asset(key=key("source_snapshot"), kinds={"sql", "parquet"},
              code_version=_hash(spec.source.model_dump()),
              description=f"Declared tables of the source, read through a read-only connection, as an "
                          f"immutable Parquet snapshot with a content fingerprint. {spec.description}", **partitioned)
    def source_snapshot(context: dg.AssetExecutionContext, storage: SynthStorage) -> dg.Output[Snapshot]:
        started = time.perf_counter()
        snapshot_id = context.partition_key
        reused = is_retained(storage, name, snapshot_id)
        if reused:
            snapshot = load_snapshot(storage.snapshots(name) / snapshot_id)
            context.log.info(f"reusing retained snapshot {snapshot_id} (fingerprint {snapshot.fingerprint[:12]})")
        else:
            try:
                as_of = snapshot_as_of(loaded, storage, snapshot_id)
            except SpecError as exc:
                raise dg.Failure(description=str(exc)) from None
            validate_against_source(loaded)  # a bad spec stops here, before any row is read
            try:
                snapshot = take_snapshot(spec, storage.snapshots(name), snapshot_id=snapshot_id, as_of=as_of)
            except FieldError as exc:
                raise dg.Failure(description=str(loaded.error_from(exc))) from None
            context.log.info(f"snapshot {snapshot_id}: {sum(t.rows for t in snapshot.tables.values())} rows read")
        return dg.Output(snapshot, metadata={
            "snapshot_id": snapshot.snapshot_id,
            "fingerprint": snapshot.fingerprint,
            "source": snapshot.source,
            "location": dg.MetadataValue.path(snapshot.path),
            "rows_per_table": dg.MetadataValue.json({t: s.rows for t, s in snapshot.tables.items()}),
            "reused_retained_snapshot": reused,
            "reconstructed_as_of": dg.MetadataValue.json(snapshot.reconstructed or {}),
            "seconds": round(time.perf_counter() - started, 2),
        })

    @dg.asset(key=key("training_view"), kinds={"duckdb", "parquet"},
              code_version=_hash([view_spec.sql, view_spec.holdout_sql, [c.column for c in view_spec.leakage_columns],
                                  replaced_columns(spec.features)]),
              ins={"snapshot": dg.AssetIn(key("source_snapshot"))},
              description="The spec's view SQL run by DuckDB over the snapshot: one row per entity, "
                          "leakage columns and columns replaced by masked columns removed.", **partitioned)
    def training_view(context: dg.AssetExecutionContext, storage: SynthStorage,
                      snapshot: Snapshot) -> dg.Output[TableFile]:
        started = time.perf_counter()
        try:
            view = build_training_view(view_spec, {t: s.path for t, s in snapshot.tables.items()})
        except FieldError as exc:
            raise dg.Failure(description=str(loaded.error_from(exc))) from None
        try:
            view = drop_replaced_columns(view, spec.features)  # masked in the output, never trained on
        except FeatureExpressionError as exc:
            raise dg.Failure(description=f"{loaded.path}: {exc}") from None
        path = storage.work(name, snapshot.snapshot_id, "training_view") / "training_view.parquet"
        view.to_parquet(path, index=False)
        dropped = {c.column: c.reason for c in view_spec.leakage_columns}
        return dg.Output(TableFile(snapshot.snapshot_id, str(path), len(view)), metadata={
            **real_frame_metadata(view, view_spec.entity_key), "location": dg.MetadataValue.path(str(path)),
            "leakage_columns_dropped": dg.MetadataValue.json(dropped),
            "masked_columns_replaced": dg.MetadataValue.json(replaced_columns(spec.features)),
            "seconds": round(time.perf_counter() - started, 2)})

    @dg.multi_asset(
        outs={"train_rows": dg.AssetOut(key=key("train_rows"), kinds={"parquet"}, **common,
                                        description="Rows the generator learns from."),
              "holdout_rows": dg.AssetOut(key=key("holdout_rows"), kinds={"parquet"}, **common,
                                          description="Real rows the generator never sees; QA compares "
                                                      "synthetic rows against them.")},
        ins={"view": dg.AssetIn(key("training_view"))}, partitions_def=partitions, backfill_policy=one_per_run,
        name=f"{name}__holdout_split",  # op names are global in a code location: one per dataset
        code_version=_hash([view_spec.holdout_fraction, spec.generator.seed, view_spec.task]))
    def holdout_split(context: dg.AssetExecutionContext, storage: SynthStorage, view: TableFile):
        rows = view.read()
        try:
            split = split_view(rows, view_spec, spec.generator, name)
        except FieldError as exc:
            raise dg.Failure(description=str(loaded.error_from(exc))) from None
        assessment = assess_training_rows(split.train, view_spec, spec.generator)  # before any training
        for finding in assessment.warnings:
            context.log.warning(f"assessment: {finding.text()}")
        assessment.raise_for_errors(loaded)
        folder = storage.work(name, view.snapshot_id, "split")
        for part, frame in (("train_rows", split.train), ("holdout_rows", split.holdout)):
            path = folder / f"{part}.parquet"
            frame.to_parquet(path, index=False)
            yield dg.Output(TableFile(view.snapshot_id, str(path), len(frame)), output_name=part,
                            metadata={**real_frame_metadata(frame, view_spec.entity_key),
                                      "location": dg.MetadataValue.path(str(path)),
                                      **(assessment_metadata(assessment) if part == "train_rows" else {})})

    @dg.asset(key=key("synthesizer"), kinds={"synthcity", "pytorch"},
              code_version=_hash(spec.generator.model_dump()), ins={"train": dg.AssetIn(key("train_rows"))},
              description=f"synthcity '{spec.generator.plugin}' trained on the train rows, saved with its "
                          "settings and seed.", **partitioned)
    def synthesizer(context: dg.AssetExecutionContext, storage: SynthStorage,
                    train: TableFile) -> dg.Output[TrainedModel]:
        frame = train.read().drop(columns=[view_spec.entity_key])
        categorical = {view_spec.label} if view_spec.task == "classification" else set()
        categorical |= set(lookup_foreign_keys(spec.source, frame.columns))  # only real lookup keys come out
        context.log.info(f"training {spec.generator.plugin} on {len(frame)} rows x {frame.shape[1]} columns")
        entry = None
        if spec.generator.differentially_private:  # charged before the mechanism reads a row; never refunded
            try:
                entry = storage.charge_privacy(name, epsilon=spec.generator.epsilon, limit=spec.generator.epsilon_limit,
                                               release=spec.release_name, snapshot_id=train.snapshot_id,
                                               spec_file=str(loaded.path))
            except BudgetExceeded as exc:
                raise dg.Failure(description=str(exc)) from None
            context.log.info(f"privacy ledger: epsilon {entry['spent_before']:g} -> {entry['spent_after']:g} "
                             f"of {entry['limit']:g}")
        try:
            with progress_to_run_log(context):
                model = train_synthesizer(frame, spec.generator, label=view_spec.label, categorical=categorical,
                                          out_dir=storage.work(name, train.snapshot_id, "synthesizer"))
        except SettingProblem as problem:  # e.g. device: cuda on a machine without one
            raise loaded.error(f"generator.{problem.field}", problem.problem, problem.fix) from None
        metadata = {"plugin": model.plugin, "seed": model.seed, "settings": dg.MetadataValue.json(model.settings),
                    "plugin_kwargs": dg.MetadataValue.json(model.plugin_kwargs),
                    "training_seconds": model.training_seconds, "train_rows": model.train_rows,
                    "model_path": dg.MetadataValue.path(model.model_path)}
        if model.privacy:
            model.privacy["ledger_entry"] = entry["id"]
            model.save_manifest(Path(model.model_path).parent)
            metadata["differential_privacy"] = dg.MetadataValue.json(model.privacy)
        return dg.Output(TrainedModel(train.snapshot_id, model), metadata=metadata)

    # Generation and features fan out over shards (synthetic.shards): graph-backed assets, one step per shard.
    from synth_pipelines.orchestration.shards import sharded_generation_assets
    synthetic_rows, synthetic_features = sharded_generation_assets(loaded, partitioned)

    @dg.multi_asset_check(
        specs=[dg.AssetCheckSpec(check, asset=key("synthetic_features"), partitions_def=partitions,
                                 description=CHECK_DESCRIPTIONS[check], blocking=check not in spec.qa.advisory_checks,
                                 additional_deps=[key("train_rows"), key("holdout_rows"), key("synthesizer")])
               for check in QA_CHECKS],
        ins={"features": dg.AssetIn(key("synthetic_features")), "train": dg.AssetIn(key("train_rows")),
             "holdout": dg.AssetIn(key("holdout_rows")), "model": dg.AssetIn(key("synthesizer"))},
        name=f"{name}_qa", description="QA of the synthetic features against the real train rows and the "
                                       "holdout the generator never saw: Great Expectations, fidelity, utility, "
                                       "privacy, diversity, bias. Writes the HTML/PDF report.")
    def qa_checks(context: dg.AssetCheckExecutionContext, storage: SynthStorage, features: TableFile,
                  train: TableFile, holdout: TableFile, model: TrainedModel):
        codecs = model.synthesizer.codecs
        real_train = train.read()
        # Many rows: a sample in memory, every row read in chunks where a check needs them all (parts.py).
        every_row = SyntheticParts(tuple(part_files(Path(features.path))), to_frame=decimals_as_floats)
        many = features.rows > spec.qa.sample_rows
        synthetic = every_row.sample(spec.qa.sample_rows, spec.qa.seed) if many else features.read()
        if many:
            context.log.info(f"QA on a sample of {len(synthetic)} of {features.rows} synthetic rows; Great "
                             "Expectations, exact copies and coverage read every row")
        extra = [c for c in synthetic.columns if c not in {codec.name for codec in codecs} | {"synthetic_id"}]
        with progress_to_run_log(context):  # which check is being computed: QA takes minutes on large data
            report = run_quality(real_train, holdout.read(), synthetic, codecs, view_spec.label, view_spec.task,
                                 spec.qa, extra_columns=extra, rebalance=spec.synthetic.rebalance,
                                 declared_domain=spec.generator.differentially_private,
                                 all_rows=every_row if many else None)
        previous = previous_release_section(loaded, features.snapshot_id, synthetic, context.log)
        # Each run keeps its own report, so an earlier result's link still shows what it judged; the gate
        # and the publish read the snapshot's latest one, copied to qa/.
        run_folder = storage.work(name, features.snapshot_id, "qa_runs") / context.run.run_id
        paths = write_reports(report, run_folder, real_train, synthetic, codecs, spec.qa,
                              privacy=privacy_with_ledger(storage, model),
                              header=ReportHeader(name, spec.release_name, features.snapshot_id, spec.generator.plugin,
                                                  spec.generator.seed), previous=previous)
        latest = storage.work(name, features.snapshot_id, "qa")
        for stale in (latest / "gx", latest / PUBLISHED_FOLDER / "gx"):  # an earlier run's Data Docs pages
            shutil.rmtree(stale, ignore_errors=True)
        shutil.copytree(run_folder, latest, dirs_exist_ok=True)
        pruned = keep_newest_folders(run_folder.parent, QA_RUNS_KEPT)
        if pruned:
            context.log.info(f"removed the QA reports of {len(pruned)} older runs of this snapshot "
                             f"(the {QA_RUNS_KEPT} newest are kept)")
        for check in report.checks:
            yield dg.AssetCheckResult(
                asset_key=key("synthetic_features"), check_name=check.name, passed=check.passed,
                severity=dg.AssetCheckSeverity.ERROR if check.blocking else dg.AssetCheckSeverity.WARN,
                metadata={"summary": check.summary, "implementation": check.implementation,
                          **check_values_metadata(check), **report_metadata(storage, paths)})

    def published_columns(path: Path) -> dict[str, dg.MetadataValue]:
        """The release's columns: described as in the synthetic features, each from its namesake there."""
        types = {str(c): str(t) for c, t in pq.read_schema(part_files(path)[0]).empty_table().to_pandas().dtypes.items()}
        origins = [replace(o, inputs=(o.name,)) for o in feature_origins(list(types), spec.features,
                                                                          spec.generator.plugin)]
        return column_metadata(types, origins, key("synthetic_features"))

    @dg.asset(key=key("published_features"), kinds={"parquet", spec.destination.kind},
              code_version=f"v{spec.version}",
              ins={"features": dg.AssetIn(key("synthetic_features")), "snapshot": dg.AssetIn(key("source_snapshot")),
                   "model": dg.AssetIn(key("synthesizer"))},
              description=f"The published release {spec.release_name}: data, manifest and QA report. Runs only "
                          "when every blocking QA check on the synthetic features passed.", **partitioned)
    def published_features(context: dg.AssetExecutionContext, storage: SynthStorage, features: TableFile,
                           snapshot: Snapshot, model: TrainedModel) -> dg.MaterializeResult:
        # A MaterializeResult: nothing reads the release through the IO manager, so no pickled object's
        # path sits next to the release's location (published_release reads the metadata back).
        qa_folder = storage.work(name, features.snapshot_id, "qa")
        # The gate again, here: a publish started by hand in the UI cannot skip QA or approval either.
        decision, approval = release_gate(loaded, storage, features.snapshot_id)
        if not decision.open:
            raise dg.Failure(description=f"publication gate closed for {spec.release_name} snapshot "
                                         f"{features.snapshot_id}: {decision.reason}")
        # Only the published edition of the QA report leaves the platform (the internal one, with real
        # rows in its panels, stays in the working area and the check links).
        published_qa = qa_folder / PUBLISHED_FOLDER
        qa = json.loads((published_qa / "qa_report.json").read_text())
        rebalanced = storage.work(name, features.snapshot_id, "synthetic_rows") / "rebalance.json"
        privacy = privacy_with_ledger(storage, model)
        manifest = build_manifest(loaded, snapshot=snapshot, synthesizer=model.synthesizer,
                                  features_path=Path(features.path), rows=features.rows, qa=qa,
                                  rebalance=json.loads(rebalanced.read_text()) if rebalanced.is_file() else None,
                                  privacy=privacy)
        manifest["approvals"] = [asdict(approval)] if approval else []
        manifest["gate"] = decision.reason
        common = {"features_path": Path(features.path), "manifest": manifest, "dataset": name,
                  "attachments": [published_qa / "qa_report.json", published_qa / "qa_report.html",
                                  published_qa / "qa_report.pdf",
                                  *(p for p in [published_qa / "gx"] if p.is_dir())],  # Data Docs and suite
                  "release_name": spec.release_name, "snapshot_id": features.snapshot_id, "rows": features.rows,
                  # Lookup tables are published verbatim from the snapshot, next to the features.
                  "lookups": {t: snapshot.table_path(t) for t in lookup_tables(spec.source)}}
        destination = spec.destination
        if destination.kind == "local":
            release = publish_local(**common, root=destination.root())
            location, manifest_at = str(release.path), str(release.manifest_path)
            report_at, as_metadata = str(release.path / "qa_report.html"), dg.MetadataValue.path
        else:
            # Imported here: only specs that publish remotely need boto3 or the SQL bulk loaders.
            if destination.kind == "s3":
                from synth_pipelines.core.destinations.s3 import publish_s3
                remote = publish_s3(**common, bucket=destination.bucket, prefix=destination.prefix,
                                    region=destination.region, endpoint_url=destination.endpoint_url)
            else:
                from synth_pipelines.core.destinations.sql import publish_sql
                remote = publish_sql(**common, url=destination.url, schema=destination.db_schema,
                                     source_url=spec.source.url)
            location, manifest_at = remote.location, remote.manifest_location  # no secrets: masked URLs
            report_at, as_metadata = remote.qa_report_location, dg.MetadataValue.text
        context.log.info(f"published {location} ({features.rows} rows)")
        return dg.MaterializeResult(metadata={
            "release": spec.release_name, "location": as_metadata(location), "dagster/row_count": features.rows,
            "manifest": as_metadata(manifest_at), "qa_report": as_metadata(report_at),
            "spec_hash": manifest["spec_hash"], **published_columns(Path(features.path))})

    return [source_snapshot, training_view, holdout_split, synthesizer, synthetic_rows, synthetic_features,
            qa_checks, release_regression_check(loaded, partitions), published_features]


def check_values_metadata(check: QualityCheck) -> dict[str, Any]:
    """A check result's headline value and threshold, its verdict as Markdown and every metric's details."""
    return {"value": check.value, "threshold": check.threshold,
            "verdict": dg.MetadataValue.md(verdict_markdown(check.to_dict())),
            "details": dg.MetadataValue.json(json.loads(json.dumps(check.details, default=str)))}


def report_metadata(storage: SynthStorage, paths: dict[str, Path]) -> dict[str, dg.MetadataValue]:
    """Where a QA check result's report is: its files' paths, and links the UI opens (`qa_report`, `data_docs`)
    when the storage has an http(s) address for them. Without one no link at all: a file:// link is one a
    browser refuses to open from the UI's page, which reads as a broken report; the paths stay copyable."""
    metadata = {f"report_{kind}": dg.MetadataValue.path(str(paths[kind])) for kind in ("html", "pdf", "json")}
    if "data_docs" in paths:  # Great Expectations Data Docs: none when the suite did not run
        metadata["data_docs"] = dg.MetadataValue.path(str(paths["data_docs"]))
    for label, kind in (("qa_report", "html"), ("data_docs", "data_docs")):
        link = storage.report_link(paths[kind]) if kind in paths else None
        if link:
            metadata[label] = dg.MetadataValue.url(link)
    return metadata


def retained_snapshots(storage: SynthStorage, dataset: str) -> list[str]:
    folder = storage.snapshots(dataset)
    return sorted(p.name for p in folder.glob("*") if (p / "snapshot.json").is_file()) if folder.is_dir() else []


def is_retained(storage: SynthStorage, dataset: str, snapshot_id: str) -> bool:
    return (storage.snapshots(dataset) / snapshot_id / "snapshot.json").is_file()


def snapshot_refusal(loaded: LoadedSpec, storage: SynthStorage, snapshot_id: str) -> SpecError | None:
    """Why the snapshot `snapshot_id` can be neither reused nor taken (snapshot_as_of's refusal), or None."""
    if is_retained(storage, loaded.spec.dataset, snapshot_id):
        return None
    try:
        snapshot_as_of(loaded, storage, snapshot_id)
    except SpecError as exc:
        return exc
    return None


def snapshot_as_of(loaded: LoadedSpec, storage: SynthStorage, snapshot_id: str) -> str | None:
    """The date to read the source as of for a snapshot not yet taken (None: today's, read as it is now).
    A past day is refused unless source.as_of says how to read it: today's source is not that day's
    source. `storage` is where the retained snapshots the refusal lists live."""
    if snapshot_id >= today_partition(loaded):
        return None
    if loaded.spec.source.as_of is None:
        raise SpecError(missing_snapshot_message(loaded, storage, snapshot_id))
    return snapshot_id


def missing_snapshot_message(loaded: LoadedSpec, storage: SynthStorage, snapshot_id: str) -> str:
    """Why a backfill of a past day without a retained snapshot is refused, and the ways out."""
    retained = retained_snapshots(storage, loaded.spec.dataset)
    return (f"{loaded.path}: no retained snapshot for {snapshot_id}, and reading today's source would file "
            f"today's rows under a past date. Retained snapshots of {loaded.spec.dataset}: "
            f"{', '.join(retained) if retained else 'none'}. Fix: backfill only those days, or declare in "
            "source.as_of.filters how to read each table as of a date (an SQL condition with {snapshot_date}, "
            "e.g. \"application_date <= '{snapshot_date}'\"); the manifest then records the reconstruction.")


def assessment_metadata(assessment: Assessment) -> dict[str, Any]:
    return {"assessment/rows": assessment.rows, "assessment/columns": assessment.columns,
            "assessment/estimated_training_seconds": assessment.estimated_training_seconds,
            "assessment/estimated_peak_memory_mb": assessment.estimated_peak_memory_mb,
            "assessment/findings": dg.MetadataValue.json([asdict(f) for f in assessment.findings]),
            "assessment/columns_profile": dg.MetadataValue.json([asdict(p) for p in assessment.profiles])}


def release_gate(loaded: LoadedSpec, storage: SynthStorage, snapshot_id: str) -> tuple[GateDecision, Approval | None]:
    """The gate for one snapshot's features, from the QA report its checks wrote and any approval."""
    spec = loaded.spec
    qa_report = storage.work(spec.dataset, snapshot_id, "qa") / "qa_report.json"
    outcomes = {}
    if qa_report.is_file():
        outcomes = {c["name"]: c["passed"] for c in json.loads(qa_report.read_text())["checks"]}
    approval = load_approval(approval_path(storage.approvals(spec.dataset), spec.dataset, spec.release_name, snapshot_id))
    features_path = storage.work(spec.dataset, snapshot_id, "synthetic_features")  # its part-*.parquet
    blocking = [name for name in QA_CHECKS if name not in spec.qa.advisory_checks]
    if spec.qa.release_regression_blocking:
        regression = regression_outcome(storage, spec.dataset, snapshot_id, features_path)
        blocking.append(REGRESSION_CHECK)
        if regression is not None:
            outcomes[REGRESSION_CHECK] = regression
    decision = gate_decision(outcomes, blocking, require_approval=spec.qa.require_approval,
                             approval=approval, features_path=features_path)
    return decision, approval


def snapshot_partitions(loaded: LoadedSpec) -> dg.DynamicPartitionsDefinition:
    """The dataset's snapshots, one partition each, keyed by snapshot id. Dynamic, not a daily calendar:
    a day becomes a partition when its snapshot is due or taken (add_snapshot_partitions, the sensors'
    add requests), so the UI shows the snapshots that exist and the ones that are due."""
    return dg.DynamicPartitionsDefinition(name=f"{loaded.spec.dataset}_snapshots")


def add_snapshot_partitions(instance: dg.DagsterInstance, loaded: LoadedSpec, snapshot_ids: list[str]) -> None:
    """Add these snapshot ids to the dataset's partitions in `instance` (idempotent), before a run of them."""
    instance.add_dynamic_partitions(snapshot_partitions(loaded).name, snapshot_ids)


def today_partition(loaded: LoadedSpec) -> str:
    """Today's snapshot id in the spec's time zone; a SpecError while refresh.start_date is to come."""
    loaded.check_start_date()
    return loaded.spec.refresh.today().isoformat()


def refresh_job(loaded: LoadedSpec):
    """Snapshot to QA'd features; publication is the gate's job (publish_job)."""
    name = loaded.spec.dataset
    published = dg.AssetSelection.assets(dg.AssetKey([name, "published_features"]))
    return dg.define_asset_job(f"{name}_refresh", selection=dg.AssetSelection.groups(name) - published,
                               tags={DATASET_TAG: name},
                               description=f"Snapshot the source, synthesize and QA the rows of a new "
                                           f"{loaded.spec.release_name} release; the gate publishes them.")


def publish_job(loaded: LoadedSpec):
    name = loaded.spec.dataset
    return dg.define_asset_job(f"{name}_publish", selection=dg.AssetSelection.assets(dg.AssetKey([name, "published_features"])),
                               tags={DATASET_TAG: name},
                               description=f"Publish QA'd features as {loaded.spec.release_name} (gate-checked).")

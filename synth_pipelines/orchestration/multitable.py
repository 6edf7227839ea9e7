"""Dagster assets of a multi-table synthesis (a spec's `tables:`), beside the dataset's single-table assets.

One multi-asset trains and generates every table (the models condition each child on its parent, so
they run together) and materializes one asset per table, `<dataset>/tables/<table>`: the lineage shows
source_snapshot -> root -> child -> grandchild, and lookup -> the tables that reference it. The checks
attach per table: `quality` (every single-table check against its real counterpart), and on each child
`referential_integrity`, `children_per_parent`, `parent_child_association`; on the root `families`
(parent-level utility and privacy of whole families). `<dataset>/published_tables` publishes every
table in one release to the spec's destination once the tables' gate opens (every blocking check
passed, an approval where the spec asks for one): the publication gate sensor requests it in a run of
the dataset's publish job, as it does the features. Stage logic is in core/multitable*.py.
"""


import hashlib
import json
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
import pyarrow.parquet as pq

from synth_pipelines.core.gate import Approval, GateDecision, approval_path, gate_decision, load_approval
from synth_pipelines.core.multitable import generate_tables, plan_tables, read_tables, split_families, train_tables
from synth_pipelines.core.multitable_publish import publish_tables, tables_dataset, tables_provenance
from synth_pipelines.core.publish import file_sha256
from synth_pipelines.core.quality.multitable import run_multitable_quality
from synth_pipelines.core.quality.report import published_values
from synth_pipelines.core.quality.results import Metric, QualityCheck
from synth_pipelines.core.snapshot import Snapshot
from synth_pipelines.orchestration.factory import check_values_metadata
from synth_pipelines.orchestration.resources import SynthStorage
from synth_pipelines.spec import FieldError, LoadedSpec

SIDES = ("train", "holdout", "synthetic")
TABLES_QA = "tables_qa"  # the gate's one required outcome: qa.json's verdict over every table
CHILD_CHECKS = {"referential_integrity": "Every foreign key of the table's synthetic rows resolves (must be 100%).",
                "children_per_parent": "Total variation distance of the children-per-parent distribution "
                                       "from the real one.",
                "parent_child_association": "PhiK between parent and child columns, real vs synthetic."}
TABLE_CHECK = "Every single-table QA check of the table against its real rows (Great Expectations, fidelity, "\
              "privacy, diversity; utility on the root's label)."
FAMILY_CHECK = "Families (a root with its children's aggregates): parent-level TSTR/TRTR and privacy."


def build_multitable_assets(loaded: LoadedSpec) -> list[Any]:
    """The assets and checks of `tables:`; none when the spec has no tables."""
    spec = loaded.spec
    if spec.tables is None:
        return []
    from synth_pipelines.orchestration.factory import DATASET_TAG, snapshot_partitions

    name, plans = spec.dataset, plan_tables(spec.tables)
    root = next(iter(plans))
    partitions = snapshot_partitions(loaded)

    def key(*parts: str) -> dg.AssetKey:
        return dg.AssetKey([name, *parts])

    def upstream(table: str) -> list[dg.AssetKey]:
        plan = plans[table]
        found = [key("tables", plan.parent)] if plan.parent else [key("source_snapshot")]
        return found + [key("tables", lookup) for lookup in plan.lookup_keys.values()]

    specs = [dg.AssetSpec(key("tables", table), deps=upstream(table) if not plan.lookup else [key("source_snapshot")],
                          group_name=name, owners=spec.owners, tags={DATASET_TAG: name}, kinds={"parquet"},
                          partitions_def=partitions,
                          description=("Lookup table, kept from the snapshot." if plan.lookup else
                                       f"Synthetic {table}" + (f", generated under {plan.parent}." if plan.parent
                                                               else " (the root table).")))
             for table, plan in plans.items()]

    def folder(storage: SynthStorage, snapshot_id: str) -> Path:
        return tables_folder(storage, loaded, snapshot_id)

    @dg.multi_asset(specs=specs, name=f"{name}_tables", ins={"snapshot": dg.AssetIn(key("source_snapshot"))},
                    backfill_policy=dg.BackfillPolicy.multi_run(max_partitions_per_run=1),  # as every partitioned asset
                    description="Multi-table synthesis: the root's rows, then each child table's rows under "
                                "their synthetic parents (core/multitable.py).")
    def synthesized_tables(context: dg.AssetExecutionContext, storage: SynthStorage, snapshot: Snapshot):
        started = time.perf_counter()
        try:
            frames = read_tables(spec.tables, {t: s.path for t, s in snapshot.tables.items()})
        except FieldError as exc:
            raise dg.Failure(description=str(loaded.error_from(exc))) from None
        seed = spec.generator.seed
        train, holdout = split_families(frames, plans, spec.training_view.holdout_fraction, seed)
        model = train_tables(train, plans, spec.generator.settings, seed, label=spec.tables[root].label)
        synthetic = generate_tables(model, len(train[root]), seed)
        out = folder(storage, context.partition_key)
        for side, tables in zip(SIDES, (train, holdout, synthetic), strict=True):
            for table, frame in tables.items():
                frame.to_parquet(out / f"{side}.{table}.parquet", index=False)
        for table in sorted(plans, key=lambda t: not plans[t].lookup):  # upstream first: lookups, then root down
            yield dg.MaterializeResult(asset_key=key("tables", table), metadata={
                "dagster/row_count": len(synthetic[table]), "real_train_rows": len(train[table]),
                "columns": dg.MetadataValue.json(list(synthetic[table].columns)),
                "computed_columns": dg.MetadataValue.json(model.computed(table)),
                "train_seconds": model.seconds.get(table, 0.0), "seconds": round(time.perf_counter() - started, 2)})

    def check(name_: str, table: str, text: str) -> dg.AssetCheckSpec:
        # Blocking: the release waits for them in a run, and a failed one stops it there.
        return dg.AssetCheckSpec(name_, asset=key("tables", table), description=text, partitions_def=partitions,
                                 blocking=name_ not in spec.qa.advisory_checks)

    check_specs = []
    for table, plan in plans.items():
        if not plan.lookup:
            check_specs.append(check("quality", table, TABLE_CHECK))
            check_specs += [check(c, table, text) for c, text in CHILD_CHECKS.items()] if plan.parent else []
    if spec.tables[root].label:
        check_specs.append(check("families", root, FAMILY_CHECK))

    @dg.multi_asset_check(specs=check_specs, name=f"{name}_tables_qa",
                          description="QA of every synthesized table and across tables (core/quality/multitable.py).")
    def tables_qa(context: dg.AssetCheckExecutionContext, storage: SynthStorage):
        out = folder(storage, context.partition_key)
        read = {side: {t: pd.read_parquet(out / f"{side}.{t}.parquet") for t in plans} for side in SIDES}
        quality = run_multitable_quality(read["train"], read["holdout"], read["synthetic"], plans,
                                         spec.tables[root].label, spec.qa)
        (out / "qa.json").write_text(json.dumps(quality.to_dict(), default=str))
        for check_spec in check_specs:
            yield _check_result(check_spec, quality, spec.qa.advisory_checks)

    # Not in the refresh job: the publication gate sensor requests it (publish job, see with_tables_publication).
    @dg.asset(key=key("published_tables"), deps=[s.key for s in specs], group_name=name, owners=spec.owners,
              tags={DATASET_TAG: name}, kinds={"parquet", spec.destination.kind}, partitions_def=partitions,
              code_version=f"v{spec.version}", ins={"snapshot": dg.AssetIn(key("source_snapshot"))},
              output_required=False, backfill_policy=dg.BackfillPolicy.multi_run(max_partitions_per_run=1),
              description=f"Every table in one release {spec.release_name} of {tables_dataset(name)} (local and S3: "
                          "data/<table>/; SQL: a table per table with its keys), published together once the "
                          "tables' QA passed" + (" and a person approved them." if spec.qa.require_approval else "."))
    def published_tables(context: dg.AssetExecutionContext, storage: SynthStorage, snapshot: Snapshot):
        partition = context.partition_key
        # The gate again, here: a publish started by hand cannot skip QA or approval either.
        decision, approval = tables_gate(loaded, storage, partition)
        if not decision.open:
            reason = f"publication gate closed for the tables of {spec.release_name} snapshot {partition}: " \
                     f"{decision.reason}"
            if key("published_features") in (context.run.asset_selection or {key("published_features")}):
                # A publish of the features, whose gate opened first: it goes on; the sensor comes back for these.
                context.log.warning(f"{reason}; the publication gate sensor publishes them once it opens")
                return
            raise dg.Failure(description=reason)
        out = folder(storage, partition)
        synthetic = {t: pq.read_table(out / f"synthetic.{t}.parquet").to_pandas() for t in plans}
        # The manifest travels with the release: the QA as the published edition shows it (no statistic of
        # a small group of real rows, no real category names; report.published_values).
        qa = published_values(json.loads((out / "qa.json").read_text()))
        manifest = {**tables_provenance(loaded, snapshot, qa),
                    "approvals": [asdict(approval)] if approval else [], "gate": decision.reason}
        release = publish_tables(synthetic, plans, manifest, spec.destination, source_url=spec.source.url,
                                 dataset=tables_dataset(name), release_name=spec.release_name,
                                 snapshot_id=partition)
        # A local path is a link in the UI; remote locations are masked text.
        as_metadata = dg.MetadataValue.path if spec.destination.kind == "local" else dg.MetadataValue.text
        context.log.info(f"published {release.location} ({sum(release.rows.values())} rows in {len(plans)} tables)")
        released = f"{tables_dataset(name)}/{spec.release_name}/snapshot={partition}"
        yield dg.MaterializeResult(metadata={"release": released,
                                              "location": as_metadata(release.location),
                                              "manifest": as_metadata(release.manifest_location),
                                              "rows": dg.MetadataValue.json(release.rows),
                                              "tables": dg.MetadataValue.json(release.tables)})

    return [synthesized_tables, tables_qa, published_tables]


def root_table(loaded: LoadedSpec) -> str:
    return next(iter(plan_tables(loaded.spec.tables)))


def tables_folder(storage: SynthStorage, loaded: LoadedSpec, snapshot_id: str) -> Path:
    """The working folder of a snapshot's tables: <side>.<table>.parquet and the QA's qa.json."""
    return storage.work(loaded.spec.dataset, snapshot_id, "tables")


def tables_sha256(storage: SynthStorage, loaded: LoadedSpec, snapshot_id: str) -> str:
    """The SHA-256 of a snapshot's synthetic tables as stored: what an approval of them names."""
    out = tables_folder(storage, loaded, snapshot_id)
    return hashlib.sha256("".join(f"{t}:{file_sha256(out / f'synthetic.{t}.parquet')}\n"
                                  for t in sorted(loaded.spec.tables or {})).encode()).hexdigest()


def tables_approval_path(storage: SynthStorage, loaded: LoadedSpec, snapshot_id: str) -> Path:
    dataset = tables_dataset(loaded.spec.dataset)
    return approval_path(storage.approvals(dataset), dataset, loaded.spec.release_name, snapshot_id)


def tables_gate(loaded: LoadedSpec, storage: SynthStorage, snapshot_id: str) -> tuple[GateDecision, Approval | None]:
    """The gate of a snapshot's tables, as release_gate is the features': their QA (every blocking check
    of every table and across tables, qa.json) passed and, where the spec asks, an approval names them."""
    qa = tables_folder(storage, loaded, snapshot_id) / "qa.json"
    outcomes = {TABLES_QA: json.loads(qa.read_text())["passed"]} if qa.is_file() else {}
    approval = load_approval(tables_approval_path(storage, loaded, snapshot_id))
    decision = gate_decision(outcomes, [TABLES_QA], require_approval=loaded.spec.qa.require_approval,
                             approval=approval, rows_sha256=lambda: tables_sha256(storage, loaded, snapshot_id),
                             approve="synth-pipelines approve SPEC --snapshot ID --approver NAME --tables")
    return decision, approval


def with_tables_publication(loaded: LoadedSpec, refresh: Any, publish: Any) -> tuple[Any, Any]:
    """The dataset's refresh and publish jobs with published_tables moved from the first to the second,
    as published_features is: the publication gate sensor requests it once the tables' gate opens."""
    if loaded.spec.tables is None:
        return refresh, publish
    published = dg.AssetSelection.assets(dg.AssetKey([loaded.spec.dataset, "published_tables"]))
    return _reselected(refresh, refresh.selection - published), _reselected(publish, publish.selection | published)


_JOB_FIELDS = ("config", "description", "tags", "run_tags", "metadata", "partitions_def", "executor_def", "hooks",
               "op_retry_policy", "owners", "automation_condition")


def _reselected(job: Any, selection: dg.AssetSelection) -> Any:
    """The same asset job (every other setting kept) over another selection."""
    return dg.define_asset_job(job.name, selection=selection, **{f: getattr(job, f) for f in _JOB_FIELDS})


def _check_result(check_spec: dg.AssetCheckSpec, quality: Any, advisory: list[str]) -> dg.AssetCheckResult:
    table = check_spec.asset_key.path[-1]
    metrics: list[Metric] = []
    if check_spec.name in ("quality", "families"):
        report = quality.tables[table] if check_spec.name == "quality" else quality.families
        passed = report.passed
        summary = "; ".join(f"{c.name}: {c.summary}" for c in report.checks
                            if check_spec.name == "families" or not c.passed)
        metrics = [replace(m, name=f"{c.name}.{m.name}") for c in report.checks if c.blocking for m in c.metrics]
    else:
        check = quality.cross_tables.check(check_spec.name)
        if check_spec.name == "referential_integrity":  # one metric over all tables: this table's keys
            broken = {k: n for k, n in check.headline.details["unresolved"].items() if k.startswith(f"{table}.")}
            passed, summary = not broken, f"unresolved foreign-key values: {broken}" if broken else ""
            metrics = [Metric(f"unresolved_foreign_keys.{table}", sum(broken.values()), check.headline.implementation,
                              threshold=0, bound="max")]
        else:
            metrics = [m for m in check.metrics if m.name.endswith(f".{table}")]
            passed, summary = all(m.passed for m in metrics), ", ".join(m.describe() for m in metrics)
    blocking = check_spec.name not in advisory
    # The deciding metric first (the first failed one, else the first), as a single table's check has its
    # headline: the CLI's verdict table and the UI show its value and threshold.
    metrics.sort(key=lambda m: m.passed)
    shown = QualityCheck(check_spec.name, metrics, blocking=blocking)
    values = check_values_metadata(shown) if metrics else {}
    return dg.AssetCheckResult(asset_key=check_spec.asset_key, check_name=check_spec.name, passed=passed,
                               severity=dg.AssetCheckSeverity.ERROR if blocking else dg.AssetCheckSeverity.WARN,
                               metadata={"summary": summary or "passed", **values})

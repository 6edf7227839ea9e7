"""synth-pipelines: validate specs, build the demo source, run a dataset's pipeline headlessly."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from synth_pipelines.core.synthcity_plugins import quiet_synthcity_env
from synth_pipelines.paths import demo_spec, snapshot_id, storage_root
from synth_pipelines.spec import LoadedSpec, SpecError, load_spec

DEMO_SPEC = demo_spec()


def demo_database_path() -> Path:
    return storage_root() / "demo" / "demo_bank.sqlite"


def _snapshot_option(_ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A --snapshot/--from/--to value: a partition date, never a path (it names folders in the home)."""
    if value is None:
        return None
    try:
        return snapshot_id(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param=param) from None


@click.group()
def main() -> None:
    quiet_synthcity_env()


@main.command()
@click.argument("specs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--offline", is_flag=True, help="Check the file only; do not connect to the source.")
def validate(specs: tuple[Path, ...], offline: bool) -> None:
    """Check dataset spec files (and, unless --offline, their source database) without running anything.

    With the source, the train rows are also assessed (size, cardinalities, leakage, cost estimate)."""
    from synth_pipelines.core.validation import assess_source, validate_against_source

    failed = False
    for path in specs:
        try:
            loaded = load_spec(path)
            if offline:
                click.echo(f"OK {path}: {loaded.spec.dataset} v{loaded.spec.version} (file only)")
                continue
            check = validate_against_source(loaded)
            assessment = assess_source(loaded)
        except SpecError as exc:
            click.echo(f"INVALID {exc}", err=True)
            failed = True
            continue
        rows = ", ".join(f"{t}={n}" for t, n in check.table_rows.items())
        click.echo(f"OK {path}: {loaded.spec.dataset} v{loaded.spec.version}; source rows {rows}; "
                   f"{len(check.feature_columns)} feature columns: {', '.join(check.feature_columns)}")
        click.echo("\n".join(assessment.summary_lines()))
        try:
            assessment.raise_for_errors(loaded)
        except SpecError as exc:
            click.echo(f"INVALID {exc}", err=True)
            failed = True
    sys.exit(1 if failed else 0)


@main.command("demo-db")
@click.option("--path", type=click.Path(path_type=Path), default=None, help="Default: $SYNTH_PIPELINES_HOME/demo/")
@click.option("--customers", default=4000, show_default=True)
@click.option("--seed", default=None, type=int)
def demo_db(path: Path | None, customers: int, seed: int | None) -> None:
    """Build the embedded demo source database (SQLite, deterministic from the seed)."""
    from synth_pipelines.core.demo_source import DEFAULT_SEED, build_demo_database

    built = build_demo_database(path or demo_database_path(), customers, DEFAULT_SEED if seed is None else seed)
    click.echo(f"demo source database: {built}")


@main.command()
@click.argument("spec", type=click.Path(path_type=Path))
@click.option("--snapshot", "partition", default=None, callback=_snapshot_option,
              help="Snapshot partition (YYYY-MM-DD); default: today.")
@click.option("--preview", is_flag=True, help="Dry run on a sample with reduced training and few synthetic rows; "
                                              "QA is reported, not gating; nothing is published.")
def run(spec: Path, partition: str | None, preview: bool) -> None:
    """Materialize every stage of SPEC's dataset and publish a release if QA passes."""
    sys.exit(_preview(spec, partition) if preview else _run(spec, partition))


@main.command()
@click.argument("spec", type=click.Path(path_type=Path))
@click.option("--from", "first", required=True, callback=_snapshot_option,
              help="First snapshot partition, YYYY-MM-DD.")
@click.option("--to", "last", required=True, callback=_snapshot_option,
              help="Last snapshot partition, YYYY-MM-DD (inclusive).")
def backfill(spec: Path, first: str, last: str) -> None:
    """Publish SPEC's current feature version for every snapshot partition in a date range.

    Partitions with a retained snapshot reuse it; a past one without is refused unless the spec's
    source.as_of says how to read the source as of that date (today's is read now). In the Dagster UI
    the same is "Materialize" on the asset group with a partition range."""
    from synth_pipelines.orchestration.factory import snapshot_partitions

    keys = snapshot_partitions(load_spec(spec)).get_partition_keys_in_range(dg_range(first, last))
    failures = [key for key in keys if _run(spec, key) != 0]
    click.echo(f"backfill {first}..{last}: {len(keys) - len(failures)} of {len(keys)} partitions published"
               + (f"; failed: {', '.join(failures)}" if failures else ""))
    sys.exit(1 if failures else 0)


def dg_range(first: str, last: str):
    import dagster as dg

    return dg.PartitionKeyRange(first, last)


@main.command()
def demo() -> None:
    """Build the demo source if needed, then run the demo dataset end to end."""
    if not demo_database_path().exists():
        from synth_pipelines.core.demo_source import build_demo_database

        click.echo(f"building demo source database {build_demo_database(demo_database_path())}")
    sys.exit(_run(DEMO_SPEC))


@main.command()
@click.argument("spec", type=click.Path(path_type=Path))
@click.option("--snapshot", "partition", required=True, callback=_snapshot_option,
              help="Snapshot partition whose QA'd rows you approve.")
@click.option("--approver", required=True, help="Your name, recorded in the release manifest.")
@click.option("--comment", default="", help="What you checked.")
def approve(spec: Path, partition: str, approver: str, comment: str) -> None:
    """Record a human approval of a snapshot's QA'd features (for specs with qa.require_approval).

    The approval covers exactly the rows that exist now; the gate sensor or `publish` then releases them."""
    from synth_pipelines.core.gate import approval_path, record_approval
    from synth_pipelines.orchestration.resources import SynthStorage

    loaded = load_spec(spec)
    storage = SynthStorage()
    features = storage.work(loaded.spec.dataset, partition, "synthetic_features") / "features.parquet"
    path = approval_path(storage.base() / "approvals", loaded.spec.dataset, loaded.spec.release_name, partition)
    try:
        approval = record_approval(path, features, approver=approver, comment=comment)
    except (ValueError, FileNotFoundError) as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)
    click.echo(f"approved {loaded.spec.release_name} snapshot {partition} by {approval.approver} "
               f"(rows sha256 {approval.features_sha256[:12]}); publish with: synth-pipelines publish {spec} "
               f"--snapshot {partition}")


@main.command()
@click.argument("spec", type=click.Path(path_type=Path))
@click.option("--snapshot", "partition", required=True, callback=_snapshot_option,
              help="Snapshot partition to publish.")
def publish(spec: Path, partition: str) -> None:
    """Publish a snapshot's QA'd features if the gate is open (checks passed, approval if required)."""
    from synth_pipelines.orchestration.code_location import build_definitions
    from synth_pipelines.orchestration.factory import release_gate
    from synth_pipelines.orchestration.resources import SynthStorage
    from synth_pipelines.orchestration.runner import instance_for_cli, published_release

    loaded = load_spec(spec)
    decision, _ = release_gate(loaded, SynthStorage(), partition)
    if not decision.open:
        click.echo(f"not published: {decision.reason}", err=True)
        sys.exit(3)
    job = build_definitions([loaded]).resolve_job_def(f"{loaded.spec.dataset}_publish")
    result = job.execute_in_process(instance=instance_for_cli(), partition_key=partition, raise_on_error=False)
    if not result.success:
        click.echo(f"publish run {result.run_id} failed; see its logs", err=True)
        sys.exit(1)
    release = published_release(result, loaded.spec.dataset)
    click.echo(f"published {release['release']}: {release['path']} ({release['rows']} rows)")


def _read_table(path: Path) -> "pd.DataFrame":
    import pandas as pd

    if path.suffix.lower() in (".parquet", ".pq"):
        return pd.read_parquet(path)
    if path.suffix.lower() in (".csv", ".gz", ".txt"):
        return pd.read_csv(path, skipinitialspace=True)
    raise click.BadParameter(f"{path}: use a .parquet or .csv file")


@main.command()
@click.option("--spec", "spec_path", required=True, type=click.Path(path_type=Path),
              help="Spec giving the label, task and QA thresholds.")
@click.option("--real", "real_path", required=True, type=click.Path(exists=True, path_type=Path),
              help="Real rows the generator was trained on (Parquet or CSV).")
@click.option("--holdout", "holdout_path", required=True, type=click.Path(exists=True, path_type=Path),
              help="Real rows the generator never saw.")
@click.option("--synthetic", "synthetic_path", required=True, type=click.Path(exists=True, path_type=Path),
              help="Synthetic rows to judge, from any tool.")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=Path("qa_report"), show_default=True)
def qa(spec_path: Path, real_path: Path, holdout_path: Path, synthetic_path: Path, out_dir: Path) -> None:
    """Run the pipeline's QA checks on any synthetic table; exit 1 when a blocking check fails."""
    from synth_pipelines.core.quality.report import write_reports
    from synth_pipelines.core.quality.runner import run_quality
    from synth_pipelines.core.synthesis import fit_codecs

    spec = load_spec(spec_path).spec
    view = spec.training_view
    real, holdout, synthetic = (_read_table(p) for p in (real_path, holdout_path, synthetic_path))
    # The columns judged are the real rows' columns, minus the entity key (never synthesized).
    real = real.drop(columns=[view.entity_key], errors="ignore")
    if view.label not in real.columns:
        click.echo(f"{real_path}: has no label column '{view.label}' (training_view.label in {spec_path})", err=True)
        sys.exit(2)
    categorical = {view.label} if view.task == "classification" else set()
    codecs = fit_codecs(real, categorical, numeric={view.label} - categorical)
    if "synthetic_id" not in synthetic.columns:
        synthetic = synthetic.assign(synthetic_id=[f"row-{i}" for i in range(len(synthetic))])
    extra = [c for c in synthetic.columns if c not in real.columns and c != "synthetic_id"]
    report = run_quality(real, holdout, synthetic, codecs, view.label, view.task, spec.qa, extra_columns=extra,
                         rebalance=spec.synthetic.rebalance)
    paths = write_reports(report, out_dir, real, synthetic, codecs, spec.qa)
    for check in report.checks:
        verdict = "PASS" if check.passed else ("FAIL" if check.blocking else "WARN")
        click.echo(f"{verdict:4}  {check.name}: {check.summary}")
    click.echo(f"report: {paths['html']} and {paths['pdf']}")
    sys.exit(0 if report.passed else 1)


def _destination_root(spec_path: Path | None) -> Path:
    destination = load_spec(spec_path or DEMO_SPEC).spec.destination
    if destination.kind != "local":
        raise click.UsageError(f"releases and show read local releases; this spec publishes to {destination.kind} "
                               "(list those with the destination's own tools: the manifests are next to the data)")
    return destination.root()


@main.command()
@click.option("--spec", "spec_path", type=click.Path(path_type=Path), default=None,
              help="Spec whose destination to list (default: the demo spec).")
@click.option("--dataset", default=None, help="Only this dataset.")
@click.option("--expired", "only_expired", is_flag=True, help="Only releases past their expiry date.")
def releases(spec_path: Path | None, dataset: str | None, only_expired: bool) -> None:
    """List published releases with row counts, creation and expiry dates."""
    from synth_pipelines.core.releases import list_releases

    found = [r for r in list_releases(_destination_root(spec_path), dataset) if r.expired() or not only_expired]
    if not found:
        click.echo("no releases")
        return
    for release in found:
        flags = ",".join(f for f, on in (("latest", release.latest), ("EXPIRED", release.expired())) if on)
        click.echo(f"{release.name}\t{release.rows} rows\tcreated {release.created_at[:19]}\t"
                   f"expires {(release.expires_at or 'never')[:19]}\t{flags}")


@main.command()
@click.argument("release")
@click.option("--spec", "spec_path", type=click.Path(path_type=Path), default=None)
def show(release: str, spec_path: Path | None) -> None:
    """Show one release's manifest: RELEASE is dataset/features_vN[/snapshot=ID] or its folder."""
    import json

    from synth_pipelines.core.releases import find_release

    try:
        info, manifest = find_release(_destination_root(spec_path), release)
    except LookupError as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)
    click.echo(f"{info.name}  ({info.path})")
    click.echo(json.dumps(manifest, indent=2, default=str))


def _load_valid(path: Path) -> LoadedSpec | None:
    """The spec, checked against its source; None (after printing why) when it is invalid."""
    from synth_pipelines.core.validation import validate_against_source

    try:
        loaded = load_spec(path)
        validate_against_source(loaded)
    except SpecError as exc:
        click.echo(f"INVALID {exc}", err=True)
        return None
    return loaded


def _run(path: Path, partition: str | None = None) -> int:
    from synth_pipelines.core.destinations import DestinationError, IsolationError, existing_release
    from synth_pipelines.orchestration.factory import today_partition
    from synth_pipelines.orchestration.runner import instance_for_cli, materialize_dataset

    loaded = _load_valid(path)
    if loaded is None:
        return 2
    spec = loaded.spec
    partition = partition or today_partition(loaded)
    try:  # before training anything; also repairs the LATEST or view a killed publish left behind
        existing = existing_release(spec.destination, source_url=spec.source.url, dataset=spec.dataset,
                                    release_name=spec.release_name, snapshot_id=partition)
    except (DestinationError, IsolationError) as exc:
        click.echo(f"destination: {exc}", err=True)
        return 1
    if existing:
        click.echo(f"{spec.release_name} for snapshot {partition} is already published: {existing}\n"
                   "Releases are immutable; bump `version` in the spec for new features, or run again "
                   "tomorrow for a new snapshot.")
        return 0
    click.echo(f"running {spec.dataset} ({spec.release_name}, snapshot {partition}) with synthcity "
               f"'{spec.generator.plugin}' ...")
    outcome = materialize_dataset(loaded, instance_for_cli(), partition_key=partition)
    for name, summary in outcome.advisory_failures.items():
        click.echo(f"advisory (not blocking) QA check failed: {name}: {summary}", err=True)
    if outcome.release:
        release = outcome.release
        click.echo(f"published {release['release']}: {release['path']}")
        click.echo(f"  rows:      {release['rows']}")
        click.echo(f"  manifest:  {release['manifest']}")
        click.echo(f"  QA report: {release['qa_report']}")
        return 0
    if outcome.failed_checks:
        click.echo("QA gate closed, nothing published. Failed checks:", err=True)
        for name, summary in outcome.failed_checks.items():
            click.echo(f"  {name}: {summary}", err=True)
        return 1
    if outcome.gate and not outcome.error:
        click.echo(f"not published: {outcome.gate}", err=True)
        return 3
    if outcome.error:
        click.echo(f"run {outcome.run_id} failed at {outcome.error}", err=True)
    return 1


def _preview(path: Path, partition: str | None) -> int:
    """Assess the full train rows, run the pipeline on a sample in <home>/preview/<dataset>/, print a summary."""
    from synth_pipelines.core.preview import PREVIEW_SYNTHETIC_ROWS, PREVIEW_TRAIN_ROWS, reduced_settings
    from synth_pipelines.orchestration.runner import preview_dataset

    loaded = _load_valid(path)
    if loaded is None:
        return 2
    spec = loaded.spec
    click.echo(f"preview of {spec.dataset}: up to {PREVIEW_TRAIN_ROWS} train rows, {spec.generator.plugin} with "
               f"{reduced_settings(spec.generator)}, {min(PREVIEW_SYNTHETIC_ROWS, spec.synthetic.rows)} synthetic "
               "rows; nothing is published")
    try:
        result = preview_dataset(loaded, partition)
    except SpecError as exc:
        click.echo(f"INVALID {exc}", err=True)
        return 2
    click.echo("\n".join(result.assessment.summary_lines()))
    if result.outcome is None:
        try:
            result.assessment.raise_for_errors(loaded)
        except SpecError as exc:
            click.echo(f"INVALID {exc}", err=True)
        return 2
    timings = ", ".join(f"{step} {seconds:.1f} s" for step, seconds in result.step_seconds.items())
    click.echo(f"timings: {timings}")
    for check in result.qa_checks:
        click.echo(f"QA {'PASS' if check['passed'] else 'FAIL'}  {check['name']}: {check['summary']}")
    if result.preview_train_rows:
        click.echo(f"estimate for the full run: training ~{result.estimated_full_training_seconds:.0f} s on "
                   f"{result.assessment.rows} rows (preview: {result.preview_training_seconds:.1f} s on "
                   f"{result.preview_train_rows} rows, scaled by rows and training work); cost model: "
                   f"~{result.assessment.estimated_training_seconds:.0f} s, "
                   f"~{result.assessment.estimated_peak_memory_mb:,.0f} MB peak")
    click.echo(f"preview files (QA report, synthetic rows): {result.root}; nothing was published")
    if result.outcome.error:
        click.echo(f"preview run {result.outcome.run_id} failed at {result.outcome.error}", err=True)
        return 1
    return 0

"""synth-pipelines: validate specs, build the demo source, run a dataset's pipeline headlessly.

Every command ends with an exit code from `console.ExitCode` and reports an error as one line.
Startup stays light (`--help` well under a second): at the top this module imports only click and
the console helpers; a command imports the spec, pandas, Dagster or the QA runner when it runs.
"""

from __future__ import annotations

import signal
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from synth_pipelines.console import CliError, ExitCode, Outcome, Progress, command, json_mode, progress_option
from synth_pipelines.core.synthcity_plugins import quiet_synthcity_env
from synth_pipelines.paths import demo_spec, snapshot_id, storage_root

if TYPE_CHECKING:
    import pandas as pd

    from synth_pipelines.orchestration.runner import RunOutcome
    from synth_pipelines.spec import LoadedSpec

DEMO_SPEC = demo_spec()
DAGSTER_LOG_LEVEL = "CRITICAL"  # Dagster's console logger prints stack traces; progress and results come from here


def demo_database_path() -> Path:
    return storage_root() / "demo" / "demo_bank.sqlite"


def _snapshot_option(_ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A --snapshot/--from/--to value: a partition date, never a path (it names folders in the home)."""
    if value is None:
        return None
    try:
        return snapshot_id(value)
    except ValueError as exc:
        raise CliError(f"{param.opts[0]}: {exc}") from None


def _load(path: Path) -> LoadedSpec:
    from synth_pipelines.spec import load_spec

    return load_spec(path)


def _partition_in_range(loaded: LoadedSpec, partition: str, option: str = "--snapshot") -> str:
    """`partition` when a snapshot can be taken for it: a day from refresh.start_date to today."""
    loaded.check_start_date()  # a start date to come leaves no partition at all: that is the spec's error
    refresh = loaded.spec.refresh
    first, today = refresh.start_date.isoformat(), refresh.today().isoformat()
    where = f"Fix: use a date from {first} to {today}"
    if partition < first:
        raise CliError(f"{option} {partition} is before the first snapshot partition {first} (refresh.start_date "
                       f"in {loaded.path}). {where}, or set an earlier refresh.start_date")
    if partition > today:
        raise CliError(f"{option} {partition} is after today's snapshot partition {today} ({refresh.timezone}). {where}")
    return partition


def _days(first: str, last: str) -> list[str]:
    start, end = date.fromisoformat(first), date.fromisoformat(last)
    return [(start + timedelta(days=i)).isoformat() for i in range((end - start).days + 1)]


@click.group(epilog="Exit codes (every command): " + ", ".join(
    f"{int(code)} {code.name.lower().replace('_', ' ')}" for code in ExitCode) + ".")
def main() -> None:
    """Validate, run, check and list synthetic feature datasets (README: "The command line")."""
    quiet_synthcity_env()


# -- validate ---------------------------------------------------------------------------------------

def _validate_one(path: Path, offline: bool) -> dict[str, Any]:
    from synth_pipelines.spec import SpecError

    result: dict[str, Any] = {"path": str(path), "valid": False, "offline": offline}
    try:
        loaded = _load(path)
        result.update(dataset=loaded.spec.dataset, version=loaded.spec.version)
        if offline:
            click.echo(f"OK {path}: {loaded.spec.dataset} v{loaded.spec.version} (file only)")
            return {**result, "valid": True}
        from synth_pipelines.core.validation import assess_source, validate_against_source  # pandas, scikit-learn

        check = validate_against_source(loaded)
        assessment = assess_source(loaded)
        result.update(source_rows=check.table_rows, feature_columns=check.feature_columns,
                      assessment=assessment.to_dict())
        rows = ", ".join(f"{t}={n}" for t, n in check.table_rows.items())
        click.echo(f"OK {path}: {loaded.spec.dataset} v{loaded.spec.version}; source rows {rows}; "
                   f"{len(check.feature_columns)} feature columns: {', '.join(check.feature_columns)}")
        click.echo("\n".join(assessment.summary_lines()))
        assessment.raise_for_errors(loaded)
    except SpecError as exc:
        click.echo(f"INVALID {exc}", err=True)
        return {**result, "error": str(exc)}
    return {**result, "valid": True}


@main.command()
@click.argument("specs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--offline", is_flag=True, help="Check the file only; do not connect to the source.")
@command(json_flag=True)
def validate(specs: tuple[Path, ...], offline: bool) -> Outcome:
    """Check dataset spec files (and, unless --offline, their source database) without running anything.

    With the source, the train rows are also assessed (size, cardinalities, leakage, cost estimate)."""
    results = [_validate_one(path, offline) for path in specs]
    code = ExitCode.OK if all(r["valid"] for r in results) else ExitCode.INVALID_INPUT
    return Outcome(code, {"specs": results})


@main.command("demo-db")
@click.option("--path", type=click.Path(path_type=Path), default=None, help="Default: $SYNTH_PIPELINES_HOME/demo/")
@click.option("--customers", default=4000, show_default=True)
@click.option("--seed", default=None, type=int)
@command()
def demo_db(path: Path | None, customers: int, seed: int | None) -> Outcome:
    """Build the embedded demo source database (SQLite, deterministic from the seed)."""
    from synth_pipelines.core.demo_source import DEFAULT_SEED, build_demo_database

    built = build_demo_database(path or demo_database_path(), customers, DEFAULT_SEED if seed is None else seed)
    click.echo(f"demo source database: {built}")
    return Outcome()


# -- run, backfill, demo ----------------------------------------------------------------------------

@main.command()
@click.argument("spec", type=click.Path(path_type=Path))
@click.option("--snapshot", "partition", default=None, callback=_snapshot_option,
              help="Snapshot partition (YYYY-MM-DD); default: today.")
@click.option("--preview", is_flag=True, help="Dry run on a sample with reduced training and few synthetic rows; "
                                              "QA is reported, not gating; nothing is published.")
@progress_option
@command(json_flag=True)
def run(spec: Path, partition: str | None, preview: bool, progress: bool | None) -> Outcome:
    """Materialize every stage of SPEC's dataset and publish a release if QA passes."""
    return (_preview if preview else _run)(spec, partition, Progress(progress))


@main.command()
@click.argument("spec", type=click.Path(path_type=Path))
@click.option("--from", "first", required=True, callback=_snapshot_option,
              help="First snapshot partition, YYYY-MM-DD.")
@click.option("--to", "last", required=True, callback=_snapshot_option,
              help="Last snapshot partition, YYYY-MM-DD (inclusive).")
@progress_option
@command()
def backfill(spec: Path, first: str, last: str, progress: bool | None) -> Outcome:
    """Publish SPEC's current feature version for every snapshot partition in a date range.

    Partitions with a retained snapshot reuse it; a past one without is refused unless the spec's
    source.as_of says how to read the source as of that date (today's is read now). The runs are one
    Dagster backfill, listed in the UI's Backfills tab; in the UI the same is "Materialize" on the
    asset group with a partition range (one partition per run). Only the days that can run become
    snapshot partitions; a refused day is reported and never shows in the UI."""
    from synth_pipelines.orchestration.factory import add_snapshot_partitions, snapshot_refusal
    from synth_pipelines.orchestration.resources import SynthStorage
    from synth_pipelines.orchestration.runner import (backfill_tags, end_backfill, instance_for_cli,
                                                      record_backfill)

    if first > last:
        raise CliError(f"--from {first} is after --to {last}. Fix: swap them: --from {last} --to {first}")
    loaded = _load(spec)
    _partition_in_range(loaded, first, "--from")
    _partition_in_range(loaded, last, "--to")
    keys = _days(first, last)
    storage = SynthStorage.from_env()  # where materialize_dataset finds the retained snapshots
    runnable = [key for key in keys if snapshot_refusal(loaded, storage, key) is None]
    backfill_id = None
    if runnable:  # the refused days are no partitions, so the recorded backfill holds only the others
        instance = instance_for_cli()
        add_snapshot_partitions(instance, loaded, runnable)
        backfill_id = record_backfill(instance, loaded, runnable)
        plural = "" if len(runnable) == 1 else "s"
        click.echo(f"backfill {backfill_id}: {loaded.spec.release_name} over {len(runnable)} snapshot "
                   f"partition{plural}")
    tags = backfill_tags(backfill_id) if backfill_id else None
    try:
        # Every day is visited: a refused one reports why (materialize_dataset refuses it before any run).
        codes = {key: _run(spec, key, Progress(progress), tags).code for key in keys}
    finally:
        if backfill_id:
            end_backfill(instance_for_cli(), backfill_id)
    published = [k for k, c in codes.items() if c == ExitCode.OK]
    existing = [k for k, c in codes.items() if c == ExitCode.ALREADY_PUBLISHED]
    failures = [k for k, c in codes.items() if c not in (ExitCode.OK, ExitCode.ALREADY_PUBLISHED)]
    click.echo(f"backfill {first}..{last}: {len(published)} of {len(keys)} partitions published"
               + (f"; {len(existing)} already published" if existing else "")
               + (f"; failed: {', '.join(failures)}" if failures else ""))
    return Outcome(codes[failures[0]] if failures else ExitCode.OK)


@main.command()
@progress_option
@command()
def demo(progress: bool | None) -> Outcome:
    """Build the demo source if needed, then run the demo dataset end to end."""
    if not demo_database_path().exists():
        from synth_pipelines.core.demo_source import build_demo_database

        click.echo(f"building demo source database {build_demo_database(demo_database_path())}")
    return _run(DEMO_SPEC, None, Progress(progress))


def _existing_release(loaded: LoadedSpec, partition: str) -> str | None:
    """Where the spec's release of `partition` is already published, or None (asked before any work)."""
    from synth_pipelines.core.destinations import DestinationError, IsolationError, existing_release

    spec = loaded.spec
    try:  # also repairs the LATEST or view a killed publish left behind
        return existing_release(spec.destination, source_url=spec.source.url, dataset=spec.dataset,
                                release_name=spec.release_name, snapshot_id=partition)
    except (DestinationError, IsolationError) as exc:
        raise CliError(f"destination: {exc}", ExitCode.INTERNAL_ERROR) from None


def _already_published(loaded: LoadedSpec, partition: str, location: str, data: dict[str, Any]) -> Outcome:
    click.echo(f"{loaded.spec.release_name} for snapshot {partition} is already published: {location}\n"
               "Releases are immutable; bump `version` in the spec for new features, or run again tomorrow for a "
               "new snapshot.", err=True)
    return Outcome(ExitCode.ALREADY_PUBLISHED, {**data, "release": {"path": location}})


def _existing_tables_release(loaded: LoadedSpec, partition: str) -> str | None:
    """Where the spec's tables release (`tables:`) of `partition` is published already, or None."""
    from synth_pipelines.core.destinations import DestinationError, IsolationError
    from synth_pipelines.core.multitable_publish import existing_tables_release, tables_dataset

    spec = loaded.spec
    if spec.tables is None:
        return None
    try:
        return existing_tables_release(spec.destination, source_url=spec.source.url,
                                       dataset=tables_dataset(spec.dataset), release_name=spec.release_name,
                                       snapshot_id=partition)
    except (DestinationError, IsolationError) as exc:
        raise CliError(f"destination: {exc}", ExitCode.INTERNAL_ERROR) from None


def _report_tables(loaded: LoadedSpec, outcome: RunOutcome | None, existing: str | None) -> tuple[ExitCode, Any]:
    """Print what became of the tables release of a spec with `tables:` (published, there already, or
    why not); its exit code (OK for a spec without tables) and the release for --json."""
    if loaded.spec.tables is None:
        return ExitCode.OK, None
    if existing:
        click.echo(f"tables already published, left as they were: {existing}", err=True)
        return ExitCode.OK, {"path": existing}
    release = outcome.tables_release if outcome else None
    if release:
        click.echo(f"published {release['release']}: {release['path']}")
        click.echo(f"  rows:      {release['rows']}")
        click.echo(f"  manifest:  {release['manifest']}")
        return ExitCode.OK, release
    if outcome is None or outcome.tables_gate is None:  # the run stopped before the gates (its error says why)
        click.echo("tables not published: the run stopped before publication", err=True)
        return ExitCode.GATE_CLOSED, None
    if outcome.tables_gate_open:  # the gate opened, the publish step failed
        click.echo(f"tables not published: {outcome.error or 'the publish step wrote no release'}", err=True)
        return (ExitCode.ALREADY_PUBLISHED if outcome.error_class == "ReleaseExistsError"
                else ExitCode.INTERNAL_ERROR), None
    click.echo(f"tables not published: {outcome.tables_gate}", err=True)
    return ExitCode.AWAITING_APPROVAL if outcome.tables_awaiting_approval else ExitCode.GATE_CLOSED, None


def _print_verdict(checks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    from synth_pipelines.core.quality.verdict import verdict_rows, verdict_table

    rows = verdict_rows(checks)
    if rows:
        click.echo("\n".join(verdict_table(rows)))
    return rows


def _failure_code(outcome: RunOutcome) -> ExitCode:
    """The exit code of a run that published nothing."""
    if outcome.error_class == "ReleaseExistsError":
        return ExitCode.ALREADY_PUBLISHED
    if outcome.failed_checks:  # the QA step's own error then only says that a blocking check failed
        return ExitCode.GATE_CLOSED
    if outcome.error:
        return ExitCode.INVALID_INPUT if outcome.error_class in ("SpecError", "DomainError") else ExitCode.INTERNAL_ERROR
    if outcome.awaiting_approval:
        return ExitCode.AWAITING_APPROVAL
    return ExitCode.GATE_CLOSED


def _report_unpublished(outcome: RunOutcome) -> ExitCode:
    """Print why nothing was published, in one or two lines (no stack trace: the table says the rest)."""
    code = _failure_code(outcome)
    if code == ExitCode.GATE_CLOSED and outcome.failed_checks:
        click.echo(f"QA gate closed, nothing published: {', '.join(outcome.failed_checks)} failed", err=True)
    elif outcome.error:
        click.echo(f"run {outcome.run_id} failed at {outcome.error}" if outcome.run_id else f"not run: {outcome.error}",
                   err=True)
    else:
        click.echo(f"not published: {outcome.gate}", err=True)
    return code


def _run(path: Path, partition: str | None, progress: Progress, tags: dict[str, str] | None = None) -> Outcome:
    from synth_pipelines.orchestration.runner import instance_for_cli, materialize_dataset

    progress("spec", f"checking {path} against its source")
    loaded = _load_valid(path)
    spec = loaded.spec
    partition = _partition_in_range(loaded, partition or spec.refresh.today().isoformat())
    data: dict[str, Any] = {"dataset": spec.dataset, "release_name": spec.release_name, "snapshot": partition}
    existing = _existing_release(loaded, partition)
    if existing:
        if spec.tables is not None and not _existing_tables_release(loaded, partition):
            click.echo(f"its tables are not published: synth-pipelines publish {path} --snapshot {partition}",
                       err=True)
        return _already_published(loaded, partition, existing, data)
    existing_tables = _existing_tables_release(loaded, partition)
    click.echo(f"running {spec.dataset} ({spec.release_name}, snapshot {partition}) with synthcity "
               f"'{spec.generator.plugin}' ...")
    outcome = materialize_dataset(loaded, instance_for_cli(), partition_key=partition, log_level=DAGSTER_LOG_LEVEL,
                                  on_progress=progress, tags=tags, publish_tables=existing_tables is None)
    data.update(run_id=outcome.run_id, checks=_print_verdict(outcome.checks), qa_report=outcome.qa_report)
    if outcome.release:
        release = outcome.release
        click.echo(f"published {release['release']}: {release['path']}")
        click.echo(f"  rows:      {release['rows']}")
        click.echo(f"  manifest:  {release['manifest']}")
        click.echo(f"  QA report: {release['qa_report']}")
        # The tables pass their own gate: a closed one is this run's exit code, the features stay published.
        tables_code, tables_release = _report_tables(loaded, outcome, existing_tables)
        return Outcome(tables_code, {**data, "release": release, "qa_report": release["qa_report"],
                                     **_tables_data(loaded, outcome, tables_release)})
    if outcome.qa_report:
        click.echo(f"QA report: {outcome.qa_report}")
    code = _report_unpublished(outcome)
    _, tables_release = _report_tables(loaded, outcome, existing_tables)
    error = None if outcome.failed_checks else outcome.error  # else only Dagster's "a blocking check failed"
    return Outcome(code, {**data, "gate": outcome.gate, "error": error,
                          **_tables_data(loaded, outcome, tables_release)})


def _tables_data(loaded: LoadedSpec, outcome: RunOutcome, release: Any) -> dict[str, Any]:
    """The tables release's part of --json (a spec with `tables:` only)."""
    if loaded.spec.tables is None:
        return {}
    return {"tables_release": release, "tables_gate": outcome.tables_gate}


def _load_valid(path: Path) -> LoadedSpec:
    """The spec, checked against its source (a SpecError names file, field and fix)."""
    from synth_pipelines.core.validation import validate_against_source

    loaded = _load(path)
    validate_against_source(loaded)
    return loaded


def _preview(path: Path, partition: str | None, progress: Progress) -> Outcome:
    """Assess the full train rows, run the pipeline on a sample in <home>/preview/<dataset>/, print a summary."""
    from synth_pipelines.core.preview import PREVIEW_SYNTHETIC_ROWS, PREVIEW_TRAIN_ROWS, reduced_settings
    from synth_pipelines.orchestration.runner import preview_dataset

    loaded = _load_valid(path)
    spec = loaded.spec
    partition = _partition_in_range(loaded, partition or spec.refresh.today().isoformat())
    click.echo(f"preview of {spec.dataset}: up to {PREVIEW_TRAIN_ROWS} train rows, {spec.generator.plugin} with "
               f"{reduced_settings(spec.generator)}, {min(PREVIEW_SYNTHETIC_ROWS, spec.synthetic.rows)} synthetic "
               "rows; nothing is published")
    result = preview_dataset(loaded, partition, log_level=DAGSTER_LOG_LEVEL, on_progress=progress)
    click.echo("\n".join(result.assessment.summary_lines()))
    data: dict[str, Any] = {"dataset": spec.dataset, "snapshot": partition, "preview_root": str(result.root),
                            "assessment": result.assessment.to_dict()}
    if result.outcome is None:
        result.assessment.raise_for_errors(loaded)  # a SpecError: exit INVALID_INPUT
    click.echo("timings: " + ", ".join(f"{step} {seconds:.1f} s" for step, seconds in result.step_seconds.items()))
    rows = _print_verdict(result.qa_checks)
    data.update(step_seconds=result.step_seconds, checks=rows, cannot_predict=result.limits,
                ran={"train_rows": result.preview_train_rows, "synthetic_rows": result.preview_synthetic_rows,
                     "training_seconds": result.preview_training_seconds})
    if result.preview_train_rows:
        click.echo(f"preview ran: {result.preview_train_rows} train rows (full run: {result.assessment.rows}), "
                   f"{result.preview_synthetic_rows} synthetic rows (full run: {spec.synthetic.rows}), training "
                   f"{result.preview_training_seconds:.1f} s")
        click.echo(f"estimate for the full run: training ~{result.estimated_full_training_seconds:.0f} s "
                   f"(the preview's {result.preview_training_seconds:.1f} s scaled by rows and training work), "
                   f"generation ~{result.estimated_full_generation_seconds:.0f} s (scaled by rows); cost model: "
                   f"training ~{result.assessment.estimated_training_seconds:.0f} s, "
                   f"~{result.assessment.estimated_peak_memory_mb:,.0f} MB peak")
        data["estimate"] = {"training_seconds": result.estimated_full_training_seconds,
                            "generation_seconds": result.estimated_full_generation_seconds,
                            "cost_model_training_seconds": result.assessment.estimated_training_seconds,
                            "cost_model_peak_memory_mb": result.assessment.estimated_peak_memory_mb}
    if result.limits:
        click.echo("what the preview cannot predict:\n" + "\n".join(f"  - {line}" for line in result.limits))
    click.echo(f"preview files (QA report, synthetic rows): {result.root}; nothing was published")
    if result.outcome.error:
        click.echo(f"preview run {result.outcome.run_id} failed at {result.outcome.error}", err=True)
        return Outcome(_failure_code(result.outcome), {**data, "error": result.outcome.error})
    return Outcome(ExitCode.OK, data)


# -- approve, publish -------------------------------------------------------------------------------

@main.command()
@click.argument("spec", type=click.Path(path_type=Path))
@click.option("--snapshot", "partition", required=True, callback=_snapshot_option,
              help="Snapshot partition whose QA'd rows you approve.")
@click.option("--approver", required=True, help="Your name, recorded in the release manifest.")
@click.option("--comment", default="", help="What you checked.")
@click.option("--tables", "tables", is_flag=True,
              help="Approve the snapshot's synthetic tables (a spec with `tables:`) instead of its features.")
@command()
def approve(spec: Path, partition: str, approver: str, comment: str, tables: bool) -> Outcome:
    """Record a human approval of a snapshot's QA'd features (for specs with qa.require_approval).

    The approval covers exactly the rows that exist now; the gate sensor or `publish` then releases them."""
    from synth_pipelines.core.gate import approval_path, record_approval
    from synth_pipelines.orchestration.resources import SynthStorage

    loaded = _load(spec)
    _partition_in_range(loaded, partition)
    storage = SynthStorage.from_env()  # a bucket, where the workers and the gate sensor read the approval
    features = storage.work(loaded.spec.dataset, partition, "synthetic_features")  # its parts
    path = approval_path(storage.approvals(loaded.spec.dataset), loaded.spec.dataset, loaded.spec.release_name, partition)
    digest = None
    if tables:
        from synth_pipelines.orchestration.multitable import tables_approval_path, tables_sha256

        if loaded.spec.tables is None:
            raise CliError(f"{spec} has no `tables:`; approve its features without --tables")
        path = tables_approval_path(storage, loaded, partition)
        try:
            digest = tables_sha256(storage, loaded, partition)
        except FileNotFoundError:
            raise CliError(f"no synthetic tables of snapshot {partition} to approve; run the pipeline first") from None
    try:
        approval = record_approval(path, features, approver=approver, comment=comment, rows_sha256=digest)
    except (ValueError, FileNotFoundError) as exc:
        raise CliError(str(exc)) from None
    storage.save_now(path)
    then = (f"the publication gate sensor publishes them, or: synth-pipelines publish {spec} --snapshot {partition}"
            if tables else
            f"publish with: synth-pipelines publish {spec} --snapshot {partition}")
    click.echo(f"approved {loaded.spec.release_name}{' tables' if tables else ''} snapshot {partition} by "
               f"{approval.approver} (rows sha256 {approval.features_sha256[:12]}); {then}")
    return Outcome()


@main.command()
@click.argument("spec", type=click.Path(path_type=Path))
@click.option("--snapshot", "partition", required=True, callback=_snapshot_option,
              help="Snapshot partition to publish.")
@progress_option
@command()
def publish(spec: Path, partition: str, progress: bool | None) -> Outcome:
    """Publish a snapshot's QA'd features if the gate is open (checks passed, approval if required)."""
    from synth_pipelines.orchestration.runner import instance_for_cli, publish_partition

    loaded = _load(spec)
    _partition_in_range(loaded, partition)
    existing, existing_tables = _existing_release(loaded, partition), _existing_tables_release(loaded, partition)
    if existing and (loaded.spec.tables is None or existing_tables):
        return _already_published(loaded, partition, existing, {})
    outcome = publish_partition(loaded, instance_for_cli(), partition_key=partition, log_level=DAGSTER_LOG_LEVEL,
                                on_progress=Progress(progress), features=not existing, tables=not existing_tables)
    if existing:  # only the tables were left to publish
        click.echo(f"{loaded.spec.release_name} already published, left as it was: {existing}", err=True)
        code = ExitCode.OK
    elif outcome.release:
        release = outcome.release
        click.echo(f"published {release['release']}: {release['path']} ({release['rows']} rows)")
        code = ExitCode.OK
    else:
        code = _report_unpublished(outcome)
    tables_code, _ = _report_tables(loaded, outcome, existing_tables)
    return Outcome(code if code != ExitCode.OK else tables_code)


# -- qa ---------------------------------------------------------------------------------------------

def _read_table(path: Path) -> pd.DataFrame:
    import pandas as pd

    if path.suffix.lower() in (".parquet", ".pq"):
        return pd.read_parquet(path)
    if path.suffix.lower() in (".csv", ".gz", ".txt"):
        return pd.read_csv(path, skipinitialspace=True)
    raise CliError(f"{path}: use a .parquet or .csv file")


def _qa_settings(spec_path: Path | None, label: str | None, task: str | None, entity_key: str | None,
                 thresholds: tuple[str, ...]) -> tuple[str, str, str | None, Any, Any]:
    """(label, task, entity key, QAThresholds, rebalance) from the spec, the options, or both (options win)."""
    import yaml
    from pydantic import ValidationError

    from synth_pipelines.core.quality.thresholds import QAThresholds

    qa, rebalance = QAThresholds(), None
    if spec_path is not None:
        spec = _load(spec_path).spec
        view = spec.training_view
        label, task, entity_key = label or view.label, task or view.task, entity_key or view.entity_key
        qa, rebalance = spec.qa, spec.synthetic.rebalance
    if not label or not task:
        raise CliError("qa needs the label column and the task. Fix: pass --label COLUMN --task "
                       "classification|regression, or --spec SPEC")
    overrides = {}
    for item in thresholds:
        name, sep, value = item.partition("=")
        if not sep:
            raise CliError(f"--threshold {item}: write NAME=VALUE, e.g. --threshold min_fidelity=0.8")
        overrides[name.strip()] = yaml.safe_load(value)
    try:
        qa = type(qa).model_validate({**qa.model_dump(exclude_unset=True), **overrides}) if overrides else qa
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'qa'}: {e['msg']}" for e in exc.errors())
        raise CliError(f"--threshold: {problems}. Fix: use the names and ranges in core/quality/thresholds.py "
                       "(e.g. min_fidelity=0.8, protected_columns=[sex])") from None
    return label, task, entity_key, qa, rebalance


@main.command()
@click.option("--spec", "spec_path", type=click.Path(path_type=Path), default=None,
              help="Spec giving the label, task, entity key and QA thresholds (optional with --label and --task).")
@click.option("--label", default=None, help="Label column (default: the spec's training_view.label).")
@click.option("--task", type=click.Choice(["classification", "regression"]), default=None,
              help="What the label is (default: the spec's training_view.task).")
@click.option("--entity-key", default=None, help="Real key column, not judged (default: the spec's entity_key).")
@click.option("--threshold", "thresholds", multiple=True, metavar="NAME=VALUE",
              help="A QA threshold or option (core/quality/thresholds.py), e.g. min_fidelity=0.8 or "
                   "'protected_columns=[sex]'; repeatable; overrides the spec's qa:.")
@click.option("--real", "real_path", required=True, type=click.Path(exists=True, path_type=Path),
              help="Real rows the generator was trained on (Parquet or CSV).")
@click.option("--holdout", "holdout_path", required=True, type=click.Path(exists=True, path_type=Path),
              help="Real rows the generator never saw.")
@click.option("--synthetic", "synthetic_path", required=True, type=click.Path(exists=True, path_type=Path),
              help="Synthetic rows to judge, from any tool.")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=Path("qa_report"), show_default=True)
@progress_option
@command(json_flag=True)
def qa(spec_path: Path | None, label: str | None, task: str | None, entity_key: str | None,
       thresholds: tuple[str, ...], real_path: Path, holdout_path: Path, synthetic_path: Path, out_dir: Path,
       progress: bool | None) -> Outcome:
    """Run the pipeline's QA checks on any synthetic table; exit 3 when a blocking check fails."""
    label, task, entity_key, thresholds_used, rebalance = _qa_settings(spec_path, label, task, entity_key, thresholds)
    real, holdout, synthetic = (_read_table(p) for p in (real_path, holdout_path, synthetic_path))
    # The columns judged are the real rows' columns, minus the entity key (never synthesized).
    real = real.drop(columns=[entity_key] if entity_key else [], errors="ignore")
    if label not in real.columns:
        source = f"training_view.label in {spec_path}" if spec_path else "--label"
        raise CliError(f"{real_path}: has no label column '{label}' ({source}). Fix: name a column of "
                       f"{real_path.name}: {', '.join(map(str, real.columns))}")
    progress = Progress(progress)
    with progress.from_logging("qa"):
        report, paths = _judge(real, holdout, synthetic, label, task, thresholds_used, rebalance, out_dir,
                               header={"dataset": real_path.stem, "generator": f"external ({synthetic_path.name})"})
    checks = [check.to_dict() for check in report.checks]
    rows = _print_verdict(checks)
    click.echo(f"report: {paths['html']} and {paths['pdf']}")
    code = ExitCode.OK if report.passed else ExitCode.GATE_CLOSED
    return Outcome(code, {"passed": report.passed, "checks": rows, "label": label, "task": task,
                          "report": {k: str(v) for k, v in paths.items()}})


def _judge(real: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame, label: str, task: str,
           thresholds: Any, rebalance: Any, out_dir: Path, header: dict[str, str]) -> tuple[Any, dict[str, Path]]:
    from synth_pipelines.core.quality.report import ReportHeader, write_reports
    from synth_pipelines.core.quality.runner import run_quality
    from synth_pipelines.core.synthesis import fit_codecs

    categorical = {label} if task == "classification" else set()
    codecs = fit_codecs(real, categorical, numeric={label} - categorical)
    if "synthetic_id" not in synthetic.columns:
        synthetic = synthetic.assign(synthetic_id=[f"row-{i}" for i in range(len(synthetic))])
    extra = [c for c in synthetic.columns if c not in real.columns and c != "synthetic_id"]
    report = run_quality(real, holdout, synthetic, codecs, label, task, thresholds, extra_columns=extra,
                         rebalance=rebalance)
    return report, write_reports(report, out_dir, real, synthetic, codecs, thresholds, header=ReportHeader(**header))


# -- releases, show ---------------------------------------------------------------------------------

def _destination_releases(destination: Any, dataset: str | None = None) -> tuple[list[Any], str]:
    """The releases in a spec's destination (local or S3) and a name for where they are."""
    from synth_pipelines.core.destinations import DestinationError
    from synth_pipelines.core.releases import list_destination_releases

    if destination.kind == "sql":
        raise CliError("releases and show read local and S3 releases; this spec publishes to a SQL database. Fix: "
                       "query its releases table (README: SQL destination) for the same information")
    where = str(destination.root()) if destination.kind == "local" else f"s3://{destination.bucket}/{destination.prefix}"
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return list_destination_releases(destination, dataset), where
    except (DestinationError, OSError, BotoCoreError, ClientError) as exc:
        raise CliError(f"destination {where}: {exc}", ExitCode.INTERNAL_ERROR) from None


_RELEASE_COLUMNS = ("release", "rows", "created", "expires", "flags")


@main.command()
@click.option("--spec", "spec_path", type=click.Path(path_type=Path), default=None,
              help="Spec whose destination to list (default: the demo spec).")
@click.option("--dataset", default=None, help="Only this dataset.")
@click.option("--expired", "only_expired", is_flag=True, help="Only releases past their expiry date.")
@command(json_flag=True)
def releases(spec_path: Path | None, dataset: str | None, only_expired: bool) -> Outcome:
    """List published releases with row counts, creation and expiry dates (tab-separated, with a header)."""
    destination = _load(spec_path or DEMO_SPEC).spec.destination
    found = [r for r in _destination_releases(destination, dataset)[0] if r.expired() or not only_expired]
    listed = [{"release": r.name, "dataset": r.dataset, "release_name": r.release_name, "snapshot": r.snapshot_id,
               "rows": r.rows, "created_at": r.created_at, "expires_at": r.expires_at, "latest": r.latest,
               "expired": r.expired(), "path": r.location} for r in found]
    if not found:
        click.echo("no releases", err=True)
    elif not json_mode():
        click.echo("\t".join(_RELEASE_COLUMNS))
    for release in [] if json_mode() else listed:
        flags = ",".join(f for f, on in (("latest", release["latest"]), ("EXPIRED", release["expired"])) if on)
        click.echo(f"{release['release']}\t{release['rows']}\t{release['created_at'][:19]}\t"
                   f"{(release['expires_at'] or 'never')[:19]}\t{flags}")
    return Outcome(ExitCode.OK, {"releases": listed})


@main.command()
@click.argument("release")
@click.option("--spec", "spec_path", type=click.Path(path_type=Path), default=None)
@command(json_flag=True)
def show(release: str, spec_path: Path | None) -> Outcome:
    """Show one release's manifest: RELEASE is dataset/features_vN[/snapshot=ID] or its folder."""
    import json

    from synth_pipelines.core.releases import find_release

    try:
        found, where = _destination_releases(_load(spec_path or DEMO_SPEC).spec.destination)
        info, manifest = find_release(found, release, where)
    except LookupError as exc:
        raise CliError(f"{exc}. Fix: name one of those (synth-pipelines releases lists them)") from None
    if not json_mode():
        click.echo(f"{info.name}  ({info.location})")
        click.echo(json.dumps(manifest, indent=2, default=str))
    return Outcome(ExitCode.OK, {"release": info.name, "path": info.location, "manifest": manifest})


@main.command()
@click.argument("before")
@click.argument("after")
@click.option("--spec", "spec_path", type=click.Path(path_type=Path), default=None,
              help="Spec whose destination holds both releases (default: the demo spec).")
@click.option("--max-drift", type=float, default=None,
              help="A column moved when its distance exceeds chance by more than this (default: the spec's "
                   "qa.max_release_drift).")
@command(json_flag=True)
def diff(before: str, after: str, spec_path: Path | None, max_drift: float | None) -> Outcome:
    """Compare two releases: per-column distance against chance, association changes, QA figures side by side.

    BEFORE and AFTER are dataset/features_vN[/snapshot=ID] (a version alone: its LATEST) or folders.
    Both sides are synthetic rows: nothing real is shown. Exit 0 whatever moved (it is a report)."""
    import tempfile

    from synth_pipelines.core.quality.release_diff import compare_releases
    from synth_pipelines.core.releases import find_release, release_rows

    spec = _load(spec_path or DEMO_SPEC).spec
    found, where = _destination_releases(spec.destination)
    max_drift = spec.qa.max_release_drift if max_drift is None else max_drift
    try:
        (a, manifest_a), (b, manifest_b) = find_release(found, before, where), find_release(found, after, where)
    except LookupError as exc:
        raise CliError(f"{exc}. Fix: name one of those (synth-pipelines releases lists them)") from None
    several = [info.name for info, manifest in ((a, manifest_a), (b, manifest_b)) if "tables" in manifest]
    if several:
        raise CliError(f"{', '.join(several)}: a multi-table release; diff compares single-table releases")
    with tempfile.TemporaryDirectory() as scratch:
        rows_a = release_rows(a, spec.destination, Path(scratch) / "before")
        rows_b = release_rows(b, spec.destination, Path(scratch) / "after")
    result = compare_releases(rows_a, rows_b, before_name=a.name, after_name=b.name, before_manifest=manifest_a,
                              after_manifest=manifest_b, seed=spec.qa.seed)
    moved = result.moved(max_drift)
    if not json_mode():
        click.echo(f"{a.name} ({result.rows[0]} rows compared) -> {b.name} ({result.rows[1]} rows compared)")
        for label, names in (("added columns", result.added_columns), ("removed columns", result.removed_columns)):
            if names:
                click.echo(f"{label}: {', '.join(names)}")
        for column, (old, new) in result.type_changes.items():
            click.echo(f"type changed: {column} {old} -> {new}")
        click.echo(f"{'column':30} {'distance':>9} {'chance':>8}  moved (> chance + {max_drift:g})")
        for drift in result.columns[:15]:
            click.echo(f"{drift.name[:30]:30} {drift.distance:9.4f} {drift.allowance:8.4f}  "
                       f"{'MOVED' if drift in moved else ''}")
        if result.association_change is not None:
            click.echo(f"associations: mean |PhiK change| {result.association_change:.4f}; largest: "
                       + ", ".join(f"{pair} {value:.3f}" for pair, value in result.largest_association_changes.items()))
        number = lambda value: f"{value:.4g}" if isinstance(value, (int, float)) else str(value)  # noqa: E731
        for row in result.qa:
            change = "" if row["change"] is None else f" ({row['change']:+.4g})"
            click.echo(f"QA {row['check']}.{row['metric']}: {number(row['before'])} -> {number(row['after'])}{change}")
    return Outcome(ExitCode.OK, {**result.to_dict(), "max_release_drift": max_drift,
                                 "moved_columns": [c.name for c in moved]})


# -- reports ----------------------------------------------------------------------------------------

REPORTS_PORT = 3001  # beside the Dagster UI's 3000


@main.group()
def reports() -> None:
    """The QA reports the Dagster UI links to."""


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


@reports.command("serve")
@click.option("--port", default=REPORTS_PORT, show_default=True, help="Port on 127.0.0.1 (0: any free one).")
@command()
def serve_reports(port: int) -> Outcome:
    """Serve the QA reports under $SYNTH_PIPELINES_HOME on 127.0.0.1, read-only, until interrupted.

    Only the QA report folders (work/<dataset>/<snapshot>/qa and qa_runs/) are served: no snapshot,
    training row or model. Runs started with SYNTH_PIPELINES_REPORTS_URL set to the address printed
    link their reports from the UI's check results (`make dev` does both)."""
    from synth_pipelines.core.report_links import REPORTS_URL_ENV, report_server

    root = storage_root()
    try:
        server = report_server(root, port)
    except OSError as exc:
        raise CliError(f"cannot listen on 127.0.0.1:{port}: {exc.strerror or exc}. Fix: choose another --port") from None
    address = f"http://127.0.0.1:{server.server_port}"
    click.echo(f"serving the QA reports under {root / 'work'} at {address} (Ctrl-C stops); "
               f"runs link them with {REPORTS_URL_ENV}={address}", err=True)
    # SIGTERM (make dev's cleanup, a supervisor) stops it like Ctrl-C, even where the parent ignored SIGTERM:
    # an ignored signal is inherited, and the server would outlive whoever started it.
    signal.signal(signal.SIGTERM, _interrupt)
    with server:
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
    return Outcome()


if __name__ == "__main__":
    main()

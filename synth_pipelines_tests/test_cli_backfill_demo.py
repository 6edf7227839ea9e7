"""`synth-pipelines backfill` and `synth-pipelines demo`, through the CLI, judged by their effects:
releases and manifests on disk, snapshots taken or not, the demo source built. Only the exit status 0
of a success is asserted, never the printed text (which may change)."""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
from datetime import datetime, timezone
from pathlib import Path

import dagster as dg
import pandas as pd
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from synth_pipelines.cli import DEMO_SPEC, demo_database_path, main
from synth_pipelines.core.publish import publish_local
from synth_pipelines.orchestration.factory import today_partition
from synth_pipelines.spec import load_spec

RELEASES = ("releases", "demo_loans", "features_v1")


def tree(folder: Path) -> dict[str, str]:
    """Every file under `folder` with its SHA-256."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def publish_placeholder(home: Path, tmp_path: Path, snapshot_id: str) -> Path:
    """A release of demo_loans features_v1 for `snapshot_id`, as an earlier run would have left it."""
    features = tmp_path / f"placeholder-{snapshot_id}.parquet"
    pd.DataFrame({"x": [1, 2]}).to_parquet(features)
    manifest = {"dataset": "demo_loans", "release_name": "features_v1", "rows": 2,
                "created_at": datetime.now(timezone.utc).isoformat(), "source": {"snapshot_id": snapshot_id}}
    release = publish_local(features_path=features, attachments=[], manifest=manifest, root=home / "releases",
                            dataset="demo_loans", release_name="features_v1", snapshot_id=snapshot_id, rows=2)
    return Path(release.path)


def ended_cleanly(result) -> bool:
    """The command ended with an exit status of its own (any: an early stop has its own code), not a crash."""
    return result.exception is None or isinstance(result.exception, SystemExit)


def manifest_of(home: Path, snapshot_id: str) -> dict:
    return json.loads(home.joinpath(*RELEASES, f"snapshot={snapshot_id}", "manifest.json").read_text())


# --- backfill ---------------------------------------------------------------------------------


@pytest.fixture
def own_source(tmp_path, demo_db):
    """A private copy of the demo source that the test may change between snapshots."""
    path = tmp_path / "own_source.sqlite"
    shutil.copy(demo_db, path)
    return path


@pytest.mark.slow
def test_backfill_of_a_new_version_reuses_retained_snapshots_and_skips_published_days(
        own_source, shipped_demo_spec_data, write_spec, storage_home, tmp_path, monkeypatch):
    """(Moved here from orchestration/test_versions_and_backfills.py, now through the CLI.) Version 1 is
    backfilled over two past days, rebuilt with the spec's source.as_of; the source changes; version 2
    (a new calculated feature) is backfilled over the same days from the retained snapshots, not today's
    rows; a second backfill of the same range publishes nothing and changes nothing. In the instance the
    UI reads, the two days are the dataset's partitions and the backfill holds their runs."""
    dagster_home = tmp_path / "dagster_home"
    dagster_home.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(dagster_home))
    data = shipped_demo_spec_data
    data["source"]["url"] = f"sqlite:///{own_source}"
    days = ["2026-11-01", "2026-11-02"]
    v1 = write_spec(data, "v1.yaml")
    backfill = ["backfill", "--from", days[0], "--to", days[1]]
    first = CliRunner().invoke(main, [backfill[0], str(v1), *backfill[1:]])
    assert first.exit_code == 0, first.output
    instance = dg.DagsterInstance.get()
    try:
        assert instance.get_dynamic_partitions("demo_loans_snapshots") == days  # not a calendar since start_date
        (recorded,) = instance.get_backfills()
        assert list(recorded.partition_names) == days
        runs = instance.get_runs(dg.RunsFilter.for_backfill(recorded.backfill_id))
        assert sorted((run.job_name, run.tags["dagster/partition"]) for run in runs) == sorted(
            (f"demo_loans_{job}", day) for job in ("refresh", "publish") for day in days)
    finally:
        instance.dispose()

    # The source moves on after the snapshots were taken...
    engine = sa.create_engine(f"sqlite:///{own_source}")
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE customers SET annual_income = annual_income * 3"))
    engine.dispose()

    # ...and version 2 (a new calculated feature) is backfilled over the same two snapshots.
    data["version"] = 2
    data["features"]["calculated_columns"].append({"name": "high_rate", "expression": "interest_rate > 0.12"})
    v2 = write_spec(data, "v2.yaml")
    second = CliRunner().invoke(main, [backfill[0], str(v2), *backfill[1:]])
    assert second.exit_code == 0, second.output

    releases = storage_home / "releases" / "demo_loans"
    for day in days:
        m1 = json.loads((releases / "features_v1" / f"snapshot={day}" / "manifest.json").read_text())
        m2 = json.loads((releases / "features_v2" / f"snapshot={day}" / "manifest.json").read_text())
        assert m1["source"]["snapshot_id"] == m2["source"]["snapshot_id"] == day
        assert m2["source"]["fingerprint"] == m1["source"]["fingerprint"]  # the retained rows, not today's
        # v1's run of a past day had no retained snapshot: rebuilt with the spec's source.as_of, and says so.
        assert m1["source"]["reconstructed"]["as_of"] == day
        assert m1["source"]["reconstructed"]["filters"] == {"loans": f"application_date <= '{day}'"}
        assert "high_rate" in m2["schema"] and "high_rate" not in m1["schema"]
        assert m1["rows"] == m2["rows"] == 1500 and m1["qa"]["passed"] and m2["qa"]["passed"]
        assert m2["spec_hash"] == load_spec(v2).spec_hash
        data_file = releases / "features_v2" / f"snapshot={day}" / "data" / "part-00000.parquet"
        assert pq.ParquetFile(data_file).metadata.num_rows == 1500
    assert (releases / "features_v2" / "LATEST").read_text().strip() == "snapshot=2026-11-02"
    assert (releases / "features_v1" / "LATEST").read_text().strip() == "snapshot=2026-11-02"
    assert sorted(p.name for p in (storage_home / "snapshots" / "demo_loans").iterdir()) == days

    # Every day of the range is published: a second backfill stops early for each (releases are immutable).
    before = {name: tree(storage_home / name) for name in ("releases", "snapshots")}
    again = CliRunner().invoke(main, [backfill[0], str(v2), *backfill[1:]])
    assert again.exit_code == 0, again.output
    assert {name: tree(storage_home / name) for name in ("releases", "snapshots")} == before


def test_backfill_fails_for_a_day_it_cannot_read_and_still_visits_the_rest(demo_spec_data, write_spec,
                                                                            storage_home, tmp_path, monkeypatch):
    """Without source.as_of a past day with no retained snapshot is refused (it would invent history):
    the backfill fails, publishes and snapshots nothing for that day, and goes on to the next day
    (already published here, whose stale LATEST the visit repairs). The refused day never becomes a
    snapshot partition nor gets a run; the range's other day is one Dagster backfill in the instance."""
    dagster_home = tmp_path / "dagster_home"
    dagster_home.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(dagster_home))  # runs and backfills land in a real instance
    del demo_spec_data["source"]["as_of"]
    spec_path = write_spec(demo_spec_data)
    today = today_partition(load_spec(spec_path))
    yesterday = (datetime.fromisoformat(today) - pd.Timedelta(days=1)).date().isoformat()
    published = publish_placeholder(storage_home, tmp_path, today)
    latest = published.parent / "LATEST"
    latest.write_text("snapshot=2026-01-01\n")  # stale, as a publish killed before LATEST leaves it

    result = CliRunner().invoke(main, ["backfill", str(spec_path), "--from", yesterday, "--to", today])

    assert result.exit_code != 0
    assert not (published.parent / f"snapshot={yesterday}").exists()
    assert not (storage_home / "snapshots" / "demo_loans" / yesterday).exists()
    assert latest.read_text() == f"snapshot={today}\n"  # the next day of the range was visited
    instance = dg.DagsterInstance.get()
    try:
        # What the UI shows: today's snapshot partition only (the refused day is none), and one backfill of
        # the refresh job over it, with no run (found by Dagster's backfill tag): today's stopped early.
        assert instance.get_dynamic_partitions("demo_loans_snapshots") == [today]
        (recorded,) = instance.get_backfills()
        assert list(recorded.partition_names) == [today]
        assert recorded.backfill_end_timestamp >= recorded.backfill_timestamp  # ended, so the UI stops its clock
        assert recorded.partition_set_origin.partition_set_name == "demo_loans_refresh_partition_set"
        assert recorded.partition_set_origin.selector.location_name == "synth_pipelines"
        assert not instance.get_runs(dg.RunsFilter.for_backfill(recorded.backfill_id))
        assert not instance.get_runs()  # the refused day was refused before any run
    finally:
        instance.dispose()


# --- demo -------------------------------------------------------------------------------------


def test_demo_builds_the_demo_source_when_missing_and_stops_early_when_todays_release_exists(storage_home,
                                                                                             tmp_path):
    today = today_partition(load_spec(DEMO_SPEC))
    release = publish_placeholder(storage_home, tmp_path, today)
    before = tree(storage_home / "releases")
    assert not demo_database_path().exists()

    result = CliRunner().invoke(main, ["demo"])

    assert ended_cleanly(result), result.output
    # The shipped spec's source, built under SYNTH_PIPELINES_HOME with the default 4,000 customers.
    assert demo_database_path() == storage_home / "demo" / "demo_bank.sqlite"
    with sqlite3.connect(demo_database_path()) as db:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        customers = db.execute("SELECT count(*) FROM customers").fetchone()[0]
    assert set(load_spec(DEMO_SPEC).spec.source.tables) <= tables and customers == 4000
    # Today's release exists: nothing was snapshotted, trained or published again.
    assert tree(storage_home / "releases") == before and release.is_dir()
    assert sorted(p.name for p in storage_home.iterdir()) == ["demo", "releases"]


@pytest.mark.slow
def test_demo_runs_the_shipped_spec_end_to_end_and_a_second_demo_changes_nothing(demo_db, storage_home):
    """`demo` on an existing demo source (the session's smaller one, in place of the 4,000-customer
    default): the shipped spec, its cart generator and every QA check blocking, publishes today's release."""
    demo_database_path().parent.mkdir(parents=True)
    shutil.copy(demo_db, demo_database_path())
    source_before = hashlib.sha256(demo_database_path().read_bytes()).hexdigest()
    spec = load_spec(DEMO_SPEC)
    today = today_partition(spec)

    result = CliRunner().invoke(main, ["demo"])

    assert result.exit_code == 0, result.output
    release = storage_home.joinpath(*RELEASES, f"snapshot={today}")
    manifest = manifest_of(storage_home, today)
    assert manifest["dataset"] == "demo_loans" and manifest["release_name"] == "features_v1"
    assert manifest["spec_hash"] == spec.spec_hash and manifest["spec_file"] == str(DEMO_SPEC)
    assert manifest["rows"] == spec.spec.synthetic.rows == 5000
    assert manifest["generator"]["plugin"] == "cart" and manifest["generator"]["seed"] == 7
    assert manifest["qa"]["passed"] is True and all(c["blocking"] for c in manifest["qa"]["checks"])
    data = pd.read_parquet(release / "data" / "part-00000.parquet")
    assert len(data) == 5000 and data["synthetic_id"].is_unique
    assert {"age_band", "debt_to_income", "applicant_name", "applicant_email"} <= set(data.columns)
    assert (release / "qa_report.html").is_file() and (release / "qa_report.pdf").is_file()
    assert (release.parent / "LATEST").read_text().strip() == release.name
    assert hashlib.sha256(demo_database_path().read_bytes()).hexdigest() == source_before  # only read

    before = tree(storage_home)
    again = CliRunner().invoke(main, ["demo"])
    assert ended_cleanly(again), again.output
    assert tree(storage_home) == before  # stopped early: nothing snapshotted, trained or written

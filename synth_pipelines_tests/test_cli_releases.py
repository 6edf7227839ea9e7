"""`synth-pipelines releases` and `show` over real release folders made by the local publisher."""

import json
from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest
from click.testing import CliRunner

from synth_pipelines.cli import main
from synth_pipelines.console import ExitCode
from synth_pipelines.core.publish import publish_local


@pytest.fixture
def published(tmp_path, demo_spec_data, write_spec, storage_home):
    features = tmp_path / "features.parquet"
    pd.DataFrame({"x": [1, 2, 3]}).to_parquet(features)
    root = storage_home / "releases"
    now = datetime.now(timezone.utc)
    for snapshot_id, expires in (("2026-10-01", now - timedelta(days=1)),
                                 ("2026-11-01", now + timedelta(days=30))):
        manifest = {"dataset": "demo_loans", "release_name": "features_v1", "rows": 3,
                    "created_at": now.isoformat(), "expires_at": expires.isoformat(),
                    "source": {"snapshot_id": snapshot_id}}
        publish_local(features_path=features, attachments=[], manifest=manifest, root=root, dataset="demo_loans",
                      release_name="features_v1", snapshot_id=snapshot_id, rows=3)
    (root / "demo_loans" / "features_v1" / ".staging-half-written").mkdir()  # never listed
    return write_spec(demo_spec_data)


def test_releases_lists_complete_releases_with_latest_and_expired(published):
    result = CliRunner().invoke(main, ["releases", "--spec", str(published)])
    assert result.exit_code == 0, result.output
    header, *lines = result.output.strip().splitlines()
    assert header.split("\t") == ["release", "rows", "created", "expires", "flags"]
    assert len(lines) == 2
    assert lines[0].startswith("demo_loans/features_v1/snapshot=2026-10-01") and lines[0].endswith("EXPIRED")
    assert lines[1].startswith("demo_loans/features_v1/snapshot=2026-11-01") and lines[1].endswith("latest")

    expired = CliRunner().invoke(main, ["releases", "--spec", str(published), "--expired"])
    assert expired.output.strip().splitlines() == [header, lines[0]]


def test_releases_json_is_pure_json_on_stdout(published):
    result = CliRunner().invoke(main, ["releases", "--spec", str(published), "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["status"] == "ok" and document["exit_code"] == 0
    listed = {r["snapshot"]: r for r in document["releases"]}
    assert listed["2026-10-01"]["expired"] and not listed["2026-10-01"]["latest"]
    assert listed["2026-11-01"]["latest"] and listed["2026-11-01"]["rows"] == 3
    assert listed["2026-11-01"]["release"] == "demo_loans/features_v1/snapshot=2026-11-01"


def test_show_prints_the_manifest_of_a_release_or_of_latest(published):
    result = CliRunner().invoke(main, ["show", "demo_loans/features_v1", "--spec", str(published)])
    assert result.exit_code == 0, result.output
    manifest = json.loads(result.output.split("\n", 1)[1])
    assert manifest["source"]["snapshot_id"] == "2026-11-01"
    assert manifest["files"]["data/part-00000.parquet"]["rows"] == 3

    missing = CliRunner().invoke(main, ["show", "demo_loans/features_v9", "--spec", str(published)])
    assert missing.exit_code == ExitCode.INVALID_INPUT
    assert "no release 'demo_loans/features_v9'" in missing.stderr and "snapshot=2026-10-01" in missing.stderr
    assert "Traceback" not in missing.output and len(missing.stderr.strip().splitlines()) == 1


def test_show_json_is_pure_json_on_stdout(published):
    result = CliRunner().invoke(main, ["show", "demo_loans/features_v1", "--spec", str(published), "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["release"] == "demo_loans/features_v1/snapshot=2026-11-01"
    assert document["manifest"]["source"]["snapshot_id"] == "2026-11-01"

    missing = CliRunner().invoke(main, ["show", "demo_loans/features_v9", "--spec", str(published), "--json"])
    assert missing.exit_code == ExitCode.INVALID_INPUT
    assert json.loads(missing.stdout)["status"] == "invalid_input"


def test_run_of_an_already_published_snapshot_repairs_a_stale_latest(published, storage_home):
    """Issue 13: a publish killed between its rename and LATEST; `run` again says "already published"
    and now also points LATEST at the newest release."""
    latest = storage_home / "releases" / "demo_loans" / "features_v1" / "LATEST"
    latest.write_text("snapshot=2026-10-01\n")
    result = CliRunner().invoke(main, ["run", str(published), "--snapshot", "2026-11-01"])
    assert result.exit_code == ExitCode.ALREADY_PUBLISHED, result.output
    assert "already published" in result.output
    assert latest.read_text() == "snapshot=2026-11-01\n"


def test_run_stops_early_when_todays_release_exists(tmp_path, demo_spec_data, write_spec, storage_home):
    """README: `run` stops early when today's release exists: nothing is snapshotted, trained or written."""
    from synth_pipelines.orchestration.factory import today_partition
    from synth_pipelines.spec import load_spec

    spec_path = write_spec(demo_spec_data)
    today = today_partition(load_spec(spec_path))
    features = tmp_path / "features.parquet"
    pd.DataFrame({"x": [1]}).to_parquet(features)
    manifest = {"dataset": "demo_loans", "release_name": "features_v1", "rows": 1,
                "created_at": datetime.now(timezone.utc).isoformat(), "source": {"snapshot_id": today}}
    publish_local(features_path=features, attachments=[], manifest=manifest, root=storage_home / "releases",
                  dataset="demo_loans", release_name="features_v1", snapshot_id=today, rows=1)
    before = sorted(p.relative_to(storage_home) for p in storage_home.rglob("*"))

    result = CliRunner().invoke(main, ["run", str(spec_path)])  # no --snapshot: today's partition
    assert result.exit_code == ExitCode.ALREADY_PUBLISHED, result.output
    assert f"features_v1 for snapshot {today} is already published" in result.output
    assert "running demo_loans" not in result.output
    assert sorted(p.relative_to(storage_home) for p in storage_home.rglob("*")) == before

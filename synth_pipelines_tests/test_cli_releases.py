"""`synth-pipelines releases` and `show` over real release folders made by the local publisher."""

import json
from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest
from click.testing import CliRunner

from synth_pipelines.cli import main
from synth_pipelines.console import ExitCode
from synth_pipelines.core.publish import publish_local


TTL_DAYS = 30


def published_manifest(loaded, snapshot_id: str, features) -> dict:
    """The manifest the publish asset writes (core.manifest.build_manifest: created_at now, expires_at
    refresh.release_ttl_days later), for a release of three placeholder rows."""
    from synth_pipelines.core.manifest import build_manifest
    from synth_pipelines.core.snapshot import Snapshot
    from synth_pipelines.core.synthesis import Synthesizer

    snapshot = Snapshot(snapshot_id=snapshot_id, path="", source="sqlite:///demo", taken_at="", fingerprint="0" * 64)
    synthesizer = Synthesizer(plugin="cart", settings={}, seed=7, codecs=[], label="defaulted", train_rows=3,
                              training_seconds=0.0, model_path="")
    return build_manifest(loaded, snapshot=snapshot, synthesizer=synthesizer, features_path=features, rows=3,
                          qa={"passed": True})


@pytest.fixture
def published(tmp_path, demo_spec_data, write_spec, storage_home):
    """Two releases with the manifests the pipeline writes under release_ttl_days 30: one published
    31 days ago (its dates moved back together, as time passing does), one published now."""
    from synth_pipelines.spec import load_spec

    demo_spec_data["refresh"] = {**demo_spec_data.get("refresh", {}), "release_ttl_days": TTL_DAYS}
    spec_path = write_spec(demo_spec_data)
    loaded = load_spec(spec_path)
    features = tmp_path / "features.parquet"
    pd.DataFrame({"x": [1, 2, 3]}).to_parquet(features)
    root = storage_home / "releases"
    for snapshot_id, age in (("2026-10-01", timedelta(days=TTL_DAYS + 1)), ("2026-11-01", timedelta(0))):
        manifest = published_manifest(loaded, snapshot_id, features)
        created, expires = (datetime.fromisoformat(manifest[k]) for k in ("created_at", "expires_at"))
        assert expires - created == timedelta(days=TTL_DAYS)  # what build_manifest computed, not this test
        manifest.update(created_at=(created - age).isoformat(), expires_at=(expires - age).isoformat())
        publish_local(features_path=features, attachments=[], manifest=manifest, root=root, dataset="demo_loans",
                      release_name="features_v1", snapshot_id=snapshot_id, rows=3)
    (root / "demo_loans" / "features_v1" / ".staging-half-written").mkdir()  # never listed
    return spec_path


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
    # Each expires release_ttl_days after its publication, as build_manifest dated it.
    for release in listed.values():
        created, expires = (datetime.fromisoformat(release[k]) for k in ("created_at", "expires_at"))
        assert expires - created == timedelta(days=TTL_DAYS)
    assert datetime.fromisoformat(listed["2026-10-01"]["expires_at"]) < datetime.now(timezone.utc)
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


@pytest.fixture
def published_on_s3(tmp_path, demo_spec_data, write_spec, moto, aws_env):
    """The same two releases (one expired) published to a real S3 server, and a spec pointing at it."""
    from synth_pipelines.core.destinations.s3 import publish_s3, s3_client
    from synth_pipelines.spec import load_spec

    s3_client(endpoint_url=moto.url).create_bucket(Bucket="cli-releases")
    demo_spec_data["refresh"] = {**demo_spec_data.get("refresh", {}), "release_ttl_days": TTL_DAYS}
    demo_spec_data["destination"] = {"kind": "s3", "bucket": "cli-releases", "prefix": "team",
                                     "endpoint_url": moto.url}
    spec_path = write_spec(demo_spec_data)
    features = tmp_path / "features.parquet"
    pd.DataFrame({"x": [1, 2, 3]}).to_parquet(features)
    for snapshot_id, age in (("2026-10-01", timedelta(days=TTL_DAYS + 1)), ("2026-11-01", timedelta(0))):
        manifest = published_manifest(load_spec(spec_path), snapshot_id, features)
        manifest.update({k: (datetime.fromisoformat(manifest[k]) - age).isoformat() for k in ("created_at", "expires_at")})
        publish_s3(features_path=features, attachments=[], manifest=manifest, bucket="cli-releases", prefix="team",
                   endpoint_url=moto.url, dataset="demo_loans", release_name="features_v1", snapshot_id=snapshot_id,
                   rows=3)
    return spec_path


def test_releases_and_show_read_an_s3_destination(published_on_s3):
    listed = CliRunner().invoke(main, ["releases", "--spec", str(published_on_s3), "--json"])
    assert listed.exit_code == 0, listed.output
    releases = {r["snapshot"]: r for r in json.loads(listed.stdout)["releases"]}
    assert set(releases) == {"2026-10-01", "2026-11-01"}
    assert releases["2026-10-01"]["expired"] and not releases["2026-11-01"]["expired"]
    assert releases["2026-11-01"]["latest"] and not releases["2026-10-01"]["latest"]
    assert releases["2026-11-01"]["path"] == "s3://cli-releases/team/demo_loans/features_v1/snapshot=2026-11-01/"
    assert releases["2026-11-01"]["rows"] == 3

    expired = CliRunner().invoke(main, ["releases", "--spec", str(published_on_s3), "--expired", "--json"])
    assert [r["snapshot"] for r in json.loads(expired.stdout)["releases"]] == ["2026-10-01"]

    shown = CliRunner().invoke(main, ["show", "demo_loans/features_v1", "--spec", str(published_on_s3), "--json"])
    assert shown.exit_code == 0, shown.output
    document = json.loads(shown.stdout)
    assert document["release"] == "demo_loans/features_v1/snapshot=2026-11-01"
    assert document["manifest"]["source"]["snapshot_id"] == "2026-11-01"
    missing = CliRunner().invoke(main, ["show", "demo_loans/features_v9", "--spec", str(published_on_s3)])
    assert missing.exit_code == ExitCode.INVALID_INPUT and "features_v9" in missing.output


def test_diff_compares_two_releases_and_names_the_column_that_moved(tmp_path, demo_spec_data, write_spec,
                                                                   storage_home):
    """`diff` on two local releases whose rows differ in one column: that column is named as moved, the
    others not; the QA figures of both manifests come side by side; exit 0 (a report, not a gate)."""
    import numpy as np

    from synth_pipelines.spec import load_spec

    spec_path = write_spec(demo_spec_data)
    loaded = load_spec(spec_path)
    rng = np.random.default_rng(5)
    rows = pd.DataFrame({"synthetic_id": [f"r{i}" for i in range(4000)], "amount": rng.normal(100, 10, 4000),
                         "segment": rng.choice(["a", "b", "c"], 4000)})
    moved = rows.assign(amount=rows["amount"] * 1.5, synthetic_id=[f"s{i}" for i in range(4000)])
    for snapshot_id, frame in (("2026-10-01", rows), ("2026-11-01", moved)):
        features = tmp_path / f"{snapshot_id}.parquet"
        frame.to_parquet(features)
        manifest = published_manifest(loaded, snapshot_id, features)
        manifest["qa"] = {"passed": True, "checks": [{"name": "utility", "metrics": [
            {"name": "tstr_trtr_ratio", "value": 0.97 if snapshot_id == "2026-10-01" else 0.91, "bound": "min"}]}]}
        publish_local(features_path=features, attachments=[], manifest=manifest, root=storage_home / "releases",
                      dataset="demo_loans", release_name="features_v1", snapshot_id=snapshot_id, rows=len(frame))

    result = CliRunner().invoke(main, ["diff", "demo_loans/features_v1/snapshot=2026-10-01", "demo_loans/features_v1",
                                       "--spec", str(spec_path), "--json"])

    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["after"] == "demo_loans/features_v1/snapshot=2026-11-01"  # a version alone: its LATEST
    assert document["moved_columns"] == ["amount"]
    assert {c["name"] for c in document["columns"]} == {"amount", "segment"}  # the row id is not compared
    assert document["qa"] == [{"check": "utility", "metric": "tstr_trtr_ratio", "before": 0.97, "after": 0.91,
                               "change": -0.06}]
    text = CliRunner().invoke(main, ["diff", "demo_loans/features_v1/snapshot=2026-10-01", "demo_loans/features_v1",
                                     "--spec", str(spec_path)])
    assert text.exit_code == 0 and "MOVED" in text.output


@pytest.mark.parametrize("kind", ["local", "s3"])
def test_releases_and_show_list_a_multi_table_release(kind, request, demo_spec_data, write_spec, storage_home):
    """A multi-table release is listed as <dataset>_tables beside the single-table ones, rows of all
    its tables together; `show` prints its manifest with each table's keys."""
    from synth_pipelines.core.multitable import plan_tables
    from synth_pipelines.core.multitable_publish import publish_tables, tables_provenance
    from synth_pipelines.core.snapshot import Snapshot
    from synth_pipelines.spec import load_spec
    from synth_pipelines_tests.core.multitable_fixture import SPECS, family_tables

    if kind == "s3":
        from synth_pipelines.core.destinations.s3 import s3_client

        moto = request.getfixturevalue("moto")
        request.getfixturevalue("aws_env")
        s3_client(endpoint_url=moto.url).create_bucket(Bucket="cli-tables")
        demo_spec_data["destination"] = {"kind": "s3", "bucket": "cli-tables", "prefix": "team",
                                         "endpoint_url": moto.url}
    spec_path = write_spec(demo_spec_data)
    loaded = load_spec(spec_path)
    tables = family_tables(customers=12)
    snapshot = Snapshot(snapshot_id="2026-11-01", path="", source="sqlite:///demo", taken_at="", fingerprint="0" * 64)
    publish_tables(tables, plan_tables(SPECS), tables_provenance(loaded, snapshot, {"passed": True}),
                   loaded.spec.destination, source_url=loaded.spec.source.url, dataset="demo_loans_tables",
                   release_name="features_v1", snapshot_id="2026-11-01")

    listed = CliRunner().invoke(main, ["releases", "--spec", str(spec_path), "--json"])
    assert listed.exit_code == 0, listed.output
    [release] = json.loads(listed.stdout)["releases"]
    assert release["release"] == "demo_loans_tables/features_v1/snapshot=2026-11-01" and release["latest"]
    assert release["rows"] == sum(len(frame) for frame in tables.values())
    shown = CliRunner().invoke(main, ["show", "demo_loans_tables/features_v1", "--spec", str(spec_path), "--json"])
    assert shown.exit_code == 0, shown.output
    manifest = json.loads(shown.stdout)["manifest"]
    assert manifest["tables"]["accounts"]["foreign_keys"]["customer_id"] == "customers.customer_id"
    assert manifest["tables"]["payments"]["rows"] == len(tables["payments"])
    diffed = CliRunner().invoke(main, ["diff", "demo_loans_tables/features_v1", "demo_loans_tables/features_v1",
                                       "--spec", str(spec_path)])
    assert diffed.exit_code == ExitCode.INVALID_INPUT and "multi-table release" in diffed.output

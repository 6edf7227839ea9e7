"""Snapshot partitions, backfills of a new feature version, reproducibility, immutability."""

import hashlib

import dagster as dg
import pytest

from synth_pipelines.orchestration.resources import SynthStorage
from synth_pipelines.orchestration.runner import materialize_dataset
from synth_pipelines.spec import load_spec

pytestmark = pytest.mark.slow


def sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run(loaded, storage_home, partition):
    outcome = materialize_dataset(loaded, dg.DagsterInstance.ephemeral(), SynthStorage(root=str(storage_home)),
                                  partition_key=partition)
    return outcome


# The scheduled refresh (a cron sensor adding the day's partition): test_scheduled_refresh.py.
# The backfill of a new version over retained snapshots: test_cli_backfill_demo.py, through the CLI.


def test_same_snapshot_spec_and_seed_reproduce_the_release(demo_spec_data, write_spec, tmp_path, monkeypatch):
    loaded = load_spec(write_spec(demo_spec_data))
    homes = [tmp_path / "first", tmp_path / "second"]
    data = []
    for home in homes:
        monkeypatch.setenv("SYNTH_PIPELINES_HOME", str(home))  # releases land under each home
        outcome = run(loaded, home, "2026-11-03")
        assert outcome.success, outcome.error
        data.append(sha256(home / "releases" / "demo_loans" / "features_v1" / "snapshot=2026-11-03" / "data"
                           / "part-00000.parquet"))
    assert data[0] == data[1]


def test_second_publish_of_a_release_fails_and_changes_nothing(demo_spec_data, write_spec, storage_home):
    loaded = load_spec(write_spec(demo_spec_data))
    assert run(loaded, storage_home, "2026-11-04").success
    release = storage_home / "releases" / "demo_loans" / "features_v1" / "snapshot=2026-11-04"
    before = {p.name: sha256(p) for p in release.rglob("*") if p.is_file()}

    again = run(loaded, storage_home, "2026-11-04")

    assert not again.success
    assert "ReleaseExistsError" in again.error and "immutable" in again.error
    assert {p.name: sha256(p) for p in release.rglob("*") if p.is_file()} == before
    assert not list(release.parent.glob(".staging-*"))

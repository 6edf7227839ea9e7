"""A backfill does not invent history (issue 14): a past day without a retained snapshot is refused
unless the spec says how to read the source as of a date; then the snapshot records how."""

import json
from datetime import date, timedelta

import dagster as dg
import pytest

from synth_pipelines.orchestration.code_location import build_definitions
from synth_pipelines.orchestration.factory import add_snapshot_partitions, today_partition
from synth_pipelines.orchestration.resources import SynthStorage
from synth_pipelines.spec import SpecError, load_spec

SNAPSHOT = ["demo_loans", "source_snapshot"]


def materialize_snapshot(loaded, storage_home, partition):
    defs = build_definitions([loaded], SynthStorage(root=str(storage_home)))
    job = dg.define_asset_job("snap", selection=dg.AssetSelection.assets(dg.AssetKey(SNAPSHOT)))
    defs = dg.Definitions.merge(defs, dg.Definitions(jobs=[job]))
    instance = dg.DagsterInstance.ephemeral()
    add_snapshot_partitions(instance, loaded, [partition])  # as a user adding the day in the UI would
    return defs.resolve_job_def("snap").execute_in_process(instance=instance, partition_key=partition,
                                                          raise_on_error=False)


def failure(result) -> str:
    return next(e.event_specific_data.error.message for e in result.all_events if e.is_step_failure)


def test_past_day_without_retained_snapshot_is_refused_naming_the_retained_ones(demo_spec_data, write_spec,
                                                                                 storage_home):
    del demo_spec_data["source"]["as_of"]
    loaded = load_spec(write_spec(demo_spec_data))
    today = today_partition(loaded)
    assert materialize_snapshot(loaded, storage_home, today).success  # today's is taken as always
    result = materialize_snapshot(loaded, storage_home, "2026-11-30")
    assert not result.success
    message = failure(result)
    assert "no retained snapshot for 2026-11-30" in message and f"Retained snapshots of demo_loans: {today}" in message
    assert "source.as_of.filters" in message
    assert not (storage_home / "snapshots" / "demo_loans" / "2026-11-30").exists()


def test_past_day_is_reconstructed_with_the_declared_filter_and_recorded(demo_spec_data, write_spec, storage_home):
    demo_spec_data["refresh"] = {"start_date": "2024-01-01"}  # the demo's loans run from 2019 to 2025-01
    loaded = load_spec(write_spec(demo_spec_data))
    today = today_partition(loaded)
    assert materialize_snapshot(loaded, storage_home, today).success
    past = "2024-06-30"  # the demo's loans run from before to after it
    assert materialize_snapshot(loaded, storage_home, past).success
    now = json.loads((storage_home / "snapshots" / "demo_loans" / today / "snapshot.json").read_text())
    then = json.loads((storage_home / "snapshots" / "demo_loans" / past / "snapshot.json").read_text())
    assert now["reconstructed"] is None
    assert then["reconstructed"] == {"as_of": past, "filters": {"loans": f"application_date <= '{past}'"},
                                     "read_as_they_are_now": ["accounts", "branches", "customers", "products"]}
    assert 0 < then["tables"]["loans"]["rows"] < now["tables"]["loans"]["rows"]
    assert then["tables"]["customers"]["rows"] == now["tables"]["customers"]["rows"]


def test_as_of_filter_needs_the_placeholder_and_a_declared_table(demo_spec_data, write_spec):
    demo_spec_data["source"]["as_of"] = {"filters": {"loans": "application_date <= '2026-01-01'"}}
    with pytest.raises(SpecError, match=r"source\.as_of\.filters\.loans: .*no \{snapshot_date\} placeholder"):
        load_spec(write_spec(demo_spec_data))
    demo_spec_data["source"]["as_of"] = {"filters": {"payments": "paid_on <= '{snapshot_date}'"}}
    with pytest.raises(SpecError, match=r"source\.as_of\.filters\.payments: 'payments' is not among"):
        load_spec(write_spec(demo_spec_data))

"""The source-change sensor, evaluated against a real instance and a real (copied) SQLite source."""

import shutil

import dagster as dg
import pytest
import sqlalchemy as sa

from synth_pipelines.orchestration.code_location import build_definitions
from synth_pipelines.spec import load_spec


@pytest.fixture
def sensor_setup(tmp_path, demo_db, demo_spec_data, write_spec):
    source = tmp_path / "changing_source.sqlite"
    shutil.copy(demo_db, source)
    demo_spec_data["source"]["url"] = f"sqlite:///{source}"
    defs = build_definitions([load_spec(write_spec(demo_spec_data))])
    return defs, defs.resolve_sensor_def("demo_loans_source_change"), sa.create_engine(f"sqlite:///{source}")


def tick(defs, sensor, instance, cursor):
    context = dg.build_sensor_context(instance=instance, cursor=cursor, repository_def=defs.get_repository_def(),
                                     instance_ref=instance.get_ref())  # as the daemon: partitions load through it
    result = sensor.evaluate_tick(context)
    return result, context.cursor


def test_new_rows_trigger_a_refresh_and_an_unchanged_source_does_not(sensor_setup):
    defs, sensor, engine = sensor_setup
    with dg.instance_for_test() as instance:
        first, cursor = tick(defs, sensor, instance, None)
        assert len(first.run_requests) == 1 and first.run_requests[0].partition_key
        # The run's day becomes a snapshot partition with it (dynamic partitions: no calendar of empty days).
        assert first.dynamic_partitions_requests == [dg.AddDynamicPartitionsRequest(
            partitions_def_name="demo_loans_snapshots", partition_keys=[first.run_requests[0].partition_key])]

        quiet, cursor = tick(defs, sensor, instance, cursor)
        assert not quiet.run_requests and "unchanged" in quiet.skip_message

        with engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO branches VALUES (99, 'New Branch', 'North', 2026)"))
        changed, cursor = tick(defs, sensor, instance, cursor)
        assert len(changed.run_requests) == 1
        assert changed.run_requests[0].tags["synth_pipelines/changed"] == "branches"
    engine.dispose()


def test_schema_change_that_breaks_the_spec_blocks_with_a_clear_message(sensor_setup):
    defs, sensor, engine = sensor_setup
    with dg.instance_for_test() as instance:
        _, cursor = tick(defs, sensor, instance, None)
        with engine.begin() as conn:
            conn.execute(sa.text("ALTER TABLE customers DROP COLUMN credit_score"))
        blocked, blocked_cursor = tick(defs, sensor, instance, cursor)
    engine.dispose()
    assert not blocked.run_requests
    assert "schema changed (customers)" in blocked.skip_message
    assert "training_view.sql" in blocked.skip_message and "credit_score" in blocked.skip_message
    assert "Validate and synchronize" in blocked.skip_message
    assert blocked_cursor == cursor  # stays blocked until the spec is fixed


def test_unreachable_source_is_a_skip_not_a_crash(sensor_setup, tmp_path):
    defs, sensor, engine = sensor_setup
    engine.dispose()
    (tmp_path / "changing_source.sqlite").unlink()
    with dg.instance_for_test() as instance:
        result, _ = tick(defs, sensor, instance, None)
    assert not result.run_requests and "source not readable" in result.skip_message

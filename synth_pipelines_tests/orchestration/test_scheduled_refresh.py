"""The scheduled refresh: a cron sensor (a schedule cannot add a dynamic partition) that, at each tick of
refresh.cron in refresh.timezone, adds the tick's day as a snapshot partition and requests its run, once."""

from datetime import datetime
from zoneinfo import ZoneInfo

import dagster as dg
import pytest
from dagster._core.test_utils import freeze_time

from synth_pipelines.orchestration.code_location import build_definitions
from synth_pipelines.spec import SpecError, load_spec

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture
def refresh(demo_spec_data, write_spec):
    demo_spec_data["refresh"] = {"cron": "0 3 * * *", "timezone": "Europe/Berlin", "start_date": "2026-11-20"}
    defs = build_definitions([load_spec(write_spec(demo_spec_data))])
    with dg.instance_for_test() as instance:
        yield defs, defs.resolve_sensor_def("demo_loans_scheduled_refresh"), instance


def tick(refresh, now: datetime, cursor: str | None):
    defs, sensor, instance = refresh
    context = dg.build_sensor_context(instance=instance, cursor=cursor, repository_def=defs.get_repository_def(),
                                     instance_ref=instance.get_ref())  # as the daemon: partitions load through it
    with freeze_time(now):
        return sensor.evaluate_tick(context)


def test_a_tick_requests_its_day_once_and_adds_that_partition(refresh):
    at_three = datetime(2026, 11, 24, 3, 0, tzinfo=BERLIN)  # 02:00 UTC: the spec's time zone counts

    first = tick(refresh, at_three, None)

    (request,) = first.run_requests
    assert (request.partition_key, request.run_key) == ("2026-11-24", "features_v1-2026-11-24")
    assert first.dynamic_partitions_requests == [
        dg.AddDynamicPartitionsRequest(partitions_def_name="demo_loans_snapshots", partition_keys=["2026-11-24"])]
    again = tick(refresh, at_three, first.cursor)  # the same tick evaluated again: nothing new
    assert not again.run_requests and not again.dynamic_partitions_requests
    assert "next refresh at 2026-11-25T03:00:00+01:00" in again.skip_message
    assert not tick(refresh, datetime(2026, 11, 24, 23, 59, tzinfo=BERLIN), first.cursor).run_requests


def test_a_late_evaluation_fires_the_tick_of_its_own_day(refresh):
    fired = tick(refresh, datetime(2026, 11, 24, 3, 0, tzinfo=BERLIN), None).cursor
    late = tick(refresh, datetime(2026, 11, 26, 1, 0, tzinfo=BERLIN), fired)  # the daemon was down over the 25th's tick
    assert [r.partition_key for r in late.run_requests] == ["2026-11-25"]
    assert late.dynamic_partitions_requests[0].partition_keys == ["2026-11-25"]


def test_nothing_is_requested_before_the_first_cron_time(refresh):
    before_start = tick(refresh, datetime(2026, 11, 20, 2, 59, tzinfo=BERLIN), None)  # start_date, before 03:00
    assert not before_start.run_requests and not before_start.dynamic_partitions_requests
    # A sensor started before today's tick does not fire yesterday's: today's source is not yesterday's.
    started_early = tick(refresh, datetime(2026, 11, 24, 2, 59, tzinfo=BERLIN), None)
    assert not started_early.run_requests and not started_early.dynamic_partitions_requests


def test_a_cron_dagster_cannot_run_stops_the_code_location_with_the_field(demo_spec_data, write_spec):
    demo_spec_data["refresh"] = {"cron": "99 3 * * *"}  # the right shape, an impossible minute
    with pytest.raises(SpecError, match=r"refresh\.cron: '99 3 \* \* \*' is not a cron expression.*Fix: "):
        build_definitions([load_spec(write_spec(demo_spec_data))])

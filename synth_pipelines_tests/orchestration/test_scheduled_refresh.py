"""The scheduled refresh: a cron sensor (a schedule cannot add a dynamic partition) that, at each tick of
refresh.cron in refresh.timezone, adds the tick's day as a snapshot partition and requests its run, once."""

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

from synth_pipelines.orchestration import sensors
from synth_pipelines.orchestration.code_location import build_definitions
from synth_pipelines.spec import SpecError, load_spec

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture
def sensor_at(demo_spec_data, write_spec):
    """The scheduled refresh sensor of the demo spec with this cron, in Europe/Berlin from `start_date`."""
    def build(cron: str, start_date: str = "2026-11-20"):
        demo_spec_data["refresh"] = {"cron": cron, "timezone": "Europe/Berlin", "start_date": start_date}
        defs = build_definitions([load_spec(write_spec(demo_spec_data))])
        return defs, defs.resolve_sensor_def("demo_loans_scheduled_refresh"), instance

    with dg.instance_for_test() as instance:
        yield build


@pytest.fixture
def refresh(sensor_at):
    return sensor_at("0 3 * * *")


def tick(refresh, now: datetime, cursor: str | None):
    defs, sensor, instance = refresh
    context = dg.build_sensor_context(instance=instance, cursor=cursor, repository_def=defs.get_repository_def(),
                                     instance_ref=instance.get_ref())  # as the daemon: partitions load through it
    with pytest.MonkeyPatch.context() as clock:
        clock.setattr(sensors, "current_time", lambda: now)
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


def test_a_time_skipped_by_the_spring_change_fires_at_the_change(sensor_at):
    """02:30 does not exist in Berlin on 2027-03-28 (02:00 CET -> 03:00 CEST): that day's tick is 03:00 CEST,
    as a Dagster schedule's, and the days either side keep 02:30."""
    refresh = sensor_at("30 2 * * *", start_date="2027-03-01")
    fired = tick(refresh, datetime(2027, 3, 27, 2, 30, tzinfo=BERLIN), None)
    assert [r.partition_key for r in fired.run_requests] == ["2027-03-27"]
    waiting = tick(refresh, datetime(2027, 3, 28, 1, 59, tzinfo=BERLIN), fired.cursor)
    assert not waiting.run_requests and "next refresh at 2027-03-28T03:00:00+02:00" in waiting.skip_message
    at_change = tick(refresh, datetime(2027, 3, 28, 3, 0, tzinfo=BERLIN), fired.cursor)
    assert [r.partition_key for r in at_change.run_requests] == ["2027-03-28"]
    assert at_change.cursor == "2027-03-28T03:00:00+02:00"
    assert "next refresh at 2027-03-29T02:30:00+02:00" in tick(
        refresh, datetime(2027, 3, 28, 3, 0, tzinfo=BERLIN), at_change.cursor).skip_message


def test_a_time_repeated_by_the_autumn_change_fires_once_at_its_second_occurrence(sensor_at):
    """02:30 happens twice in Berlin on 2026-10-25 (03:00 CEST -> 02:00 CET): as a Dagster schedule, the
    refresh fires once, at the later one (02:30 CET)."""
    refresh = sensor_at("30 2 * * *", start_date="2026-10-01")
    first_half_past_two = datetime(2026, 10, 25, 0, 30, tzinfo=timezone.utc).astimezone(BERLIN)  # +02:00
    second_half_past_two = datetime(2026, 10, 25, 1, 30, tzinfo=timezone.utc).astimezone(BERLIN)  # +01:00
    assert first_half_past_two.replace(tzinfo=None) == second_half_past_two.replace(tzinfo=None)
    yesterday = tick(refresh, datetime(2026, 10, 24, 2, 30, tzinfo=BERLIN), None).cursor

    early = tick(refresh, first_half_past_two, yesterday)
    assert not early.run_requests and "next refresh at 2026-10-25T02:30:00+01:00" in early.skip_message
    fired = tick(refresh, second_half_past_two, yesterday)
    assert [r.partition_key for r in fired.run_requests] == ["2026-10-25"]
    assert fired.cursor == "2026-10-25T02:30:00+01:00"
    settled = tick(refresh, datetime(2026, 10, 25, 12, 0, tzinfo=BERLIN), fired.cursor)
    assert not settled.run_requests and "next refresh at 2026-10-26T02:30:00+01:00" in settled.skip_message


def test_a_sparse_cron_finds_its_tick_far_back_and_ahead(sensor_at):
    """A monthly cron: the late evaluation finds the month's tick weeks back; the next one is a month ahead."""
    refresh = sensor_at("0 3 1 * *", start_date="2026-11-01")
    fired = tick(refresh, datetime(2026, 12, 1, 3, 0, tzinfo=BERLIN), None)
    late = tick(refresh, datetime(2027, 1, 20, 12, 0, tzinfo=BERLIN), fired.cursor)  # down since before 1 January
    assert [r.partition_key for r in late.run_requests] == ["2027-01-01"]
    assert "next refresh at 2027-02-01T03:00:00+01:00" in tick(
        refresh, datetime(2027, 1, 20, 12, 0, tzinfo=BERLIN), late.cursor).skip_message

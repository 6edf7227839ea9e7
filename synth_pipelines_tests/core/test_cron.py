"""Cron ticks as a Dagster schedule places them (the scheduled refresh computes its own): the syntax
Dagster accepts, days matched by day of month or day of week, and ticks around DST changes."""

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from synth_pipelines.core.cron import CronError, latest_tick, next_tick, parse_cron

UTC = ZoneInfo("UTC")


def ticks(expression: str, after: datetime, count: int, zone: ZoneInfo = UTC) -> list[str]:
    cron, found = parse_cron(expression), []
    while len(found) < count:
        after = next_tick(cron, zone, after)
        found.append(after.strftime("%Y-%m-%d %a %H:%M%z"))
    return found


@pytest.mark.parametrize("expression, expected", [
    ("0 3 L * *", ["2026-01-31 Sat 03:00+0000", "2026-02-28 Sat 03:00+0000"]),  # the month's last day
    ("0 3 * * fri#2", ["2026-01-09 Fri 03:00+0000", "2026-02-13 Fri 03:00+0000"]),  # the second Friday
    ("0 3 * * 5-2", ["2026-01-02 Fri 03:00+0000", "2026-01-03 Sat 03:00+0000"]),  # a range round the week
    ("0 3 ? * 7", ["2026-01-04 Sun 03:00+0000", "2026-01-11 Sun 03:00+0000"]),  # 7 is Sunday
    ("0 3 1,15 * 1", ["2026-01-01 Thu 03:00+0000", "2026-01-05 Mon 03:00+0000"]),  # day of month OR Monday
    ("0 3 5/10 JAN-MAR *", ["2026-01-05 Mon 03:00+0000", "2026-01-15 Thu 03:00+0000"]),
    ("0-59/20 3 * * *", ["2026-01-01 Thu 03:00+0000", "2026-01-01 Thu 03:20+0000"]),
    ("0 23-1 * * *", ["2026-01-01 Thu 01:00+0000", "2026-01-01 Thu 23:00+0000"]),  # a range round midnight
    ("0 3 28-L 2 *", ["2026-02-28 Sat 03:00+0000", "2027-02-28 Sun 03:00+0000"]),
    ("0 0 29 2 *", ["2028-02-29 Tue 00:00+0000", "2032-02-29 Sun 00:00+0000"]),
])
def test_the_syntax_dagster_runs(expression, expected):
    assert ticks(expression, datetime(2026, 1, 1, tzinfo=timezone.utc), 2) == expected


@pytest.mark.parametrize("expression, problem", [
    ("99 3 * * *", "minute: '99' is not a value from 0 to 59"),
    ("0 3 31 2 *", "day of month '31' never falls in month '2'"),
    ("0 3 * * 5L", "day of week: '5L'"),
    ("0 3 30 2 1", "day of month '30' never falls in month '2'"),  # though Mondays do
    ("0 3 * * 1#1,5", "a weekday with # stands alone"),
    ("0 3 * *", "4 fields"),
])
def test_what_dagster_refuses_is_refused(expression, problem):
    with pytest.raises(CronError, match=problem):
        parse_cron(expression)


def test_a_time_a_spring_change_skips_moves_to_the_end_of_the_gap():
    # Berlin skips 02:00-03:00 on 2026-03-29; Chatham (New Zealand) skips 02:45-03:45 on 2026-09-27.
    assert ticks("30 2 * * *", datetime(2026, 3, 28, 12, tzinfo=timezone.utc), 2, ZoneInfo("Europe/Berlin")) == [
        "2026-03-29 Sun 03:00+0200", "2026-03-30 Mon 02:30+0200"]
    assert ticks("0 3 * * *", datetime(2026, 9, 26, tzinfo=timezone.utc), 1, ZoneInfo("Pacific/Chatham")) == [
        "2026-09-27 Sun 03:45+1345"]


def test_a_time_an_autumn_change_repeats_is_its_second_occurrence_unless_the_cron_is_hourly():
    berlin = ZoneInfo("Europe/Berlin")
    night = datetime(2026, 10, 24, 23, 0, tzinfo=timezone.utc)  # 01:00 CEST on the night of the change
    assert ticks("30 2 * * *", night, 2, berlin) == ["2026-10-25 Sun 02:30+0100", "2026-10-26 Mon 02:30+0100"]
    assert ticks("0 * * * *", night, 3, berlin) == [
        "2026-10-25 Sun 02:00+0200", "2026-10-25 Sun 02:00+0100", "2026-10-25 Sun 03:00+0100"]
    cron, now = parse_cron("30 2 * * *"), datetime(2026, 10, 25, 1, 45, tzinfo=timezone.utc)
    assert latest_tick(cron, berlin, now, since=datetime(2026, 10, 25, tzinfo=berlin)).isoformat() == \
        "2026-10-25T02:30:00+01:00"
    assert latest_tick(cron, berlin, now, since=datetime(2026, 10, 25, 2, 0, tzinfo=timezone.utc)) is None


def test_the_latest_tick_is_found_however_far_back():
    cron = parse_cron("0 0 29 2 *")
    now = datetime(2031, 6, 1, tzinfo=timezone.utc)
    assert latest_tick(cron, UTC, now, since=datetime(2026, 1, 1, tzinfo=timezone.utc)).date() == date(2028, 2, 29)

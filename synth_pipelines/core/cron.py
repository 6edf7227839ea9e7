"""Cron ticks in a time zone, for the scheduled refresh (a sensor, so it computes its own ticks).

Dagster's cron arithmetic is private (`dagster._utils.schedules`, on a vendored croniter) and no cron
library ships with the lock, so this is the small part the refresh needs, with Dagster's rules:
five fields, names (jan, mon), ranges (a dow range may wrap: fri-tue), steps, lists, `?` for any day,
`L` (last day of the month) in the day of month, `n#k` (the k-th weekday n) in the day of week, 7 for
Sunday; a day matches when its day of month or its day of week does (when both are restricted).
Around a DST change a tick falls as a Dagster schedule's: a wall time the spring change skips moves to
the change (02:30 -> 03:00 CEST); one the autumn change repeats is taken once, at its second occurrence
(02:30 CET), except by a cron of every hour, which takes both.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

MONTHS = {name: number for number, name in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1)}
WEEKDAYS = {name: number for number, name in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}
SEARCH_DAYS = 366 * 8 + 2  # the rarest day a cron can name, 29 February, comes round within eight years


class CronError(ValueError):
    """A cron expression the scheduled refresh cannot run; the message says which field and why."""


def _number(text: str, low: int, high: int, names: dict[str, int], field: str) -> int:
    value = names.get(text.lower()) if text.lower() in names else int(text) if text.isdigit() else None
    if value is None or not low <= value <= high:
        raise CronError(f"{field}: '{text}' is not a value from {low} to {high}")
    return value


def _field(text: str, low: int, high: int, field: str, names: dict[str, int] | None = None) -> frozenset[int]:
    """The values a cron field names: lists of `*`, `a`, `a-b` and any of them with `/step`; a range whose
    end comes first wraps round (22-2: 22, 23, 0, 1, 2)."""
    values: set[int] = set()
    for item in text.split(","):
        span, _, step_text = item.partition("/")
        step = _number(step_text, 1, high - low + 1, {}, field) if step_text else 1
        if span == "*":
            first, last = low, high
        else:
            start, dash, end = span.partition("-")
            first = _number(start, low, high, names or {}, field)
            last = _number(end, low, high, names or {}, field) if dash else (high if step_text else first)
        count = (last - first) % (high - low + 1) + 1
        values.update(low + (first - low + i) % (high - low + 1) for i in range(0, count, step))
    return frozenset(values)


@dataclass(frozen=True)
class Cron:
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]  # days of the month; empty when only `L` is named
    last_day: bool  # `L`: the month's last day
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    nth_weekdays: frozenset[tuple[int, int]]  # (weekday, k): the k-th such weekday of the month
    any_day: bool  # the day of month is `*` or `?`
    any_weekday: bool

    def day_matches(self, day: date) -> bool:
        if day.month not in self.months:
            return False
        by_date = day.day in self.days or (self.last_day and day.day == calendar.monthrange(day.year, day.month)[1])
        weekday = (day.weekday() + 1) % 7
        by_weekday = weekday in self.weekdays or (weekday, (day.day - 1) // 7 + 1) in self.nth_weekdays
        if self.any_day or self.any_weekday:
            return (self.any_day or by_date) and (self.any_weekday or by_weekday)
        return by_date or by_weekday

    def times(self) -> list[time]:
        return [time(hour, minute) for hour in sorted(self.hours) for minute in sorted(self.minutes)]


def parse_cron(expression: str) -> Cron:
    """The cron expression's fields; CronError naming the field when it is not one Dagster would run."""
    fields = expression.split()
    if len(fields) != 5:
        raise CronError(f"'{expression}' has {len(fields)} fields, not 5")
    minute, hour, day, month, weekday = fields
    days = [item for item in day.split(",") if item not in ("L", "?")]
    plain_weekdays = [item for item in weekday.split(",") if "#" not in item and item != "?"]
    if any(item[:1] in "Ll" and item != "L" for item in day.split(",")):
        raise CronError(f"day of month '{day}': L (the last day) stands alone or ends a range")
    if "#" in weekday and "," in weekday:
        raise CronError(f"day of week '{weekday}': a weekday with # stands alone")
    nth = set()
    for item in (item for item in weekday.split(",") if "#" in item):
        name, _, k = item.partition("#")
        nth.add((_number(name, 0, 7, WEEKDAYS, "day of week") % 7, _number(k, 1, 5, {}, "day of week")))
    cron = Cron(minutes=_field(minute, 0, 59, "minute"), hours=_field(hour, 0, 23, "hour"),
                days=_field(",".join(days), 1, 31, "day of month", {"l": 31}) if days else frozenset(),  # 1-L
                last_day="L" in day.split(","), months=_field(month, 1, 12, "month", MONTHS),
                weekdays=frozenset(d % 7 for d in _field(",".join(plain_weekdays), 0, 7, "day of week", WEEKDAYS))
                if plain_weekdays else frozenset(),
                nth_weekdays=frozenset(nth), any_day=day in ("*", "?"), any_weekday=weekday in ("*", "?"))
    if not cron.any_day and not cron.last_day and not any(
            d <= calendar.monthrange(2028, m)[1] for d in cron.days for m in cron.months):  # 2028: a leap year
        raise CronError(f"day of month '{day}' never falls in month '{month}'")
    return cron


def _local_ticks(day: date, at: time, zone: ZoneInfo, hourly: bool) -> list[datetime]:
    """`at` on `day` in `zone`, as Dagster's schedules place it: a wall time a spring change skips moves to
    the change; one an autumn change repeats is its second occurrence, or both for a cron of every hour."""
    wall = datetime.combine(day, at)
    while not _exists(wall, zone):  # in a spring gap: the first wall time after it, a minute at a time
        wall += timedelta(minutes=1)
    first, second = wall.replace(tzinfo=zone, fold=0), wall.replace(tzinfo=zone, fold=1)
    if first.utcoffset() == second.utcoffset():
        return [first]
    return [first, second] if hourly else [second]


def _exists(wall: datetime, zone: ZoneInfo) -> bool:
    there_and_back = wall.replace(tzinfo=zone).astimezone(timezone.utc).astimezone(zone)
    return there_and_back.replace(tzinfo=None) == wall


def _ticks_of(cron: Cron, day: date, zone: ZoneInfo) -> list[datetime]:
    """The day's ticks in time order (keyed by instant: two occurrences of 02:30 compare equal in Python)."""
    if not cron.day_matches(day):
        return []
    hourly = len(cron.hours) == 24
    ticks = {t.timestamp(): t for at in cron.times() for t in _local_ticks(day, at, zone, hourly)}
    return [ticks[instant] for instant in sorted(ticks)]


def latest_tick(cron: Cron, zone: ZoneInfo, now: datetime, since: datetime) -> datetime | None:
    """The latest tick from `since` to `now` (both aware), or None."""
    day, first_day = now.astimezone(zone).date(), since.astimezone(zone).date()
    while day >= first_day:
        ticks = [t for t in _ticks_of(cron, day, zone) if since.timestamp() <= t.timestamp() <= now.timestamp()]
        if ticks:
            return ticks[-1]
        day -= timedelta(days=1)
    return None


def next_tick(cron: Cron, zone: ZoneInfo, now: datetime) -> datetime | None:
    """The first tick after `now` (aware), or None when none comes within SEARCH_DAYS."""
    day = now.astimezone(zone).date()
    for offset in range(SEARCH_DAYS):
        for tick in _ticks_of(cron, day + timedelta(days=offset), zone):
            if tick.timestamp() > now.timestamp():
                return tick
    return None

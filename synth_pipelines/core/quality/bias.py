"""Bias: does each protected group keep its real label rate in the synthetic rows?

Classification: the share of each label class per group (binary: the second class in sorted order;
both classes have the same gap). Regression: the group mean label, in units of the real label's
standard deviation. The value is the largest |real - synthetic| gap over groups with at least
`min_group_rows` real rows (smaller groups are listed, not gated: their real rate is noise). A
gated group absent from the synthetic rows counts as a gap of 1, whatever the noise. With `max_gap`
(the gate's threshold), a group's gap counts net of its sampling noise beyond that threshold: gap -
max(0, results.STANDARD_ERRORS standard errors - max_gap), so real rows the generator never saw pass
a group of 200 rows (fresh rows measured a 0.109 gap there against 0.1) while large groups are
judged on the raw gap.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from synth_pipelines.core.quality.results import Metric, widened_threshold
from synth_pipelines.core.quality.tabular import category_labels, quantile_bins
from synth_pipelines.core.synthesis import ColumnCodec, as_number


def _groups(frame: pd.DataFrame, train: pd.DataFrame, codec: ColumnCodec, bins: int) -> pd.Series:
    if codec.kind == "category":
        return category_labels(frame[codec.name])
    cut = quantile_bins(as_number(frame[codec.name], codec.kind), as_number(train[codec.name], codec.kind), bins)
    return pd.Series(cut, index=frame.index).map(lambda b: f"q{b}" if b >= 0 else "missing")


def _targets(frame: pd.DataFrame, label: ColumnCodec, task: str, classes: list[str], scale: float) -> pd.DataFrame:
    if task == "classification":
        labels = category_labels(frame[label.name])
        return pd.DataFrame({c: (labels == c).astype(float) for c in classes}, index=frame.index)
    return pd.DataFrame({"mean_label_in_std": as_number(frame[label.name], label.kind) / scale}, index=frame.index)


def label_rate_gaps(train: pd.DataFrame, synthetic: pd.DataFrame, codecs: list[ColumnCodec], *, label: str,
                    task: str, protected: list[str], min_group_rows: int, bins: int = 5,
                    max_gap: float | None = None) -> Metric:
    by_name = {c.name: c for c in codecs}
    label_codec = by_name[label]
    classes = sorted(set(category_labels(train[label]))) if task == "classification" else []
    if len(classes) == 2:
        classes = classes[1:]
    scale = float(as_number(train[label], label_codec.kind).std() or 1.0) if task == "regression" else 1.0
    real_t, synth_t = (_targets(f, label_codec, task, classes, scale) for f in (train, synthetic))
    rows, worst = [], 0.0
    for column in protected:
        real_g, synth_g = (_groups(f, train, by_name[column], bins) for f in (train, synthetic))
        real_rates, synth_rates = real_t.groupby(real_g).mean(), synth_t.groupby(synth_g).mean()
        real_n, synth_n = real_g.value_counts(), synth_g.value_counts()
        real_sd = real_t.groupby(real_g).std(ddof=0)
        for group in real_rates.index:
            for target in real_t.columns:
                real_rate = float(real_rates.at[group, target])
                synth_rate = float(synth_rates.at[group, target]) if group in synth_rates.index else np.nan
                gated = int(real_n[group]) >= min_group_rows
                if np.isnan(synth_rate):
                    # Absent from the synthetic rows: a gap of 1 with no noise allowance (no synthetic
                    # rows means no synthetic sampling error to allow for, not an infinite one).
                    gap, se, counted = 1.0, float("nan"), 1.0
                else:
                    gap = abs(real_rate - synth_rate)
                    se = float(real_sd.at[group, target]) * np.sqrt(1 / real_n[group] + 1 / synth_n[group])
                    counted = gap - (widened_threshold(max_gap, 0.0, se, "max") - max_gap) if max_gap is not None else gap
                if gated:
                    worst = max(worst, counted)
                rows.append({"column": column, "group": group, "target": target, "real": round(real_rate, 4),
                             "synthetic": None if np.isnan(synth_rate) else round(synth_rate, 4),
                             "gap": round(gap, 4), "standard_error": None if np.isnan(se) else round(se, 4),
                             "counted_gap": round(counted, 4), "real_rows": int(real_n[group]),
                             "synthetic_rows": int(synth_n.get(group, 0)), "gated": gated})
    rows.sort(key=lambda r: (not r["gated"], -r["counted_gap"]))
    return Metric("max_label_rate_gap", float(worst), "pandas groupby label rates", {"groups": rows})

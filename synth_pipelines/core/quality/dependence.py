"""How much of the real rows' pairwise dependence the synthetic rows keep, next to real rows the generator never saw.

The association similarity (fidelity.py) averages |PhiK(real) - PhiK(synthetic)| over every column pair; PhiK of a
few hundred rows reads independent columns as related (its noise floor), so on a table whose columns relate
weakly, columns shuffled apart (every relation gone) scored within 0.01 of the holdout. This measure is corrected
for chance instead: scikit-learn's adjusted mutual information (AMI) is 0 in expectation for independent columns
at any row count. Each column is coded as the train rows cut it (numbers and dates at their quintiles, categories
by their most frequent values, missing as a value of its own); the pairs that depend most in the train rows are
the pattern, and rows keep `sum(ami_train * ami_rows) / sum(ami_train^2)` of it (1: as much as the train rows, 0:
independent columns). The metric is the synthetic rows' share over the holdout's, both at the holdout's size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import adjusted_mutual_info_score, normalized_mutual_info_score

from synth_pipelines.core.quality.results import Metric, few_replicates_scale
from synth_pipelines.core.quality.tabular import sample
from synth_pipelines.core.synthesis import ColumnCodec, as_number

IMPLEMENTATION = ("sklearn.metrics.adjusted_mutual_info_score over the train rows' most dependent column pairs, "
                  "synthetic draws vs the holdout at the same row count")
PATTERN_PAIRS = 20  # the most dependent train pairs that make the pattern
SHORTLIST = 3 * PATTERN_PAIRS  # pairs ranked by normalized mutual information (cheap) before AMI ranks them
BINS = 5  # numbers and dates cut at the train rows' quintiles
LEVELS = 20  # a category's most frequent train values; the rest share one code
MIN_PATTERN_AMI = 0.01  # weaker than this in the train rows: the columns hold no dependence to keep
MIN_ROWS = 50  # fewer rows to compare hold no dependence worth comparing
DRAWS, REPLICATES = 2, 10  # synthetic draws at the holdout's size, bootstrap replicates of the holdout


@dataclass(frozen=True)
class Pattern:
    """The train rows' coding of each column and their most dependent pairs with those pairs' AMI."""

    cuts: dict[str, tuple[str, object]]  # column -> ("numbers", quantile edges) or ("category", kept values)
    kinds: dict[str, str]
    pairs: list[tuple[str, str]]
    strength: np.ndarray

    def codes(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        return {name: _code(frame[name].reset_index(drop=True), cut, self.kinds[name])
                for name, cut in self.cuts.items()}

    def pair_ami(self, codes: dict[str, np.ndarray]) -> np.ndarray:
        return np.array([adjusted_mutual_info_score(codes[a], codes[b]) for a, b in self.pairs])

    def kept(self, codes: dict[str, np.ndarray]) -> float:
        """The share of the pattern `codes`' rows keep (1 = the train rows' own, 0 = independent columns)."""
        return float(np.dot(self.strength, self.pair_ami(codes)) / np.dot(self.strength, self.strength))


def _cut(series: pd.Series, kind: str) -> tuple[str, object]:
    if kind == "category":
        return "category", list(series.dropna().astype(str).value_counts().index[:LEVELS])
    numbers = as_number(series, kind).dropna()
    edges = np.unique(np.quantile(numbers, np.linspace(0, 1, BINS + 1)[1:-1])) if len(numbers) else np.array([])
    return "numbers", edges


def _code(series: pd.Series, cut: tuple[str, object], kind: str) -> np.ndarray:
    """Integer codes: -1 missing; categories by their kept value's position (the rest one code past them);
    numbers by the quantile bin they fall in."""
    how, kept = cut
    if how == "category":
        text = series.astype(object).map(lambda v: None if pd.isna(v) else str(v))
        position = {value: i for i, value in enumerate(kept)}
        return np.array([-1 if v is None else position.get(v, len(kept)) for v in text])
    numbers = as_number(series, kind).to_numpy(dtype=float)
    return np.where(np.isnan(numbers), -1, np.searchsorted(kept, numbers, side="right"))


def train_pattern(train: pd.DataFrame, codecs: list[ColumnCodec]) -> Pattern | None:
    """The train rows' most dependent pairs; None when fewer than two columns vary or none depend."""
    kinds = {c.name: c.kind for c in codecs}
    cuts = {c.name: _cut(train[c.name], c.kind) for c in codecs}
    pattern = Pattern(cuts, kinds, [], np.array([]))
    codes = {n: v for n, v in pattern.codes(train).items() if len(np.unique(v)) > 1}  # a constant depends on nothing
    names = list(codes)
    pairs = [(a, b) for i, a in enumerate(names) for b in names[i + 1:]]
    if not pairs:
        return None
    rough = np.array([normalized_mutual_info_score(codes[a], codes[b]) for a, b in pairs])
    shortlist = [pairs[i] for i in np.argsort(-rough)[:SHORTLIST]]
    ami = np.array([adjusted_mutual_info_score(codes[a], codes[b]) for a, b in shortlist])
    top = [i for i in np.argsort(-ami)[:PATTERN_PAIRS] if ami[i] > 0]
    if not top or ami[top[0]] < MIN_PATTERN_AMI:
        return None
    return Pattern({n: cuts[n] for n in names}, kinds, [shortlist[i] for i in top], ami[top])


def dependence_kept(train: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame, codecs: list[ColumnCodec],
                    *, rows: int, seed: int) -> Metric:
    """The synthetic rows' share of the train rows' dependence pattern over the holdout's, both at the holdout's
    size (up to DRAWS disjoint synthetic draws, averaged). Its standard error: the holdout's bootstrap spread
    (REPLICATES resamples) over its share, times sqrt(1 + 1/draws), scaled to Student's t with REPLICATES - 1
    degrees of freedom (as fidelity.holdout_error). Unmeasured (value None, the reason in details) without a
    pattern or with fewer than MIN_ROWS rows to compare."""
    n = min(len(holdout), len(synthetic), rows)
    pattern = train_pattern(sample(train, rows, seed), codecs) if n >= MIN_ROWS else None
    if pattern is None:
        reason = (f"{n} rows to compare; at least {MIN_ROWS} are needed" if n < MIN_ROWS else
                  f"no two train columns depend on each other (adjusted mutual information under {MIN_PATTERN_AMI})")
        return Metric("dependence_kept", None, IMPLEMENTATION, {"skipped": reason})
    real = sample(holdout, n, seed)
    real_codes = pattern.codes(real)
    baseline = pattern.kept(real_codes)
    taken = max(1, min(DRAWS, len(synthetic) // n))
    drawn = synthetic.sample(n=taken * n, random_state=seed)
    draw_codes = [pattern.codes(drawn.iloc[i * n:(i + 1) * n]) for i in range(taken)]
    synthetic_kept = float(np.mean([pattern.kept(codes) for codes in draw_codes]))
    rng = np.random.default_rng(seed)
    spread = float(np.std([pattern.kept({k: v[idx] for k, v in real_codes.items()})
                           for idx in (rng.integers(0, n, n) for _ in range(REPLICATES))], ddof=1))
    t_scale = few_replicates_scale(REPLICATES)
    error = spread * np.sqrt(1 + 1 / taken) / baseline * t_scale if baseline > 0 else float("nan")
    synthetic_ami = np.mean([pattern.pair_ami(codes) for codes in draw_codes], axis=0)
    holdout_ami = pattern.pair_ami(real_codes)
    least = {f"{pattern.pairs[i][0]} ~ {pattern.pairs[i][1]}": {
        "train": round(float(pattern.strength[i]), 3), "holdout": round(float(holdout_ami[i]), 3),
        "synthetic": round(float(synthetic_ami[i]), 3)} for i in np.argsort(synthetic_ami - holdout_ami)[:5]}
    hint = "(pairs kept least, AMI holdout -> synthetic: " + ", ".join(
        f"{pair} {v['holdout']:.2f} -> {v['synthetic']:.2f}" for pair, v in least.items()) + ")"
    return Metric("dependence_kept", synthetic_kept / baseline if baseline > 0 else None, IMPLEMENTATION, {
        "synthetic_share_of_pattern": round(synthetic_kept, 4), "holdout_share_of_pattern": round(baseline, 4),
        "pattern_pairs": len(pattern.pairs), "rows_per_draw": n, "draws": taken, "standard_error": error,
        "error_from": f"bootstrap of the holdout, {REPLICATES} replicates, times {t_scale:.3f} (Student's t)",
        "least_kept_pairs": least}, hint=hint)

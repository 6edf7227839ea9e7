"""How much of the real rows' pairwise dependence the synthetic rows keep, next to real rows the generator never saw.

The association similarity (fidelity.py) averages |PhiK(real) - PhiK(synthetic)| over every column pair; PhiK of a
few hundred rows reads independent columns as related (its noise floor), so on a table whose columns relate
weakly, columns shuffled apart (every relation gone) scored within 0.01 of the holdout. This measure is corrected
for chance instead: scikit-learn's adjusted mutual information (AMI) is 0 in expectation for independent columns
at any row count. Each column is coded as the train rows cut it (numbers and dates at their quintiles, categories
by their 20 most frequent values, 3 and 3.0 alike, missing as a value like any other); the pairs that depend most
in the train rows are the pattern, and rows keep `sum(ami_train * ami_rows) / sum(ami_train^2)` of it (1: as much
as the train rows, 0: independent columns). The metric is the synthetic rows' share over the holdout's, both at
the same row count.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import entropy
from sklearn.metrics import adjusted_mutual_info_score, mutual_info_score

from synth_pipelines.core.quality.fidelity import (ASSOCIATION_DRAWS, ASSOCIATION_REPLICATES, MIN_ASSOCIATION_ROWS,
                                                   holdout_sized_draws)
from synth_pipelines.core.quality.results import STANDARD_ERRORS, Metric, few_replicates_scale
from synth_pipelines.core.quality.tabular import quantile_bins, sample, value_text
from synth_pipelines.core.synthesis import ColumnCodec, as_number

IMPLEMENTATION = ("sklearn.metrics.adjusted_mutual_info_score over the train rows' most dependent column pairs, "
                  "synthetic draws vs the holdout at the same row count")
PATTERN_PAIRS = 20  # the most dependent train pairs that make the pattern
SHORTLIST = 3 * PATTERN_PAIRS  # pairs ranked by a cheap chance-corrected mutual information before AMI ranks them
BINS = 5  # numbers and dates cut at the train rows' quintiles
LEVELS = 20  # a category's most frequent train values; the rest share one code
MIN_PATTERN_AMI = 0.01  # weaker than this in the train rows: the columns hold no dependence to keep


@dataclass(frozen=True)
class Pattern:
    """The train rows (whose quintiles and frequent values code every frame alike), the columns' kinds, and the
    train rows' most dependent column pairs with their AMI."""

    train: pd.DataFrame
    kinds: dict[str, str]
    pairs: list[tuple[str, str]]
    strength: np.ndarray

    def codes(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        return _coded(frame, self.train, self.kinds)

    def pair_ami(self, codes: dict[str, np.ndarray]) -> np.ndarray:
        return np.array([adjusted_mutual_info_score(codes[a], codes[b]) for a, b in self.pairs])

    def share(self, pair_ami: np.ndarray) -> float:
        """The share of the pattern rows with these pairs' AMI keep (1 = the train rows' own, 0 = independent)."""
        return float(np.dot(self.strength, pair_ami) / np.dot(self.strength, self.strength))


def _coded(frame: pd.DataFrame, train: pd.DataFrame, kinds: dict[str, str]) -> dict[str, np.ndarray]:
    return {name: _codes(frame[name].reset_index(drop=True), train[name], kind) for name, kind in kinds.items()}


def _codes(values: pd.Series, train_values: pd.Series, kind: str) -> np.ndarray:
    """Integer codes as the train rows cut the column: categories by their frequent train values' position (the
    rest one code past them), numbers and dates by the train quintile they fall in (missing -1)."""
    if kind != "category":
        return quantile_bins(as_number(values, kind), as_number(train_values, kind), BINS)
    frequent = value_text(train_values).value_counts().index[:LEVELS]
    position = pd.Series(np.arange(len(frequent)), index=frequent)
    return value_text(values).map(position).fillna(len(frequent)).to_numpy(dtype=int)


def _chance_corrected_mi(a: np.ndarray, b: np.ndarray, entropies: tuple[float, float]) -> float:
    """Mutual information less what independent columns of these many values show by chance on this many rows
    ((levels_a - 1)(levels_b - 1) / 2n, the bias of the plug-in estimate), over the mean entropy: a cheap ranking
    in which two many-valued columns of noise no longer outrank a real pair of few values."""
    bias = (len(np.unique(a)) - 1) * (len(np.unique(b)) - 1) / (2 * len(a))
    return (mutual_info_score(a, b) - bias) / max(np.mean(entropies), 1e-12)


def train_pattern(train: pd.DataFrame, codecs: list[ColumnCodec]) -> Pattern | None:
    """The train rows' most dependent pairs; None when fewer than two columns vary or none depend."""
    kinds = {c.name: c.kind for c in codecs}
    codes = {n: v for n, v in _coded(train, train, kinds).items() if len(np.unique(v)) > 1}  # a constant: no pair
    names = list(codes)
    entropies = {n: entropy(np.unique(v, return_counts=True)[1]) for n, v in codes.items()}
    pairs = [(a, b) for i, a in enumerate(names) for b in names[i + 1:]]
    rough = np.array([_chance_corrected_mi(codes[a], codes[b], (entropies[a], entropies[b])) for a, b in pairs])
    shortlist = [pairs[i] for i in np.argsort(-rough)[:SHORTLIST]]
    ami = np.array([adjusted_mutual_info_score(codes[a], codes[b]) for a, b in shortlist])
    top = [i for i in np.argsort(-ami)[:PATTERN_PAIRS] if ami[i] > 0]
    if not top or ami[top[0]] < MIN_PATTERN_AMI:
        return None
    return Pattern(train, {n: kinds[n] for n in codes}, [shortlist[i] for i in top], ami[top])


def dependence_kept(train: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame, codecs: list[ColumnCodec],
                    *, rows: int, seed: int) -> Metric:
    """The synthetic rows' share of the train rows' dependence pattern over the holdout's, at the same row count
    (the mean of up to ASSOCIATION_DRAWS disjoint synthetic draws). Its standard error: the holdout's bootstrap
    spread (ASSOCIATION_REPLICATES resamples) over its share, times sqrt(1 + 1/draws), scaled to Student's t as
    fidelity.holdout_error. Unmeasured (value None, the reason in details) without a pattern, with fewer than
    MIN_ASSOCIATION_ROWS rows to compare, or where the holdout itself keeps no more of the pattern than chance."""
    n = min(len(holdout), len(synthetic), rows)
    if n < MIN_ASSOCIATION_ROWS:
        return _unmeasured(f"{n} rows to compare; at least {MIN_ASSOCIATION_ROWS} are needed")
    pattern = train_pattern(sample(train, rows, seed), codecs)
    if pattern is None:
        return _unmeasured(f"no two train columns depend on each other (adjusted mutual information under "
                           f"{MIN_PATTERN_AMI})")
    holdout_codes = pattern.codes(sample(holdout, n, seed))
    holdout_ami = pattern.pair_ami(holdout_codes)
    baseline = pattern.share(holdout_ami)
    rng = np.random.default_rng(seed)
    spread = float(np.std([pattern.share(pattern.pair_ami({k: v[rows_drawn] for k, v in holdout_codes.items()}))
                           for rows_drawn in (rng.integers(0, n, n) for _ in range(ASSOCIATION_REPLICATES))], ddof=1))
    if baseline <= STANDARD_ERRORS * spread:
        return _unmeasured(f"real rows the generator never saw (the holdout, {n} rows) keep {baseline:.3f} of the "
                           f"train rows' pattern, within {STANDARD_ERRORS:g} bootstrap errors ({spread:.3f}) of "
                           "none: the columns' dependence is too weak for this many rows to show")
    draws = [pattern.pair_ami(pattern.codes(drawn))
             for drawn in holdout_sized_draws(synthetic, n, ASSOCIATION_DRAWS, seed)]
    synthetic_ami = np.mean(draws, axis=0)
    t_scale = few_replicates_scale(ASSOCIATION_REPLICATES)
    lost = synthetic_ami - holdout_ami
    least = {f"{pattern.pairs[i][0]} ~ {pattern.pairs[i][1]}": {
        "train": round(float(pattern.strength[i]), 3), "holdout": round(float(holdout_ami[i]), 3),
        "synthetic": round(float(synthetic_ami[i]), 3)} for i in np.argsort(lost)[:5] if lost[i] < 0}
    hint = ("(pairs kept least, AMI holdout -> synthetic: " + ", ".join(
        f"{pair} {v['holdout']:.2f} -> {v['synthetic']:.2f}" for pair, v in least.items()) + ")") if least else ""
    synthetic_share = float(np.mean([pattern.share(ami) for ami in draws]))
    return Metric("dependence_kept", synthetic_share / baseline, IMPLEMENTATION, {
        "synthetic_share_of_pattern": round(synthetic_share, 4), "holdout_share_of_pattern": round(baseline, 4),
        "pattern_pairs": len(pattern.pairs), "rows_per_draw": n, "draws": len(draws),
        "standard_error": spread * np.sqrt(1 + 1 / len(draws)) / baseline * t_scale,
        "error_from": f"bootstrap of the holdout, {ASSOCIATION_REPLICATES} replicates, times {t_scale:.3f} "
                      "(Student's t)",
        "least_kept_pairs": least}, hint=hint)


def _unmeasured(reason: str) -> Metric:
    return Metric("dependence_kept", None, IMPLEMENTATION, {"skipped": reason})

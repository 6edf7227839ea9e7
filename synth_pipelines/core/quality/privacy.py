"""Privacy: are synthetic rows closer to the rows the generator learned from than chance allows?

Every check compares the synthetic rows with a baseline of real rows the generator never saw
(the holdout), so datasets with few distinct rows are judged fairly.

Distances: rows are points (`MixedEncoder`: standardized numbers + one-hot categories), Euclidean,
exact nearest neighbours from sklearn NearestNeighbors. Samples (see `neighbour_samples`): up to
`index_rows` train, holdout and synthetic rows are indexed, up to `query_rows` are queried.
Sampling errors are standard errors under the hypothesis each gate tests (synthetic rows as fresh as the
baseline's): for shares of rows (copies, rare combinations) the error Fisher's exact test implies
(`null_share_se`), Hanley-McNeil for the attack AUC, and for the DCR share the spread of a random deal of
the real rows into train and holdout (`_split_se`).

anonymeter (installed) offers singling-out, linkability and attribute-inference evaluators but no
membership-inference attack, so the attack here is the standard distance-based one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import hypergeom, norm
from sklearn.metrics import roc_auc_score
from sklearn.neighbors import BallTree, NearestNeighbors

from synth_pipelines.core.openmp import one_openmp_thread
from synth_pipelines.core.quality.results import STANDARD_ERRORS, Metric
from synth_pipelines.core.quality.tabular import MixedEncoder, quantile_bins, sample, value_text
from synth_pipelines.core.synthesis import ColumnCodec, as_number

NN = "sklearn NearestNeighbors (Euclidean; " + MixedEncoder.implementation + ")"


def binomial_se(share: float, n: int) -> float:
    return float(np.sqrt(share * (1 - share) / n)) if n else float("nan")


def null_share_se(rows: int, baseline: float, baseline_rows: int) -> float:
    """An error for (share over `rows` synthetic rows) - (`baseline` over `baseline_rows` real rows) under the
    hypothesis the gate tests, the synthetic rows as fresh as the baseline rows: the one-sided Fisher exact
    test (`exact_share_limit`) puts the largest share chance allows at baseline + STANDARD_ERRORS x this.
    Not the binomial error at the baseline's share: that share is low exactly when chance made it low,
    which lowered the gate twice, and failed a perfect generator on repeated real rows (scorecard: 38 of
    1,500 synthetic rows against 18 of 1,500 baseline rows; exact p 0.003, over 3.3 errors at the
    baseline's 1.2%). Exact rather than the pooled normal test's: with events rare on the baseline side the
    normal one is too lenient. Taken from the baseline's events alone, so more copies never widen the gate."""
    if not rows or not baseline_rows:
        return float("nan")
    return (exact_share_limit(round(baseline * baseline_rows), rows, baseline_rows) - baseline) / STANDARD_ERRORS


EXACT_TEST = "Fisher's exact test (one-sided): baseline + 3 x this error is the largest share it allows"


def exact_share_limit(baseline_events: int, rows: int, baseline_rows: int) -> float:
    """The largest share of `rows` synthetic rows with an event (a copy, a rare combination) that the one-sided
    Fisher exact test does not tell from `baseline_events` of `baseline_rows` real rows at the chance of
    STANDARD_ERRORS normal errors: the events of both sides dealt at random (hypergeometric)."""
    chance = norm.sf(STANDARD_ERRORS)
    low, high = 0, rows  # invariant: `low` events are allowed; find the largest
    if hypergeom.sf(rows - 1, rows + baseline_rows, rows + baseline_events, rows) >= chance:
        return 1.0
    while high - low > 1:
        events = (low + high) // 2
        p = hypergeom.sf(events - 1, rows + baseline_rows, events + baseline_events, rows)  # P(>= events)
        low, high = (events, high) if p >= chance else (low, events)
    return low / rows


@dataclass
class NeighbourSamples:
    """Encoded rows (encoding fitted on the train rows) shared by the distance checks.

    `train`, `holdout`: indexed rows (at most `index_rows` each, all of them when fewer, so a copy of
    any train row finds its source); `synthetic`: at most `index_rows` synthetic rows, indexed for
    the attack; `queries`: at most `query_rows` of those, queried for DCR and NNDR (a uniform sample
    keeps the shares unbiased).
    """

    train: np.ndarray
    holdout: np.ndarray
    synthetic: np.ndarray
    queries: np.ndarray


def neighbour_samples(train: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame, codecs: list[ColumnCodec],
                      *, index_rows: int, query_rows: int, seed: int) -> NeighbourSamples:
    train_s = sample(train, index_rows, seed)
    encoder = MixedEncoder(codecs).fit(train_s)
    synthetic_s = encoder.transform(sample(synthetic, index_rows, seed))
    queries = synthetic_s[np.random.default_rng(seed).permutation(len(synthetic_s))[:query_rows]]
    return NeighbourSamples(encoder.transform(train_s), encoder.transform(sample(holdout, index_rows, seed)),
                            synthetic_s, queries)


def _nearest(reference: np.ndarray, query: np.ndarray, k: int = 1) -> np.ndarray:
    """Distances to the k nearest rows, rounded to 1e-6 (the squared-norm trick leaves ~1e-7 on copies)."""
    return _nearest_rows(reference, query, k)[0]


@one_openmp_thread
def _nearest_rows(reference: np.ndarray, query: np.ndarray, k: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """`_nearest`'s distances and the positions of those rows in `reference`."""
    distances, rows = NearestNeighbors(n_neighbors=min(k, len(reference))).fit(reference).kneighbors(query)
    return np.round(distances, 6), rows


def dcr_share(points: NeighbourSamples) -> tuple[Metric, dict[str, np.ndarray]]:
    """Share of synthetic rows whose nearest train row is closer than their nearest holdout row,
    expressed as if train and holdout had the same size (0.5 = ideal).

    If the synthetic rows were drawn independently of the train rows, each real row would be equally
    likely to be a synthetic row's nearest neighbour, so the raw share is expected at
    p0 = n_train / (n_train + n_holdout). A row equally near to both counts the train rows' share of
    the real rows at that distance (`_train_share_of_ties`): counting it p0 biased the share upwards
    whenever the sizes differ, since a set of k tied rows is all train with chance p0^k, not p0 (real
    Berka cards the generator never saw scored up to 0.61). The value maps p0 to 0.5 piecewise
    linearly (0 -> 0, p0 -> 0.5, 1 -> 1); with equal sizes it is the raw share itself. 1.0 = every
    row sits on a train row; near 0 = the rows come from the holdout. The standard error is the
    share's spread had the real rows been dealt to train and holdout at random (`_split_se`), mapped on
    the side the value lies. Indexing all train rows (rather than a holdout-sized sample) keeps a copy
    of any train row visible.
    Also returns the distances (DCR to train and to holdout) for the report's histograms.
    """
    to_train, train_row = (a[:, 0] for a in _nearest_rows(points.train, points.queries))
    to_holdout, holdout_row = (a[:, 0] for a in _nearest_rows(points.holdout, points.queries))
    n_train, n_holdout = len(points.train), len(points.holdout)
    p0 = n_train / (n_train + n_holdout)
    ties = np.isclose(to_train, to_holdout)
    credit = ((to_train < to_holdout) & ~ties).astype(float)
    credit[ties], tied_rows = _train_share_of_ties(points, points.queries[ties], to_train[ties])
    # The real rows each synthetic row landed on: its nearest one, or the set of rows it is tied with.
    landed = np.where(to_train < to_holdout, train_row, n_train + holdout_row).astype(np.int64)
    landed[ties] = n_train + n_holdout + train_row[ties].astype(np.int64) * n_holdout + holdout_row[ties]
    rows_landed_on = np.ones(len(landed))
    rows_landed_on[ties] = tied_rows
    raw = float(credit.mean())
    scale = 0.5 / p0 if raw <= p0 else 0.5 / (1 - p0)
    value = 0.5 * raw / p0 if raw <= p0 else 0.5 + 0.5 * (raw - p0) / (1 - p0)
    m = len(to_train)
    se, concentration = _split_se(landed, rows_landed_on, n_train + n_holdout, p0)
    return Metric("dcr_share", value, NN, {
        "standard_error": round(se * scale, 4), "binomial_standard_error": round(binomial_se(p0, m) * scale, 4),
        "real_rows_landed_on": round(1 / concentration, 1), "raw_share": round(raw, 4),
        "expected_raw_share": round(p0, 4),
        "synthetic_rows": m, "train_rows": n_train, "holdout_rows": n_holdout,
        "tie_share": round(float(ties.mean()), 4), "median_dcr_train": round(float(np.median(to_train)), 4),
        "median_dcr_holdout": round(float(np.median(to_holdout)), 4)}), {"dcr_train": to_train, "dcr_holdout": to_holdout}


def _split_se(landed: np.ndarray, rows_landed_on: np.ndarray, real_rows: int, p0: float) -> tuple[float, float]:
    """Standard error of the raw share under the hypothesis the gate tests: the synthetic rows know nothing
    of which real rows were train, so the split is a random deal of the real rows, given where the synthetic
    rows landed (a permutation test's variance). Rows that land on the same real row share its one deal:
    the variance is p0 (1 - p0) (sum of squared landing shares - 1 / real rows), not the binomial
    p0 (1 - p0) / synthetic rows, which counts every synthetic row as its own coin. A generator learns from
    a few hundred rows and its rows crowd around them: on Berka's loan view (454 real rows) a generator
    trained on real rows neither side held spread 0.039 over 30 splits (0.022 with 10x the rows) against
    the binomial 0.033 (0.011); this estimate gives 0.038 (0.020; BENCHMARKS.md). A tied row lands on its
    tied set, whose mean deal varies as one row's over the set's size. Also returns the concentration
    (sum of squared landing shares: 1 / the number of real rows the synthetic rows are spread over)."""
    _, group, count = np.unique(landed, return_inverse=True, return_counts=True)
    shares = count / len(landed)
    concentration = float(np.sum(shares**2 / np.bincount(group, weights=rows_landed_on) * count))
    variance = p0 * (1 - p0) * max(concentration - 1 / real_rows, 0.0) * real_rows / max(real_rows - 1, 1)
    return float(np.sqrt(variance)), concentration


def _train_share_of_ties(points: NeighbourSamples, tied: np.ndarray, distance: np.ndarray
                         ) -> tuple[np.ndarray, np.ndarray]:
    """For queries whose nearest train and holdout rows are equally far: train rows / real rows within
    that distance (ties at the 1e-6 rounding of `_nearest`), and those real rows' number. Its mean over
    fresh rows is p0 exactly, as every real row is equally likely to be among a fresh row's nearest."""
    if not len(tied):
        return np.zeros(0), np.zeros(0)
    radius = distance + 2e-6
    in_train = BallTree(points.train).query_radius(tied, radius, count_only=True)
    in_holdout = BallTree(points.holdout).query_radius(tied, radius, count_only=True)
    real = np.maximum(in_train + in_holdout, 1)
    return in_train / real, real


def nndr(points: NeighbourSamples) -> Metric:
    """Nearest-neighbour distance ratio d1/d2 to the train rows: median for synthetic rows (value) and holdout rows.

    Near 0 a row sits on one particular train row, far from all others (an identifying copy); a
    median far below the holdout's means the generator reproduces individuals. Ratios with d2 = 0
    count as 1 (the row matches several train rows: nobody in particular). Reported, not gated:
    the DCR share and the attack gate the same closeness against a clear reference.
    """
    def ratios(query: np.ndarray) -> np.ndarray:
        d = _nearest(points.train, query, k=2)
        if d.shape[1] < 2:
            return np.ones(len(query))
        return np.where(d[:, 1] > 0, d[:, 0] / np.where(d[:, 1] > 0, d[:, 1], 1), 1.0)

    synthetic, holdout = ratios(points.queries), ratios(points.holdout[: len(points.queries)])
    return Metric("nndr_median", float(np.median(synthetic)), NN, {
        "holdout_median": round(float(np.median(holdout)), 4),
        "synthetic_share_below_0.1": round(float(np.mean(synthetic < 0.1)), 4),
        "holdout_share_below_0.1": round(float(np.mean(holdout < 0.1)), 4)})


def membership_inference_auc(points: NeighbourSamples, rows: int, seed: int) -> Metric:
    """Attack: "member" when a real row's distance to its nearest synthetic row is small.

    Members: `rows` train rows; non-members: as many holdout rows; the synthetic rows indexed are
    all of `points.synthetic`. The value is the ROC AUC of -distance (0.5 = the attacker learns
    nothing; far below 0.5 = holdout rows leaked instead). Sampling the synthetic rows dilutes the
    attack: with N synthetic rows, about index/N of the members' copies stay visible.
    """
    n = min(len(points.train), len(points.holdout), rows)
    rng = np.random.default_rng(seed)
    members = points.train[rng.permutation(len(points.train))[:n]]
    others = points.holdout[rng.permutation(len(points.holdout))[:n]]
    d_members, d_others = _nearest(points.synthetic, members)[:, 0], _nearest(points.synthetic, others)[:, 0]
    truth = np.r_[np.ones(n), np.zeros(n)]
    auc = float(roc_auc_score(truth, -np.r_[d_members, d_others]))
    return Metric("mia_auc", auc, "distance-to-closest-synthetic-record attack: " + NN + ", sklearn roc_auc_score",
                  {"standard_error": round(_auc_se(auc, n, n), 4), "members": n, "non_members": n,
                   "synthetic_rows_indexed": len(points.synthetic)})


def _auc_se(auc: float, positives: int, negatives: int) -> float:
    """Hanley & McNeil (1982) standard error of an AUC."""
    q1, q2 = auc / (2 - auc), 2 * auc**2 / (1 + auc)
    variance = (auc * (1 - auc) + (positives - 1) * (q1 - auc**2)
                + (negatives - 1) * (q2 - auc**2)) / (positives * negatives)
    return float(np.sqrt(max(variance, 0.0)))


def row_keys(frame: pd.DataFrame, columns: list[str]) -> pd.Series:
    """One hash per row over `columns`; 3 and 3.0 hash alike, floats to 6 decimals, missing alike."""
    return pd.util.hash_pandas_object(pd.DataFrame({c: value_text(frame[c]) for c in columns}), index=False)


def copy_share(keys: pd.Series, reference_keys: pd.Series) -> float:
    """Share of rows (their row_keys) that occur verbatim in the reference rows (theirs)."""
    return float(keys.isin(set(reference_keys)).mean()) if len(keys) else 0.0


def exact_copies(train: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame,
                 codecs: list[ColumnCodec]) -> list[Metric]:
    """Share of synthetic rows that are verbatim train rows, with the holdout's own share as the baseline;
    and the share that are verbatim holdout rows, with the train rows' share as the baseline (the
    generator never saw the holdout: copies of it mean holdout rows leaked into its input). The
    standard error is that of the difference (share - baseline) for rows as fresh as the baseline's
    (null_share_se); the runner gates at baseline + excess."""
    return exact_copies_in_chunks(train, holdout, [synthetic], codecs)


def exact_copies_in_chunks(train: pd.DataFrame, holdout: pd.DataFrame, chunks: Iterable[pd.DataFrame],
                           codecs: list[ColumnCodec]) -> list[Metric]:
    """exact_copies over synthetic rows given chunk by chunk (every row is hashed; none is kept)."""
    columns = [c.name for c in codecs]
    keys = {"train": row_keys(train, columns), "holdout": row_keys(holdout, columns)}
    references = {name: set(keys[name]) for name in keys}
    copies, rows = {"train": 0, "holdout": 0}, 0
    for chunk in chunks:
        hashed = row_keys(chunk, columns)
        rows += len(hashed)
        for name, reference in references.items():
            copies[name] += int(hashed.isin(reference).sum())
    metrics = []
    for name, reference, baseline_rows in (("train_copy_share", "train", "holdout"),
                                           ("holdout_copy_share", "holdout", "train")):
        share = copies[reference] / rows if rows else 0.0
        baseline = copy_share(keys[baseline_rows], keys[reference])
        se = null_share_se(rows, baseline, len(keys[baseline_rows]))
        metrics.append(Metric(name, share, "row hashing (pandas.util.hash_pandas_object)", {
            "baseline_share": round(baseline, 4), "standard_error": round(se, 4), "error_from": EXACT_TEST,
            "synthetic_rows": rows}))
    return metrics


def quasi_identifier_keys(frame: pd.DataFrame, train: pd.DataFrame, codecs: list[ColumnCodec], bins: int) -> pd.Series:
    """Hash of each row's quasi-identifiers, numbers cut at the train quantiles (missing is a bin)."""
    cut = {}
    for c in codecs:
        if c.kind == "category":
            cut[c.name] = frame[c.name]
            continue
        cut[c.name] = quantile_bins(as_number(frame[c.name], c.kind), as_number(train[c.name], c.kind), bins)
    return row_keys(pd.DataFrame(cut, index=frame.index), [c.name for c in codecs])


def rare_combinations(train: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame,
                      quasi_identifiers: list[ColumnCodec], *, k: int, bins: int) -> Metric:
    """Share of synthetic rows whose quasi-identifier combination occurs at most `k` times in the train rows.

    Such a row points at a handful of real people. The baseline (details) is the same share for the
    holdout rows: real rows the generator never saw hit rare train combinations by chance too. The
    standard error is that of share - baseline for rows as fresh as the holdout's (null_share_se).
    """
    counts = quasi_identifier_keys(train, train, quasi_identifiers, bins).value_counts()
    rare = set(counts.index[counts <= k])
    share = float(quasi_identifier_keys(synthetic, train, quasi_identifiers, bins).isin(rare).mean())
    baseline = float(quasi_identifier_keys(holdout, train, quasi_identifiers, bins).isin(rare).mean())
    se = null_share_se(len(synthetic), baseline, len(holdout))
    return Metric("rare_combination_share", share, f"quasi-identifier counts (pandas), numbers in {bins} quantile bins", {
        "baseline_share": round(baseline, 4), "standard_error": round(se, 4), "error_from": EXACT_TEST,
        "k": k, "rare_train_combinations": len(rare), "train_combinations": len(counts),
        "quasi_identifiers": [c.name for c in quasi_identifiers]})

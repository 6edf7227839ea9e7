"""Regression between releases (core/quality/release_diff.py): what moved, and the QA figures side by side."""

from __future__ import annotations

import numpy as np
import pandas as pd

from synth_pipelines.core.quality.release_diff import release_diff


def _release(seed: int, n: int = 1500) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1, n)
    return pd.DataFrame({"synthetic_id": [f"s-{seed}-{i}" for i in range(n)], "x": x,
                         "y": x + rng.normal(0, 0.3, n), "c": rng.choice(["a", "b", "c"], n).astype(object)})


def _qa(dcr: float) -> dict:
    return {"checks": [{"name": "privacy_dcr", "metrics": [{"name": "dcr_share", "value": dcr}]}]}


def test_an_unchanged_generator_moves_nothing():
    result = release_diff(_release(0), _release(1), {"qa": _qa(0.5)}, {"qa": _qa(0.52)})
    assert result["moved"] == {"columns": [], "pairs": []}
    assert set(result["column_distance"]) == {"x", "y", "c"}  # the row key is not compared
    assert result["qa"] == [{"check": "privacy_dcr", "metric": "dcr_share", "a": 0.5, "b": 0.52, "change": 0.02}]


def test_a_shifted_column_and_a_lost_association_are_named_first():
    new = _release(1)
    new["c"] = np.where(np.arange(len(new)) % 10 < 8, "a", new["c"])  # category shares moved
    new["y"] = new["y"].sample(frac=1, random_state=0).to_numpy() + 1.0  # shifted, and no longer follows x
    result = release_diff(_release(0), new.drop(columns=["x"]).assign(x=new["x"], extra=1), {}, {"qa": _qa(0.5)},
                          top=2)
    assert set(result["moved_most"]) == {"y", "c"} and set(result["moved"]["columns"]) == {"y", "c"}
    assert result["association_change"][0]["columns"] in (["x", "y"], ["y", "x"])
    assert ["x", "y"] in result["moved"]["pairs"] or ["y", "x"] in result["moved"]["pairs"]
    assert result["columns_only_in_b"] == ["extra"]
    assert result["qa"][0]["a"] is None and result["qa"][0]["change"] is None

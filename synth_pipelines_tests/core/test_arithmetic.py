"""Columns that are a sum, difference, product or ratio of two others in every real row stay so."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from synth_pipelines.core.arithmetic import Relation, apply_relations, fit_relations
from synth_pipelines.core.synthesis import fit_codecs, generate_rows, load_synthesizer, train_synthesizer
from synth_pipelines.core.value_formats import NumberFormat
from synth_pipelines.spec import GeneratorSpec


def loans(rows: int = 2_000) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    duration = rng.choice([12, 24, 36, 48, 60], rows)
    payments = rng.integers(300, 9_000, rows)
    low = np.round(rng.normal(5, 8, rows), 1)
    change = np.round(rng.gamma(3, 3, rows), 1)
    # zero in most rows: a product of two such columns matches it often, but not in every row
    fee = np.where(rng.random(rows) < 0.97, 0, rng.integers(1, 50, rows))
    bankrupt = rng.choice(4, rows, p=[0.85, 0.1, 0.04, 0.01])
    liens = rng.choice(5, rows, p=[0.8, 0.1, 0.05, 0.03, 0.02])
    return pd.DataFrame({"failed": bankrupt + liens, "bankrupt": bankrupt, "liens": liens,
                         "amount": duration * payments, "duration": duration, "payments": payments,
                         "temp_min": low, "temp_change": change, "temp_max": np.round(low + change, 1),
                         "late": np.where(fee > 0, rng.integers(1, 3, rows), 0), "fee": fee,
                         "bad": np.where(payments * rng.random(rows) > 4_000, "yes", "no")})


def test_relations_of_every_real_row_are_found_and_chance_ones_are_not() -> None:
    frame = loans()
    codecs = fit_codecs(frame, {"bad"})
    found = {r.result: r.describe() for r in fit_relations(frame, codecs, label="bad")}
    # duration is a category of numbers to the generator (5 values) and an operand by its numbers here;
    # payments = amount / duration holds too, but amount comes first and an operand is never a result;
    # likewise the earlier temperature column is the result
    # counts of a few values are categories of numbers to the generator, results too
    assert found == {"failed": "bankrupt + liens", "amount": "duration * payments",
                     "temp_min": "temp_max - temp_change"}


def test_the_label_is_never_computed_and_missing_values_take_no_part() -> None:
    frame = loans()
    codecs = fit_codecs(frame, {"bad"})
    assert "amount" not in {r.result for r in fit_relations(frame, codecs, label="amount")}
    frame.loc[3, "temp_change"] = np.nan
    assert "temp_max" not in {r.result for r in fit_relations(frame, fit_codecs(frame, {"bad"}), label="bad")}


def test_a_computed_value_outside_the_real_range_keeps_the_drawn_one() -> None:
    frame = loans()
    codecs = fit_codecs(frame, {"bad"})
    drawn = pd.DataFrame({"amount": [1_000, 2_000], "duration": [12, 60], "payments": [500, 8_999]})
    relation = Relation("amount", "duration", "*", "payments")
    out = apply_relations(drawn.copy(), [relation], codecs)
    assert out["amount"].tolist() == [6_000, 2_000]  # 60 x 8,999 is past the real maximum
    assert out["amount"].dtype == drawn["amount"].dtype


def test_a_computed_value_outside_the_columns_value_set_keeps_the_drawn_one() -> None:
    """A column of few values (temperatures converted from whole degrees) keeps them: computed from two
    drawn operands, a difference can fall between them."""
    frame = pd.DataFrame({"low": [10.5, 20.5] * 50, "high": [15.5, 27.5] * 50, "change": [5.0, 7.0] * 50})
    codecs = [replace(c, number_format=NumberFormat(decimals=1, values=[[10.5, 0.5], [20.5, 0.5]]))
              if c.name == "low" else c for c in fit_codecs(frame, set())]
    drawn = pd.DataFrame({"low": [20.5, 20.5], "high": [15.5, 27.5], "change": [5.0, 5.0]})
    out = apply_relations(drawn.copy(), [Relation("low", "high", "-", "change")], codecs)
    assert out["low"].tolist() == [10.5, 20.5]  # 27.5 - 5 = 22.5 is no value of the column: drawn kept
    drawn.loc[0, "change"] = 5.0 - 1e-12  # float noise of real arithmetic still matches
    assert apply_relations(drawn, [Relation("low", "high", "-", "change")], codecs)["low"][0] == pytest.approx(10.5)


def test_generated_rows_keep_the_relations_and_the_model_records_them(tmp_path: Path) -> None:
    frame = loans()
    model = train_synthesizer(frame, GeneratorSpec(seed=0), label="bad", categorical={"bad"},
                              out_dir=tmp_path / "model")
    rows = pd.read_parquet(generate_rows(model, rows=2_000, batch_rows=1_000, id_prefix="s", out_dir=tmp_path).path)
    # drawn from trees (relations off): 0.0, 0.007 and 0.94; computed: 0.998, 0.997, 1.0
    assert (rows["amount"] == rows["duration"] * rows["payments"]).mean() > 0.95
    assert np.isclose(rows["temp_max"], rows["temp_min"] + rows["temp_change"]).mean() > 0.95
    assert (rows["failed"] == rows["bankrupt"] + rows["liens"]).mean() > 0.99
    assert set(rows["failed"]) <= set(frame["failed"])
    saved = json.loads((tmp_path / "model" / "synthesizer.json").read_text())["relations"]
    assert {"result": "amount", "left": "duration", "operation": "*", "right": "payments"} in saved
    assert load_synthesizer(tmp_path / "model").relations == model.relations

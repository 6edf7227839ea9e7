"""Leakage heuristics: derived totals and post-outcome columns, on the demo view and on made-up rows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from synth_pipelines.core.assessment import assess_training_rows
from synth_pipelines.core import leakage
from synth_pipelines.core.leakage import find_leakage
from synth_pipelines.core.snapshot import take_snapshot
from synth_pipelines.core.training_view import build_training_view, split_holdout
from synth_pipelines.spec import DatasetSpec


def demo_train_rows(data: dict[str, Any], folder: Path) -> tuple[pd.DataFrame, DatasetSpec]:
    spec = DatasetSpec.model_validate(data)
    snapshot = take_snapshot(spec, folder, "s")
    view = build_training_view(spec.training_view, {t: s.path for t, s in snapshot.tables.items()})
    return split_holdout(view, spec.training_view, seed=spec.generator.seed).train, spec


def leakage_columns(findings) -> dict[str, str]:
    return {f.column: f.problem for f in findings if f.field == "training_view.leakage_columns"}


def test_demo_view_without_its_leakage_entries_warns_about_both(shipped_demo_spec_data: dict[str, Any],
                                                                 tmp_path: Path) -> None:
    data = shipped_demo_spec_data
    train, spec = demo_train_rows(data, tmp_path / "listed")
    assert leakage_columns(assess_training_rows(train, spec.training_view, spec.generator).findings) == {}

    data["training_view"]["leakage_columns"] = []
    train, spec = demo_train_rows(data, tmp_path / "unlisted")
    assessment = assess_training_rows(train, spec.training_view, spec.generator)
    flagged = leakage_columns(assessment.findings)
    assert set(flagged) == {"collection_date", "written_off_amount"}
    assert "is set only in rows with label 1" in flagged["collection_date"]
    assert all(f.severity == "warning" for f in assessment.findings if f.column in flagged)


def frame(rows: int = 5000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "income": rng.lognormal(10, 0.5, rows).round(2),
        "bonus": rng.lognormal(7, 1, rows).round(2),
        "savings": rng.lognormal(8, 1, rows).round(2),
        "rate": rng.uniform(0.01, 0.2, rows).round(4),
        "count": rng.poisson(2, rows),
        "label": rng.integers(0, 2, rows),
    })


def test_derived_sum_and_product_are_named_not_their_parts() -> None:
    rows = frame()
    rows["total_pay"] = (rows.income + rows.bonus).round(2)
    rows["all_assets"] = rows.income + rows.bonus + rows.savings
    rows["interest"] = rows.savings * rows.rate
    suspects = {s.column: s.evidence for s in find_leakage(rows, "label", "classification")}
    assert set(suspects) == {"total_pay", "all_assets", "interest"}
    assert suspects["interest"] == "savings * rate"
    assert set(suspects["total_pay"].split(" + ")) == {"income", "bonus"}


def test_independent_columns_and_copies_are_not_flagged() -> None:
    rows = frame()
    rows["income_copy"] = rows.income  # a duplicate is not a derived total
    rows["noisy_total"] = rows.income + rows.bonus + np.random.default_rng(1).normal(0, 50, len(rows))
    assert find_leakage(rows, "label", "classification") == []


def test_post_outcome_rule_needs_one_class_and_more_than_chance() -> None:
    rows = frame()
    rng = np.random.default_rng(2)
    rows["closed_on"] = pd.Series(pd.Timestamp("2024-01-01"), index=rows.index).where(rows.label == 1)
    rows["recovered"] = np.where(rows.label == 1, rng.uniform(0, 100, len(rows)).round(2), 0.0)
    rows["random_gap"] = rows.income.where(rng.random(len(rows)) < 0.7)  # missing at random
    suspects = {s.column: s.evidence for s in find_leakage(rows, "label", "classification")}
    assert set(suspects) == {"closed_on", "recovered"}
    assert suspects["recovered"].startswith("is non-zero only in rows with label 1")
    # A regression label has no classes: the rule does not apply.
    assert {s.column for s in find_leakage(rows, "label", "regression")} == set()

    # In a 99%-majority class, a rare field of 40 rows lands there by chance: no rule.
    skewed = frame(rows=10_000)
    skewed["label"] = (rng.random(len(skewed)) < 0.01).astype(int)
    skewed["note_date"] = skewed.income.where(rng.random(len(skewed)) < 0.004)
    assert find_leakage(skewed, "label", "classification") == []


def test_a_million_rows_are_judged_on_a_sample(monkeypatch: pytest.MonkeyPatch) -> None:
    """About 1 s for a million rows because the heuristics see a SAMPLE_ROWS sample: asserted on the rows
    they are handed, not on the clock."""
    rows = pd.concat([frame(rows=10_000)] * 100, ignore_index=True)
    rows["total_pay"] = rows.income + rows.bonus
    seen = []
    real_derived_columns = leakage.derived_columns

    def counting_derived_columns(frame_: pd.DataFrame):  # noqa: ANN202 - the real function, its input recorded
        seen.append(len(frame_))
        return real_derived_columns(frame_)

    monkeypatch.setattr(leakage, "derived_columns", counting_derived_columns)
    suspects = find_leakage(rows, "label", "classification")
    assert [s.column for s in suspects] == ["total_pay"]
    assert seen == [leakage.SAMPLE_ROWS]


def test_small_scale_columns_need_a_close_match() -> None:
    rows = frame()
    rng = np.random.default_rng(5)
    # A rate that follows two others within a few tenths of a percentage point is related, not derived.
    rows["base_rate"] = rng.uniform(0.02, 0.05, len(rows)).round(4)
    rows["margin"] = rng.uniform(0.01, 0.03, len(rows)).round(4)
    rows["offered_rate"] = (rows.base_rate + rows.margin + rng.normal(0, 0.004, len(rows))).round(4)
    assert find_leakage(rows, "label", "classification") == []
    rows["offered_rate"] = (rows.base_rate + rows.margin).round(4)
    assert [s.column for s in find_leakage(rows, "label", "classification")] == ["offered_rate"]


def test_a_wide_table_searches_only_the_columns_a_combination_reproduces(monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 13: 300 columns x 800 rows took 78 s (156 s on a loaded 2-core machine) because every column got
    the sparse (OMP) search; now about 4 s there, because one least-squares fit of all columns picks the few
    worth it. Asserted on the searches made, not on the clock."""
    rng = np.random.default_rng(3)
    rows = pd.DataFrame({f"x{i}": rng.normal(size=800).round(2) * (i + 1) for i in range(300)})
    rows["total"] = rows.x7 + rows.x11 + rows.x13
    rows["area"] = rows.x3 * rows.x4
    rows["label"] = rng.integers(0, 2, len(rows))
    searched = []
    real_linear_combination = leakage._linear_combination

    def counting_linear_combination(y: np.ndarray, others: pd.DataFrame):  # noqa: ANN202 - the real search, counted
        searched.append(others.shape[1])
        return real_linear_combination(y, others)

    monkeypatch.setattr(leakage, "_linear_combination", counting_linear_combination)
    suspects = find_leakage(rows, "label", "classification")
    assert sorted(s.column for s in suspects) == ["area", "total"]
    assert {s.column: s.evidence for s in suspects}["area"] in ("x3 * x4", "x4 * x3")
    assert sorted({s.column: s.evidence for s in suspects}["total"].split(" + ")) == ["x11", "x13", "x7"]
    assert 1 <= len(searched) <= 4  # total and its three parts at most, of 302 numeric columns

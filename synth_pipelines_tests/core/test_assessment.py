"""Complexity assessment of train rows: findings with severity and fix, and the cost estimate."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from synth_pipelines.core.assessment import (COST_MODELS, FEW_TRAIN_ROWS, MIN_TRAIN_ROWS, assess_training_rows,
                                             encoded_width, estimate_cost)
from synth_pipelines.spec import GeneratorSpec, LoadedSpec, SpecError, TrainingViewSpec

VIEW = TrainingViewSpec(sql="SELECT 1", entity_key="id", label="label")
ARF = GeneratorSpec(plugin="arf", seed=1)


def rows(n: int = 3000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "id": np.arange(n),
        "region": rng.choice(["north", "south", "east"], n),
        "income": rng.lognormal(10, 0.5, n).round(2),
        "age": rng.integers(18, 90, n),
        "label": rng.integers(0, 2, n),
    })


def by_column(frame: pd.DataFrame, view: TrainingViewSpec = VIEW) -> dict[str | None, list]:
    found: dict[str | None, list] = {}
    for finding in assess_training_rows(frame, view, ARF).findings:
        found.setdefault(finding.column, []).append(finding)
    return found


def test_clean_rows_have_no_findings_and_a_profile() -> None:
    assessment = assess_training_rows(rows(), VIEW, ARF)
    assert assessment.findings == []
    assert (assessment.rows, assessment.columns) == (3000, 4)  # the entity key is not trained on
    profile = {p.name: (p.kind, p.distinct) for p in assessment.profiles}
    assert profile["region"] == ("category", 3) and profile["label"] == ("category", 2)
    assert profile["income"][0] == "float" and profile["age"][0] == "integer"
    assert assessment.estimated_training_seconds > 0 and assessment.estimated_peak_memory_mb > 0


def test_identifier_like_columns() -> None:
    frame = rows()
    frame["email"] = [f"person{i}@example.com" for i in range(len(frame))]
    frame["customer_number"] = np.random.default_rng(3).permutation(len(frame)) + 10_000
    frame["income_dollars"] = np.random.default_rng(4).choice(np.arange(5_000, 500_000), len(frame), replace=False)
    found = by_column(frame)
    email, number = found["email"][0], found["customer_number"][0]
    assert email.severity == "error"  # text values would be copied into synthetic rows
    assert "identifier-like" in email.problem and "leakage_columns" in email.fix and "masked_columns" in email.fix
    assert number.severity == "warning"
    # Continuous numbers and spread-out integers are unique per row too, and fine.
    assert "income" not in found and "income_dollars" not in found


def test_high_cardinality_and_constant_columns() -> None:
    frame = rows()
    frame["city"] = [f"city{i % 400}" for i in range(len(frame))]
    frame["source_system"] = "crm"
    found = by_column(frame)
    assert found["city"][0].severity == "warning" and "400 levels" in found["city"][0].problem
    assert "bucket it" in found["city"][0].fix
    assert found["source_system"][0].severity == "warning" and "constant" in found["source_system"][0].problem


def test_dataset_size_thresholds() -> None:
    tiny = by_column(rows(MIN_TRAIN_ROWS - 1))[None][0]
    assert tiny.severity == "error" and "dataset too small" in tiny.problem and f"at least {MIN_TRAIN_ROWS}" in tiny.problem
    small = by_column(rows(MIN_TRAIN_ROWS + 100))[None]
    assert [f.severity for f in small] == ["warning"] and f"below {FEW_TRAIN_ROWS}" in small[0].problem
    wide = rows(1500)
    for i in range(80):
        wide[f"x{i}"] = np.random.default_rng(i).normal(size=len(wide))
    assert any("too many columns" in f.problem for f in by_column(wide)[None])


def test_label_classes() -> None:
    frame = rows()
    frame.loc[:9, "label"] = 2  # ten rows of a third class
    rare = by_column(frame)["label"][0]
    assert rare.severity == "warning" and "2 (10 rows)" in rare.problem and rare.field == "training_view.label"
    frame["label"] = 0
    assert by_column(frame)["label"][0].severity == "error"
    regression = TrainingViewSpec(sql="SELECT 1", entity_key="id", label="income", task="regression")
    assert by_column(rows(), regression) == {}


def test_errors_name_spec_file_field_column_and_fix(tmp_path: Path) -> None:
    frame = rows()
    frame["email"] = [f"person{i}@example.com" for i in range(len(frame))]
    assessment = assess_training_rows(frame, VIEW, ARF)
    loaded = LoadedSpec.model_construct(path=tmp_path / "loans.yaml", spec=None, raw={})
    with pytest.raises(SpecError) as raised:
        assessment.raise_for_errors(loaded)
    message = str(raised.value)
    assert message.startswith(f"{tmp_path / 'loans.yaml'}: training_view.sql: column 'email' is identifier-like")
    assert ". Fix: exclude it" in message
    assess_training_rows(rows(), VIEW, ARF).raise_for_errors(loaded)  # no errors, no exception


def test_estimate_grows_with_rows_and_work() -> None:
    profiles = assess_training_rows(rows(), VIEW, ARF).profiles
    overhead = COST_MODELS["neural"].overhead_seconds

    def tvae_seconds(rows: int, **settings) -> float:
        seconds, _, family = estimate_cost(GeneratorSpec(plugin="tvae", settings=settings), rows, profiles)
        assert family == "neural"
        return seconds - overhead - COST_MODELS["neural"].seconds_per_unit * rows * encoded_width(profiles)

    assert tvae_seconds(100_000, n_iter=100) == pytest.approx(10 * tvae_seconds(10_000, n_iter=100))
    assert tvae_seconds(10_000, n_iter=1000) == pytest.approx(10 * tvae_seconds(10_000, n_iter=100))
    assert tvae_seconds(10_000) == tvae_seconds(10_000, n_iter=1000)  # the plugin's default: 1000 epochs
    _, memory, family = estimate_cost(ARF, 1_000_000, profiles)
    assert family == "forest" and memory > estimate_cost(ARF, 1_000, profiles)[1]

"""Stage 5: calculated columns are DuckDB SQL over the rows (never Python), then drops."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pydantic import ValidationError

from synth_pipelines.core.features import FeatureExpressionError, apply_features, check_feature_expressions
from synth_pipelines.spec import CalculatedColumn, FeaturesSpec, load_spec

WriteSpec = Callable[[dict[str, Any], str], Path]
AGES = [17, 18, 34, 35, 54, 55, 80]


@pytest.fixture
def demo_features(demo_spec_data: dict[str, Any], write_spec: WriteSpec) -> FeaturesSpec:
    return load_spec(write_spec(demo_spec_data, "demo.yaml")).spec.features


@pytest.fixture
def rows_path(tmp_path: Path) -> Path:
    rows = pa.table({
        "age_at_application": pa.array(AGES, pa.int64()),
        "amount": pa.array([1000.0, 2500.0, 12000.0, 333.0, 5000.0, 7000.0, 100.0]),
        "annual_income": pa.array([20000.0, 30000.0, 0.0, 1000.0, None, 70000.0, 3.0]),
        "gender": pa.array(["female", "male", "other", "female", "male", "female", None]),
    })
    path = tmp_path / "rows.parquet"
    pq.write_table(rows, path)
    return path


def _features(*columns: tuple[str, str], drop: list[str] | None = None) -> FeaturesSpec:
    return FeaturesSpec(calculated_columns=[CalculatedColumn(name=n, expression=e) for n, e in columns],
                        drop_columns=drop or [])


def test_demo_features_on_hand_made_rows(demo_features: FeaturesSpec, rows_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "out" / "features.parquet"
    assert apply_features(rows_path, demo_features, out) == len(AGES)
    table = pq.read_table(out)
    assert table.column_names == ["age_at_application", "amount", "annual_income", "gender",
                                  "age_band", "debt_to_income", "applicant_name", "applicant_email"]
    result = table.to_pydict()
    assert result["age_band"] == ["0-17", "18-34", "18-34", "35-54", "35-54", "55+", "55+"]
    # round(amount / nullif(annual_income, 0), 4): no division by zero, NULL stays NULL.
    assert result["debt_to_income"] == [0.05, 0.0833, None, 0.333, None, 0.1, 33.3333]
    assert table.schema.field("debt_to_income").type == pa.float64()
    # The input columns pass through unchanged.
    assert result["age_at_application"] == AGES
    assert result["gender"][-1] is None


def test_drop_columns_remove_columns_after_calculation(rows_path: Path, tmp_path: Path) -> None:
    features = _features(("income_k", "annual_income / 1000"), ("is_adult", "age_at_application >= 18"),
                         drop=["annual_income", "gender", "is_adult"])
    out = tmp_path / "features.parquet"
    assert apply_features(rows_path, features, out) == len(AGES)
    table = pq.read_table(out)
    # The calculation still saw the dropped source column; a dropped calculated column is gone too.
    assert table.column_names == ["age_at_application", "amount", "income_k"]
    assert table.column("income_k").to_pylist() == [20.0, 30.0, 0.0, 1.0, None, 70.0, 0.003]


def test_no_features_copies_the_rows(rows_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "features.parquet"
    assert apply_features(rows_path, FeaturesSpec(), out) == len(AGES)
    result, rows = pq.read_table(out), pq.read_table(rows_path)
    assert result.to_pydict() == rows.to_pydict()
    assert [f.type for f in result.schema] == [f.type for f in rows.schema]


def _typed_rows(rows_path: Path) -> pa.Table:
    return pq.read_schema(rows_path).empty_table()


def test_check_accepts_the_demo_features(demo_features: FeaturesSpec, rows_path: Path) -> None:
    check_feature_expressions(demo_features, _typed_rows(rows_path))  # no exception


def test_check_rejects_an_unknown_column(rows_path: Path) -> None:
    features = _features(("ok", "amount * 2"), ("ratio", "amount / salary"))
    with pytest.raises(FeatureExpressionError, match=r"calculated_columns\[1\]\.expression.*salary"):
        check_feature_expressions(features, _typed_rows(rows_path))


def test_check_rejects_a_syntax_error(rows_path: Path) -> None:
    features = _features(("broken", "CASE WHEN amount > 1 THEN 'x' ELSE"))
    with pytest.raises(FeatureExpressionError, match=r"(?i)calculated_columns\[0\]\.expression.*syntax"):
        check_feature_expressions(features, _typed_rows(rows_path))


def test_check_rejects_a_type_error(rows_path: Path) -> None:
    features = _features(("bad", "gender - amount"))
    with pytest.raises(FeatureExpressionError, match=r"calculated_columns\[0\]\.expression"):
        check_feature_expressions(features, _typed_rows(rows_path))


def test_check_rejects_an_unknown_drop_column(rows_path: Path) -> None:
    features = _features(("ok", "amount * 2"), drop=["amount", "nonexistent"])
    with pytest.raises(FeatureExpressionError, match=r"drop_columns\[1\].*nonexistent"):
        check_feature_expressions(features, _typed_rows(rows_path))
    # Dropping a calculated column by name is allowed.
    check_feature_expressions(_features(("ok", "amount * 2"), drop=["ok"]), _typed_rows(rows_path))


def test_calculated_name_must_be_new(rows_path: Path, tmp_path: Path) -> None:
    features = _features(("amount", "round(amount, -3)"))
    with pytest.raises(FeatureExpressionError, match=r"calculated_columns\[0\]\.name.*amount"):
        check_feature_expressions(features, _typed_rows(rows_path))
    with pytest.raises(FeatureExpressionError):
        apply_features(rows_path, features, tmp_path / "features.parquet")
    assert not (tmp_path / "features.parquet").exists()


@pytest.mark.parametrize("expression", [
    "__import__('os')",
    "__import__('os').system('touch {marker}')",
    "eval(\"open('{marker}', 'w')\")",
    "exec('import os')",
])
def test_expressions_cannot_run_python(expression: str, rows_path: Path, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    features = _features(("evil", expression.format(marker=marker)))
    with pytest.raises(FeatureExpressionError):
        check_feature_expressions(features, _typed_rows(rows_path))
    out = tmp_path / "features.parquet"
    with pytest.raises(FeatureExpressionError):
        apply_features(rows_path, features, out)
    assert not marker.exists()
    assert not out.exists()


def test_expressions_cannot_smuggle_in_statements(rows_path: Path, tmp_path: Path) -> None:
    """A `;` must not turn an expression into several statements (here: a COPY writing a file)."""
    marker = tmp_path / "smuggled.csv"
    features = _features(("x", f"1) FROM rows; COPY (SELECT 42 AS answer) TO '{marker}'; SELECT (1"))
    with pytest.raises(FeatureExpressionError, match="single SQL expression"):
        check_feature_expressions(features, _typed_rows(rows_path))
    with pytest.raises(FeatureExpressionError):
        apply_features(rows_path, features, tmp_path / "features.parquet")
    assert not marker.exists()
    # A semicolon inside a string literal is fine.
    out = tmp_path / "ok.parquet"
    apply_features(rows_path, _features(("tag", "concat(gender, ';', age_at_application)")), out)
    assert pq.read_table(out).column("tag").to_pylist()[0] == "female;17"


def test_masked_columns_are_format_valid_seeded_and_droppable(rows_path: Path, tmp_path: Path) -> None:
    features = FeaturesSpec.model_validate({"masked_columns": [
        {"name": "contact_email", "faker": "email"}, {"name": "account_iban", "faker": "iban", "locale": "de_DE"},
        {"name": "nickname", "faker": "first_name"}], "drop_columns": ["nickname"]})
    first, second, other_seed = (tmp_path / "a.parquet", tmp_path / "b.parquet", tmp_path / "c.parquet")
    apply_features(rows_path, features, first, seed=1)
    apply_features(rows_path, features, second, seed=1)
    apply_features(rows_path, features, other_seed, seed=2)
    table = pq.read_table(first).to_pydict()
    assert "nickname" not in table
    assert all(re.fullmatch(r"[^@\s]+@[^@\s]+\.[a-z]{2,}", e) for e in table["contact_email"])
    assert all(i.startswith("DE") and len(i) == 22 for i in table["account_iban"])
    assert pq.read_table(second).to_pydict() == table
    assert pq.read_table(other_seed).to_pydict()["contact_email"] != table["contact_email"]


def test_unknown_masking_provider_is_rejected() -> None:
    with pytest.raises(ValidationError, match="not a supported masking provider.*use one of: name"):
        FeaturesSpec.model_validate({"masked_columns": [{"name": "x", "faker": "password"}]})


def test_expressions_cannot_read_files(rows_path: Path, tmp_path: Path) -> None:
    features = _features(("leak", "(SELECT count(*) FROM read_csv('/etc/passwd'))"))
    with pytest.raises(FeatureExpressionError, match="file system operations are disabled"):
        apply_features(rows_path, features, tmp_path / "out.parquet")

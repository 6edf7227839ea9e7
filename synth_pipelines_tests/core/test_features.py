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
    typed = _typed_rows(rows_path)
    assert check_feature_expressions(demo_features, typed) is None  # accepted: no exception
    # The same features are really checked against those columns: without annual_income the demo's
    # debt_to_income (calculated column 1) no longer binds.
    with pytest.raises(FeatureExpressionError, match=r"calculated_columns\[1\]\.expression.*annual_income"):
        check_feature_expressions(demo_features, typed.drop_columns(["annual_income"]))


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


SECRET = "test-masking-secret-0123456789"
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[a-z]{2,}")


@pytest.fixture
def customer_rows(tmp_path: Path) -> Path:
    """Synthetic rows where customers repeat (as a synthesized customer key would)."""
    path = tmp_path / "customers.parquet"
    pq.write_table(pa.table({"customer_key": [3, 7, 3, 9, None, 7, 3], "amount": [1.0, 2, 3, 4, 5, 6, 7]}), path)
    return path


def _consistent(**extra: Any) -> FeaturesSpec:
    return FeaturesSpec.model_validate({"masked_columns": [
        {"name": "email", "faker": "email", "consistent_on": "customer_key", **extra},
        {"name": "full_name", "faker": "name", "consistent_on": "customer_key", **extra},
        {"name": "iban", "faker": "iban", "locale": "de_DE", "consistent_on": "customer_key", **extra}]})


def test_consistent_masking_maps_the_same_key_to_the_same_values(customer_rows: Path, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNTH_PIPELINES_MASKING_KEY", SECRET)
    out = tmp_path / "a.parquet"
    apply_features(customer_rows, _consistent(), out, batch_rows=2)  # across batches too
    table = pq.read_table(out).to_pydict()
    assert all(EMAIL.fullmatch(e) for e in table["email"] if e)
    assert all(i.startswith("DE") and len(i) == 22 for i in table["iban"] if i)
    assert all(re.fullmatch(r"[A-Z][\w'.-]+( [\w'.-]+)+", n) for n in table["full_name"] if n)
    by_key: dict[Any, set] = {}
    for key, email, name in zip(table["customer_key"], table["email"], table["full_name"]):
        by_key.setdefault(key, set()).add((email, name))
    assert all(len(values) == 1 for values in by_key.values())  # same key -> same email and name
    assert len({next(iter(v)) for k, v in by_key.items() if k is not None}) == 3  # different keys differ
    assert by_key[None] == {(None, None)}  # no key, no masked value
    # Another run (another seed, rows in another order) gives the same values for the same keys.
    shuffled = tmp_path / "shuffled.parquet"
    pq.write_table(pq.read_table(customer_rows).take([6, 5, 4, 3, 2, 1, 0]), shuffled)
    apply_features(shuffled, _consistent(), tmp_path / "b.parquet", seed=99)
    again = pq.read_table(tmp_path / "b.parquet").to_pydict()
    assert dict(zip(again["customer_key"], again["email"])) == dict(zip(table["customer_key"], table["email"]))
    # Another secret gives other values.
    monkeypatch.setenv("OTHER_MASKING_KEY", "another-secret-abcdefghijklmnop")
    apply_features(customer_rows, _consistent(key_env="OTHER_MASKING_KEY"), tmp_path / "c.parquet")
    other = pq.read_table(tmp_path / "c.parquet").to_pydict()
    assert all(a != b for a, b in zip(other["email"], table["email"]) if a)


def test_consistent_masking_needs_its_secret(customer_rows: Path, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SYNTH_PIPELINES_MASKING_KEY", raising=False)
    out = tmp_path / "out.parquet"
    with pytest.raises(FeatureExpressionError, match=r"masked_columns\[0\]\.key_env: environment variable "
                                                     r"SYNTH_PIPELINES_MASKING_KEY is not set.*export"):
        apply_features(customer_rows, _consistent(), out)
    with pytest.raises(FeatureExpressionError, match="key_env"):  # validate says so before a run
        check_feature_expressions(_consistent(), pq.read_schema(customer_rows).empty_table())
    monkeypatch.setenv("SYNTH_PIPELINES_MASKING_KEY", "short")
    with pytest.raises(FeatureExpressionError, match="too short"):
        apply_features(customer_rows, _consistent(), out)
    assert not out.exists()


def test_consistent_key_may_be_dropped_and_must_exist(customer_rows: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNTH_PIPELINES_MASKING_KEY", SECRET)
    features = FeaturesSpec.model_validate({"masked_columns": [
        {"name": "email", "faker": "email", "consistent_on": "customer_key"}], "drop_columns": ["customer_key"]})
    out = tmp_path / "out.parquet"
    apply_features(customer_rows, features, out)
    table = pq.read_table(out).to_pydict()
    assert list(table) == ["amount", "email"] and table["email"][0] == table["email"][2]
    missing = FeaturesSpec.model_validate({"masked_columns": [
        {"name": "email", "faker": "email", "consistent_on": "customer_id"}]})
    with pytest.raises(FeatureExpressionError, match=r"consistent_on: 'customer_id' is not a column"):
        apply_features(customer_rows, missing, out)


def test_consistent_masking_of_100k_rows_draws_once_per_customer(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """100k rows over 5k customers: one HMAC + Faker draw per distinct customer, then cached (what made it
    ~0.5 s instead of ~6 s). Counted, not timed: a loaded machine cannot make this flaky."""
    from faker import Faker

    monkeypatch.setenv("SYNTH_PIPELINES_MASKING_KEY", SECRET)
    seeded = []
    real_seed_instance = Faker.seed_instance

    def counting_seed_instance(self, seed=None):  # noqa: ANN001 - the real method, counted
        seeded.append(seed)
        return real_seed_instance(self, seed)

    monkeypatch.setattr(Faker, "seed_instance", counting_seed_instance)
    rows = tmp_path / "many.parquet"
    pq.write_table(pa.table({"customer_key": [i % 5000 for i in range(100_000)]}), rows)
    features = FeaturesSpec.model_validate({"masked_columns": [
        {"name": "email", "faker": "email", "consistent_on": "customer_key"}]})
    apply_features(rows, features, tmp_path / "out.parquet")
    assert len(seeded) == len(set(seeded)) == 5000
    emails = pq.read_table(tmp_path / "out.parquet").column("email").to_pylist()
    assert emails[:5000] == emails[5000:10_000] and len(set(emails)) <= 5000


def test_replaced_column_is_masked_under_its_name(tmp_path: Path) -> None:
    import pandas as pd

    from synth_pipelines.core.features import drop_replaced_columns

    features = FeaturesSpec.model_validate({"masked_columns": [{"replaces": "email", "faker": "email"}]})
    assert features.masked_columns[0].name == "email"
    view = pd.DataFrame({"loan_id": [1, 2], "email": ["real@bank.example", "x@bank.example"], "amount": [1.0, 2.0]})
    train_view = drop_replaced_columns(view, features)
    assert list(train_view.columns) == ["loan_id", "amount"]  # the real emails never reach training
    rows = tmp_path / "rows.parquet"
    pq.write_table(pa.Table.from_pandas(train_view.drop(columns=["loan_id"]), preserve_index=False), rows)
    apply_features(rows, features, tmp_path / "out.parquet")
    out = pq.read_table(tmp_path / "out.parquet").to_pydict()
    assert list(out) == ["amount", "email"] and not {"real@bank.example", "x@bank.example"} & set(out["email"])
    with pytest.raises(FeatureExpressionError, match=r"replaces: 'mail' is not a column of the view"):
        drop_replaced_columns(view, FeaturesSpec.model_validate(
            {"masked_columns": [{"replaces": "mail", "faker": "email"}]}))
    # Expressions cannot use a replaced column: it is not in the synthetic rows.
    with pytest.raises(FeatureExpressionError, match="email"):
        check_feature_expressions(FeaturesSpec.model_validate({
            "masked_columns": [{"replaces": "email", "faker": "email"}],
            "calculated_columns": [{"name": "domain", "expression": "split_part(email, '@', 2)"}]}),
            pa.Table.from_pandas(view, preserve_index=False))


@pytest.mark.parametrize(("masked", "message"), [
    ({"name": "x", "faker": "email", "key_env": "MY_KEY"}, "key_env is set but consistent_on is not"),
    ({"name": "x", "faker": "email", "replaces": "y"}, "differs from replaces"),
    ({"name": "x", "faker": "email", "consistent_on": "x"}, "consistent on itself"),
    ({"faker": "email"}, "name"),
])
def test_bad_masked_column_settings_are_rejected(masked: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        FeaturesSpec.model_validate({"masked_columns": [masked]})

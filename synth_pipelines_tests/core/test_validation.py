"""`validate_against_source` against the demo SQLite source: fast (no rows read, no training), and every
error names the spec file, the field and a fix."""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from synth_pipelines.core.validation import SourceCheck, validate_against_source
from synth_pipelines.spec import LoadedSpec, SpecError, load_spec

WriteSpec = Callable[[dict[str, Any], str], Path]
Mutation = Callable[[dict[str, Any]], None]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def load(demo_spec_data: dict[str, Any], write_spec: WriteSpec) -> Callable[[Mutation], LoadedSpec]:
    """Load a copy of the demo spec after applying `mutate` to it."""

    def _load(mutate: Mutation = lambda d: None) -> LoadedSpec:
        data = copy.deepcopy(demo_spec_data)
        mutate(data)
        return load_spec(write_spec(data, "spec.yaml"))

    return _load


@pytest.fixture
def invalid(load: Callable[[Mutation], LoadedSpec]) -> Callable[..., str]:
    """Validate the mutated demo spec, expect a SpecError and check it names file, field and fix."""

    def _invalid(mutate: Mutation, field: str, *fragments: str, fix: str = "", check_generator: bool = True) -> str:
        loaded = load(mutate)
        with pytest.raises(SpecError) as excinfo:
            validate_against_source(loaded, check_generator=check_generator)
        message = str(excinfo.value)
        assert message.startswith(f"{loaded.path}: {field}: "), message
        problem, sep, hint = message.partition(". Fix: ")
        assert sep and hint.strip(), f"no fix in: {message}"
        for fragment in fragments:
            assert fragment in message, f"{fragment!r} not in {message!r}"
        if fix:
            assert fix in hint, f"fix {fix!r} not in {hint!r}"
        return message

    return _invalid


# --- the demo spec -----------------------------------------------------------------------------


def test_demo_spec_passes(load: Callable[[Mutation], LoadedSpec], demo_db: Path) -> None:
    before = sha256(demo_db)
    check = validate_against_source(load())
    assert isinstance(check, SourceCheck)

    assert check.view_columns[0] == "loan_id"
    assert {"defaulted", "collection_date", "written_off_amount"} <= set(check.view_columns)

    features = check.feature_columns
    assert "loan_id" not in features  # the entity key is never synthesized
    assert "collection_date" not in features and "written_off_amount" not in features  # leakage
    assert "defaulted" in features  # the label is
    assert features[-4:] == ["age_band", "debt_to_income", "applicant_name", "applicant_email"]  # added columns last
    assert {"amount", "annual_income", "age_at_application", "branch_region"} <= set(features)
    assert len(features) == len(set(features))
    # Excluded source columns never reach the view.
    assert not {"full_name", "email", "phone", "recovery_agent"} & set(check.view_columns)

    assert set(check.table_rows) == {"branches", "products", "customers", "accounts", "loans"}
    assert check.table_rows["customers"] == 1500
    assert all(rows > 0 for rows in check.table_rows.values())
    assert sha256(demo_db) == before


def test_drop_columns_removed_from_features(load: Callable[[Mutation], LoadedSpec]) -> None:
    check = validate_against_source(load(lambda d: d["features"].update(drop_columns=["age_at_application"])))
    assert "age_at_application" not in check.feature_columns
    assert "age_band" in check.feature_columns  # computed from it before the drop


def test_validation_never_writes_to_the_source(load: Callable[[Mutation], LoadedSpec], demo_db: Path,
                                               storage_home: Path) -> None:
    before = sha256(demo_db)
    siblings = sorted(p.name for p in demo_db.parent.iterdir())
    validate_against_source(load())
    with pytest.raises(SpecError):
        validate_against_source(load(lambda d: d["training_view"].update(label="nope")))
    assert sha256(demo_db) == before
    # No journal or WAL file left next to it, and nothing written under the storage root either.
    assert sorted(p.name for p in demo_db.parent.iterdir()) == siblings
    assert list(storage_home.iterdir()) == []


def test_check_generator_false_skips_the_settings_check(load: Callable[[Mutation], LoadedSpec]) -> None:
    loaded = load(lambda d: d["generator"].update(plugin="tvae", settings={"n_iter_typo": 3}))
    assert validate_against_source(loaded, check_generator=False).feature_columns


def test_accepted_generator_settings_pass(load: Callable[[Mutation], LoadedSpec]) -> None:
    settings = {"n_iter": 5, "batch_size": 64, "device": "cpu"}
    loaded = load(lambda d: d["generator"].update(plugin="tvae", settings=settings))
    check = validate_against_source(loaded)
    assert check.feature_columns == validate_against_source(load()).feature_columns  # the settings change no column
    # The settings were checked against tvae's arguments, not skipped: one unknown name among them fails.
    with pytest.raises(SpecError, match=r"generator\.settings: .*n_iter_typo"):
        validate_against_source(load(lambda d: d["generator"].update(plugin="tvae",
                                                                   settings={**settings, "n_iter_typo": 5})))


# --- tables and columns ------------------------------------------------------------------------


def test_unknown_table(invalid: Callable[..., str]) -> None:
    invalid(lambda d: d["source"]["tables"].update(staff={"primary_key": "staff_id"}),
            "source.tables.staff", "'staff' does not exist", "loans", "customers", fix="correct the table name")


def test_unknown_column_in_exclude_columns(invalid: Callable[..., str]) -> None:
    invalid(lambda d: d["source"]["tables"]["customers"].update(exclude_columns=["full_name", "ssn"]),
            "source.tables.customers.exclude_columns", "'ssn'", "'customers'", "annual_income",
            fix="correct the column name")


def test_unknown_column_in_columns(invalid: Callable[..., str]) -> None:
    def mutate(d: dict[str, Any]) -> None:
        d["source"]["tables"]["products"] = {"primary_key": "product_id", "columns": ["product_id", "product_kind"]}

    invalid(mutate, "source.tables.products.columns", "'product_kind'", "'products'", fix="correct the column name")


def test_unknown_primary_key(invalid: Callable[..., str]) -> None:
    invalid(lambda d: d["source"]["tables"]["branches"].update(primary_key="id"),
            "source.tables.branches.primary_key", "'id'", fix="correct the column name")


def test_unknown_foreign_key_column(invalid: Callable[..., str]) -> None:
    invalid(lambda d: d["source"]["tables"]["loans"]["foreign_keys"].update(officer_id="accounts.account_id"),
            "source.tables.loans.foreign_keys.officer_id", "'officer_id'", fix="correct the column name")


def test_foreign_key_to_unknown_column(invalid: Callable[..., str]) -> None:
    invalid(lambda d: d["source"]["tables"]["accounts"]["foreign_keys"].update(customer_id="customers.id"),
            "source.tables.accounts.foreign_keys.customer_id", "'customers.id' does not exist",
            fix="name a column of 'customers'")


# --- the training view -------------------------------------------------------------------------


def test_sql_syntax_error(invalid: Callable[..., str]) -> None:
    invalid(lambda d: d["training_view"].update(sql="SELEC loan_id, defaulted FROM loans"),
            "training_view.sql", "does not run", "SELEC", fix="DuckDB")


def test_sql_unknown_column(invalid: Callable[..., str]) -> None:
    invalid(lambda d: d["training_view"].update(sql=d["training_view"]["sql"].replace("c.gender,", "c.sex,")),
            "training_view.sql", "sex", fix="fix the query")


def test_sql_reads_an_excluded_column(invalid: Callable[..., str]) -> None:
    # Excluded columns are not in the snapshot, so the view cannot use them.
    invalid(lambda d: d["training_view"].update(sql=d["training_view"]["sql"].replace("c.gender,", "c.email,")),
            "training_view.sql", "email")


def test_sql_reads_an_undeclared_table(invalid: Callable[..., str]) -> None:
    def mutate(d: dict[str, Any]) -> None:
        del d["source"]["tables"]["branches"]
        del d["source"]["tables"]["accounts"]["foreign_keys"]["branch_id"]

    invalid(mutate, "training_view.sql", "branches", fix="source.tables")


def test_label_not_in_view(invalid: Callable[..., str]) -> None:
    invalid(lambda d: d["training_view"].update(label="is_default"),
            "training_view.label", "'is_default'", "not a column of the view", "loan_id",
            fix="select it in training_view.sql")


def test_entity_key_not_in_view(invalid: Callable[..., str]) -> None:
    invalid(lambda d: d["training_view"].update(entity_key="application_id"),
            "training_view.entity_key", "'application_id'", "not a column of the view",
            fix="select it in training_view.sql")


def test_entity_key_dropped_from_sql(invalid: Callable[..., str]) -> None:
    invalid(lambda d: d["training_view"].update(sql=d["training_view"]["sql"].replace("l.loan_id,", "")),
            "training_view.entity_key", "'loan_id'")


def test_leakage_column_that_exists_nowhere(invalid: Callable[..., str]) -> None:
    invalid(lambda d: d["training_view"]["leakage_columns"].append({"column": "recovery_fee", "reason": "post-outcome"}),
            "training_view.leakage_columns[2].column", "'recovery_fee'", fix="correct the name or remove")


def test_leakage_column_only_in_the_source_is_accepted(load: Callable[[Mutation], LoadedSpec]) -> None:
    # Not selected by the view, but a real source column: fine (it documents why it was left out).
    loaded = load(lambda d: d["training_view"]["leakage_columns"].append(
        {"column": "created_at", "reason": "account bookkeeping"}))
    assert "created_at" not in validate_against_source(loaded).feature_columns


# --- features ----------------------------------------------------------------------------------


def test_calculated_column_unknown_column(invalid: Callable[..., str]) -> None:
    invalid(lambda d: d["features"]["calculated_columns"][1].update(expression="amount / nullif(income, 0)"),
            "features.calculated_columns[1].expression", "income", fix="DuckDB SQL expression")


def test_calculated_column_using_a_leakage_column(invalid: Callable[..., str]) -> None:
    # Leakage columns are gone before synthesis, so an expression cannot use them.
    invalid(lambda d: d["features"]["calculated_columns"].append({"name": "recovered",
                                                                 "expression": "written_off_amount > 0"}),
            "features.calculated_columns[2].expression", "written_off_amount")


def test_calculated_column_syntax_error(invalid: Callable[..., str]) -> None:
    invalid(lambda d: d["features"]["calculated_columns"][0].update(expression="CASE WHEN age_at_application"),
            "features.calculated_columns[0].expression")


def test_calculated_column_type_error(invalid: Callable[..., str]) -> None:
    invalid(lambda d: d["features"]["calculated_columns"][1].update(expression="amount + product_type"),
            "features.calculated_columns[1].expression")


def test_drop_columns_unknown_column(invalid: Callable[..., str]) -> None:
    invalid(lambda d: d["features"].update(drop_columns=["amount", "loan_amount"]),
            "features.drop_columns[1]", "'loan_amount'", fix="correct the name or remove it")


def test_drop_columns_entity_key(invalid: Callable[..., str]) -> None:
    invalid(lambda d: d["features"].update(drop_columns=["loan_id"]), "features.drop_columns[0]", "'loan_id'")


# --- generator settings ------------------------------------------------------------------------


def test_generator_setting_typo(invalid: Callable[..., str]) -> None:
    invalid(lambda d: d["generator"].update(plugin="tvae", settings={"n_iter_typo": 3, "n_iter": 3}),
            "generator.settings", "'tvae'", "n_iter_typo", fix="remove them")


def test_generator_reserved_random_state(invalid: Callable[..., str]) -> None:
    message = invalid(lambda d: d["generator"].update(plugin="tvae", settings={"random_state": 3}),
                      "generator.settings", "random_state", fix="`seed` sets the random state")
    assert "n_iter" not in message


def test_generator_reserved_workspace(invalid: Callable[..., str]) -> None:
    invalid(lambda d: d["generator"].update(settings={"workspace": "/tmp/x"}),
            "generator.settings", "'bayesian_network'", "workspace")


# --- the source database -----------------------------------------------------------------------


def test_unreachable_database_never_shows_the_password(invalid: Callable[..., str]) -> None:
    pytest.importorskip("psycopg2")
    message = invalid(lambda d: d["source"].update(url="postgresql+psycopg2://nobody:s3cret@127.0.0.1:1/none"),
                      "source.url", "cannot read the source database", "://***@127.0.0.1:1/none",
                      fix="reachable")
    assert "s3cret" not in message


def test_password_from_environment_never_shown(invalid: Callable[..., str], monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("psycopg2")
    monkeypatch.setenv("SYNTH_TEST_DB_PASSWORD", "s3cret")
    message = invalid(lambda d: d["source"].update(
        url="postgresql+psycopg2://reader:${SYNTH_TEST_DB_PASSWORD}@127.0.0.1:1/bank"), "source.url")
    assert "s3cret" not in message


def test_missing_sqlite_file_is_not_created(invalid: Callable[..., str], tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "bank.sqlite"
    invalid(lambda d: d["source"].update(url=f"sqlite:///{missing}"), "source.url", str(missing),
            fix="reachable")
    missing_here = tmp_path / "bank.sqlite"
    invalid(lambda d: d["source"].update(url=f"sqlite:///{missing_here}"), "source.url")
    assert not missing_here.exists()


def test_empty_database_has_none_of_the_tables(invalid: Callable[..., str], tmp_path: Path) -> None:
    import sqlite3

    empty = tmp_path / "empty.sqlite"
    sqlite3.connect(empty).close()
    invalid(lambda d: d["source"].update(url=f"sqlite:///{empty}"), "source.tables.branches", "no tables")


def test_calculated_column_cannot_reuse_a_view_column_name(invalid: Callable[..., str]) -> None:
    invalid(lambda d: d["features"]["calculated_columns"].append({"name": "amount", "expression": "amount * 2"}),
            "features.calculated_columns[2].name", "'amount' is already a column", fix="give the column a new name")


def test_dropping_a_calculated_column_removes_it_from_the_features(demo_spec_data, write_spec) -> None:
    demo_spec_data["features"]["drop_columns"] = ["debt_to_income", "annual_income"]
    columns = validate_against_source(load_spec(write_spec(demo_spec_data))).feature_columns
    assert "debt_to_income" not in columns and "annual_income" not in columns and "age_band" in columns


def test_holdout_sql_that_does_not_run(invalid: Callable[..., str]) -> None:
    invalid(lambda d: d["training_view"].update(holdout_sql="SELECT * FROM loanz"), "training_view.holdout_sql",
            "does not run", fix="like training_view.sql")


def test_holdout_sql_with_other_columns(invalid: Callable[..., str]) -> None:
    invalid(lambda d: d["training_view"].update(holdout_sql="SELECT loan_id, defaulted FROM loans"),
            "training_view.holdout_sql", "returns columns", fix="same columns in the same order")

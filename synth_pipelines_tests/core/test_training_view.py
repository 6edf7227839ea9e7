"""Stage 2: the training view over a snapshot, its leakage guard and the seeded, stratified holdout."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from synth_pipelines.core.snapshot import take_snapshot
from synth_pipelines.core.sql import SpecSqlError
from synth_pipelines.core.training_view import TrainingViewError, build_training_view, run_view_sql, split_holdout
from synth_pipelines.spec import DatasetSpec, TrainingViewSpec, load_spec

WriteSpec = Callable[[dict[str, Any], str], Path]


@pytest.fixture
def demo_spec(demo_spec_data: dict[str, Any], write_spec: WriteSpec) -> DatasetSpec:
    return load_spec(write_spec(demo_spec_data, "demo.yaml")).spec


@pytest.fixture
def tables(demo_spec: DatasetSpec, tmp_path: Path) -> dict[str, Path]:
    snapshot = take_snapshot(demo_spec, tmp_path / "snapshots", snapshot_id="s1")
    return {name: snapshot.table_path(name) for name in snapshot.tables}


@pytest.fixture
def view(demo_spec: DatasetSpec, tables: dict[str, Path]) -> pd.DataFrame:
    return build_training_view(demo_spec.training_view, tables)


def _view_spec(sql: str, **overrides: Any) -> TrainingViewSpec:
    return TrainingViewSpec(sql=sql, **{"entity_key": "loan_id", "label": "defaulted", **overrides})


def test_one_row_per_loan_without_leakage(view: pd.DataFrame, demo_db: Path) -> None:
    with sqlite3.connect(demo_db) as conn:
        loans = pd.read_sql("SELECT * FROM loans ORDER BY loan_id", conn)
    assert len(view) == len(loans) == 1800
    assert view.loan_id.is_unique
    assert sorted(view.loan_id) == loans.loan_id.tolist()
    assert "collection_date" not in view.columns
    assert "written_off_amount" not in view.columns
    assert "defaulted" in view.columns
    assert view.defaulted.notna().all()
    assert set(view.defaulted.unique()) == {0, 1}
    # Values come from the right rows: label and amount per loan match the source.
    merged = view.merge(loans, on="loan_id", suffixes=("", "_src"))
    assert (merged.defaulted == merged.defaulted_src).all()
    assert (merged.amount == merged.amount_src).all()
    assert view.age_at_application.between(18, 95).all()
    assert list(view.index) == list(range(len(view)))


def test_leakage_column_can_be_missing_from_the_view(tables: dict[str, Path]) -> None:
    spec = _view_spec("SELECT loan_id, amount, defaulted FROM loans",
                      leakage_columns=[{"column": "collection_date", "reason": "post-outcome"}])
    view = build_training_view(spec, tables)
    assert list(view.columns) == ["loan_id", "amount", "defaulted"]


def test_duplicated_entity_keys_are_refused(tables: dict[str, Path]) -> None:
    # Joining every account of the loan's customer repeats loans of customers with two accounts.
    sql = """
        SELECT l.loan_id, a2.account_type, l.defaulted
        FROM loans l
        JOIN accounts a  ON a.account_id = l.account_id
        JOIN accounts a2 ON a2.customer_id = a.customer_id
    """
    with pytest.raises(TrainingViewError, match=r"entity_key 'loan_id'.*one row per entity"):
        build_training_view(_view_spec(sql), tables)


def test_null_label_is_refused(tables: dict[str, Path]) -> None:
    sql = "SELECT loan_id, amount, CASE WHEN loan_id % 10 = 0 THEN NULL ELSE defaulted END AS defaulted FROM loans"
    with pytest.raises(TrainingViewError, match=r"label.*'defaulted' is empty in 180 rows"):
        build_training_view(_view_spec(sql), tables)


@pytest.mark.parametrize(("overrides", "field"), [
    ({"entity_key": "id"}, "entity_key"),
    ({"label": "default_flag"}, "label"),
])
def test_missing_key_or_label_column_is_named(tables: dict[str, Path], overrides: dict[str, str], field: str) -> None:
    with pytest.raises(TrainingViewError, match=rf"training_view\.{field}\b.*'{overrides[field]}' is not a column"):
        build_training_view(_view_spec("SELECT loan_id, amount, defaulted FROM loans", **overrides), tables)


def test_split_is_disjoint_sized_and_stratified(view: pd.DataFrame, demo_spec: DatasetSpec) -> None:
    spec = demo_spec.training_view
    split = split_holdout(view, spec, seed=11)
    train_ids, holdout_ids = set(split.train.loan_id), set(split.holdout.loan_id)
    assert train_ids.isdisjoint(holdout_ids)
    assert train_ids | holdout_ids == set(view.loan_id)
    assert len(split.holdout) == round(len(view) * spec.holdout_fraction) == 360
    assert len(split.train) == len(view) - 360
    overall = view.defaulted.mean()
    assert 0.05 < overall < 0.5
    assert abs(split.train.defaulted.mean() - overall) < 0.02
    assert abs(split.holdout.defaulted.mean() - overall) < 0.02
    assert list(split.train.columns) == list(view.columns)
    assert list(split.holdout.index) == list(range(360))


def test_split_follows_holdout_fraction(view: pd.DataFrame) -> None:
    spec = _view_spec("unused", holdout_fraction=0.35)
    split = split_holdout(view, spec, seed=3)
    assert len(split.holdout) == round(len(view) * 0.35)


def test_split_is_reproducible_from_its_seed(view: pd.DataFrame, demo_spec: DatasetSpec) -> None:
    spec = demo_spec.training_view
    first, again = split_holdout(view, spec, seed=5), split_holdout(view, spec, seed=5)
    other = split_holdout(view, spec, seed=6)
    pd.testing.assert_frame_equal(first.train, again.train)
    pd.testing.assert_frame_equal(first.holdout, again.holdout)
    assert set(first.holdout.loan_id) != set(other.holdout.loan_id)


def test_split_of_a_rare_class_falls_back_to_unstratified(view: pd.DataFrame) -> None:
    rare = view.copy()
    rare["defaulted"] = 0
    rare.loc[0, "defaulted"] = 1  # one member: cannot be stratified
    split = split_holdout(rare, _view_spec("unused"), seed=1)
    assert len(split.train) + len(split.holdout) == len(rare)
    assert set(split.train.loan_id).isdisjoint(split.holdout.loan_id)


def test_regression_split(view: pd.DataFrame) -> None:
    spec = _view_spec("unused", label="amount", task="regression")
    split = split_holdout(view, spec, seed=2)
    assert len(split.holdout) == 360
    assert set(split.train.loan_id).isdisjoint(split.holdout.loan_id)


def test_run_view_sql_accepts_arrow_tables() -> None:
    people = pa.table({"id": [1, 2, 3], "name": ["a", "b", "c"]})
    scores = pa.table({"person_id": [1, 1, 3], "score": [10, 20, 5]})
    result = run_view_sql(
        "SELECT p.name, sum(s.score) AS total FROM people p JOIN scores s ON s.person_id = p.id "
        "GROUP BY p.name ORDER BY p.name",
        {"people": people, "scores": scores})
    assert isinstance(result, pa.Table)
    assert result.to_pydict() == {"name": ["a", "c"], "total": [30, 5]}


def test_run_view_sql_mixes_paths_and_arrow_tables_with_awkward_names(tmp_path: Path) -> None:
    folder = tmp_path / "it's here"
    folder.mkdir()
    path = folder / "orders.parquet"
    pq.write_table(pa.table({"order_id": [1, 2], "customer_id": [7, 8]}), path)
    customers = pa.table({"customer_id": [7, 8], "region": ["North", "South"]})
    result = run_view_sql(
        'SELECT o.order_id, c.region FROM "order lines" o JOIN customers c USING (customer_id) ORDER BY 1',
        {"order lines": path, "customers": customers})
    assert result.to_pydict() == {"order_id": [1, 2], "region": ["North", "South"]}


@pytest.mark.parametrize("sql", [
    "SELECT *, (SELECT string_agg(column0, '|') FROM read_csv('/etc/passwd', header=false, sep='\t')) AS leak FROM loans",
    "SELECT * FROM read_parquet('{snapshots}/*.parquet')",
])
def test_the_view_sees_its_tables_and_nothing_else(sql: str, tables: dict[str, Path]) -> None:
    snapshots = next(iter(tables.values())).parent
    refused = "the SQL does not run on the snapshot tables: Permission Error: .*file system operations are disabled"
    with pytest.raises(SpecSqlError, match="(?i)training_view.sql: " + refused):
        build_training_view(_view_spec(sql.format(snapshots=snapshots)), tables)
    with pytest.raises(SpecSqlError, match="(?i)training_view.holdout_sql: " + refused):
        build_training_view(_view_spec(_LOANS, holdout_sql=sql.format(snapshots=snapshots)), tables)


@pytest.mark.parametrize("sql", ["INSTALL httpfs", "ATTACH 'x.sqlite' AS x (TYPE sqlite)",
                                 "COPY (SELECT 1) TO 'x.csv'; SELECT * FROM loans"])
def test_the_view_is_one_select(sql: str, tables: dict[str, Path], tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SpecSqlError, match="training_view.sql: ") as caught:
        build_training_view(_view_spec(sql), tables)
    assert "write a single SELECT" in caught.value.fix
    assert not (tmp_path / "x.csv").exists() and not (tmp_path / "x.sqlite").exists()


def test_too_few_rows_to_split() -> None:
    view = pd.DataFrame({"loan_id": [1], "defaulted": [0]})
    with pytest.raises(TrainingViewError, match="returns 1 rows, too few to split"):
        split_holdout(view, _view_spec("SELECT 1"), seed=0)


def test_run_view_sql_reports_sql_errors(tmp_path: Path) -> None:
    with pytest.raises(SpecSqlError, match="training_view.sql: the SQL does not run .*Binder Error.*nope") as caught:
        run_view_sql("SELECT nope FROM t", {"t": pa.table({"a": [1]})})
    assert "like training_view.sql" in caught.value.fix


_LOANS = "SELECT loan_id, amount, defaulted, application_date FROM loans"


def test_holdout_sql_is_the_holdout(tables: dict[str, Path]) -> None:
    view_spec = _view_spec(f"{_LOANS} WHERE application_date < DATE '2024-07-01'",
                           holdout_sql=f"{_LOANS} WHERE application_date >= DATE '2024-07-01'")
    view = build_training_view(view_spec, tables)
    split = split_holdout(view, view_spec, seed=1)
    assert len(split.train) and len(split.holdout)
    assert (split.train["application_date"] < pd.Timestamp("2024-07-01").date()).all()
    assert (split.holdout["application_date"] >= pd.Timestamp("2024-07-01").date()).all()
    assert list(split.train.columns) == list(split.holdout.columns) == ["loan_id", "amount", "defaulted",
                                                                        "application_date"]
    assert len(split.train) + len(split.holdout) == len(run_view_sql(_LOANS, tables))


def test_holdout_sql_must_match_columns_and_keys(tables: dict[str, Path]) -> None:
    with pytest.raises(TrainingViewError, match="holdout_sql.*same columns"):
        build_training_view(_view_spec(_LOANS, holdout_sql="SELECT loan_id, defaulted FROM loans"), tables)
    # Issue 13: an overlap is the holdout's fault, not a duplicate in training_view.sql.
    with pytest.raises(TrainingViewError, match="training_view.holdout_sql: returns 5 rows whose loan_id "
                                                "training_view.sql returns too") as caught:
        build_training_view(_view_spec(_LOANS, holdout_sql=f"{_LOANS} LIMIT 5"), tables)
    assert caught.value.field == "training_view.holdout_sql" and "disjoint" in caught.value.fix
    with pytest.raises(TrainingViewError, match="returns no rows"):
        build_training_view(_view_spec(_LOANS, holdout_sql=f"{_LOANS} WHERE false"), tables)

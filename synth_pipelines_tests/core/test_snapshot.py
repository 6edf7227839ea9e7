"""Stage 1: the Parquet snapshot of the source: complete, typed, fingerprinted, immutable, atomic."""

from __future__ import annotations

import datetime
import hashlib
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from synth_pipelines.core.demo_source import demo_tables
from synth_pipelines.core.snapshot import Snapshot, load_snapshot, take_snapshot
from synth_pipelines.core.training_view import build_training_view
from synth_pipelines.spec import DatasetSpec, load_spec

WriteSpec = Callable[[dict[str, Any], str], Path]
TABLES = ["branches", "products", "customers", "accounts", "loans"]


def _spec(data: dict[str, Any], write_spec: WriteSpec, name: str = "spec.yaml") -> DatasetSpec:
    return load_spec(write_spec(data, name)).spec


def _with_url(data: dict[str, Any], url: str) -> dict[str, Any]:
    return {**data, "source": {**data["source"], "url": url}}


def _source_counts(db: Path) -> dict[str, int]:
    with sqlite3.connect(db) as conn:
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}


def _tree_digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def demo_spec(demo_spec_data: dict[str, Any], write_spec: WriteSpec) -> DatasetSpec:
    return _spec(demo_spec_data, write_spec)


@pytest.fixture
def db_copy(demo_db: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "copy" / "demo_bank.sqlite"
    copy.parent.mkdir()
    shutil.copyfile(demo_db, copy)
    return copy


def test_snapshot_has_every_row_and_only_allowed_columns(demo_spec: DatasetSpec, demo_db: Path,
                                                         tmp_path: Path) -> None:
    snapshot = take_snapshot(demo_spec, tmp_path / "snapshots", snapshot_id="s1")
    assert Path(snapshot.path) == tmp_path / "snapshots" / "s1"
    expected = _source_counts(demo_db)
    assert expected["customers"] == 1500 and expected["branches"] == 12 and expected["products"] == 5
    assert set(snapshot.tables) == set(TABLES)
    for name in TABLES:
        table = pq.read_table(snapshot.table_path(name))
        assert table.num_rows == expected[name] == snapshot.tables[name].rows, name
        assert table.column_names == snapshot.tables[name].columns
    customers = pq.read_table(snapshot.table_path("customers"))
    for excluded in ("full_name", "email", "phone"):
        assert excluded not in customers.column_names
    assert "recovery_agent" not in pq.read_table(snapshot.table_path("loans")).column_names
    assert {"customer_id", "date_of_birth", "annual_income", "credit_score"} <= set(customers.column_names)
    # Nothing but the declared tables and the metadata file.
    assert sorted(p.name for p in Path(snapshot.path).iterdir()) == sorted(
        [f"{t}.parquet" for t in TABLES] + ["snapshot.json"])
    assert sorted(p.name for p in (tmp_path / "snapshots").iterdir()) == ["s1"]


def test_snapshot_parquet_types_and_values(demo_spec: DatasetSpec, demo_db: Path, tmp_path: Path) -> None:
    snapshot = take_snapshot(demo_spec, tmp_path / "snapshots", snapshot_id="s1")
    customers = pq.read_table(snapshot.table_path("customers"))
    schema = customers.schema
    assert schema.field("customer_id").type == pa.int64()
    assert schema.field("date_of_birth").type == pa.date32()
    assert schema.field("created_at").type == pa.timestamp("us")
    assert schema.field("annual_income").type == pa.float64()
    assert schema.field("years_employed").type == pa.float64()
    assert schema.field("credit_score").type == pa.int64()
    assert schema.field("gender").type == pa.string()
    loans = pq.read_table(snapshot.table_path("loans"))
    assert loans.schema.field("application_date").type == pa.date32()
    assert loans.schema.field("collection_date").type == pa.date32()
    assert loans.schema.field("interest_rate").type == pa.float64()
    assert loans.schema.field("defaulted").type == pa.int64()

    # Ordered by primary key, values identical to the source (NULLs included).
    frame = customers.to_pandas()
    assert frame.customer_id.tolist() == list(range(1, 1501))
    with sqlite3.connect(demo_db) as conn:
        source = pd.read_sql("SELECT * FROM customers ORDER BY customer_id", conn)
    np.testing.assert_array_equal(frame.annual_income.to_numpy(), source.annual_income.to_numpy())
    np.testing.assert_array_equal(frame.credit_score.to_numpy(), source.credit_score.to_numpy())
    assert frame.years_employed.isna().sum() == source.years_employed.isna().sum() > 0
    assert frame.employment_status.isna().sum() == source.employment_status.isna().sum() > 0
    assert [d.isoformat() for d in frame.date_of_birth] == source.date_of_birth.tolist()
    assert isinstance(frame.date_of_birth.iloc[0], datetime.date)
    loans_frame = loans.to_pandas()
    assert loans_frame.collection_date.notna().sum() == loans_frame.defaulted.sum()


def test_load_snapshot_round_trips(demo_spec: DatasetSpec, tmp_path: Path) -> None:
    snapshot = take_snapshot(demo_spec, tmp_path / "snapshots", snapshot_id="s1")
    loaded = load_snapshot(snapshot.path)
    assert isinstance(loaded, Snapshot)
    assert loaded == snapshot
    assert loaded.table_path("loans") == Path(snapshot.path) / "loans.parquet"
    assert "sqlite" in loaded.source


def test_fingerprint_is_deterministic_and_independent_of_chunking(demo_spec: DatasetSpec, tmp_path: Path) -> None:
    first = take_snapshot(demo_spec, tmp_path / "snapshots", snapshot_id="a")
    second = take_snapshot(demo_spec, tmp_path / "snapshots", snapshot_id="b", chunk_rows=97)
    assert first.snapshot_id != second.snapshot_id
    assert first.fingerprint == second.fingerprint
    assert len(first.fingerprint) == 64
    for name in TABLES:
        assert first.tables[name].fingerprint == second.tables[name].fingerprint
        assert pq.read_table(first.table_path(name)).equals(pq.read_table(second.table_path(name)))


def test_fingerprint_changes_when_one_source_value_changes(demo_spec_data: dict[str, Any], demo_spec: DatasetSpec,
                                                           db_copy: Path, write_spec: WriteSpec,
                                                           tmp_path: Path) -> None:
    original = take_snapshot(demo_spec, tmp_path / "snapshots", snapshot_id="original")
    writer = sa.create_engine(f"sqlite:///{db_copy}")
    with writer.begin() as conn:
        changed = conn.execute(sa.text("UPDATE customers SET credit_score = credit_score + 1 WHERE customer_id = 777"))
        assert changed.rowcount == 1
    writer.dispose()
    copy_spec = _spec(_with_url(demo_spec_data, f"sqlite:///{db_copy}"), write_spec, "copy.yaml")
    modified = take_snapshot(copy_spec, tmp_path / "snapshots", snapshot_id="modified")
    assert modified.fingerprint != original.fingerprint
    assert modified.tables["customers"].fingerprint != original.tables["customers"].fingerprint
    for name in ("branches", "products", "accounts", "loans"):
        assert modified.tables[name].fingerprint == original.tables[name].fingerprint


def test_fingerprint_changes_when_columns_change(demo_spec_data: dict[str, Any], demo_spec: DatasetSpec,
                                                 write_spec: WriteSpec, tmp_path: Path) -> None:
    data = {**demo_spec_data, "source": {**demo_spec_data["source"], "tables": dict(demo_spec_data["source"]["tables"])}}
    data["source"]["tables"]["customers"] = {"primary_key": "customer_id",
                                             "exclude_columns": ["full_name", "email", "phone", "gender"]}
    narrower = take_snapshot(_spec(data, write_spec, "narrow.yaml"), tmp_path / "snapshots", snapshot_id="narrow")
    full = take_snapshot(demo_spec, tmp_path / "snapshots", snapshot_id="full")
    assert "gender" not in narrower.tables["customers"].columns
    assert narrower.tables["customers"].fingerprint != full.tables["customers"].fingerprint


def test_snapshot_is_immutable(demo_spec: DatasetSpec, tmp_path: Path) -> None:
    root = tmp_path / "snapshots"
    first = take_snapshot(demo_spec, root, snapshot_id="s1")
    before = _tree_digest(Path(first.path))
    with pytest.raises(FileExistsError, match="immutable"):
        take_snapshot(demo_spec, root, snapshot_id="s1")
    assert _tree_digest(Path(first.path)) == before
    assert load_snapshot(first.path) == first
    assert sorted(p.name for p in root.iterdir()) == ["s1"]


def test_failed_snapshot_leaves_no_folder(demo_spec_data: dict[str, Any], db_copy: Path, write_spec: WriteSpec,
                                          tmp_path: Path) -> None:
    # The last declared table is missing from this copy: the first four are written, then it fails.
    writer = sa.create_engine(f"sqlite:///{db_copy}")
    with writer.begin() as conn:
        conn.execute(sa.text("DROP TABLE loans"))
    writer.dispose()
    spec = _spec(_with_url(demo_spec_data, f"sqlite:///{db_copy}"), write_spec, "broken.yaml")
    assert list(spec.source.tables)[-1] == "loans"
    root = tmp_path / "snapshots"
    with pytest.raises(sa.exc.NoSuchTableError, match="loans"):
        take_snapshot(spec, root, snapshot_id="s1")
    assert not (root / "s1").exists()
    assert list(root.iterdir()) == []
    # The same id can be used once the source is fixed.
    shutil.copyfile(Path(demo_spec_data["source"]["url"].removeprefix("sqlite:///")), db_copy)
    assert take_snapshot(spec, root, snapshot_id="s1").tables["loans"].rows > 0


def test_failed_snapshot_does_not_touch_existing_snapshots(demo_spec_data: dict[str, Any], demo_spec: DatasetSpec,
                                                           write_spec: WriteSpec, tmp_path: Path) -> None:
    root = tmp_path / "snapshots"
    good = take_snapshot(demo_spec, root, snapshot_id="good")
    before = _tree_digest(root)
    data = {**demo_spec_data, "source": {**demo_spec_data["source"], "tables": dict(demo_spec_data["source"]["tables"])}}
    data["source"]["tables"]["ghosts"] = {"primary_key": "ghost_id"}
    with pytest.raises(sa.exc.NoSuchTableError):
        take_snapshot(_spec(data, write_spec, "ghosts.yaml"), root, snapshot_id="bad")
    assert _tree_digest(root) == before
    assert sorted(p.name for p in root.iterdir()) == [good.snapshot_id]


# --- Relational sources: PostgreSQL and MariaDB ------------------------------------------------

_SQL_TYPES = {
    "date_of_birth": sa.Date(), "opened_date": sa.Date(), "application_date": sa.Date(),
    "collection_date": sa.Date(), "created_at": sa.DateTime(),
}


def _load_demo_into(url: str) -> dict[str, pd.DataFrame]:
    tables = demo_tables(n_customers=300)
    engine = sa.create_engine(url)
    try:
        for name in TABLES:
            frame = tables[name]
            dtype = {c: t for c, t in _SQL_TYPES.items() if c in frame.columns}
            dtype.update({c: sa.String(120) for c in frame.columns if frame[c].dtype == object and c not in dtype})
            frame.to_sql(name, engine, index=False, dtype=dtype)
        # A binary float column with more than 10 decimal places of precision.
        pd.DataFrame({"id": [1, 2, 3], "ratio": [0.123456789012345, 1.5e-12, -2.718281828459045]}).to_sql(
            "precise", engine, index=False)
    finally:
        engine.dispose()
    return tables


def _snapshot_server(url: str, demo_spec_data: dict[str, Any], write_spec: WriteSpec, tmp_path: Path) -> None:
    tables = _load_demo_into(url)
    data = _with_url(demo_spec_data, url)
    data["source"] = {**data["source"], "tables": {**data["source"]["tables"], "precise": {"primary_key": "id"}}}
    spec = _spec(data, write_spec, "server.yaml")
    snapshot = take_snapshot(spec, tmp_path / "snapshots", snapshot_id="server")
    assert "@" in snapshot.source
    for name in TABLES:
        assert snapshot.tables[name].rows == len(tables[name]), name

    customers = pq.read_table(snapshot.table_path("customers"))
    assert {"full_name", "email", "phone"}.isdisjoint(customers.column_names)
    assert customers.schema.field("date_of_birth").type == pa.date32()
    assert customers.schema.field("created_at").type == pa.timestamp("us")
    assert pa.types.is_floating(customers.schema.field("annual_income").type)
    assert pa.types.is_integer(customers.schema.field("credit_score").type)
    frame = customers.to_pandas()
    source = tables["customers"].sort_values("customer_id").reset_index(drop=True)
    np.testing.assert_array_equal(frame.annual_income.to_numpy(), source.annual_income.to_numpy())
    np.testing.assert_array_equal(frame.credit_score.to_numpy(), source.credit_score.to_numpy())
    assert frame.date_of_birth.tolist() == source.date_of_birth.tolist()
    assert frame.years_employed.isna().sum() == source.years_employed.isna().sum() > 0

    loans = pq.read_table(snapshot.table_path("loans"))
    assert loans.schema.field("application_date").type == pa.date32()
    assert loans.schema.field("collection_date").type == pa.date32()
    assert pa.types.is_floating(loans.schema.field("interest_rate").type)
    assert pa.types.is_floating(loans.schema.field("amount").type)
    loans_frame = loans.to_pandas()
    np.testing.assert_array_equal(loans_frame.interest_rate.to_numpy(),
                                  tables["loans"].sort_values("loan_id").interest_rate.to_numpy())
    assert loans_frame.collection_date.notna().sum() == tables["loans"].defaulted.sum()

    precise = pq.read_table(snapshot.table_path("precise")).to_pandas()
    assert precise.ratio.tolist() == [0.123456789012345, 1.5e-12, -2.718281828459045]

    # The snapshot feeds the training view exactly as a SQLite one does.
    view = build_training_view(spec.training_view, {n: snapshot.table_path(n) for n in TABLES})
    assert len(view) == len(tables["loans"])
    assert pd.api.types.is_numeric_dtype(view.age_at_application)
    assert view.age_at_application.between(18, 95).all()


def test_snapshot_from_postgresql(postgres_url: str, demo_spec_data: dict[str, Any], write_spec: WriteSpec,
                                  tmp_path: Path) -> None:
    _snapshot_server(postgres_url, demo_spec_data, write_spec, tmp_path)


def test_snapshot_from_mariadb(mariadb_url: str, demo_spec_data: dict[str, Any], write_spec: WriteSpec,
                               tmp_path: Path) -> None:
    _snapshot_server(mariadb_url, demo_spec_data, write_spec, tmp_path)


# --- The snapshot's own session is read-only, in the database itself ----------------------------

# Asked on the snapshot's own DBAPI connection: 1 when the database refuses writes on it.
_READ_ONLY_STATE = {
    "sqlite": "PRAGMA query_only",
    "postgresql": "SELECT current_setting('transaction_read_only') = 'on'",
    "mysql": "SELECT @@session.tx_read_only",  # MariaDB 10.x spells it tx_read_only (transaction_read_only: 11.1+)
}


def _read_only_states_during(snapshot: Callable[[], Any]) -> list[int]:
    """Runs `snapshot` and, before each statement any engine executes meanwhile, asks the statement's
    own connection whether it is read-only. A plain writable session in take_snapshot answers 0."""
    states: list[int] = []

    def probe(conn, _cursor, statement, _parameters, _context, _executemany):  # noqa: ANN001
        backend = conn.dialect.name
        cursor = conn.connection.dbapi_connection.cursor()
        try:
            cursor.execute(_READ_ONLY_STATE["mysql" if backend == "mariadb" else backend])
            states.append(int(cursor.fetchone()[0]))
        finally:
            cursor.close()

    sa.event.listen(sa.engine.Engine, "before_cursor_execute", probe)
    try:
        snapshot()
    finally:
        sa.event.remove(sa.engine.Engine, "before_cursor_execute", probe)
    return states


def _assert_snapshot_session_read_only(url: str, data: dict[str, Any], write_spec: WriteSpec, tmp_path: Path) -> None:
    spec = _spec(_with_url(data, url), write_spec, "read_only.yaml")
    states = _read_only_states_during(lambda: take_snapshot(spec, tmp_path / "snapshots", snapshot_id="ro"))
    # Reflection and one streamed SELECT per table at least, every one on a read-only session.
    assert len(states) >= len(spec.source.tables)
    assert set(states) == {1}, f"take_snapshot ran {states.count(0)} of {len(states)} statements on a writable session"


def test_snapshot_session_is_read_only_sqlite(demo_db: Path, demo_spec_data: dict[str, Any], write_spec: WriteSpec,
                                              tmp_path: Path) -> None:
    _assert_snapshot_session_read_only(f"sqlite:///{demo_db}", demo_spec_data, write_spec, tmp_path)


def test_snapshot_session_is_read_only_postgresql(postgres_url: str, demo_spec_data: dict[str, Any],
                                                  write_spec: WriteSpec, tmp_path: Path) -> None:
    _load_demo_into(postgres_url)
    _assert_snapshot_session_read_only(postgres_url, demo_spec_data, write_spec, tmp_path)


def test_snapshot_session_is_read_only_mariadb(mariadb_url: str, demo_spec_data: dict[str, Any],
                                               write_spec: WriteSpec, tmp_path: Path) -> None:
    _load_demo_into(mariadb_url)
    _assert_snapshot_session_read_only(mariadb_url, demo_spec_data, write_spec, tmp_path)

"""The source is only ever read: the database itself must refuse writes through our connections."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pyarrow as pa
import pytest
import sqlalchemy as sa

from synth_pipelines.core.source import arrow_type, read_only_connection, read_only_engine, table_names


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def sqlite_copy(demo_db: Path, tmp_path: Path) -> Path:
    """A private copy of the demo source, so a failing test cannot damage the session's one."""
    copy = tmp_path / "source" / "copy.sqlite"
    copy.parent.mkdir()
    shutil.copyfile(demo_db, copy)
    return copy


@pytest.mark.parametrize("statement", [
    "INSERT INTO branches (branch_id, branch_name, region, opened_year) VALUES (999, 'x', 'North', 2000)",
    "UPDATE customers SET annual_income = 0",
    "DELETE FROM loans",
    "CREATE TABLE intruder (id INTEGER)",
    "DROP TABLE products",
])
def test_sqlite_read_only_engine_refuses_writes(sqlite_copy: Path, statement: str) -> None:
    before = _sha256(sqlite_copy)
    engine = read_only_engine(f"sqlite:///{sqlite_copy}")
    try:
        with engine.connect() as conn:
            with pytest.raises(sa.exc.OperationalError, match="readonly|read-only|query_only|read only"):
                conn.execute(sa.text(statement))
            conn.rollback()
            # Reading still works on the same connection.
            assert conn.execute(sa.text("SELECT count(*) FROM branches")).scalar() == 12
        # A second checkout from the pool is just as read-only.
        with engine.connect() as conn:
            with pytest.raises(sa.exc.OperationalError):
                conn.execute(sa.text(statement))
    finally:
        engine.dispose()
    assert _sha256(sqlite_copy) == before
    assert sorted(p.name for p in sqlite_copy.parent.iterdir()) == ["copy.sqlite"]  # no journal left


def test_sqlite_read_only_engine_does_not_create_a_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.sqlite"
    with pytest.raises(sa.exc.OperationalError):
        with read_only_connection(f"sqlite:///{missing}") as conn:
            conn.execute(sa.text("SELECT 1"))
    assert not missing.exists()


def test_sqlite_read_only_connection_reads(sqlite_copy: Path) -> None:
    with read_only_connection(f"sqlite:///{sqlite_copy}") as conn:
        assert set(table_names(conn)) == {"branches", "products", "customers", "accounts", "loans"}
        assert conn.execute(sa.text("SELECT count(*) FROM customers")).scalar() == 1500


def _assert_server_refuses_writes(url: str) -> None:
    writer = sa.create_engine(url)
    try:
        with writer.begin() as conn:
            conn.execute(sa.text("CREATE TABLE accounts_ro (id INTEGER PRIMARY KEY, balance INTEGER NOT NULL)"))
            conn.execute(sa.text("INSERT INTO accounts_ro (id, balance) VALUES (1, 10), (2, 20), (3, 30)"))
    finally:
        writer.dispose()

    writes = [
        "INSERT INTO accounts_ro (id, balance) VALUES (4, 40)",
        "UPDATE accounts_ro SET balance = 0",
        "DELETE FROM accounts_ro",
    ]
    # The very first statement of a new connection, and later transactions on the same one.
    with read_only_connection(url) as conn:
        for statement in writes:
            with pytest.raises(sa.exc.DBAPIError, match="(?i)read.only"):
                conn.execute(sa.text(statement))
            conn.rollback()
        for statement in ["CREATE TABLE intruder (id INTEGER)", "DROP TABLE accounts_ro"]:
            with pytest.raises(sa.exc.DBAPIError, match="(?i)read.only"):
                conn.execute(sa.text(statement))
            conn.rollback()
        assert conn.execute(sa.text("SELECT count(*) FROM accounts_ro")).scalar() == 3

    # Connections handed out again by the pool stay read-only too (commit, not rollback, this time).
    engine = read_only_engine(url)
    try:
        for _ in range(3):
            with engine.connect() as conn:
                with pytest.raises(sa.exc.DBAPIError, match="(?i)read.only"):
                    conn.execute(sa.text(writes[0]))
                conn.rollback()
                conn.commit()
    finally:
        engine.dispose()

    checker = sa.create_engine(url)
    try:
        with checker.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM accounts_ro")).scalar() == 3
            assert conn.execute(sa.text("SELECT sum(balance) FROM accounts_ro")).scalar() == 60
            assert "intruder" not in sa.inspect(conn).get_table_names()
    finally:
        checker.dispose()


def test_postgresql_read_only_connection_refuses_writes(postgres_url: str) -> None:
    _assert_server_refuses_writes(postgres_url)


def test_mariadb_read_only_connection_refuses_writes(mariadb_url: str) -> None:
    _assert_server_refuses_writes(mariadb_url)


@pytest.mark.parametrize(("sql_type", "expected"), [
    (sa.Integer(), pa.int64()),
    (sa.BigInteger(), pa.int64()),
    (sa.SmallInteger(), pa.int64()),
    (sa.Float(), pa.float64()),
    (sa.Numeric(12, 2), pa.decimal128(12, 2)),  # issue 13: exact, with its scale (was a float)
    (sa.Numeric(), pa.float64()),  # no declared precision and scale
    (sa.Numeric(12, 2, asdecimal=False), pa.float64()),
    (sa.Date(), pa.date32()),
    (sa.DateTime(), pa.timestamp("us")),
    (sa.DateTime(timezone=True), pa.timestamp("us", tz="UTC")),  # issue 13: the zone was dropped
    (sa.String(20), pa.string()),
    (sa.Text(), pa.string()),
    (sa.Boolean(), pa.bool_()),
    (sa.types.NullType(), pa.string()),  # no Python type: travels as text
])
def test_arrow_type(sql_type: sa.types.TypeEngine, expected: pa.DataType) -> None:
    assert arrow_type(sql_type) == expected


@pytest.mark.parametrize("url", ["mssql+pyodbc://user@host/db", "oracle://user@host/db"])
def test_unsupported_dialect_is_refused_clearly(url: str) -> None:
    with pytest.raises(ValueError, match="has no read-only mode") as info:
        read_only_engine(url)
    message = str(info.value)
    for supported in ("sqlite", "postgresql", "mysql", "mariadb"):
        assert supported in message

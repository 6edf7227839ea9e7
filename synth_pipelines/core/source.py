"""Read-only access to the source database and the one mapping from SQL types to Arrow types.

The source is production: every connection is put in read-only mode by the database itself
(not just by our good intentions), so a bug here cannot write to it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine, make_url

if TYPE_CHECKING:  # imported in arrow_type: the spec's URL check reads this module on every CLI command
    import pyarrow as pa

# Executed on every new DBAPI connection, per dialect.
_READ_ONLY_STATEMENTS = {
    "sqlite": ["PRAGMA query_only = ON"],
    "postgresql": ["SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY"],
    "mysql": ["SET SESSION TRANSACTION READ ONLY"],
    "mariadb": ["SET SESSION TRANSACTION READ ONLY"],
}


def read_only_engine(url: str, connect_timeout: int | None = None) -> Engine:
    """An engine whose connections the database itself refuses to write through. `connect_timeout`
    (seconds; PostgreSQL and MySQL/MariaDB drivers): give up connecting after it."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend not in _READ_ONLY_STATEMENTS:
        raise ValueError(
            f"source dialect '{backend}' has no read-only mode configured here; "
            f"supported: {', '.join(sorted(_READ_ONLY_STATEMENTS))}"
        )
    if backend == "sqlite" and parsed.database and parsed.database != ":memory:":
        # Open the file read-only as well: no journal, no accidental creation of a missing file.
        parsed = parsed.set(database=f"file:{parsed.database}?mode=ro", query={**parsed.query, "uri": "true"})
    connect_args = {"connect_timeout": connect_timeout} if connect_timeout and backend != "sqlite" else {}
    engine = sa.create_engine(parsed, pool_pre_ping=True, connect_args=connect_args)

    @event.listens_for(engine, "connect")
    def _set_read_only(dbapi_connection, _record):  # noqa: ANN001
        cursor = dbapi_connection.cursor()
        for statement in _READ_ONLY_STATEMENTS[backend]:
            cursor.execute(statement)
        cursor.close()
        # Commit the setting itself: a DBAPI in non-autocommit mode (psycopg2) has opened a
        # transaction for it, which would otherwise stay writable (PostgreSQL's SESSION
        # CHARACTERISTICS only apply to later transactions) and whose rollback would undo the SET.
        dbapi_connection.commit()

    return engine


@contextmanager
def read_only_connection(url: str, connect_timeout: int | None = None) -> Iterator[Connection]:
    engine = read_only_engine(url, connect_timeout)
    try:
        with engine.connect() as conn:
            yield conn
            conn.rollback()
    finally:
        engine.dispose()


def arrow_type(sql_type: sa.types.TypeEngine) -> pa.DataType:
    """Arrow type for a reflected SQL column type; unknown types travel as strings.

    Nothing is lost silently: DECIMAL(p, s) stays decimal128(p, s), a zoned timestamp stays zoned (UTC)."""
    import pyarrow as pa

    try:
        python_type = sql_type.python_type
    except NotImplementedError:
        return pa.string()
    import datetime
    import decimal

    if isinstance(sql_type, sa.Numeric) and not isinstance(sql_type, sa.Float) and sql_type.asdecimal \
            and sql_type.precision and 0 < sql_type.precision <= 38 and sql_type.scale is not None:
        return pa.decimal128(sql_type.precision, sql_type.scale)  # exact, with its scale, to the release
    if python_type is datetime.datetime and getattr(sql_type, "timezone", False):
        return pa.timestamp("us", tz="UTC")  # zoned timestamps keep their instant (and stay zoned)
    return {
        bool: pa.bool_(),
        int: pa.int64(),
        float: pa.float64(),
        decimal.Decimal: pa.float64(),  # NUMERIC without a declared precision and scale
        datetime.date: pa.date32(),
        datetime.datetime: pa.timestamp("us"),
        str: pa.string(),
    }.get(python_type, pa.string())


def reflect_table(conn: Connection, name: str) -> sa.Table:
    return sa.Table(name, sa.MetaData(), autoload_with=conn)


def table_names(conn: Connection) -> list[str]:
    return sa.inspect(conn).get_table_names()


def source_state(url: str, tables: dict[str, str]) -> dict[str, dict[str, object]]:
    """A cheap fingerprint of the source to notice change: per table its columns with types, its
    row count and its largest primary key. `tables` maps table name to primary-key column."""
    state: dict[str, dict[str, object]] = {}
    with read_only_connection(url) as conn:
        existing = set(table_names(conn))
        for name, primary_key in sorted(tables.items()):
            if name not in existing:
                state[name] = {"missing": True}
                continue
            table = reflect_table(conn, name)
            counts = sa.select(sa.func.count(), sa.func.max(table.c[primary_key])) if primary_key in table.c \
                else sa.select(sa.func.count(), sa.null())
            rows, max_key = conn.execute(counts.select_from(table)).one()
            state[name] = {"columns": {c.name: str(c.type) for c in table.columns}, "rows": rows,
                           "max_key": None if max_key is None else str(max_key)}
    return state

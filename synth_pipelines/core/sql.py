"""Where a spec's SQL runs: an in-memory DuckDB that sees the tables it is given and nothing else.

Every place a spec's SQL or expression runs (the training view, `holdout_sql`, calculated columns,
in `validate`, `run`, preview and the Dagster assets) goes through `sandboxed_duckdb`:

- no file system or network access (`enable_external_access=false`): no `read_csv('/etc/passwd')`,
  no `read_parquet('<home>/snapshots/...')` of another dataset, no `COPY ... TO`, no `ATTACH`;
- no extension install or load, automatic or explicit, and no community extensions;
- no Python replacement scans (a query cannot name a variable of the calling code);
- the configuration locked, so a query cannot `SET` any of that back;
- the tables registered as in-memory Arrow objects that Python (pyarrow) read, so DuckDB itself
  never opens a file.

`run_query` also accepts exactly one read-only statement (a SELECT, WITH ... SELECT, FROM, VALUES)
as DuckDB's own parser classifies it; COPY, ATTACH, INSTALL, LOAD, PRAGMA, EXPORT, SET, CALL,
CREATE, ... are refused with the reason before anything runs.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds

from synth_pipelines.spec import FieldError

# Applied when the connection is created; `lock_configuration` is set last, so nothing can undo them.
SANDBOX_CONFIG = {
    "enable_external_access": False,
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "allow_community_extensions": False,
    "allow_unsigned_extensions": False,
    "python_enable_replacements": False,
}

Registrable = pa.Table | ds.Dataset | str | Path


class SpecSqlError(FieldError):
    """A spec's SQL that is refused before it runs; `field` is the spec field to correct."""


def quote_literal(value: str | Path) -> str:
    """A SQL string literal (DuckDB cannot bind parameters inside CREATE VIEW or COPY)."""
    return "'" + str(value).replace("'", "''") + "'"


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@contextmanager
def sandboxed_duckdb(tables: Mapping[str, Registrable] | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory DuckDB with `tables` registered by name (Parquet paths are opened by pyarrow,
    not by DuckDB) and no way out: see the module docstring."""
    with duckdb.connect(":memory:", config=dict(SANDBOX_CONFIG)) as con:
        # Zoned timestamps come back in UTC whatever the machine's zone, so a view is the same everywhere.
        con.execute("SET TimeZone = 'UTC'")
        con.execute("SET lock_configuration = true")
        for name, table in (tables or {}).items():
            con.register(name, ds.dataset(str(table), format="parquet") if isinstance(table, (str, Path)) else table)
        yield con


_READ_ONLY = {duckdb.StatementType.SELECT}


def single_select(sql: str, field: str = "the SQL") -> str:
    """The one read-only statement in `sql`, or SpecSqlError naming what is refused."""
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise SpecSqlError(field, f"the SQL does not run: {str(exc).splitlines()[0]}",
                           "correct the query; it runs in DuckDB over the tables named in source.tables") from None
    if len(statements) != 1:
        raise SpecSqlError(field, f"holds {len(statements)} statements, but exactly one SELECT is allowed",
                           "write a single SELECT (or WITH ... SELECT) without ';'-separated statements")
    statement = statements[0]
    if statement.type not in _READ_ONLY:
        kind = statement.type.name
        raise SpecSqlError(field, f"a {kind} statement is not allowed: a spec's SQL is one query over the snapshot "
                           "tables, with no file, network, extension or settings access",
                           "write a single SELECT (or WITH ... SELECT) over the tables named in source.tables")
    return statement.query.strip().rstrip(";")


def run_query(sql: str, tables: Mapping[str, Registrable], field: str = "the SQL") -> pa.Table:
    """Run one spec SELECT in the sandbox over `tables` and return its rows."""
    query = single_select(sql, field)
    with sandboxed_duckdb(tables) as con:
        try:
            return con.sql(query).to_arrow_table()
        except duckdb.Error as exc:
            raise SpecSqlError(field, f"the SQL does not run on the snapshot tables: {str(exc).splitlines()[0]}",
                               "fix the query; it runs in DuckDB over the snapshot tables, named as in source.tables, "
                               "like training_view.sql") from None

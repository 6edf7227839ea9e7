"""The sandbox every spec's SQL runs in: the given tables and nothing else (issue 13's escapes)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from synth_pipelines.core.sql import SpecSqlError, run_query, sandboxed_duckdb, single_select

TABLES = {"loans": pa.table({"loan_id": [1, 2, 3], "amount": [10.0, 20.0, 30.0]})}


def test_a_select_over_the_registered_tables_runs(tmp_path: Path) -> None:
    path = tmp_path / "accounts.parquet"
    pq.write_table(pa.table({"loan_id": [1, 3], "branch": ["n", "s"]}), path)
    result = run_query("WITH big AS (SELECT * FROM loans WHERE amount > 15) "
                       "SELECT b.loan_id, a.branch FROM big b LEFT JOIN accounts a USING (loan_id) ORDER BY 1;",
                       {**TABLES, "accounts": path}, "training_view.sql")
    assert result.to_pydict() == {"loan_id": [2, 3], "branch": [None, "s"]}


@pytest.mark.parametrize("query", [
    "SELECT (SELECT string_agg(column0, '|') FROM read_csv('/etc/passwd', header=false, sep='\t')) AS leak, * FROM loans",
    "SELECT * FROM read_text('/etc/passwd')",
    "SELECT * FROM glob('/etc/*')",
    "SELECT * FROM read_parquet('{home}/snapshots/*/*/*.parquet')",
    "SELECT * FROM '{home}/snapshots/other/s1/customers.parquet'",
    "SELECT * FROM read_json('http://127.0.0.1:9/x.json')",
    "SELECT * FROM sqlite_scan('{home}/source.sqlite', 'loans')",
    "SELECT * FROM duckdb_extensions()",
    "SELECT * FROM duckdb_secrets()",
    "SELECT * FROM query('COPY (SELECT 1) TO ''{home}/copied.csv''')",  # a statement smuggled in a string
    "SELECT * FROM query('ATTACH ''{home}/source.sqlite'' AS src')",
])
def test_no_file_network_or_extension_access(query: str, tmp_path: Path) -> None:
    other = tmp_path / "snapshots" / "other" / "s1"
    other.mkdir(parents=True)
    pq.write_table(pa.table({"secret": ["another dataset's row"]}), other / "customers.parquet")
    with sqlite3.connect(tmp_path / "source.sqlite") as conn:
        conn.execute("CREATE TABLE loans (loan_id INTEGER)")
    with pytest.raises(SpecSqlError, match="training_view.sql: the SQL does not run on the snapshot tables: "):
        run_query(query.format(home=tmp_path), TABLES, "training_view.sql")
    assert not (tmp_path / "copied.csv").exists()


@pytest.mark.parametrize(("query", "kind"), [
    ("COPY (SELECT 'x') TO '{target}' (FORMAT csv)", "COPY"),
    ("COPY loans FROM '/etc/passwd'", "COPY"),
    ("EXPORT DATABASE '{folder}'", "EXPORT"),
    ("ATTACH '{target}' AS src (TYPE sqlite)", "ATTACH"),
    ("INSTALL httpfs", "LOAD"),
    ("LOAD httpfs", "LOAD"),
    ("PRAGMA enable_profiling", "PRAGMA"),
    ("SET enable_external_access = true", "SET"),
    ("CALL pragma_version()", "CALL"),
    ("CREATE TABLE copy AS SELECT * FROM loans", "CREATE"),
    ("EXPLAIN ANALYZE SELECT 1", "EXPLAIN"),
])
def test_only_a_select_is_accepted(query: str, kind: str, tmp_path: Path) -> None:
    target = tmp_path / "source.sqlite"
    with sqlite3.connect(target) as conn:
        conn.execute("CREATE TABLE loans (loan_id INTEGER)")
    before = target.read_bytes()
    with pytest.raises(SpecSqlError, match=f"training_view.sql: a {kind} statement is not allowed") as caught:
        run_query(query.format(target=target, folder=tmp_path / "export"), TABLES, "training_view.sql")
    assert "write a single SELECT" in caught.value.fix
    assert target.read_bytes() == before
    assert not (tmp_path / "export").exists()


def test_one_statement_only(tmp_path: Path) -> None:
    target = tmp_path / "source.sqlite"
    target.write_bytes(b"keep me")
    smuggled = f"COPY (SELECT 'x') TO '{target}' (FORMAT csv); SELECT * FROM loans"
    with pytest.raises(SpecSqlError, match="holds 2 statements, but exactly one SELECT is allowed"):
        run_query(smuggled, TABLES, "training_view.sql")
    with pytest.raises(SpecSqlError, match="holds 2 statements"):
        run_query("SELECT * FROM loans; SELECT 1", TABLES, "training_view.sql")
    assert target.read_bytes() == b"keep me"


def test_the_configuration_cannot_be_unlocked() -> None:
    with sandboxed_duckdb(TABLES) as con:
        for setting in ("enable_external_access = true", "autoinstall_known_extensions = true",
                        "allow_community_extensions = true", "lock_configuration = false"):
            with pytest.raises(duckdb.Error, match="locked"):
                con.execute(f"SET {setting}")
        settings = dict(con.execute("SELECT name, value FROM duckdb_settings()").fetchall())
    assert settings["enable_external_access"] == "false"
    assert settings["autoload_known_extensions"] == "false"
    assert settings["lock_configuration"] == "true"


def test_python_variables_are_not_visible() -> None:
    secret_rows = pa.table({"password": ["hunter2"]})  # noqa: F841 - a replacement scan would find it
    with pytest.raises(SpecSqlError, match="does not run on the snapshot tables: Catalog Error.*secret_rows"):
        run_query("SELECT * FROM secret_rows", TABLES)


def test_syntax_errors_name_the_field() -> None:
    with pytest.raises(SpecSqlError, match="training_view.holdout_sql: the SQL does not run: Parser Error"):
        single_select("SELEC 1", "training_view.holdout_sql")

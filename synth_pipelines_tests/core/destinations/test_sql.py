"""SQL releases on the real local PostgreSQL and MariaDB: same values and deliberate types read back,
immutable, atomic (a failure midway leaves no table and the view where it was), never into the source."""

from __future__ import annotations

import json
import threading
import time
import uuid
from types import SimpleNamespace
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from synth_pipelines.core.destinations import DestinationError, IsolationError, ReleaseExistsError
from synth_pipelines.core.destinations.sql import publish_sql, release_table_name
from synth_pipelines.spec import SpecError, load_spec

DATASET, RELEASE = "demo_loans", "features_v1"
SOURCE = "sqlite:////srv/source/bank.sqlite"  # a source that is no destination of these tests

# Column types the release table must get (information_schema.columns.data_type).
EXPECTED_TYPES = {
    "postgresql": {"loan_id": "bigint", "product_type": "text", "age_at_application": "bigint",
                   "credit_score": "integer", "annual_income": "double precision", "interest_rate": "double precision",
                   "purpose": "text", "defaulted": "boolean", "application_date": "date",
                   "scored_at": "timestamp with time zone", "applicant_email": "text"},
    "mysql": {"loan_id": "bigint", "product_type": "text", "age_at_application": "bigint", "credit_score": "int",
              "annual_income": "double", "interest_rate": "double", "purpose": "text", "defaulted": "tinyint",
              "application_date": "date", "scored_at": "datetime", "applicant_email": "text"},
}


@pytest.fixture(params=["postgresql", "mariadb-load-data", "mariadb-insert"])
def destination(request: pytest.FixtureRequest) -> dict[str, Any]:
    """A fresh destination database, with the MariaDB bulk loader to use."""
    if request.param == "postgresql":
        return {"url": request.getfixturevalue("postgres_url"), "backend": "postgresql", "mysql_load": "auto"}
    method = "local_infile" if request.param == "mariadb-load-data" else "insert"
    return {"url": request.getfixturevalue("mariadb_url"), "backend": "mysql", "mysql_load": method}


@pytest.fixture
def engine(destination: dict[str, Any]) -> Iterator[sa.Engine]:
    engine = sa.create_engine(destination["url"], poolclass=sa.pool.NullPool)
    yield engine
    engine.dispose()


def publish(destination: dict[str, Any], features: Path, qa_files: list[Path], snapshot_id: str = "2026-11-24",
            **kwargs: Any):
    options = {"url": destination["url"], "schema": None, "source_url": SOURCE,
               "mysql_load": destination["mysql_load"], **kwargs}
    return publish_sql(features_path=features, attachments=qa_files,
                       manifest={"dataset": DATASET, "created_at": "2026-11-24T08:18:00+00:00"}, dataset=DATASET,
                       release_name=RELEASE, snapshot_id=snapshot_id,
                       rows=pq.ParquetFile(features).metadata.num_rows, **options)


def read(engine: sa.Engine, relation: str) -> pd.DataFrame:
    return pd.read_sql(f"SELECT * FROM {relation} ORDER BY loan_id", engine)


def tables(engine: sa.Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names())


def registry(engine: sa.Engine) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.exec_driver_sql(
            "SELECT release_table, dataset, release_name, version, snapshot_id, row_count FROM synth_releases "
            "ORDER BY release_table")]


def assert_same_rows(back: pd.DataFrame, features: Path) -> None:
    """Every value as in the Parquet: numbers exactly, strings with '' apart from NULL, dates, instants."""
    expected = pq.read_table(features).to_pandas()
    assert list(back.columns) == list(expected.columns) and len(back) == len(expected)
    for column in expected.columns:
        want, got = expected[column], back[column]
        if column == "scored_at":  # MySQL stores aware timestamps as UTC, PostgreSQL returns them aware
            got = pd.to_datetime(got, utc=True)
        elif column == "defaulted":  # MySQL's BOOLEAN is TINYINT(1)
            got = got.map(lambda v: None if pd.isna(v) else bool(v))
            want = want.map(lambda v: None if pd.isna(v) else bool(v))
        elif column == "product_type":
            want = want.astype(object)
        assert got.isna().tolist() == want.isna().tolist(), column
        assert got[want.notna()].tolist() == want[want.notna()].tolist(), column


def test_publish_reads_back_the_same_values_with_deliberate_types(destination, engine, make_features,
                                                                   qa_files) -> None:
    features = make_features(rows=3000)
    release = publish(destination, features, qa_files)
    table = release_table_name(RELEASE, "2026-11-24")
    assert table == "features_v1_2026_11_24" and release.location.endswith(f"#{table}")
    assert release.rows == 3000 and "@127.0.0.1" in release.location

    assert_same_rows(read(engine, table), features)
    assert_same_rows(read(engine, RELEASE), features)  # the view
    with engine.connect() as conn:
        types = dict(conn.exec_driver_sql(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = %(t)s "
            "AND table_schema = " + ("current_schema()" if destination["backend"] == "postgresql" else "database()"),
            {"t": table}).all())
        manifest, created = conn.exec_driver_sql("SELECT manifest, created_at FROM synth_releases").one()
        files = dict(conn.exec_driver_sql("SELECT name, content FROM synth_release_files").all())
    assert {k.lower(): v.lower() for k, v in types.items()} == EXPECTED_TYPES[destination["backend"]]
    assert registry(engine) == [(table, DATASET, RELEASE, 1, "2026-11-24", 3000)]
    manifest = json.loads(manifest) if isinstance(manifest, str) else manifest
    assert manifest["release"] == f"{RELEASE}/snapshot=2026-11-24"
    assert manifest["files"]["data/part-00000.parquet"]["rows"] == 3000
    assert manifest["destination"]["table"] == table and manifest["destination"]["view"] == RELEASE
    assert str(created).startswith("2026-11-24 08:18:00")
    assert {name: bytes(content) for name, content in files.items()} == {p.name: p.read_bytes() for p in qa_files}
    assert not [t for t in tables(engine) if t.startswith("synth_staging_")]


def test_a_published_release_is_never_replaced(destination, engine, make_features, qa_files) -> None:
    publish(destination, make_features("first", rows=200), qa_files)
    before, registered = read(engine, RELEASE), registry(engine)
    with pytest.raises(ReleaseExistsError, match="immutable"):
        publish(destination, make_features("second", rows=20, seed=9), qa_files)
    pd.testing.assert_frame_equal(read(engine, RELEASE), before)
    assert registry(engine) == registered
    assert tables(engine) == {"features_v1_2026_11_24", "synth_releases", "synth_release_files"}


def test_the_view_follows_the_newest_snapshot_not_a_backfill(destination, engine, make_features, qa_files) -> None:
    newer, older = make_features("newer", rows=30, seed=1), make_features("older", rows=40, seed=2)
    publish(destination, newer, qa_files, "2026-11-02")
    publish(destination, older, qa_files, "2026-11-01")  # a backfill of an earlier snapshot
    assert len(read(engine, RELEASE)) == 30
    assert [r[4] for r in registry(engine)] == ["2026-11-01", "2026-11-02"]


def _poison(destination: dict[str, Any], at: int) -> Callable[[pa.Table], pa.Table]:
    """One value the database refuses, far into the load (after several batches): a NUL character in
    text for PostgreSQL, a date past 9999-12-31 for MariaDB."""

    def change(table: pa.Table) -> pa.Table:
        if destination["backend"] == "postgresql":
            column, values = "purpose", table["purpose"].to_pylist()
            values[at] = "nul\x00byte"
            array = pa.array(values, pa.string())
        else:
            column, values = "application_date", table["application_date"].cast(pa.int32()).to_pylist()
            values[at] = (date(9999, 12, 31) - date(1970, 1, 1)).days + 1
            array = pa.array(values, pa.int32()).cast(pa.date32())
        return table.set_column(table.schema.get_field_index(column), column, array)

    return change


def test_failure_midway_publishes_nothing_and_keeps_the_view(destination, engine, make_features, qa_files) -> None:
    first = make_features("first", rows=100)
    publish(destination, first, qa_files, "2026-11-01")
    bad = make_features("bad", rows=20_000, seed=5, change=_poison(destination, at=17_500))
    with pytest.raises(DestinationError) as excinfo:
        publish(destination, bad, qa_files, "2026-11-02", batch_rows=5_000)
    message = str(excinfo.value)
    assert "features_v1_2026_11_02" in message and "nothing was published" in message
    assert sa.engine.make_url(destination["url"]).host in message
    assert tables(engine) == {"features_v1_2026_11_01", "synth_releases", "synth_release_files"}
    assert [r[0] for r in registry(engine)] == ["features_v1_2026_11_01"]
    assert_same_rows(read(engine, RELEASE), first)

    good = make_features("good", rows=20_000, seed=5)  # the retry, with the data fixed
    publish(destination, good, qa_files, "2026-11-02", batch_rows=5_000)
    assert_same_rows(read(engine, RELEASE), good)


def _kill_the_load_after_its_first_batch(monkeypatch: pytest.MonkeyPatch, destination: dict[str, Any],
                                         features: Path) -> list[str]:
    """When the publish asks for the second batch of `features`, its load is under way (PostgreSQL: the
    COPY is running, waiting for that batch; MariaDB: the first batch is in the staging table): kill the
    loading session from another connection, as a crash of the server's side would, then let the publish
    go on. An event of the publish itself, so no watcher races the load however loaded the machine is.
    Returns the killed sessions' ids."""
    from synth_pipelines.core.destinations import sql as sql_publish

    killed: list[str] = []
    pg = destination["backend"] == "postgresql"
    find = ("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "AND state = 'active' AND query LIKE 'COPY %%synth_staging_%%'" if pg else
            # Between two batches the loading session is idle; no other session uses this database.
            "SELECT id FROM information_schema.processlist WHERE db = database() AND id <> connection_id()")

    def kill_the_load() -> None:
        admin = sa.create_engine(destination["url"], poolclass=sa.pool.NullPool, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                for session in conn.exec_driver_sql(find).scalars().all():
                    conn.exec_driver_sql(f"SELECT pg_terminate_backend({session})" if pg else f"KILL {session}")
                    killed.append(str(session))
        finally:
            admin.dispose()

    class ParquetFile(pq.ParquetFile):
        """pyarrow's ParquetFile, but the load of `features` is interrupted before its second batch."""

        def __init__(self, source: Any, *args: Any, **kwargs: Any) -> None:
            super().__init__(source, *args, **kwargs)
            self._features = Path(source) == features

        def iter_batches(self, *args: Any, **kwargs: Any) -> Iterator[pa.RecordBatch]:
            loading = self._features and kwargs.get("columns") is None  # the load reads every column
            for index, batch in enumerate(super().iter_batches(*args, **kwargs)):
                if loading and index == 1 and not killed:
                    kill_the_load()
                yield batch

    monkeypatch.setattr(sql_publish, "pq", SimpleNamespace(**{**vars(pq), "ParquetFile": ParquetFile}))
    return killed


def test_connection_lost_midway_publishes_nothing_and_a_retry_succeeds(destination, engine, make_features,
                                                                        qa_files, monkeypatch) -> None:
    first = make_features("first", rows=100)
    publish(destination, first, qa_files, "2026-11-01")
    second = make_features("second", rows=150_000, seed=4)
    with monkeypatch.context() as patch:
        killed = _kill_the_load_after_its_first_batch(patch, destination, second)
        with pytest.raises(DestinationError) as excinfo:
            publish(destination, second, qa_files, "2026-11-02", batch_rows=20_000)
    assert killed, "no loading session was found to kill"
    assert "nothing was published" in str(excinfo.value)
    assert "features_v1_2026_11_02" not in tables(engine)
    assert_same_rows(read(engine, RELEASE), first)
    if destination["backend"] == "mysql":  # DDL is no transaction there: the dead load's staging table stays...
        assert [t for t in tables(engine) if t.startswith("synth_staging_")]

    publish(destination, second, qa_files, "2026-11-02", batch_rows=50_000)  # the destination is back
    assert len(read(engine, RELEASE)) == 150_000
    assert not [t for t in tables(engine) if t.startswith("synth_staging_")]  # ...until the next publish


def test_readers_see_the_old_release_until_the_new_one_is_complete(destination, engine, make_features,
                                                                   qa_files) -> None:
    publish(destination, make_features("first", rows=100), qa_files, "2026-11-01")
    second = make_features("second", rows=100_000, seed=4)
    seen: list[int] = []
    polling, done = threading.Event(), threading.Event()

    def poll() -> None:
        while not done.is_set():
            with engine.connect() as conn:
                seen.append(conn.exec_driver_sql(f"SELECT count(*) FROM {RELEASE}").scalar())
            polling.set()
            time.sleep(0.02)

    reader = threading.Thread(target=poll)
    reader.start()
    try:
        assert polling.wait(timeout=600), "the reader never read"  # reading before the publish starts
        publish(destination, second, qa_files, "2026-11-02", batch_rows=20_000)
    finally:
        done.set()
        reader.join()
    assert seen[0] == 100 and set(seen) <= {100, 100_000}  # never a partial count
    assert len(read(engine, RELEASE)) == 100_000


def test_unreachable_destination_names_it_without_the_password(destination, make_features, qa_files) -> None:
    url = sa.engine.make_url(destination["url"]).set(port=1, password="pw-that-must-not-show")
    with pytest.raises(DestinationError) as excinfo:
        publish(destination | {"url": url.render_as_string(hide_password=False)}, make_features(rows=5), qa_files)
    message = str(excinfo.value)
    assert "127.0.0.1:1/" in message and "***" in message and "pw-that-must-not-show" not in message
    assert "refused" in message.lower() or "connect" in message.lower()


@pytest.fixture
def reader_url(destination: dict[str, Any]) -> Iterator[str]:
    """A login on the destination that may read but not create tables."""
    admin = sa.create_engine(destination["url"], poolclass=sa.pool.NullPool, isolation_level="AUTOCOMMIT")
    name = f"synth_ro_{uuid.uuid4().hex[:8]}"
    url = sa.engine.make_url(destination["url"]).set(username=name, password="ro-password-must-not-show")
    database = url.database
    with admin.connect() as conn:
        if destination["backend"] == "postgresql":  # PostgreSQL 15+: only the owner creates in public
            conn.exec_driver_sql(f"CREATE ROLE {name} LOGIN")
        else:
            conn.exec_driver_sql(f"CREATE USER '{name}'@'%%' IDENTIFIED BY 'ro-password-must-not-show'")
            conn.exec_driver_sql(f"GRANT SELECT ON {database}.* TO '{name}'@'%%'")
    yield url.render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP ROLE {name}" if destination["backend"] == "postgresql"
                             else f"DROP USER '{name}'@'%%'")
    admin.dispose()


def test_destination_that_refuses_writes(destination, engine, reader_url, make_features, qa_files) -> None:
    features = make_features(rows=10)
    with pytest.raises(DestinationError) as excinfo:
        publish(destination | {"url": reader_url}, features, qa_files)
    message = str(excinfo.value)
    assert "denied" in message.lower() and "ro-password-must-not-show" not in message
    assert tables(engine) == set()
    publish(destination, features, qa_files)  # with a login that may write, it works
    assert len(read(engine, RELEASE)) == 10


def test_publishing_into_the_source_is_refused(destination, engine, make_features, qa_files, demo_spec_data,
                                               write_spec) -> None:
    url = sa.engine.make_url(destination["url"])
    source = url.set(host="localhost").render_as_string(hide_password=False)  # same server, other spelling
    with pytest.raises(IsolationError, match="source database"):
        publish(destination, make_features(rows=5), qa_files, source_url=source)
    assert tables(engine) == set()

    spec = {**demo_spec_data, "source": {**demo_spec_data["source"], "url": source},
            "destination": {"kind": "sql", "url": destination["url"]}}
    with pytest.raises(SpecError) as excinfo:
        load_spec(write_spec(spec))
    assert "destination.url:" in str(excinfo.value) and "source database" in str(excinfo.value)
    if destination["backend"] == "mysql":  # another database on the server, but `schema` names the source's
        other = url.set(database="mysql").render_as_string(hide_password=False)
        spec["destination"] = {"kind": "sql", "url": other, "schema": url.database}
        with pytest.raises(SpecError, match="source database"):
            load_spec(write_spec(spec))
    spec["destination"] = {"kind": "sql", "url": url.set(database="elsewhere").render_as_string(hide_password=False)}
    assert load_spec(write_spec(spec)).spec.destination.kind == "sql"  # another database: allowed


def test_mariadb_falls_back_to_inserts_where_local_files_are_refused(mariadb_url, make_features, qa_files,
                                                                     caplog) -> None:
    features = make_features(rows=2_500)
    # The client does not offer local files, so the server refuses LOAD DATA LOCAL as a locked-down one would.
    no_local_files = {"url": f"{mariadb_url}?local_infile=0", "backend": "mysql", "mysql_load": "auto"}
    with caplog.at_level("INFO", logger="synth_pipelines"):
        publish(no_local_files, features, qa_files, batch_rows=1_000)
    assert "LOAD DATA LOCAL INFILE refused" in caplog.text
    engine = sa.create_engine(mariadb_url, poolclass=sa.pool.NullPool)
    assert_same_rows(read(engine, RELEASE), features)
    engine.dispose()


def test_lookup_tables_are_published_verbatim_with_the_release(destination, engine, make_features, qa_files,
                                                               tmp_path) -> None:
    branches = tmp_path / "branches.parquet"
    pq.write_table(pa.table({"branch_id": [1, 2, 3], "region": ["north", "south", None]}), branches)
    release = publish(destination, make_features(rows=50), qa_files, lookups={"branches": branches})
    lookup = f"{release_table_name(RELEASE, '2026-11-24')}_branches"
    back = pd.read_sql(f"SELECT * FROM {lookup} ORDER BY branch_id", engine)
    assert back.to_dict("list") == {"branch_id": [1, 2, 3], "region": ["north", "south", None]}
    with engine.connect() as conn:
        manifest = conn.exec_driver_sql("SELECT manifest FROM synth_releases").scalar()
    manifest = json.loads(manifest) if isinstance(manifest, str) else manifest
    assert manifest["destination"]["lookup_tables"] == {"branches": lookup}
    assert manifest["files"]["lookups/branches.parquet"]["rows"] == 3 and release.rows == 50

    # A lookup table the database refuses midway publishes nothing: no release table, no lookup table.
    broken = make_features("broken_lookup", rows=3, change=_poison(destination, at=1))
    with pytest.raises(DestinationError, match="nothing was published"):
        publish(destination, make_features(rows=50), qa_files, "2026-11-25", lookups={"branches": broken})
    assert not [t for t in tables(engine) if "2026_11_25" in t or t.startswith("synth_staging_")]
    assert [r[0] for r in registry(engine)] == ["features_v1_2026_11_24"]


def test_a_driver_error_hidden_by_the_drivers_own_cleanup_still_counts_as_a_database_error() -> None:
    # Seen in CI: the server killed a LOAD DATA LOCAL; pymysql raised OperationalError(2006), then its
    # cleanup wrote to the closed socket, and that AttributeError was what reached publish_sql.
    import pymysql

    from synth_pipelines.core.destinations.sql import _database_error

    try:
        try:
            raise pymysql.err.OperationalError(2006, "MySQL server has gone away")
        except pymysql.err.OperationalError:
            None.sendall(b"")  # type: ignore[attr-defined]
    except AttributeError as hidden:
        found = _database_error(hidden)
    assert isinstance(found, pymysql.err.OperationalError) and found.args[0] == 2006
    assert _database_error(KeyError("not a database problem")) is None


@pytest.mark.parametrize("backend", ["postgresql", "mariadb"])
def test_query_parameters_that_lead_into_the_source_are_caught_after_connecting(backend, request, make_features,
                                                                                 qa_files) -> None:
    """Issue 13: `...5432/dst?dbname=<source db>` names another database in its path but connects to the
    source; the effective connection decides, not the URL's text (the spec check resolves the driver's
    overrides first; what the server reports after connecting is the second line of defence)."""
    source = request.getfixturevalue("postgres_url" if backend == "postgresql" else "mariadb_url")
    url = sa.engine.make_url(source)
    override = {"postgresql": {"dbname": url.database}, "mariadb": {"database": url.database}}[backend]
    sneaky = url.set(database="elsewhere", query=override).render_as_string(hide_password=False)
    destination = {"url": sneaky, "mysql_load": "auto"}
    with pytest.raises(IsolationError, match="(server reports it|: it) is the source database"):
        publish(destination, make_features(rows=5), qa_files, source_url=source)
    engine = sa.create_engine(source, poolclass=sa.pool.NullPool)
    assert tables(engine) == set()  # nothing written into the source
    engine.dispose()


def test_an_unreachable_source_of_the_same_kind_fails_closed(postgres_url, make_features, qa_files) -> None:
    source = sa.engine.make_url(postgres_url).set(port=1).render_as_string(hide_password=False)
    with pytest.raises(IsolationError, match="could not ask the source database"):
        publish({"url": postgres_url, "mysql_load": "auto"}, make_features(rows=5), qa_files, source_url=source)

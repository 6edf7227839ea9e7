"""Publish a release to a SQL database: one table per release, a `features_vN` view on the newest
snapshot's table, and a `synth_releases` registry holding the manifests (QA report files in
`synth_release_files`). PostgreSQL and MySQL/MariaDB.

PostgreSQL has transactional DDL, so one transaction creates a staging table, COPYs the rows into it
(CSV streamed from the Parquet batch by batch), renames it to the release table, registers the
release and repoints the view: a failure anywhere rolls all of it back. MySQL/MariaDB commit DDL
implicitly, so the staging table is loaded first (LOAD DATA LOCAL INFILE per batch, or multi-row
INSERTs where the server refuses local files), renamed (atomic), registered (the commit point) and
the view repointed; a failure after the rename is undone by hand. A lock per destination schema
serializes publishers, so the existence check and the switch cannot race.

Crashes (a publisher killed at any step): PostgreSQL rolls the whole transaction back. On MySQL/
MariaDB a kill before the registration leaves at most a staging or renamed table that no reader sees
(not registered, not in the view); the next publish to the schema drops it. A kill after the
registration commit leaves a registered release whose view was not moved yet; the next publish of
the version (also one refused as already published) repoints the view. So after a re-run every crash
point ends in no release or a whole, registered, viewable one.

Isolation: besides the URL check, the publisher asks both servers who they are after connecting
(PostgreSQL: cluster system identifier or server address and port, and current database; MySQL:
server host name, port and data directory, and current database) and refuses when the destination
is the source; when the source cannot be asked, it refuses too (fail closed).

Lookup tables (`lookups`) are published verbatim as tables `<release table>_<lookup table>` (e.g.
features_v1_2026_11_24_branches), loaded the same way in the same transaction (PostgreSQL) or before
the registration commits (MySQL), and listed in the manifest's `destination.lookup_tables`.

A multi-table release (`publish_tables_sql`) is loaded by the same flow: its tables in order (each after
the tables it references), `features_vN_<snapshot>_tables_<table>` with PRIMARY KEY and FOREIGN KEY
constraints, registered under the key features_vN_<snapshot>_tables, with no view.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import re
import tempfile
import uuid
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import sqlalchemy as sa
from sqlalchemy.dialects.mysql import LONGBLOB
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Connection, make_url

from synth_pipelines.core.destinations import (DestinationError, IsolationError, ReleaseExistsError, RemoteRelease,
                                               release_manifest)
from synth_pipelines.core.publish import attachment_files, crash_point, file_sha256
from synth_pipelines.core.shards import part_files, part_rows, release_data_files
from synth_pipelines.core.source import read_only_connection
from synth_pipelines.spec import masked_url, same_database

log = logging.getLogger(__name__)

BATCH_ROWS = 100_000
MAX_IDENTIFIER = 63  # PostgreSQL truncates longer names silently; MySQL allows 64
TABLE_COMMENT = "synth-pipelines release"  # marks tables this module created (a leftover may be dropped)
_LOCAL_INFILE_REFUSED = {1148, 2068, 3948, 3950, 4166}  # server or client has local files switched off
_FAMILY = {"postgresql": "postgresql", "mysql": "mysql", "mariadb": "mysql"}
# The steps of a publish a fault-injection test may kill the process at (see `crash_point`); loaded
# and renamed happen once per table (the features and each lookup table): `#2` is the second table.
CRASH_POINTS = ("sql.prepared", "sql.loaded", "sql.loaded#2", "sql.renamed", "sql.renamed#2", "sql.registered",
                "sql.view_pointed")


def release_table_name(release_name: str, snapshot_id: str) -> str:
    """features_v1 + 2026-11-24 -> features_v1_2026_11_24: lowercase, safe, at most 63 characters."""
    return _short_identifier(f"{release_name}_{re.sub(r'[^a-z0-9]+', '_', snapshot_id.lower()).strip('_')}".lower())


def lookup_table_name(release_table: str, lookup: str) -> str:
    """features_v1_2026_11_24 + branches -> features_v1_2026_11_24_branches (at most 63 characters)."""
    return _short_identifier(f"{release_table}_{re.sub(r'[^a-z0-9]+', '_', lookup.lower()).strip('_')}")


def _short_identifier(name: str) -> str:
    if len(name) > MAX_IDENTIFIER:
        name = f"{name[:MAX_IDENTIFIER - 9]}_{hashlib.sha256(name.encode()).hexdigest()[:8]}"
    return name


def _registry(schema: str | None) -> tuple[sa.Table, sa.Table]:
    metadata = sa.MetaData(schema=schema)
    releases = sa.Table(
        "synth_releases", metadata,
        sa.Column("release_table", sa.String(64), primary_key=True),
        sa.Column("dataset", sa.String(128), nullable=False),
        sa.Column("release_name", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("snapshot_id", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("row_count", sa.BigInteger, nullable=False),
        sa.Column("manifest", sa.JSON().with_variant(JSONB(), "postgresql"), nullable=False))
    files = sa.Table(  # the QA report files as they are (HTML, JSON, PDF): bytes
        "synth_release_files", metadata,
        sa.Column("release_table", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("content", sa.LargeBinary().with_variant(LONGBLOB(), "mysql"), nullable=False))
    return releases, files


def sql_column_type(field: pa.Field, backend: str, max_bytes: int = 0) -> str:
    """The SQL type of one Arrow column; max_bytes (longest value) picks MySQL's TEXT size."""
    t, pg = field.type, backend == "postgresql"
    if pa.types.is_dictionary(t):
        t = t.value_type
    simple = [(pa.types.is_boolean, "BOOLEAN", "BOOLEAN"), (pa.types.is_int8, "SMALLINT", "TINYINT"),
              (pa.types.is_int16, "SMALLINT", "SMALLINT"), (pa.types.is_int32, "INTEGER", "INT"),
              (pa.types.is_int64, "BIGINT", "BIGINT"), (pa.types.is_uint8, "SMALLINT", "TINYINT UNSIGNED"),
              (pa.types.is_uint16, "INTEGER", "SMALLINT UNSIGNED"), (pa.types.is_uint32, "BIGINT", "INT UNSIGNED"),
              (pa.types.is_uint64, "NUMERIC(20)", "BIGINT UNSIGNED"), (pa.types.is_float16, "REAL", "FLOAT"),
              (pa.types.is_float32, "REAL", "FLOAT"), (pa.types.is_float64, "DOUBLE PRECISION", "DOUBLE"),
              (pa.types.is_date, "DATE", "DATE"), (pa.types.is_time, "TIME", "TIME(6)")]
    for check, pg_type, mysql_type in simple:
        if check(t):
            return pg_type if pg else mysql_type
    if pa.types.is_decimal(t):
        return f"NUMERIC({t.precision},{t.scale})"
    if pa.types.is_timestamp(t):
        # MySQL has no zone-aware type: aware values are stored as UTC.
        return ("TIMESTAMP WITH TIME ZONE" if t.tz else "TIMESTAMP") if pg else "DATETIME(6)"
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_null(t):
        if pg:
            return "TEXT"
        return "TEXT" if max_bytes <= 65_535 else "MEDIUMTEXT" if max_bytes <= 16_777_215 else "LONGTEXT"
    raise ValueError(f"column '{field.name}' has Arrow type {field.type}, which is not published to SQL; "
                     "cast it to a number, string, date or timestamp in the features, or drop it")


def publish_sql(*, features_path: Path, attachments: list[Path], manifest: dict[str, Any], url: str,
                schema: str | None, source_url: str, dataset: str, release_name: str, snapshot_id: str, rows: int,
                batch_rows: int = BATCH_ROWS,
                mysql_load: Literal["auto", "local_infile", "insert"] = "auto",
                lookups: dict[str, Path] | None = None) -> RemoteRelease:
    masked = masked_url(url)
    _refuse_source_url(url, source_url, schema)
    backend = make_url(url).get_backend_name()
    source_identity = _source_identity(source_url, backend, masked)
    table = release_table_name(release_name, snapshot_id)
    location = f"{masked}#{schema + '.' if schema else ''}{table}"
    if part_rows(features_path) != rows:  # one table from every shard's part
        raise ValueError(f"{features_path} has {part_rows(features_path)} rows, not the {rows} to publish")
    lookup_names = {name: lookup_table_name(table, name) for name in sorted(lookups or {})}
    body = release_manifest(manifest, release_name=release_name, snapshot_id=snapshot_id, lookups=lookups,
                            data={name: {"sha256": file_sha256(part), "rows": part_rows(part)}
                                  for name, part in release_data_files(features_path).items()},
                            destination={"kind": "sql", "url": masked, "schema": schema, "table": table,
                                         "view": release_name, "lookup_tables": lookup_names})
    job = _Job(dataset=dataset, release_name=release_name, snapshot_id=snapshot_id, rows=rows, table=table,
               schema=schema, columns=_sql_columns(features_path, backend), features_path=features_path,
               batch_rows=batch_rows, manifest=json.loads(json.dumps(body, default=str)),
               files={name: p.read_bytes() for name, p in attachment_files(attachments).items()},
               lookups=[_Job(dataset=dataset, release_name=release_name, snapshot_id=snapshot_id,
                             rows=pq.ParquetFile(lookups[name]).metadata.num_rows, table=lookup_table, schema=schema,
                             columns=_sql_columns(lookups[name], backend), features_path=lookups[name],
                             batch_rows=batch_rows, manifest={}, files={})
                        for name, lookup_table in lookup_names.items()],
               source_identity=source_identity, source_masked=masked_url(source_url))
    _run(url, job, mysql_load, location)
    manifest_at = f"{masked}#{schema + '.' if schema else ''}synth_releases/{table}"
    return RemoteRelease(name=release_name, location=location, manifest_location=manifest_at,
                         qa_report_location=f"{masked}#{schema + '.' if schema else ''}synth_release_files/{table}/"
                                            "qa_report.html", rows=rows)


def tables_release_table(release_name: str, snapshot_id: str) -> str:
    """The registry key of a multi-table release, features_v1_2026_11_24_tables; its tables are
    <key>_<table> (lookup_table_name). Never a single-table release's table or lookup table name."""
    return lookup_table_name(release_table_name(release_name, snapshot_id), "tables")


def publish_tables_sql(*, tables: dict[str, Path], primary_keys: dict[str, str],
                       foreign_keys: dict[str, dict[str, str]], manifest: dict[str, Any], url: str,
                       schema: str | None, source_url: str, dataset: str, release_name: str, snapshot_id: str,
                       batch_rows: int = BATCH_ROWS,
                       mysql_load: Literal["auto", "local_infile", "insert"] = "auto",
                       ) -> tuple[RemoteRelease, dict[str, str]]:
    """A multi-table release: one table per entry of `tables` (name -> Parquet, each after the tables
    its foreign keys reference), with its primary key and a FOREIGN KEY constraint per entry of
    `foreign_keys` (table -> column -> referenced table, whose primary key it references), loaded and
    registered as one release the way publish_sql loads a release and its lookup tables: one
    transaction on PostgreSQL, registration as the commit point on MySQL/MariaDB. No view: readers
    find the tables in the manifest's `destination.tables`. Returns the release and where each table is."""
    masked = masked_url(url)
    _refuse_source_url(url, source_url, schema)
    backend = make_url(url).get_backend_name()
    key = tables_release_table(release_name, snapshot_id)
    names = {table: lookup_table_name(key, table) for table in tables}
    body = {**manifest, "destination": {"kind": "sql", "url": masked, "schema": schema, "release_table": key,
                                        "tables": names}}
    parts = [_Job(dataset=dataset, release_name=release_name, snapshot_id=snapshot_id,
                  rows=pq.ParquetFile(path).metadata.num_rows, table=names[table], schema=schema,
                  columns=_sql_columns(path, backend, keys={primary_keys[table], *foreign_keys.get(table, {})}),
                  features_path=path, batch_rows=batch_rows, manifest={}, files={},
                  primary_key=primary_keys[table],
                  foreign_keys=[(column, names[target], primary_keys[target])
                                for column, target in foreign_keys.get(table, {}).items()])
             for table, path in tables.items()]
    job = _Job(dataset=dataset, release_name=release_name, snapshot_id=snapshot_id, rows=sum(p.rows for p in parts),
               table=key, schema=schema, columns=[], features_path=Path(), batch_rows=batch_rows,
               manifest=json.loads(json.dumps(body, default=str)), files={}, lookups=parts, view=False,
               source_identity=_source_identity(source_url, backend, masked), source_masked=masked_url(source_url))
    where = f"{masked}#{schema + '.' if schema else ''}"
    _run(url, job, mysql_load, where + key)
    return (RemoteRelease(name=release_name, location=where + key, manifest_location=f"{where}synth_releases/{key}",
                          qa_report_location="", rows=job.rows),
            {table: where + name for table, name in names.items()})


def _run(url: str, job: _Job, mysql_load: str, location: str) -> None:
    """Publish `job` on its backend; a database's refusal or failure becomes a DestinationError."""
    backend = make_url(url).get_backend_name()
    connect_args: dict[str, Any] = {"connect_timeout": 10}
    if backend == "postgresql":
        connect_args["application_name"] = "synth-pipelines publish"
    elif "local_infile" not in make_url(url).query:  # ?local_infile=0 in the URL keeps LOAD DATA off
        connect_args["local_infile"] = mysql_load != "insert"
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool, connect_args=connect_args)
    try:
        if backend == "postgresql":
            _publish_postgres(engine, job)
        else:
            _publish_mysql(engine, job, mysql_load)
    except ReleaseExistsError:
        raise
    except Exception as exc:
        database_error = _database_error(exc)
        if not (isinstance(exc, _Refused) or database_error is not None):
            raise
        moved = f" and view {job.release_name} was not moved" if job.view else ""
        raise DestinationError(f"publishing {job.release_name}/snapshot={job.snapshot_id} to {location} failed: "
                               f"{_cause(database_error or exc, url)}; nothing was published{moved}") from exc
    finally:
        engine.dispose()


def existing_sql_release(*, url: str, schema: str | None, source_url: str, dataset: str, release_name: str,
                         snapshot_id: str) -> str | None:
    """The registered release's location, or None. On MySQL/MariaDB it also moves the view that a
    publish killed after its registration commit left on the older release (under the schema's lock)."""
    table = release_table_name(release_name, snapshot_id)
    masked = masked_url(url)
    _refuse_source_url(url, source_url, schema)
    job = _Job(dataset=dataset, release_name=release_name, snapshot_id=snapshot_id, rows=0, table=table, schema=schema,
               columns=[], features_path=Path(), batch_rows=0, manifest={}, files={},
               source_identity=_source_identity(source_url, make_url(url).get_backend_name(), masked),
               source_masked=masked_url(source_url))
    releases, _ = _registry(schema)
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool, connect_args={"connect_timeout": 10})
    try:
        return _existing(engine, job, releases, f"{masked}#{schema + '.' if schema else ''}{table}")
    except (sa.exc.SQLAlchemyError, _Refused) as exc:
        raise DestinationError(f"could not check {masked} for release {table}: {_cause(exc, url)}") from exc
    finally:
        engine.dispose()


def _refuse_source_url(url: str, source_url: str, schema: str | None) -> None:
    if same_database(url, source_url, schema, resolve=True):
        raise IsolationError(f"refusing to publish to {masked_url(url)}: it is the source database "
                             f"({masked_url(source_url)}); releases never go into production. "
                             "Publish to a separate database")


def _existing(engine: sa.Engine, job: _Job, releases: sa.Table, location: str) -> str | None:
    with engine.connect() as conn:
        _check_not_source(conn, job)
        if not sa.inspect(conn).has_table(releases.name, schema=job.schema) or not conn.execute(
                sa.select(releases.c.dataset).where(releases.c.release_table == job.table)).first():
            return None
        if conn.dialect.name != "postgresql":  # PostgreSQL commits the view with the registration
            with _mysql_lock(conn, job.schema):
                _point_view(conn, job, _quoter(conn.engine, job.schema))
                conn.commit()
    return location


@contextmanager
def _mysql_lock(conn: Connection, schema: str | None) -> Iterator[None]:
    """The schema's publish lock (MySQL/MariaDB): publishers of one schema take turns."""
    lock = f"synth-publish:{schema or conn.engine.url.database}"[:64]
    if conn.exec_driver_sql("SELECT GET_LOCK(%s, 600)", (lock,)).scalar() != 1:
        raise _Refused(f"another publish held the lock {lock!r} for 10 minutes; try again later")
    try:
        yield
    finally:
        _quietly(conn, sa.text("SELECT RELEASE_LOCK(:lock)").bindparams(lock=lock))


def _sql_columns(path: Path, backend: str, keys: Collection[str] = ()) -> list[tuple[str, str]]:
    """Name and SQL type of each column; `keys` (primary and foreign key columns) of text are VARCHAR on
    MySQL/MariaDB, which indexes no TEXT whole (768 characters: InnoDB's 3072-byte key in utf8mb4)."""
    schema = pq.ParquetFile(part_files(path)[0]).schema_arrow
    string_columns = [f.name for f in schema if _is_text(f.type)]
    longest = _longest_values(path, string_columns) if backend != "postgresql" else {}
    return [(f.name, "VARCHAR(768)" if f.name in keys and backend != "postgresql" and _is_text(f.type)
             else sql_column_type(f, backend, longest.get(f.name, 0))) for f in schema]


class _Refused(Exception):
    """The destination refused the release for a reason of ours (bad values, a foreign table, a busy lock)."""


@dataclass
class _Job:
    """Everything one publish needs, so the two backends' flows read alike."""

    dataset: str
    release_name: str
    snapshot_id: str
    rows: int
    table: str
    schema: str | None
    columns: list[tuple[str, str]]  # name, SQL type
    features_path: Path
    batch_rows: int
    manifest: dict[str, Any]
    files: dict[str, bytes]  # QA report files by name
    staging: str = field(default_factory=lambda: f"synth_staging_{uuid.uuid4().hex[:12]}")
    lookups: list[_Job] = field(default_factory=list)  # lookup tables: loaded like the features, not registered
    primary_key: str | None = None  # declared on the table (a multi-table release's tables)
    foreign_keys: list[tuple[str, str, str]] = field(default_factory=list)  # column, referenced table and column
    view: bool = True  # a single-table release moves the version's view; a multi-table one has none
    source_identity: tuple[str | None, str, str] | None = None  # what the source reports; None: other backend
    source_masked: str = ""


def _publish_postgres(engine: sa.Engine, job: _Job) -> None:
    q = _quoter(engine, job.schema)
    with engine.begin() as conn:  # one transaction: all of it or nothing
        lock = int.from_bytes(hashlib.sha256(f"synth-publish:{job.schema}".encode()).digest()[:8], "big", signed=True)
        conn.exec_driver_sql("SELECT pg_advisory_xact_lock(%s)", (lock,))
        _prepare(conn, job)
        crash_point("sql.prepared")
        for part in _parts(job):
            conn.exec_driver_sql(_create_table(q, part))
            names = ", ".join(q(name, bare=True) for name, _ in part.columns)
            with conn.connection.dbapi_connection.cursor() as cursor:  # psycopg2's, in the same transaction
                cursor.copy_expert(f"COPY {q(part.staging)} ({names}) FROM STDIN WITH (FORMAT csv)",
                                   _ChunkReader(_csv_chunks(part.features_path, part.batch_rows)), size=1 << 20)
                _check_count(cursor.rowcount, part)
            crash_point("sql.loaded")
            conn.exec_driver_sql(f"ALTER TABLE {q(part.staging)} RENAME TO {q(part.table, bare=True)}")
            conn.exec_driver_sql(f"COMMENT ON TABLE {q(part.table)} IS '{TABLE_COMMENT}'")
            crash_point("sql.renamed")
        _register(conn, job)
        crash_point("sql.registered")
        if job.view:
            _point_view(conn, job, q)
        crash_point("sql.view_pointed")


def _parts(job: _Job) -> list[_Job]:
    """The tables a publish loads, each after those it references: lookup tables (or a multi-table
    release's tables in order), then the release table itself where it has one."""
    return [*job.lookups, job] if job.columns else list(job.lookups)


def _publish_mysql(engine: sa.Engine, job: _Job, method: str) -> None:
    q = _quoter(engine, job.schema)
    with engine.connect() as conn, _mysql_lock(conn, job.schema):
        _prepare(conn, job)
        conn.commit()
        crash_point("sql.prepared")
        renamed: list[str] = []
        for part in _parts(job):  # the release table appears last
            conn.exec_driver_sql(_create_table(q, part) + f" COMMENT '{TABLE_COMMENT}'")
            try:
                loaded = _load_mysql(conn.connection.dbapi_connection, q(part.staging), part, method)
                _check_count(loaded, part)
                crash_point("sql.loaded")
                conn.exec_driver_sql(f"RENAME TABLE {q(part.staging)} TO {q(part.table)}")  # atomic
                renamed.append(part.table)
                crash_point("sql.renamed")
            except BaseException:
                _quietly(conn, f"DROP TABLE IF EXISTS {q(part.staging)}")
                for table in reversed(renamed):  # referencing tables before those they reference
                    _quietly(conn, f"DROP TABLE IF EXISTS {q(table)}")
                raise
        try:
            _register(conn, job)
            conn.commit()  # the commit point: the release exists from here on
            crash_point("sql.registered")
            if job.view:
                _point_view(conn, job, q)
            crash_point("sql.view_pointed")
        except BaseException:
            releases, files = _registry(job.schema)
            _quietly(conn, None)  # roll back whatever the failure left open
            for registry in (files, releases):
                _quietly(conn, registry.delete().where(registry.c.release_table == job.table))
            for table in reversed(renamed):
                _quietly(conn, f"DROP TABLE IF EXISTS {q(table)}")
            raise


def _prepare(conn: Connection, job: _Job) -> None:
    """Create the registry if needed; refuse an existing release; drop our own leftover of a failed publish."""
    _check_not_source(conn, job)
    releases, files = _registry(job.schema)
    releases.metadata.create_all(conn, checkfirst=True)
    if conn.execute(sa.select(releases.c.dataset).where(releases.c.release_table == job.table)).first():
        if conn.dialect.name != "postgresql" and job.view:  # killed after its registration commit: move the view now
            _point_view(conn, job, _quoter(conn.engine, job.schema))
            conn.commit()
        raise ReleaseExistsError(f"release table {job.table} already exists and is registered in synth_releases; "
                                 "releases are immutable. Take a new snapshot or bump the spec's version")
    # The view features_vN belongs to one dataset: refused where another dataset's single-table releases
    # (named by release_table_name) own it. Multi-table releases own no view and are not counted.
    others = conn.execute(sa.select(releases.c.dataset, releases.c.release_table, releases.c.snapshot_id).where(
        releases.c.release_name == job.release_name, releases.c.dataset != job.dataset)).all()
    other = next((d for d, table, snapshot in others if table == release_table_name(job.release_name, snapshot)), None)
    if other and job.view:
        raise _Refused(f"schema {job.schema or '(default)'} already holds {job.release_name} releases of "
                       f"dataset '{other}'; give every dataset its own destination schema")
    inspector, q = sa.inspect(conn), _quoter(conn.engine, job.schema)
    if conn.dialect.name != "postgresql":  # leftovers may reference each other (a multi-table release's)
        conn.exec_driver_sql("SET SESSION foreign_key_checks = 0")
    for table in (job.table, *(part.table for part in job.lookups)):
        if inspector.has_table(table, schema=job.schema):  # views too
            if _comment(inspector, table, job.schema) != TABLE_COMMENT:
                raise _Refused(f"{table} exists but is no synth-pipelines release; rename or drop it")
            log.warning("dropping %s: left by a publish that failed before registering it", table)
            conn.exec_driver_sql(f"DROP TABLE {q(table)}")
    # Holding the schema's lock, any staging table is a dead publish's (MySQL only: PostgreSQL rolls back).
    for name in inspector.get_table_names(schema=job.schema):
        if name.startswith("synth_staging_") and _comment(inspector, name, job.schema) == TABLE_COMMENT:
            log.warning("dropping %s: staging table of a publish that died", name)
            conn.exec_driver_sql(f"DROP TABLE {q(name)}")
    if conn.dialect.name != "postgresql":
        conn.exec_driver_sql("SET SESSION foreign_key_checks = 1")


def _server_identity(conn: Connection, schema: str | None = None) -> tuple[str | None, str, str]:
    """(cluster id, server address, database) as the server itself reports them after connecting,
    whatever the URL said; the cluster id is PostgreSQL's system identifier where the login may read it."""
    if conn.dialect.name == "postgresql":
        database, address, port = conn.exec_driver_sql(
            "SELECT current_database(), host(inet_server_addr()), current_setting('port')").one()
        try:
            with conn.begin_nested():  # the cluster's own id, where the login may read it
                cluster = conn.exec_driver_sql("SELECT system_identifier::text FROM pg_control_system()").scalar()
        except sa.exc.DBAPIError:
            cluster = None
        return cluster, f"{_loopback(address)}:{port}", database
    host, port, datadir, database = conn.exec_driver_sql(
        "SELECT @@hostname, @@port, @@datadir, DATABASE()").one()
    return None, f"{host}:{port}:{datadir}", (schema or database or "").lower()


def _loopback(address: str | None) -> str:
    return "localhost" if not address or address.startswith("127.") or address == "::1" else address


def _source_identity(source_url: str, backend: str, masked: str) -> tuple[str | None, str, str] | None:
    """What the source server reports about itself; None when it is another kind of database."""
    try:
        family = _FAMILY.get(make_url(source_url).get_backend_name())
    except sa.exc.ArgumentError:
        family = None
    if family is None or family != _FAMILY.get(backend):
        return None
    try:  # the source is production: asked through a session the database refuses to write through
        with read_only_connection(source_url, connect_timeout=10) as conn:
            return _server_identity(conn)
    except sa.exc.SQLAlchemyError as exc:
        raise IsolationError(f"refusing to publish to {masked}: could not ask the source database "
                             f"({masked_url(source_url)}) which server it is, so cannot rule out that they are "
                             f"the same ({_cause(exc, source_url)}). Make the source reachable from the publisher "
                             "or publish to another kind of database") from exc


def _check_not_source(conn: Connection, job: _Job) -> None:
    if job.source_identity is None:
        return
    cluster, server, database = _server_identity(conn, job.schema)
    source_cluster, source_server, source_database = job.source_identity
    same_server = cluster == source_cluster if cluster and source_cluster else server == source_server
    if same_server and database == source_database:
        raise IsolationError(f"refusing to publish to database {database} on {server}: after connecting, the "
                             f"server reports it is the source database ({job.source_masked}); releases never go "
                             "into production. Publish to a separate database")


def _comment(inspector: Any, table: str, schema: str | None) -> str | None:
    return (inspector.get_table_comment(table, schema=schema) or {}).get("text")


def _create_table(q: Any, job: _Job) -> str:
    """The staging table; its keys are named after the release table (constraint and index names are
    the schema's on PostgreSQL, foreign key names on MySQL), and its foreign keys reference tables
    renamed into place before it (a rename keeps the constraints of and on a table)."""
    columns = [f"{q(n, bare=True)} {t}" for n, t in job.columns]
    if job.primary_key:
        columns.append(f"CONSTRAINT {q(_short_identifier(job.table + '_pkey'), bare=True)} "
                       f"PRIMARY KEY ({q(job.primary_key, bare=True)})")
    columns += [f"CONSTRAINT {q(_short_identifier(f'{job.table}_{column}_fkey'), bare=True)} FOREIGN KEY "
                f"({q(column, bare=True)}) REFERENCES {q(target)} ({q(target_column, bare=True)})"
                for column, target, target_column in job.foreign_keys]
    return f"CREATE TABLE {q(job.staging)} ({', '.join(columns)})"


def _register(conn: Connection, job: _Job) -> None:
    releases, files = _registry(job.schema)
    created = datetime.fromisoformat(str(job.manifest.get("created_at") or datetime.now(timezone.utc).isoformat()))
    if conn.dialect.name != "postgresql":  # DATETIME has no zone: store UTC
        created = created.astimezone(timezone.utc).replace(tzinfo=None) if created.tzinfo else created
    conn.execute(releases.insert().values(
        release_table=job.table, dataset=job.dataset, release_name=job.release_name,
        version=int(job.release_name.rsplit("_v", 1)[-1]), snapshot_id=job.snapshot_id, created_at=created,
        row_count=job.rows, manifest=job.manifest))
    if job.files:
        conn.execute(files.insert(), [{"release_table": job.table, "name": name, "content": content}
                                      for name, content in job.files.items()])


def _point_view(conn: Connection, job: _Job, q: Any) -> None:
    """Repoint the version's view at the newest snapshot's table (a backfill of an older one leaves it)."""
    releases, _ = _registry(job.schema)
    newest = conn.execute(sa.select(releases.c.release_table)
                          .where(releases.c.dataset == job.dataset, releases.c.release_name == job.release_name)
                          .order_by(releases.c.snapshot_id.desc()).limit(1)).scalar()
    statement = f"CREATE OR REPLACE VIEW {q(job.release_name)} AS SELECT * FROM {q(newest)}"
    if conn.dialect.name != "postgresql":
        conn.exec_driver_sql(statement)
        return
    try:
        with conn.begin_nested():  # PostgreSQL replaces a view only when its columns stay compatible
            conn.exec_driver_sql(statement)
    except sa.exc.DBAPIError:
        conn.exec_driver_sql(f"DROP VIEW IF EXISTS {q(job.release_name)}")
        conn.exec_driver_sql(statement)


def _check_count(loaded: int, job: _Job) -> None:
    if loaded != job.rows:
        raise _Refused(f"loaded {loaded} rows into {job.staging}, expected {job.rows}")


# --- PostgreSQL: COPY FROM STDIN, CSV written by pyarrow per batch ------------------------------


def _batches(path: Path, batch_rows: int, columns: list[str] | None = None) -> Iterator[pa.RecordBatch]:
    """Record batches of a table's parts (one per shard) in order."""
    for part in part_files(path):
        yield from pq.ParquetFile(part).iter_batches(batch_size=batch_rows, columns=columns)


def _csv_chunks(path: Path, batch_rows: int) -> Iterator[bytes]:
    options = pacsv.WriteOptions(include_header=False)  # strings quoted, NULL unquoted empty: COPY tells them apart
    for batch in _batches(path, batch_rows):
        sink = io.BytesIO()
        pacsv.write_csv(_decoded(batch), sink, options)
        yield sink.getvalue()


class _ChunkReader(io.RawIOBase):
    """A file object over an iterator of byte chunks, as copy_expert reads it."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks, self._chunk, self._at = chunks, b"", 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        while self._at >= len(self._chunk):
            self._chunk, self._at = next(self._chunks, b""), 0
            if not self._chunk:
                return b""
        size = len(self._chunk) - self._at if size is None or size < 0 else size
        part = self._chunk[self._at:self._at + size]
        self._at += len(part)
        return part


# --- MySQL/MariaDB: LOAD DATA LOCAL INFILE per batch, or multi-row INSERTs ---------------------


def _load_mysql(raw: Any, staging: str, job: _Job, method: str) -> int:
    names = ", ".join(f"`{name.replace('`', '``')}`" for name, _ in job.columns)
    insert = f"INSERT INTO {staging} ({names}) VALUES ({', '.join(['%s'] * len(job.columns))})"
    loaded, use_infile = 0, method != "insert"
    with raw.cursor() as cursor, tempfile.TemporaryDirectory(prefix="synth-load-") as folder:
        # Strict: a value the column cannot hold is an error, not a silently changed row.
        cursor.execute("SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION'")
        cursor.max_stmt_length = 8 << 20  # multi-row INSERTs of ~8 MB (max_allowed_packet is 16 MB by default)
        for batch in _batches(job.features_path, job.batch_rows):
            columns = [_for_mysql(name, column) for name, column in zip(batch.schema.names, batch.columns)]
            if use_infile:
                try:
                    loaded += _load_data_local(cursor, staging, names, columns, Path(folder) / "batch.tsv")
                    continue
                except Exception as exc:  # noqa: BLE001 - only a refused local file falls back
                    if method == "local_infile" or _error_code(exc) not in _LOCAL_INFILE_REFUSED:
                        raise
                    log.info("LOAD DATA LOCAL INFILE refused (%s); loading with multi-row INSERTs", exc)
                    use_infile = False
            cursor.executemany(insert, list(zip(*(_python_values(c) for c in columns))))
            loaded += cursor.rowcount
            _raise_on_warnings(cursor)
    return loaded


def _load_data_local(cursor: Any, staging: str, names: str, columns: list[pa.Array], path: Path) -> int:
    path.write_bytes(_tsv(columns))
    cursor.execute(f"LOAD DATA LOCAL INFILE %s INTO TABLE {staging} CHARACTER SET utf8mb4 "
                   f"FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' ({names})", (str(path),))
    # With LOCAL the server turns bad values into warnings (it cannot stop the client midway): refuse them.
    _raise_on_warnings(cursor)
    return cursor.rowcount


def _raise_on_warnings(cursor: Any) -> None:
    if cursor.warning_count:
        cursor.execute("SHOW WARNINGS LIMIT 3")
        raise _Refused("the database changed or refused values while loading: "
                               + "; ".join(f"{level} {code}: {message}" for level, code, message in cursor.fetchall()))


def _for_mysql(name: str, column: pa.Array) -> pa.Array:
    """Values MySQL can take as they are: NaN as NULL, aware timestamps as UTC, microseconds at most."""
    if pa.types.is_dictionary(column.type):
        column = column.dictionary_decode()
    t = column.type
    if pa.types.is_floating(t):
        if pc.any(pc.is_inf(column)).as_py():
            raise ValueError(f"column '{name}' holds infinite values, which MySQL/MariaDB cannot store")
        return pc.if_else(pc.is_nan(column), pa.scalar(None, t), column)
    if pa.types.is_timestamp(t) and (t.tz or t.unit == "ns"):
        return column.cast(pa.timestamp("us" if t.unit == "ns" else t.unit), safe=False)
    return column


def _python_values(column: pa.Array) -> list[Any]:
    # Dates and times go as text: the server judges their range (Python's stops at year 9999), and faster.
    if pa.types.is_temporal(column.type):
        column = column.cast(pa.string())
    return column.to_pylist()


def _tsv(columns: list[pa.Array]) -> bytes:
    """LOAD DATA's default text format, built column-wise by Arrow: tab-separated, backslash escapes, \\N null."""
    texts = []
    for column in columns:
        if pa.types.is_boolean(column.type):
            text = pc.if_else(column, "1", "0")
        elif _is_text(column.type):
            text = column.cast(pa.string())
            for raw, escaped in (("\\", "\\\\"), ("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r"), ("\x00", "\\0")):
                text = pc.replace_substring(text, raw, escaped)
        else:
            text = column.cast(pa.string())
        texts.append(pc.fill_null(text, "\\N"))
    lines = pc.binary_join_element_wise(pc.binary_join_element_wise(*texts, "\t"), "", "\n")  # row + "\n"
    # The values of a string array lie back to back in its data buffer: the whole file, no Python loop.
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32)
    first, last = offsets[lines.offset], offsets[lines.offset + len(lines)]
    return lines.buffers()[2].to_pybytes()[first:last] if last > first else b""


# --- helpers ---------------------------------------------------------------------------------------


def _decoded(batch: pa.RecordBatch) -> pa.RecordBatch:
    if not any(pa.types.is_dictionary(c.type) for c in batch.columns):
        return batch
    arrays = [c.dictionary_decode() if pa.types.is_dictionary(c.type) else c for c in batch.columns]
    return pa.RecordBatch.from_arrays(arrays, names=batch.schema.names)


def _is_text(t: pa.DataType) -> bool:
    t = t.value_type if pa.types.is_dictionary(t) else t
    return pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_null(t)


def _longest_values(path: Path, columns: list[str]) -> dict[str, int]:
    """Longest value in bytes of each string column: MySQL's TEXT holds 64 KB, longer needs MEDIUM/LONGTEXT."""
    longest = dict.fromkeys(columns, 0)
    if not columns:
        return longest
    for batch in _batches(path, BATCH_ROWS, columns):
        for name, column in zip(batch.schema.names, _decoded(batch).columns):
            if not pa.types.is_null(column.type):
                longest[name] = max(longest[name], pc.max(pc.binary_length(column)).as_py() or 0)
    return longest


def _quoter(engine: sa.Engine, schema: str | None) -> Any:
    preparer = engine.dialect.identifier_preparer

    def q(name: str, bare: bool = False) -> str:
        quoted = preparer.quote_identifier(name)
        return quoted if bare or not schema else f"{preparer.quote_identifier(schema)}.{quoted}"

    return q


def _quietly(conn: Connection, statement: Any) -> None:
    """Best-effort cleanup: runs `statement` (None: roll back) and logs instead of raising."""
    try:
        if statement is None:
            conn.rollback()
        elif isinstance(statement, str):
            conn.exec_driver_sql(statement)
        else:
            conn.execute(statement)
        conn.commit()
    except Exception as exc:  # noqa: BLE001 - the original failure is the one to report
        log.warning("cleanup step failed (%s): %s", type(exc).__name__, exc)


def _database_error(exc: BaseException | None) -> BaseException | None:
    """The driver or connection error behind `exc`, also one it was raised while handling: when the
    server kills a LOAD DATA LOCAL, pymysql's cleanup writes to the closed socket and an
    AttributeError hides the OperationalError (2006) it was handling."""
    import psycopg2
    import pymysql

    for _ in range(5):
        if exc is None or isinstance(exc, (sa.exc.SQLAlchemyError, psycopg2.Error, pymysql.err.Error, OSError)):
            return exc
        exc = exc.__cause__ or exc.__context__
    return None


def _error_code(exc: BaseException) -> int | None:
    args = getattr(getattr(exc, "orig", exc), "args", ())
    return args[0] if args and isinstance(args[0], int) else None


def _cause(exc: BaseException, url: str) -> str:
    """The database's own message (not SQLAlchemy's echo of the statement and its rows), password removed."""
    original = getattr(exc, "orig", None) or exc
    text = ' '.join(str(original).split())
    text = text if isinstance(exc, _Refused) else f"{type(original).__name__}: {text}"
    password = make_url(url).password
    return (text.replace(str(password), "***") if password else text)[:800]

"""Stage 1: copy the declared source tables into an immutable Parquet snapshot with a fingerprint.

Rows are streamed in chunks (bounded memory), ordered by primary key so the same source content
always gives the same fingerprint. The snapshot folder appears atomically (written under a
temporary name, then renamed) and is never overwritten.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import sqlalchemy as sa

from synth_pipelines.core.source import arrow_type, read_only_connection, reflect_table
from synth_pipelines.spec import DatasetSpec, FieldError, TableSpec, masked_url


@dataclass(frozen=True)
class TableSnapshot:
    name: str
    path: str
    rows: int
    columns: list[str]
    fingerprint: str


@dataclass(frozen=True)
class Snapshot:
    snapshot_id: str
    path: str
    source: str  # masked URL
    taken_at: str
    fingerprint: str
    tables: dict[str, TableSnapshot] = field(default_factory=dict)
    # A past day's snapshot rebuilt from today's source with the spec's source.as_of filters: how.
    reconstructed: dict | None = None

    def table_path(self, name: str) -> Path:
        return Path(self.tables[name].path)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)


class SnapshotError(FieldError):
    """The source could not be read into a snapshot; `field` is the spec field to look at."""


def new_snapshot_id(now: datetime | None = None) -> str:
    return (now or datetime.now(timezone.utc)).strftime("%Y%m%dT%H%M%SZ")


def selected_columns(table: sa.Table, table_spec: TableSpec) -> list[sa.Column]:
    wanted = table_spec.columns if table_spec.columns is not None else [c.name for c in table.columns]
    return [table.c[name] for name in wanted if name not in table_spec.exclude_columns]


def take_snapshot(spec: DatasetSpec, snapshots_root: Path, snapshot_id: str | None = None,
                  chunk_rows: int = 50_000, as_of: str | None = None) -> Snapshot:
    """`as_of` (a validated YYYY-MM-DD date): read each table of `spec.source.as_of.filters` only where
    its condition holds for that date, and record the reconstruction in the snapshot."""
    filters = {}
    if as_of is not None:
        date.fromisoformat(as_of)  # a date and nothing else is substituted into the SQL
        filters = {t: c.replace("{snapshot_date}", as_of) for t, c in spec.source.as_of.filters.items()}
    snapshot_id = snapshot_id or new_snapshot_id()
    final = snapshots_root / snapshot_id
    if final.exists():
        raise FileExistsError(f"snapshot {final} already exists; snapshots are immutable")
    staging = snapshots_root / f".{snapshot_id}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    tables = {}
    try:
        with read_only_connection(spec.source.url) as conn:
            for name, table_spec in spec.source.tables.items():
                try:
                    tables[name] = _snapshot_table(conn, name, table_spec, staging, final, chunk_rows,
                                                   where=filters.get(name))
                except sa.exc.DBAPIError as exc:  # the driver failed, e.g. the connection dropped mid-read
                    cause = exc.orig or exc
                    raise SnapshotError(
                        "source.url", f"reading table '{name}' from {masked_url(spec.source.url)} failed after "
                        f"{len(tables)} of {len(spec.source.tables)} tables: {type(cause).__name__}: "
                        f"{(str(cause).strip().splitlines() or [''])[0]}",
                        "check that the database is reachable and run again (nothing of this partial snapshot "
                        "was kept)") from exc
        overall = hashlib.sha256("".join(t.fingerprint for _, t in sorted(tables.items())).encode())
        snapshot = Snapshot(snapshot_id=snapshot_id, path=str(final), source=masked_url(spec.source.url),
                            taken_at=datetime.now(timezone.utc).isoformat(), fingerprint=overall.hexdigest(),
                            tables=tables,
                            reconstructed=None if as_of is None else {
                                "as_of": as_of, "filters": filters,
                                "read_as_they_are_now": sorted(set(spec.source.tables) - set(filters))})
        (staging / "snapshot.json").write_text(snapshot.to_json())
        staging.rename(final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return snapshot


def _snapshot_table(conn: sa.Connection, name: str, table_spec: TableSpec, staging: Path, final: Path,
                    chunk_rows: int, where: str | None = None) -> TableSnapshot:
    table = reflect_table(conn, name)
    columns = selected_columns(table, table_spec)
    schema = pa.schema([(c.name, arrow_type(c.type)) for c in columns])
    query = sa.select(*(_read_as_float(c) for c in columns)).order_by(table.c[table_spec.primary_key])
    if where:
        query = query.where(sa.text(where))
    digest = hashlib.sha256(str(schema).encode())
    rows = 0
    with pq.ParquetWriter(staging / f"{name}.parquet", schema) as writer:
        result = conn.execution_options(stream_results=True, yield_per=chunk_rows).execute(query)
        for chunk in result.partitions(chunk_rows):
            batch = _to_arrow(chunk, schema, name)
            writer.write_table(batch)
            hashed = pd.util.hash_pandas_object(batch.to_pandas(), index=False)
            digest.update(hashed.to_numpy().tobytes())
            rows += batch.num_rows
    return TableSnapshot(name=name, path=str(final / f"{name}.parquet"), rows=rows,
                         columns=schema.names, fingerprint=digest.hexdigest())


def _read_as_float(column: sa.Column) -> sa.ColumnElement:
    """Binary floats read as floats: a reflected MySQL/MariaDB DOUBLE has asdecimal=True, whose Decimal
    conversion rounds every value to 10 decimal places (1.5e-12 would arrive as 0)."""
    if isinstance(column.type, sa.Float) and column.type.asdecimal:
        return sa.type_coerce(column, sa.Float(asdecimal=False)).label(column.name)
    return column


def _to_arrow(rows: list[sa.Row], schema: pa.Schema, table: str = "") -> pa.Table:
    columns = list(zip(*rows)) if rows else [() for _ in schema]
    arrays = []
    for values, column in zip(columns, schema):
        try:
            if pa.types.is_floating(column.type):
                values = [None if v is None else float(v) for v in values]  # Decimal from NUMERIC
            elif pa.types.is_string(column.type):
                values = [None if v is None else str(v) for v in values]
            arrays.append(pa.array(values, type=column.type))
        except (pa.ArrowException, TypeError, ValueError, OverflowError) as exc:
            # A column whose values do not all have its declared type (SQLite keeps whatever is inserted).
            odd = next((v for v in values if v is not None and not _fits(v, column.type)), None)
            raise SnapshotError(
                f"source.tables.{table}", f"column '{column.name}' is declared as {column.type} but holds values of "
                f"another type (e.g. {type(odd).__name__} {str(odd)[:40]!r}): {str(exc).splitlines()[0]}",
                f"clean the column in the source, or leave it out with source.tables.{table}.exclude_columns") from None
    return pa.Table.from_arrays(arrays, schema=schema)


def _fits(value: object, arrow: pa.DataType) -> bool:
    try:
        pa.array([value], type=arrow)
        return True
    except (pa.ArrowException, TypeError, ValueError, OverflowError):
        return False


def load_snapshot(path: str | Path) -> Snapshot:
    data = json.loads((Path(path) / "snapshot.json").read_text())
    data["tables"] = {k: TableSnapshot(**v) for k, v in data["tables"].items()}
    return Snapshot(**data)

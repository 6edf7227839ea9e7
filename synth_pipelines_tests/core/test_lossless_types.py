"""Issue 13's silently lossy types: each is preserved or refused with the reason, and a source that
fails mid-snapshot is reported with the spec's context."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from synth_pipelines.core.features import apply_features
from synth_pipelines.core.snapshot import SnapshotError, take_snapshot
from synth_pipelines.core.synthesis import decode, encode, fit_codecs
from synth_pipelines.core.training_view import build_training_view, view_decimal_columns
from synth_pipelines.spec import DatasetSpec, FeaturesSpec, load_spec

WriteSpec = Callable[[dict[str, Any], str], Path]


def _spec(url: str, write_spec: WriteSpec, sql: str = "SELECT * FROM items") -> DatasetSpec:
    data = {"dataset": "types", "version": 1, "synthetic": {"rows": 10},
            "source": {"url": url, "tables": {"items": {"primary_key": "id"}}},
            "training_view": {"entity_key": "id", "label": "label", "sql": sql}}
    return load_spec(write_spec(data, "types.yaml")).spec


def test_decimal_keeps_its_type_and_scale(write_spec: WriteSpec, tmp_path: Path) -> None:
    source = tmp_path / "items.sqlite"
    with sqlite3.connect(source) as conn:
        conn.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, price NUMERIC(10, 2), ratio REAL, label INTEGER)")
        conn.executemany("INSERT INTO items VALUES (?, ?, ?, ?)",
                         [(i, f"{i * 10.25:.2f}", i / 3, i % 2) for i in range(1, 41)])
    spec = _spec(f"sqlite:///{source}", write_spec, "SELECT id, price, price * 2 AS doubled, ratio, label FROM items")
    snapshot = take_snapshot(spec, tmp_path / "snapshots", snapshot_id="s1")
    table = pq.read_table(snapshot.table_path("items"))
    assert table.schema.field("price").type == pa.decimal128(10, 2)
    assert table.column("price").to_pylist()[:2] == [Decimal("10.25"), Decimal("20.50")]

    tables = {name: t.path for name, t in snapshot.tables.items()}
    view = build_training_view(spec.training_view, tables)
    assert view.price.dtype == "float64" and view.price.tolist()[:2] == [10.25, 20.5]  # what generators read
    decimals = view_decimal_columns(spec.training_view, tables)
    assert decimals == {"price": (10, 2), "doubled": (18, 2)}  # DuckDB widens a product

    # Generated numbers come back with the real column's type and scale.
    rows = tmp_path / "rows.parquet"
    pq.write_table(pa.table({"price": [10.2549, 99.999], "doubled": [1.0, 2.004], "ratio": [0.123456789, 1.5],
                             "label": [0, 1]}), rows)
    out = tmp_path / "features.parquet"
    apply_features(rows, FeaturesSpec(calculated_columns=[{"name": "half", "expression": "price / 2"}]), out,
                   decimals=decimals)
    published = pq.read_table(out)
    assert published.schema.field("price").type == pa.decimal128(10, 2)
    assert published.schema.field("doubled").type == pa.decimal128(18, 2)
    assert published.column("price").to_pylist() == [Decimal("10.25"), Decimal("100.00")]
    assert published.schema.field("ratio").type == pa.float64()  # a binary float stays one
    assert published.column("half").to_pylist() == [10.2549 / 2, 99.999 / 2]  # computed from the generated value


def test_integers_beyond_float_precision_are_kept_exact_in_the_snapshot(write_spec: WriteSpec, tmp_path: Path) -> None:
    source = tmp_path / "items.sqlite"
    big = 2 ** 53 + 1
    with sqlite3.connect(source) as conn:
        conn.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, code INTEGER, label INTEGER)")
        conn.executemany("INSERT INTO items VALUES (?, ?, ?)", [(i, big + i, i % 2) for i in range(1, 11)])
    spec = _spec(f"sqlite:///{source}", write_spec)
    snapshot = take_snapshot(spec, tmp_path / "snapshots", snapshot_id="s1")
    view = build_training_view(spec.training_view, {n: t.path for n, t in snapshot.tables.items()})
    assert view.code.tolist()[0] == big + 1  # exact up to the generator, where validate refuses it (test_cli_validate)


def _postgres_items(url: str, statements: list[str]) -> None:
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            for statement in statements:
                conn.execute(sa.text(statement))
    finally:
        engine.dispose()


def test_zoned_timestamps_stay_zoned(postgres_url: str, write_spec: WriteSpec, tmp_path: Path) -> None:
    _postgres_items(postgres_url, [
        "CREATE TABLE items (id INTEGER PRIMARY KEY, seen_at TIMESTAMPTZ, local_at TIMESTAMP, amount NUMERIC(12, 3), "
        "label INTEGER)",
        "INSERT INTO items SELECT i, TIMESTAMPTZ '2024-03-01 12:00:00+02' + i * INTERVAL '1 hour', "
        "TIMESTAMP '2024-03-01 12:00:00', i * 1.125, i % 2 FROM generate_series(1, 30) AS i"])
    spec = _spec(postgres_url, write_spec)
    snapshot = take_snapshot(spec, tmp_path / "snapshots", snapshot_id="s1")
    table = pq.read_table(snapshot.table_path("items"))
    assert table.schema.field("seen_at").type == pa.timestamp("us", tz="UTC")
    assert table.schema.field("local_at").type == pa.timestamp("us")
    assert table.schema.field("amount").type == pa.decimal128(12, 3)
    first = table.column("seen_at").to_pylist()[0]
    assert first == dt.datetime(2024, 3, 1, 11, tzinfo=dt.timezone.utc)  # 13:00+02, the same instant

    view = build_training_view(spec.training_view, {n: t.path for n, t in snapshot.tables.items()})
    assert str(view.seen_at.dt.tz) == "UTC" and view.local_at.dt.tz is None
    frame = view.drop(columns=["id"])
    codecs = fit_codecs(frame, {"label"})
    decoded = decode(encode(frame, codecs), codecs)
    assert str(decoded.seen_at.dt.tz) == "UTC"  # the synthetic rows keep the zone
    assert decoded.seen_at.between(view.seen_at.min(), view.seen_at.max()).all()
    assert decoded.local_at.dt.tz is None


def test_single_precision_values_come_back_with_the_decimals_they_were_written_with(write_spec: WriteSpec,
                                                                                   tmp_path: Path) -> None:
    # A float32 column (Stata's default storage, a float32 Parquet or NumPy array loaded into the source)
    # holds 10.9 as 10.8999996185: no precision writes that double, so the format was "as generated" and a
    # quarter of whole numbers (staff in full-time equivalents) came back 1% whole, off the real grid.
    rows = np.arange(1, 401)
    staff = np.where(rows % 4 == 0, 10 + rows % 37, np.round(5 + rows * 0.37, 2)).astype(np.float32)
    source = tmp_path / "items.sqlite"
    with sqlite3.connect(source) as conn:
        conn.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, staff REAL, label INTEGER)")
        conn.executemany("INSERT INTO items VALUES (?, ?, ?)",
                         [(int(i), float(v), int(i % 2)) for i, v in zip(rows, staff, strict=True)])
    spec = _spec(f"sqlite:///{source}", write_spec)
    snapshot = take_snapshot(spec, tmp_path / "snapshots", snapshot_id="s1")
    view = build_training_view(spec.training_view, {n: t.path for n, t in snapshot.tables.items()})
    assert view.staff.iloc[0] != 5.37  # the source holds float32's 5.369999885559082
    frame = view.drop(columns=["id"])
    codecs = fit_codecs(frame, {"label"})
    assert next(c for c in codecs if c.name == "staff").number_format.decimals == 2

    rng = np.random.default_rng(0)  # a continuous generator: real values plus noise, off every grid
    generated = encode(frame, codecs).sample(4000, replace=True, random_state=0)
    generated["staff"] += rng.normal(0, 0.5, len(generated))
    staff = decode(generated.reset_index(drop=True), codecs, rng).staff.to_numpy()
    # two decimals, stored in single precision as the real values are
    assert np.all(staff == np.round(staff, 2).astype(np.float32).astype(float))
    real_whole, synthetic_whole = np.mean(frame.staff % 1 == 0), np.mean(staff % 1 == 0)
    assert real_whole == pytest.approx(0.25, abs=0.01)
    assert synthetic_whole == pytest.approx(real_whole, abs=0.05)


def test_a_connection_lost_mid_snapshot_names_the_spec_field(postgres_url: str, write_spec: WriteSpec,
                                                             tmp_path: Path) -> None:
    # The source drops the snapshot's connection while it reads the 500th row (the server ends the session).
    _postgres_items(postgres_url, [
        "CREATE TABLE base (id INTEGER PRIMARY KEY, amount DOUBLE PRECISION, label INTEGER)",
        "INSERT INTO base SELECT i, i * 1.5, i % 2 FROM generate_series(1, 2000) AS i",
        "CREATE VIEW items AS SELECT * FROM base "
        "WHERE CASE WHEN id = 500 THEN pg_terminate_backend(pg_backend_pid()) ELSE true END"])
    spec = _spec(postgres_url.replace("postgres@", "postgres:pg-s3cret@"), write_spec)
    with pytest.raises(SnapshotError) as caught:
        take_snapshot(spec, tmp_path / "snapshots", snapshot_id="s1", chunk_rows=100)
    error = caught.value
    assert error.field == "source.url"
    assert "reading table 'items' from postgresql+psycopg2://***@127.0.0.1" in error.problem
    assert "failed after 0 of 1 tables: OperationalError" in error.problem
    assert "check that the database is reachable and run again" in error.fix
    assert "pg-s3cret" not in str(error)
    assert not any((tmp_path / "snapshots").iterdir())  # the partial snapshot is gone

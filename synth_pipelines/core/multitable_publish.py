"""Publish a multi-table release: every table of one synthesis in one release, atomically together.

Local and S3: <root or prefix>/<dataset>_tables/features_v<N>/snapshot=<id>/{data/<table>/part-00000.parquet,
manifest.json}, through each destination's own commit (local: publish.staged_release, the staging
folder renamed into place; S3: s3.upload_release, manifest.json written last as the commit). SQL: one
table per table, `<release key>_<table>` with its primary key and FOREIGN KEY constraints, loaded and
registered as one release (sql.publish_tables_sql). A reader sees every table or none, and a
published release is never replaced. Lookup tables are published from the snapshot as they are.

The manifest lists each table's schema, rows, keys (primary key, foreign keys, parent) and file
checksum under `tables`; `files` and `rows` cover all tables together, as a single-table release's.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from synth_pipelines.core.files import fsync_folder, write_durably
from synth_pipelines.core.manifest import code_versions, release_header
from synth_pipelines.core.multitable import TablePlan
from synth_pipelines.core.publish import crash_point, file_sha256, release_folder, staged_release
from synth_pipelines.core.snapshot import Snapshot
from synth_pipelines.spec import LoadedSpec


def tables_dataset(dataset: str) -> str:
    """Where a dataset's multi-table releases go: beside its single-table ones, never mixed with them."""
    return f"{dataset}_tables"


def tables_provenance(loaded: LoadedSpec, snapshot: Snapshot, qa: dict[str, Any]) -> dict[str, Any]:
    """The provenance a single-table release's manifest carries (dates, spec, source snapshot, code),
    for the release of <dataset>_tables; `qa`: the tables' QA summary."""
    spec = loaded.spec
    return {**release_header(loaded, snapshot), "dataset": tables_dataset(spec.dataset),
            "generator": {"plugin": "cart", "settings": spec.generator.settings, "seed": spec.generator.seed},
            "qa": qa, **code_versions()}


@dataclass(frozen=True)
class TablesRelease:
    name: str
    location: str  # a local folder, s3://bucket/.../snapshot=<id>/ or <masked url>#<schema.release key>
    manifest_location: str
    tables: dict[str, str]  # table -> where its rows are
    rows: dict[str, int]

    @property
    def path(self) -> Path:
        """The release folder of a local release."""
        return Path(self.location)

    @property
    def manifest_path(self) -> Path:
        return Path(self.manifest_location)


def publish_order(plans: Mapping[str, TablePlan]) -> list[str]:
    """Every table after the tables its foreign keys reference: lookups, then the root down."""
    return sorted(plans, key=lambda name: not plans[name].lookup)


def foreign_keys(plan: TablePlan) -> dict[str, str]:
    """column -> the table whose primary key it references."""
    return {**plan.lookup_keys, **({plan.parent_key: plan.parent} if plan.parent else {})}


def table_entry(name: str, plans: Mapping[str, TablePlan], table: pa.Table, file: str, sha256: str) -> dict[str, Any]:
    plan = plans[name]
    return {"rows": table.num_rows, "lookup": plan.lookup, "primary_key": plan.primary_key,
            "parent": plan.parent, "order_by": plan.order_by,
            "foreign_keys": {column: f"{t}.{plans[t].primary_key}" for column, t in foreign_keys(plan).items()},
            "schema": [{"name": f.name, "type": str(f.type)} for f in table.schema],
            "files": {file: {"sha256": sha256, "rows": table.num_rows}}}


def arrow_tables(tables: Mapping[str, pd.DataFrame], plans: Mapping[str, TablePlan]) -> dict[str, pa.Table]:
    """Each table as Arrow, in publish order, a foreign key typed as the primary key it references (a
    key read back as float where it had nulls is an integer again): SQL declares it only so."""
    converted = {name: pa.Table.from_pandas(tables[name], preserve_index=False) for name in publish_order(plans)}
    for name, table in converted.items():
        for column, target in foreign_keys(plans[name]).items():
            wanted = converted[target].schema.field(plans[target].primary_key).type
            index = table.schema.get_field_index(column)
            if table.schema.field(index).type != wanted:
                try:
                    table = table.set_column(index, column, table.column(index).cast(wanted))
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                    raise ValueError(f"table {name}: foreign key {column} ({table.schema.field(index).type}) does "
                                     f"not hold {target}.{plans[target].primary_key}'s type {wanted}: {exc}") from exc
        converted[name] = table
    return converted


def data_file(name: str) -> str:
    return f"data/{name}/part-00000.parquet"


def write_tables(tables: Mapping[str, pa.Table], folder: Path) -> dict[str, Path]:
    """Each table to <folder>/data/<table>/part-00000.parquet, flushed to disk; release-relative name -> file."""
    files = {}
    for name, table in tables.items():
        path = folder / data_file(name)
        path.parent.mkdir(parents=True)
        pq.write_table(table, path)
        with path.open("rb+") as handle:
            os.fsync(handle.fileno())
        fsync_folder(path.parent)
        files[data_file(name)] = path
    fsync_folder(folder / "data")
    return files


def tables_manifest(manifest: Mapping[str, Any], tables: Mapping[str, pa.Table], plans: Mapping[str, TablePlan],
                    sha256: Mapping[str, str], *, release_name: str, snapshot_id: str) -> dict[str, Any]:
    """The manifest as published; `sha256`: release-relative file name -> its digest."""
    entries = {name: table_entry(name, plans, table, data_file(name), sha256[data_file(name)])
               for name, table in tables.items()}
    return {**manifest, "release": f"{release_name}/snapshot={snapshot_id}",
            "rows": sum(e["rows"] for e in entries.values()),
            "files": {file: entry for e in entries.values() for file, entry in e["files"].items()},
            "tables": entries}


def publish_tables_local(tables: Mapping[str, pd.DataFrame], plans: Mapping[str, TablePlan],
                         manifest: dict[str, Any], *, root: Path, dataset: str, release_name: str,
                         snapshot_id: str, stale_after: timedelta | None = timedelta(days=1)) -> TablesRelease:
    final = release_folder(root, dataset, release_name, snapshot_id)
    converted = arrow_tables(tables, plans)
    with staged_release(final, snapshot_id, stale_after) as staging:
        files = write_tables(converted, staging)
        crash_point("local.data_copied")
        full = tables_manifest(manifest, converted, plans, {name: file_sha256(path) for name, path in files.items()},
                               release_name=release_name, snapshot_id=snapshot_id)
        write_durably(staging / "manifest.json", json.dumps(full, indent=2, default=str).encode())
        fsync_folder(staging)
        crash_point("local.manifest_written")
    return TablesRelease(name=release_name, location=str(final), manifest_location=str(final / "manifest.json"),
                         tables={n: str(final / "data" / n) for n in converted},
                         rows={n: t.num_rows for n, t in converted.items()})


def publish_tables_s3(tables: Mapping[str, pd.DataFrame], plans: Mapping[str, TablePlan], manifest: dict[str, Any],
                      *, bucket: str, prefix: str, dataset: str, release_name: str, snapshot_id: str,
                      region: str | None = None, endpoint_url: str | None = None, client: Any = None,
                      stale_after: timedelta | None = timedelta(days=1)) -> TablesRelease:
    """The local layout under the S3 release prefix, committed by its manifest (s3.upload_release)."""
    from synth_pipelines.core.destinations.s3 import upload_release

    converted = arrow_tables(tables, plans)
    with tempfile.TemporaryDirectory(prefix="synth-tables-") as scratch:
        files = write_tables(converted, Path(scratch))
        location, folder = upload_release(
            files, lambda objects: tables_manifest(manifest, converted, plans,
                                                   {name: o["sha256"] for name, o in objects.items()},
                                                   release_name=release_name, snapshot_id=snapshot_id),
            bucket=bucket, prefix=prefix, dataset=dataset, release_name=release_name, snapshot_id=snapshot_id,
            region=region, endpoint_url=endpoint_url, client=client, stale_after=stale_after)
    return TablesRelease(name=release_name, location=location, manifest_location=location + "manifest.json",
                         tables={n: location + folder + f"data/{n}/" for n in converted},
                         rows={n: t.num_rows for n, t in converted.items()})


def publish_tables_sql(tables: Mapping[str, pd.DataFrame], plans: Mapping[str, TablePlan], manifest: dict[str, Any],
                       *, url: str, schema: str | None, source_url: str, dataset: str, release_name: str,
                       snapshot_id: str) -> TablesRelease:
    """One table per table with its keys declared, all registered as one release (sql.publish_tables_sql)."""
    from synth_pipelines.core.destinations.sql import publish_tables_sql as load_tables

    converted = arrow_tables(tables, plans)
    with tempfile.TemporaryDirectory(prefix="synth-tables-") as scratch:
        files = write_tables(converted, Path(scratch))
        full = tables_manifest(manifest, converted, plans, {name: file_sha256(path) for name, path in files.items()},
                               release_name=release_name, snapshot_id=snapshot_id)
        remote, located = load_tables(tables={n: files[data_file(n)] for n in converted},
                                      primary_keys={n: plans[n].primary_key for n in converted},
                                      foreign_keys={n: foreign_keys(plans[n]) for n in converted}, manifest=full,
                                      url=url, schema=schema, source_url=source_url, dataset=dataset,
                                      release_name=release_name, snapshot_id=snapshot_id)
    return TablesRelease(name=release_name, location=remote.location, manifest_location=remote.manifest_location,
                         tables=located, rows={n: t.num_rows for n, t in converted.items()})


def existing_tables_release(destination: Any, *, source_url: str, dataset: str, release_name: str,
                            snapshot_id: str) -> str | None:
    """Where a multi-table release is already published (local and S3, as existing_release finds a
    single-table one), or None. SQL: None, asked at publication instead, where the registration refuses
    an existing release key (its repair of a single-table release's view does not apply to tables)."""
    from synth_pipelines.core.destinations import existing_release

    if destination.kind == "sql":
        return None
    return existing_release(destination, source_url=source_url, dataset=dataset, release_name=release_name,
                            snapshot_id=snapshot_id)


def publish_tables(tables: Mapping[str, pd.DataFrame], plans: Mapping[str, TablePlan], manifest: dict[str, Any],
                   destination: Any, *, source_url: str, dataset: str, release_name: str,
                   snapshot_id: str) -> TablesRelease:
    """Publish to a spec's `destination` (local, s3 or sql) under `dataset` (see tables_dataset)."""
    common = {"dataset": dataset, "release_name": release_name, "snapshot_id": snapshot_id}
    if destination.kind == "local":
        return publish_tables_local(tables, plans, manifest, root=destination.root(), **common)
    if destination.kind == "s3":
        return publish_tables_s3(tables, plans, manifest, bucket=destination.bucket, prefix=destination.prefix,
                                 region=destination.region, endpoint_url=destination.endpoint_url, **common)
    return publish_tables_sql(tables, plans, manifest, url=destination.url, schema=destination.db_schema,
                              source_url=source_url, **common)

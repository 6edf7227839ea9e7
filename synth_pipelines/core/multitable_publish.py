"""Publish a multi-table release: every table of one synthesis in one release, atomically together.

Layout (local): <root>/<dataset>/features_v<N>/snapshot=<id>/{data/<table>/part-00000.parquet,
manifest.json}; lookup tables are published from the snapshot as they are. The release is assembled
and renamed into place like a single-table one (publish.staged_release), so a reader sees every table
or none, and a published release is never replaced. The manifest lists each table's schema, rows,
keys (primary key, foreign keys, parent) and file checksum.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from synth_pipelines.core.files import fsync_folder, write_durably
from synth_pipelines.core.multitable import TablePlan
from synth_pipelines.core.publish import crash_point, file_sha256, release_folder, staged_release


@dataclass(frozen=True)
class TablesRelease:
    name: str
    path: Path
    manifest_path: Path
    tables: dict[str, Path]  # table -> its data folder
    rows: dict[str, int]


def table_entry(name: str, plans: Mapping[str, TablePlan], table: pa.Table, file: str, sha256: str) -> dict[str, Any]:
    plan = plans[name]
    targets = {**plan.lookup_keys, **({plan.parent_key: plan.parent} if plan.parent else {})}
    return {"rows": table.num_rows, "lookup": plan.lookup, "primary_key": plan.primary_key,
            "parent": plan.parent, "order_by": plan.order_by,
            "foreign_keys": {column: f"{t}.{plans[t].primary_key}" for column, t in targets.items()},
            "schema": [{"name": f.name, "type": str(f.type)} for f in table.schema],
            "files": {file: {"sha256": sha256, "rows": table.num_rows}}}


def _write_durably(table: pa.Table, path: Path) -> None:
    pq.write_table(table, path)
    with path.open("rb+") as handle:
        os.fsync(handle.fileno())


def publish_tables_local(tables: Mapping[str, pd.DataFrame], plans: Mapping[str, TablePlan],
                         manifest: dict[str, Any], *, root: Path, dataset: str, release_name: str,
                         snapshot_id: str, stale_after: timedelta | None = timedelta(days=1)) -> TablesRelease:
    final = release_folder(root, dataset, release_name, snapshot_id)
    entries, folders = {}, {}
    with staged_release(final, snapshot_id, stale_after) as staging:
        for name, frame in tables.items():
            folder = staging / "data" / name
            folder.mkdir(parents=True)
            table = pa.Table.from_pandas(frame, preserve_index=False)
            _write_durably(table, folder / "part-00000.parquet")
            fsync_folder(folder)
            file = f"data/{name}/part-00000.parquet"
            entries[name] = table_entry(name, plans, table, file, file_sha256(staging / file))
            folders[name] = final / "data" / name
            crash_point("local.data_copied")
        full = {**manifest, "release": f"{release_name}/snapshot={snapshot_id}", "tables": entries}
        write_durably(staging / "manifest.json", json.dumps(full, indent=2, default=str).encode())
        fsync_folder(staging / "data")
        fsync_folder(staging)
        crash_point("local.manifest_written")
    return TablesRelease(name=release_name, path=final, manifest_path=final / "manifest.json", tables=folders,
                         rows={n: e["rows"] for n, e in entries.items()})

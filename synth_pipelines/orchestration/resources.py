"""Resources and metadata helpers shared by the asset factory."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import dagster as dg
import pandas as pd

from synth_pipelines.core.column_origins import ColumnOrigin
from synth_pipelines.paths import storage_root

ORIGIN_TAG = "synth_pipelines/origin"  # synthesized, calculated, masked or row_id, on each column of the schema


class SynthStorage(dg.ConfigurableResource):
    """Where snapshots and working files live (releases go to the spec's destination)."""

    root: str = ""

    def base(self) -> Path:
        return Path(self.root).resolve() if self.root else storage_root()

    def snapshots(self, dataset: str) -> Path:
        return self.base() / "snapshots" / dataset

    def work(self, dataset: str, snapshot_id: str, stage: str) -> Path:
        path = self.base() / "work" / dataset / snapshot_id / stage
        path.mkdir(parents=True, exist_ok=True)
        return path


# A category value is named in real-row metadata only when at least this many rows hold it (the
# published QA report's MIN_CELL_ROWS): a rarer value can single out a person.
MIN_CATEGORY_ROWS = 10
MAX_CATEGORY_LEVELS = 20


def _schema(frame: pd.DataFrame) -> dict[str, dg.MetadataValue]:
    schema = dg.TableSchema(columns=[dg.TableColumn(name=str(c), type=str(t)) for c, t in frame.dtypes.items()])
    return {"dagster/row_count": dg.MetadataValue.int(len(frame)),
            "dagster/column_schema": dg.MetadataValue.table_schema(schema),
            "columns": dg.MetadataValue.int(frame.shape[1])}


def frame_metadata(frame: pd.DataFrame, preview_rows: int = 5, origins: Sequence[ColumnOrigin] = (),
                   upstream: dg.AssetKey | None = None) -> dict[str, dg.MetadataValue]:
    """Synthetic rows: row count, column schema and a preview, under Dagster's standard keys where they
    exist; with `origins`, the schema describes each column and the lineage leads to `upstream`."""
    metadata = {**_schema(frame), "preview": dg.MetadataValue.md(frame.head(preview_rows).to_markdown(index=False))}
    if origins and upstream is not None:
        metadata.update(column_metadata({str(c): str(t) for c, t in frame.dtypes.items()}, origins, upstream))
    return metadata


def column_metadata(types: Mapping[str, str], origins: Sequence[ColumnOrigin],
                    upstream: dg.AssetKey) -> dict[str, dg.MetadataValue]:
    """Column schema with each column's description and origin tag, and column lineage: each column from
    its input columns of `upstream` (a random masked column or the row id has none)."""
    by_name = {o.name: o for o in origins}
    schema = dg.TableSchema(columns=[
        dg.TableColumn(name, type=kind, description=by_name[name].description if name in by_name else None,
                       tags={ORIGIN_TAG: by_name[name].origin} if name in by_name else None)
        for name, kind in types.items()])
    lineage = dg.TableColumnLineage({o.name: [dg.TableColumnDep(upstream, column) for column in o.inputs]
                                     for o in origins if o.inputs and o.name in types})
    return {"dagster/column_schema": dg.MetadataValue.table_schema(schema),
            "dagster/column_lineage": dg.MetadataValue.column_lineage(lineage)}


def real_frame_metadata(frame: pd.DataFrame, entity_key: str | None = None) -> dict[str, dg.MetadataValue]:
    """Real rows: aggregates only, never a row or a single person's value. The Dagster event log is
    readable by everyone with UI access and kept for good (PostgreSQL in production).

    Row count, schema, each column's missing share, and category counts for columns of at most
    MAX_CATEGORY_LEVELS values, naming only values held by at least MIN_CATEGORY_ROWS rows (the rest
    are one count). No extremes, no examples, no entity keys."""
    missing = {str(c): round(float(frame[c].isna().mean()), 4) for c in frame.columns}
    categories: dict[str, dict[str, int]] = {}
    for column in frame.columns:
        if column == entity_key or pd.api.types.is_float_dtype(frame[column]):
            continue
        counts = frame[column].value_counts(dropna=True)
        if len(counts) > MAX_CATEGORY_LEVELS:
            continue
        named = {str(value): int(n) for value, n in counts.items() if n >= MIN_CATEGORY_ROWS}
        rare = int(counts[counts < MIN_CATEGORY_ROWS].sum())
        if rare:
            named[f"(values held by fewer than {MIN_CATEGORY_ROWS} rows)"] = rare
        categories[str(column)] = named
    return {**_schema(frame), "missing_share": dg.MetadataValue.json(missing),
            "category_counts": dg.MetadataValue.json(categories)}

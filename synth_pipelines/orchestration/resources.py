"""Resources and metadata helpers shared by the asset factory."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pandas as pd

from synth_pipelines.paths import storage_root


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


def frame_metadata(frame: pd.DataFrame, preview_rows: int = 5) -> dict[str, dg.MetadataValue]:
    """Row count, column schema and a preview, under Dagster's standard keys where they exist."""
    schema = dg.TableSchema(columns=[dg.TableColumn(name=str(c), type=str(t)) for c, t in frame.dtypes.items()])
    return {
        "dagster/row_count": dg.MetadataValue.int(len(frame)),
        "dagster/column_schema": dg.MetadataValue.table_schema(schema),
        "columns": dg.MetadataValue.int(frame.shape[1]),
        "preview": dg.MetadataValue.md(frame.head(preview_rows).to_markdown(index=False)),
    }

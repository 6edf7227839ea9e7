"""`synthetic_rows` and `synthetic_features` as graph-backed assets that fan out over shards.

Each asset is a graph: a plan op yields one dynamic output per shard (core/shards.py), a shard op per
mapping key generates (or adds the features to) that shard's part, and a collect op records the parts
as the asset's value. Every shard op is its own step, so a distributed executor (dagster-celery, the
k8s job executor) runs the shards on as many workers as it has; a shard op retries on failure and
moves its part into place only when it is complete, so a killed worker never leaves half a part.
"""

import json
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
import pyarrow.parquet as pq

from synth_pipelines.core.column_origins import feature_origins, synthesized
from synth_pipelines.core.features import FeatureExpressionError, apply_features
from synth_pipelines.core.lookups import LookupKeyError, check_lookup_keys, lookup_foreign_keys
from synth_pipelines.core.shards import Shard, part_files, plan_shards, publish_part
from synth_pipelines.core.snapshot import load_snapshot
from synth_pipelines.core.synthesis import generate_rows, rebalance_record
from synth_pipelines.core.training_view import view_decimal_columns
from synth_pipelines.orchestration.factory import TableFile, TrainedModel, _hash
from synth_pipelines.orchestration.resources import SynthStorage, frame_metadata
from synth_pipelines.spec import LoadedSpec

# A shard lost with its worker (killed, evicted) runs again; its part is only moved into place when whole.
SHARD_RETRIES = dg.RetryPolicy(max_retries=3, delay=1)


@dataclass(frozen=True)
class ShardTask:
    snapshot_id: str
    shard: Shard
    model: TrainedModel | None = None  # generation
    rows_part: str = ""  # features: the shard's rows part, and where it starts in the dataset
    first_row: int = 0
    decimals: dict[str, tuple[int, int]] | None = None


@dataclass(frozen=True)
class ShardPart:
    index: int
    path: str
    rows: int
    drawn: int = 0  # rows drawn to fill rebalance quotas
    seconds: float = 0.0


def _part_metadata(parts: list[ShardPart]) -> dict[str, Any]:
    seconds = [p.seconds for p in parts]
    return {"shards": len(parts), "shard_rows": dg.MetadataValue.json([p.rows for p in parts]),
            "shard_seconds": dg.MetadataValue.json(seconds),
            "parts": dg.MetadataValue.json([Path(p.path).name for p in sorted(parts, key=lambda p: p.index)])}


def _first_part(folder: Path, rows: int) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The first part's first row group, one generation batch (a preview and the schema), and the total
    count. Not the whole part: with one shard that is every row (1M demo rows: 0.8 GB in pandas)."""
    first = pq.ParquetFile(part_files(folder)[0])
    head = first.read_row_group(0) if first.num_row_groups else first.schema_arrow.empty_table()
    return head.to_pandas(), {"dagster/row_count": dg.MetadataValue.int(rows)}


def sharded_generation_assets(loaded: LoadedSpec, partitioned: dict[str, Any]) -> list[dg.AssetsDefinition]:
    """The `synthetic_rows` and `synthetic_features` assets of one dataset, each a fan-out over shards."""
    spec = loaded.spec
    name, synthetic = spec.dataset, spec.synthetic

    def key(stage: str) -> dg.AssetKey:
        return dg.AssetKey([name, stage])

    @dg.op(name=f"{name}__plan_row_shards", out=dg.DynamicOut(ShardTask))
    def plan_row_shards(storage: SynthStorage, model: TrainedModel):
        storage.clear_parts(storage.work(name, model.snapshot_id, "synthetic_rows"))
        for shard in plan_shards(synthetic.rows, synthetic.batch_rows, synthetic.shard_count):
            yield dg.DynamicOutput(ShardTask(model.snapshot_id, shard, model=model), mapping_key=f"shard_{shard.index}")

    @dg.op(name=f"{name}__generate_shard", retry_policy=SHARD_RETRIES)
    def generate_shard(context: dg.OpExecutionContext, storage: SynthStorage, task: ShardTask) -> ShardPart:
        folder = storage.work(name, task.snapshot_id, "synthetic_rows", pull=False)
        with tempfile.TemporaryDirectory(dir=folder, prefix=".shard-") as tmp:
            generated = generate_rows(
                task.model.synthesizer, rows=synthetic.rows, batch_rows=synthetic.batch_rows,
                id_prefix=f"{name}-{task.snapshot_id}", out_dir=Path(tmp), rebalance=synthetic.rebalance,
                batches=task.shard.batches, file_name=task.shard.part,
                on_batch=lambda done, total: context.log.info(f"shard {task.shard.index}: generated {done}/{total} rows"))
            path = publish_part(Path(generated.path), folder, task.shard.index)
        drawn = (generated.rebalance or {}).get("generated_rows", 0)
        return ShardPart(task.shard.index, str(path), generated.rows, drawn, generated.seconds)

    @dg.op(name=f"{name}__collect_rows")
    def collect_rows(storage: SynthStorage, parts: list[ShardPart], model: TrainedModel) -> dg.Output[TableFile]:
        snapshot_id = model.snapshot_id
        folder = storage.work(name, snapshot_id, "synthetic_rows")
        rows = sum(p.rows for p in parts)
        record = None
        if synthetic.rebalance is not None:
            record = rebalance_record(part_files(folder), synthetic.rebalance, sum(p.drawn for p in parts))
        (folder / "rebalance.json").write_text(json.dumps(record))  # for the manifest
        keys = lookup_foreign_keys(spec.source, [c.name for c in model.synthesizer.codecs])
        snapshot = load_snapshot(storage.snapshots(name) / snapshot_id)
        try:  # fails loudly: a synthetic foreign key must resolve in the published lookup table
            referenced = check_lookup_keys([str(p) for p in part_files(folder)], keys,  # every shard's part
                                           {t: snapshot.table_path(t) for t in snapshot.tables})
        except LookupKeyError as exc:
            raise dg.Failure(description=f"{loaded.path}: {exc}") from None
        frame, count = _first_part(folder, rows)
        origins = [synthesized(str(column), spec.generator.plugin) for column in frame.columns]
        seconds = max(p.seconds for p in parts)
        return dg.Output(TableFile(snapshot_id, str(folder), rows), metadata={
            **frame_metadata(frame, origins=origins, upstream=key("train_rows")), **count,
            "location": dg.MetadataValue.path(str(folder)), **_part_metadata(parts),
            "lookup_keys_referenced": dg.MetadataValue.json(referenced),
            "rebalance": dg.MetadataValue.json(record or {}), "batches": synthetic.batches,
            "rows_per_second": round(rows / max(sum(p.seconds for p in parts), 1e-6)), "seconds": seconds})

    @dg.graph_asset(key=key("synthetic_rows"), kinds={"synthcity", "parquet"},
                    code_version=_hash(synthetic.model_dump()), ins={"model": dg.AssetIn(key("synthesizer"))},
                    description="Rows sampled from the synthesizer in batches (bounded memory), one step and one "
                                "Parquet part per shard (synthetic.shards).", **partitioned)
    def synthetic_rows(model):
        parts = plan_row_shards(model).map(generate_shard)
        return collect_rows(parts.collect(), model)

    @dg.op(name=f"{name}__plan_feature_shards", out=dg.DynamicOut(ShardTask))
    def plan_feature_shards(storage: SynthStorage, rows: TableFile):
        storage.clear_parts(storage.work(name, rows.snapshot_id, "synthetic_features"))
        snapshot = load_snapshot(storage.snapshots(name) / rows.snapshot_id)
        decimals = view_decimal_columns(spec.training_view, {t: s.path for t, s in snapshot.tables.items()})
        first_row = 0
        for index, part in enumerate(part_files(Path(rows.path))):
            shard = Shard(index, 0, 0)
            yield dg.DynamicOutput(ShardTask(rows.snapshot_id, shard, rows_part=str(part), first_row=first_row,
                                             decimals=decimals), mapping_key=f"shard_{index}")
            first_row += pq.ParquetFile(part).metadata.num_rows

    @dg.op(name=f"{name}__feature_shard", retry_policy=SHARD_RETRIES)
    def feature_shard(storage: SynthStorage, task: ShardTask) -> ShardPart:
        started = time.perf_counter()
        folder = storage.work(name, task.snapshot_id, "synthetic_features", pull=False)
        with tempfile.TemporaryDirectory(dir=folder, prefix=".shard-") as tmp:
            out = Path(tmp) / task.shard.part
            try:  # masked values reseeded per generation batch: the same whatever the sharding
                count = apply_features(Path(task.rows_part), spec.features, out, seed=spec.generator.seed,
                                       decimals=task.decimals, first_row=task.first_row,
                                       seed_block_rows=synthetic.batch_rows)
            except FeatureExpressionError as exc:  # e.g. the masking secret is not in the environment
                raise dg.Failure(description=f"{loaded.path}: {exc}") from None
            path = publish_part(out, folder, task.shard.index)
        return ShardPart(task.shard.index, str(path), count, seconds=round(time.perf_counter() - started, 2))

    @dg.op(name=f"{name}__collect_features")
    def collect_features(storage: SynthStorage, parts: list[ShardPart], rows: TableFile) -> dg.Output[TableFile]:
        folder = storage.work(name, rows.snapshot_id, "synthetic_features")
        count = sum(p.rows for p in parts)
        masked = {m.name: m.faker + (f", consistent on {m.consistent_on}" if m.consistent_on else ", random per row")
                  for m in spec.features.masked_columns if m.name not in spec.features.drop_columns}
        frame, row_count = _first_part(folder, count)
        origins = feature_origins([str(c) for c in frame.columns], spec.features, spec.generator.plugin)
        return dg.Output(TableFile(rows.snapshot_id, str(folder), count), metadata={
            **frame_metadata(frame, origins=origins, upstream=key("synthetic_rows")), **row_count,
            "location": dg.MetadataValue.path(str(folder)), **_part_metadata(parts),
            "masked_columns_not_trained_on": dg.MetadataValue.json(masked),
            "seconds": max(p.seconds for p in parts)})

    @dg.graph_asset(key=key("synthetic_features"), kinds={"duckdb", "parquet"},
                    code_version=f"v{spec.version}-{_hash(spec.features.model_dump())}",
                    ins={"rows": dg.AssetIn(key("synthetic_rows"))},
                    description="Synthetic rows with the spec's calculated and masked columns and drops: what gets "
                                "published once the QA checks pass. One step and one part per shard.", **partitioned)
    def synthetic_features(rows):
        parts = plan_feature_shards(rows).map(feature_shard)
        return collect_features(parts.collect(), rows)

    return [synthetic_rows, synthetic_features]

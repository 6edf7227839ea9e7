"""Sharded generation: which batches each shard makes, and where its Parquet part lives.

A shard is a run of whole generation batches. Every batch's seed, rebalance quotas, row ids and masked
values derive from the dataset seed and the batch's index alone (synthesis.generate_rows,
features.apply_features), so the shards' parts concatenated in shard order are byte for byte the rows
of one unsharded run, whatever the number of shards or workers and whatever order the shards ran in.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

PART_GLOB = "part-*.parquet"


@dataclass(frozen=True)
class Shard:
    index: int
    first_batch: int
    stop_batch: int

    @property
    def batches(self) -> range:
        return range(self.first_batch, self.stop_batch)

    @property
    def part(self) -> str:
        return part_name(self.index)


def part_name(index: int) -> str:
    return f"part-{index:05d}.parquet"


def plan_shards(rows: int, batch_rows: int, shards: int) -> list[Shard]:
    """`shards` contiguous runs of the `rows`' batches, as even as whole batches allow."""
    batches = -(-rows // batch_rows)
    if not 1 <= shards <= batches:
        raise ValueError(f"{shards} shards for {batches} batches: a shard is at least one whole batch")
    bounds = [index * batches // shards for index in range(shards + 1)]
    return [Shard(index, bounds[index], bounds[index + 1]) for index in range(shards)]


def part_files(path: Path) -> list[Path]:
    """The Parquet parts of a table: `path` itself when it is a file, else its part-*.parquet in order."""
    path = Path(path)
    return [path] if path.is_file() else sorted(path.glob(PART_GLOB))


def publish_part(tmp: Path, folder: Path, index: int) -> Path:
    """Move a finished part into place in one step: a retried or killed shard never leaves half a part."""
    target = folder / part_name(index)
    os.replace(tmp, target)
    return target


def parts_sha256(path: Path) -> str:
    """The SHA-256 of a table's rows as stored: of the file itself for one file, else of its parts' hashes
    in order (an approval binds to exactly these parts)."""
    from synth_pipelines.core.publish import file_sha256

    parts = part_files(path)
    if len(parts) == 1 and Path(path).is_file():
        return file_sha256(parts[0])
    return hashlib.sha256("".join(f"{p.name}:{file_sha256(p)}\n" for p in parts).encode()).hexdigest()


def part_rows(path: Path) -> int:
    import pyarrow.parquet as pq

    return sum(pq.ParquetFile(part).metadata.num_rows for part in part_files(path))


def release_data_files(path: Path) -> dict[str, Path]:
    """The release's data files, `data/part-NNNNN.parquet` in shard order, and the parts they come from."""
    parts = part_files(path)
    if not parts:  # a release never goes out without its rows
        raise FileNotFoundError(f"no synthetic features at {path} (a Parquet file or part-*.parquet files)")
    return {f"data/{part_name(index)}": part for index, part in enumerate(parts)}

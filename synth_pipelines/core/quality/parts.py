"""Synthetic rows too many to hold at once: Parquet parts read a chunk at a time.

QA of a large release (issue 16) never loads every synthetic row. The checks that need every row
(Great Expectations, exact copies of real rows, category and range coverage) run chunk by chunk and
merge exactly what one pass over all rows would give (ge_suite.validate_chunks, privacy.exact_copies_in_chunks,
diversity.coverage_digest); every other check runs on a uniform sample of `qa.sample_rows` rows
drawn here, as it already samples smaller sets internally (the discriminator, PhiK, the neighbour
searches, the attacks, utility). Peak memory then follows the chunk and sample sizes, not the rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

CHUNK_ROWS = 100_000  # rows read at once: a Parquet row group is at most this (generation writes 50,000)


@dataclass(frozen=True)
class SyntheticParts:
    """The synthetic rows of one snapshot as Parquet files; `to_frame` turns a chunk into the frame QA
    compares (e.g. DECIMAL columns as floats, as the training view has them)."""

    files: tuple[Path, ...]
    to_frame: Callable[[pa.Table], pd.DataFrame] = pa.Table.to_pandas
    chunk_rows: int = CHUNK_ROWS

    @property
    def rows(self) -> int:
        return sum(pq.ParquetFile(f).metadata.num_rows for f in self.files)

    def chunks(self, columns: list[str] | None = None) -> Iterator[pd.DataFrame]:
        for file in self.files:
            for batch in pq.ParquetFile(file).iter_batches(batch_size=self.chunk_rows, columns=columns):
                yield self.to_frame(pa.Table.from_batches([batch]))

    def sample(self, rows: int, seed: int) -> pd.DataFrame:
        """A uniform sample of `rows` rows without replacement (all rows when there are fewer), in file order,
        read chunk by chunk; the same files and seed give the same rows."""
        total = self.rows
        if total <= rows:
            return pd.concat(list(self.chunks()), ignore_index=True) if self.files else pd.DataFrame()
        chosen = np.sort(np.random.default_rng(seed).choice(total, size=rows, replace=False))
        picked, start = [], 0
        for chunk in self.chunks():
            stop = start + len(chunk)
            inside = chosen[(chosen >= start) & (chosen < stop)] - start
            if len(inside):
                picked.append(chunk.iloc[inside])
            start = stop
        return pd.concat(picked, ignore_index=True)

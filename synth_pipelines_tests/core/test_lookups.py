"""Synthetic foreign keys into lookup tables must resolve in the lookup snapshot (README: else the run fails)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from synth_pipelines.core.lookups import LookupKeyError, check_lookup_keys


@pytest.fixture
def lookup(tmp_path: Path) -> dict[str, Path]:
    path = tmp_path / "branches.parquet"
    pq.write_table(pa.table({"branch_id": [1, 2, 3], "city": ["a", "b", "c"]}), path)
    return {"branches": path}


def _rows(tmp_path: Path, keys: list[int | None]) -> Path:
    path = tmp_path / "rows.parquet"
    pq.write_table(pa.table({"branch_id": pa.array(keys, pa.int64()), "x": list(range(len(keys)))}), path)
    return path


def test_keys_of_the_lookup_snapshot_pass_and_are_counted(tmp_path, lookup):
    rows = _rows(tmp_path, [1, 2, 2, None, 1])  # a missing key is allowed (a missing value)
    assert check_lookup_keys(rows, {"branch_id": "branches.branch_id"}, lookup) == {"branch_id": 2}


def test_a_key_missing_from_the_lookup_snapshot_fails_naming_column_table_and_count(tmp_path, lookup):
    rows = _rows(tmp_path, [1, 4, 2, 9, 9])
    with pytest.raises(LookupKeyError, match=r"'branch_id' references 2 keys missing from lookup table 'branches' "
                                             r"\(e\.g\. \[4, 9\]\)"):
        check_lookup_keys(rows, {"branch_id": "branches.branch_id"}, lookup)

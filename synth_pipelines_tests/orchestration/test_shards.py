"""Sharded generation: one step per shard, rows that do not depend on the sharding, a release of parts."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from synth_pipelines.core.shards import part_files
from synth_pipelines.orchestration.code_location import build_definitions
from synth_pipelines.orchestration.factory import add_snapshot_partitions
from synth_pipelines.orchestration.resources import SynthStorage
from synth_pipelines.orchestration.runner import materialize_dataset
from synth_pipelines.spec import SpecError, load_spec

pytestmark = pytest.mark.slow
PARTITION = "2026-11-24"


def _sharded(data: dict, shards: int) -> dict:
    # 1500 rows in 5 batches of 300; a masked random column and rebalancing, whose draws are per batch too.
    data["synthetic"].update(batch_rows=300, shards=shards, rebalance={"column": "defaulted",
                                                                       "proportions": {0: 0.6, 1: 0.4}})
    data["features"]["masked_columns"] = [{"name": "contact_email", "faker": "email"}]
    return data


def _features(data: dict, shards: int, write_spec, root: Path) -> list[Path]:
    """Materialize up to synthetic_features (no QA) under `root`; the features' parts."""
    loaded = load_spec(write_spec(_sharded(data, shards), f"spec-{root.name}.yaml"))
    storage = SynthStorage(root=str(root))
    defs = build_definitions([loaded], storage)
    features = dg.AssetKey(["demo_loans", "synthetic_features"])
    job = dg.define_asset_job("upto_features", selection=dg.AssetSelection.assets(features).upstream()
                                .required_multi_asset_neighbors().without_checks())
    instance = dg.DagsterInstance.ephemeral()
    add_snapshot_partitions(instance, loaded, [PARTITION])
    result = dg.Definitions.merge(defs, dg.Definitions(jobs=[job])).resolve_job_def("upto_features").execute_in_process(
        instance=instance, partition_key=PARTITION)
    assert result.success
    steps = {e.step_key for e in result.all_events if e.is_step_success}
    assert len([s for s in steps if ".demo_loans__generate_shard[" in s]) == shards
    return part_files(storage.work("demo_loans", PARTITION, "synthetic_features"))


def test_shards_give_the_rows_of_one_run_as_a_release_of_parts(demo_spec_data, write_spec, storage_home):
    demo_spec_data["qa"]["sample_rows"] = 1000  # QA holds a sample; the whole-row checks read the parts
    outcome = materialize_dataset(load_spec(write_spec(_sharded(demo_spec_data, 4))), dg.DagsterInstance.ephemeral(),
                                  SynthStorage(root=str(storage_home)), partition_key=PARTITION)
    assert outcome.success, (outcome.error, outcome.failed_checks)
    release = storage_home / "releases" / "demo_loans" / "features_v1" / f"snapshot={PARTITION}"
    manifest = json.loads((release / "manifest.json").read_text())
    qa = json.loads((storage_home / "work" / "demo_loans" / PARTITION / "qa" / "qa_report.json").read_text())
    assert qa["settings"]["sample"]["rows"] == 1000 and qa["settings"]["rows"]["synthetic"] == 1500
    great_expectations = next(c for c in qa["checks"] if c["name"] == "great_expectations")
    assert "pandas batches merged" in great_expectations["metrics"][0]["implementation"]  # 1500 rows, 4 parts
    parts = sorted(name for name in manifest["files"] if name.startswith("data/"))
    assert parts == [f"data/part-0000{i}.parquet" for i in range(4)]
    assert sorted(str(p.relative_to(release)) for p in (release / "data").iterdir()) == parts
    assert [manifest["files"][p]["rows"] for p in parts] == [300, 300, 300, 600]  # 5 batches over 4 shards
    assert sum(manifest["files"][p]["rows"] for p in parts) == manifest["rows"] == 1500
    released = pd.concat([pd.read_parquet(release / p) for p in parts], ignore_index=True)
    assert released["synthetic_id"].is_unique

    # The same spec and seed with one shard: the same rows in the same order (one part).
    one = _features(demo_spec_data, 1, write_spec, storage_home / "one")
    assert len(one) == 1
    pd.testing.assert_frame_equal(pd.read_parquet(one[0]), released)
    # Four shards again, elsewhere: byte-identical parts.
    again = _features(demo_spec_data, 4, write_spec, storage_home / "again")
    assert [p.read_bytes() for p in again] == [(release / p).read_bytes() for p in parts]


def test_shard_settings_are_checked(demo_spec_data, write_spec):
    demo_spec_data["synthetic"].update(rows=1000, batch_rows=300, shards=5)  # 4 batches
    with pytest.raises(SpecError, match=r"synthetic\.shards: 5 shards for 4 batch\(es\).*use at most 4 shards"):
        load_spec(write_spec(demo_spec_data))
    demo_spec_data["synthetic"].update(shards=2, rows_per_shard=500)
    with pytest.raises(SpecError, match="both 'shards' and 'rows_per_shard'"):
        load_spec(write_spec(demo_spec_data))
    del demo_spec_data["synthetic"]["shards"]
    assert load_spec(write_spec(demo_spec_data)).spec.synthetic.shard_count == 2

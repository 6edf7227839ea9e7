"""The demo pipeline with every data treatment on: a lookup foreign key (branch_id) in the view, a real
column replaced by a consistent masked column, and the label rebalanced to 50/50 (~20% in the real rows)."""

from __future__ import annotations

import json
import re

import dagster as dg
import pandas as pd
import pyarrow.parquet as pq
import pytest

from synth_pipelines.core.synthesis import load_synthesizer
from synth_pipelines.orchestration.resources import SynthStorage
from synth_pipelines.orchestration.runner import materialize_dataset
from synth_pipelines.spec import load_spec

pytestmark = pytest.mark.slow
PARTITION = "2026-11-24"


def test_lookup_keys_masking_and_rebalancing_end_to_end(demo_spec_data, write_spec, storage_home, monkeypatch):
    monkeypatch.setenv("SYNTH_PIPELINES_MASKING_KEY", "end-to-end-masking-secret-0123")
    data = demo_spec_data
    data["source"]["tables"]["customers"]["exclude_columns"] = ["full_name", "phone"]  # email reaches the view
    data["training_view"]["sql"] = data["training_view"]["sql"].replace(
        "b.region                                              AS branch_region,", "a.branch_id,").replace(
        "c.gender,", "c.gender, c.email,")
    data["features"]["masked_columns"] = [
        {"replaces": "email", "faker": "email"},
        {"name": "branch_manager", "faker": "name", "consistent_on": "branch_id"}]
    data["synthetic"]["rebalance"] = {"column": "defaulted", "proportions": {0: 0.5, 1: 0.5}}
    loaded = load_spec(write_spec(data))
    storage = SynthStorage(root=str(storage_home))
    outcome = materialize_dataset(loaded, dg.DagsterInstance.ephemeral(), storage, partition_key=PARTITION)
    assert outcome.success, (outcome.error, outcome.failed_checks)

    # The replaced column never reaches training; the lookup key is synthesized as a category.
    train = pd.read_parquet(storage.work("demo_loans", PARTITION, "split") / "train_rows.parquet")
    assert "email" not in train.columns and "branch_id" in train.columns
    codecs = {c.name: c for c in load_synthesizer(storage.work("demo_loans", PARTITION, "synthesizer")).codecs}
    assert "email" not in codecs and codecs["branch_id"].kind == "category"

    release = storage_home / "releases" / "demo_loans" / "features_v1" / f"snapshot={PARTITION}"
    features = pq.ParquetFile(release / "data" / "part-00000.parquet").read().to_pandas()
    branches = pq.ParquetFile(release / "lookups" / "branches.parquet").read().to_pandas()
    snapshot = storage.snapshots("demo_loans") / PARTITION
    assert (release / "lookups" / "branches.parquet").read_bytes() == (snapshot / "branches.parquet").read_bytes()
    # Every synthetic foreign key resolves in the published lookup table.
    assert set(features["branch_id"].dropna()) <= set(branches["branch_id"])
    # The masked email takes the replaced column's name; the consistent name follows the branch.
    assert all(re.fullmatch(r"[^@\s]+@[^@\s]+\.[a-z]{2,}", e) for e in features["email"])
    assert (features.groupby("branch_id")["branch_manager"].nunique() == 1).all()
    assert features["defaulted"].value_counts(normalize=True).to_dict() == {0: 0.5, 1: 0.5}

    manifest = json.loads((release / "manifest.json").read_text())
    assert manifest["masked_columns"]["email"]["replaces"] == "email"
    assert manifest["masked_columns"]["branch_manager"]["consistent_on"] == "branch_id"
    assert manifest["lookups"]["keys"] == {"branch_id": "branches.branch_id"}
    assert set(manifest["files"]) == {"data/part-00000.parquet", "lookups/branches.parquet", "lookups/products.parquet"}
    rebalance = manifest["rebalance"]
    assert rebalance["achieved_proportions"] == {"0": 0.5, "1": 0.5}
    assert 0.1 < rebalance["real_proportions"]["1"] < 0.3
    # QA (bias on gender included) compared with real rows resampled to 50/50: the shift is no failure.
    qa = json.loads((release / "qa_report.json").read_text())
    assert qa["settings"]["rebalance"]["reference_rows"] > 0 and not outcome.failed_checks

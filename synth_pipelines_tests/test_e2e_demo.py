"""End to end: materialize the demo asset graph headlessly and check what was published."""

import hashlib
import json
from pathlib import Path

import dagster as dg
import pandas as pd
import pyarrow.parquet as pq
import pytest

from synth_pipelines.core.platform_key import keyed_fingerprint
from synth_pipelines.core.quality.privacy import row_keys
from synth_pipelines.core.snapshot import load_snapshot
from synth_pipelines.core.training_view import build_training_view
from synth_pipelines.core.validation import validate_against_source
from synth_pipelines.orchestration.resources import SynthStorage
from synth_pipelines.orchestration.runner import materialize_dataset
from synth_pipelines.spec import load_spec

pytestmark = pytest.mark.slow


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_demo_graph_publishes_a_release_with_manifest(shipped_demo_spec_data, write_spec, storage_home, demo_db):
    """The shipped demo spec, generator and QA unchanged (every check blocking), end to end."""
    loaded = load_spec(write_spec(shipped_demo_spec_data))
    source_before = sha256(demo_db)
    instance = dg.DagsterInstance.ephemeral()

    outcome = materialize_dataset(loaded, instance, SynthStorage(root=str(storage_home)))

    assert outcome.success, outcome.error or outcome.failed_checks
    release = Path(outcome.release["path"])
    assert release.parent == storage_home / "releases" / "demo_loans" / "features_v1"
    assert (release.parent / "LATEST").read_text().strip() == release.name
    data = pd.read_parquet(release / "data" / "part-00000.parquet")
    manifest = json.loads((release / "manifest.json").read_text())

    # Rows and schema: the view's features plus calculated columns, nothing else.
    expected_columns = ["synthetic_id", *validate_against_source(loaded).feature_columns]
    assert list(data.columns) == expected_columns
    assert len(data) == 1500 == manifest["rows"] == outcome.release["rows"]
    assert data["synthetic_id"].is_unique
    for leaked in ("collection_date", "written_off_amount", "loan_id", "recovery_agent", "email", "full_name"):
        assert leaked not in data.columns
    assert set(data["age_band"]) <= {"0-17", "18-34", "35-54", "55+"}
    assert set(data["defaulted"].unique()) == {0, 1}
    # Masked stand-ins are format-valid and are not the real customers' values.
    assert data["applicant_email"].str.fullmatch(r"[^@\s]+@[^@\s]+\.[a-z]{2,}").all()
    assert data["applicant_name"].str.len().gt(3).all()

    # No real row reappears verbatim: compare against every row of the real view, train and holdout.
    snapshot = load_snapshot(storage_home / "snapshots" / "demo_loans" / manifest["source"]["snapshot_id"])
    real = build_training_view(loaded.spec.training_view, {t: s.path for t, s in snapshot.tables.items()})
    compared = [c["name"] for c in manifest["generator"]["columns"]]
    assert not row_keys(data, compared).isin(set(row_keys(real, compared))).any()

    # Provenance.
    assert manifest["spec_hash"] == loaded.spec_hash
    assert manifest["generator"]["plugin"] == "cart" and manifest["generator"]["seed"] == 7
    # The published manifest carries no exact statistic of the real rows (extremes, median fill value).
    assert all(not {"fill", "minimum", "maximum"} & set(c) for c in manifest["generator"]["columns"])
    assert {"name", "kind", "dtype"} <= set(manifest["generator"]["columns"][0])
    assert manifest["qa"]["passed"] is True and not manifest["qa"]["failed"]
    assert {c["name"] for c in manifest["qa"]["checks"]} >= {"great_expectations", "fidelity", "utility", "privacy_dcr"}
    assert all(c["blocking"] for c in manifest["qa"]["checks"])
    # Keyed: no unkeyed hash of the source is published (core/platform_key.py).
    assert manifest["source"]["fingerprint"] == keyed_fingerprint(snapshot.fingerprint, "snapshot")
    assert snapshot.fingerprint not in (release / "manifest.json").read_text()
    assert manifest["leakage_columns_excluded"].keys() == {"collection_date", "written_off_amount"}
    assert manifest["qa"]["passed"] is True
    assert manifest["files"]["data/part-00000.parquet"]["sha256"] == sha256(release / "data" / "part-00000.parquet")
    assert manifest["packages"]["synthcity"] == "0.2.12"
    assert (release / "qa_report.html").is_file() and (release / "qa_report.pdf").read_bytes()[:5] == b"%PDF-"
    assert pq.read_schema(release / "data" / "part-00000.parquet").field("credit_score").type == "int64"

    # The source was only read.
    assert sha256(demo_db) == source_before

    # Every stage reported metadata to Dagster.
    for stage in ("source_snapshot", "training_view", "train_rows", "synthesizer", "synthetic_rows",
                  "synthetic_features", "published_features"):
        event = instance.get_latest_materialization_event(dg.AssetKey(["demo_loans", stage]))
        assert event is not None, stage
        assert event.asset_materialization.metadata, stage


def test_failed_qa_check_blocks_publication(demo_spec_data, write_spec, storage_home):
    # Unreachable on purpose: a fidelity score of 1 needs every similarity exact and a discriminator at
    # chance. (A threshold of 0 on a sampled estimate is widened to its standard error, so it is no longer a way.)
    demo_spec_data["qa"].update(min_fidelity=1.0, advisory_checks=["utility"])
    loaded = load_spec(write_spec(demo_spec_data))

    outcome = materialize_dataset(loaded, dg.DagsterInstance.ephemeral(), SynthStorage(root=str(storage_home)))

    assert not outcome.success and outcome.release is None
    assert "fidelity" in outcome.failed_checks
    assert "fidelity_score=" in outcome.failed_checks["fidelity"] and "(min 1)" in outcome.failed_checks["fidelity"]
    assert not (storage_home / "releases").exists()

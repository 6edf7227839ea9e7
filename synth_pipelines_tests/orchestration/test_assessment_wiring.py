"""The split step assesses the train rows: warnings logged and attached as metadata, errors fail the run."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dagster as dg

from synth_pipelines.orchestration.factory import add_snapshot_partitions, build_dataset_assets, today_partition
from synth_pipelines.orchestration.resources import SynthStorage
from synth_pipelines.spec import load_spec

WriteSpec = Callable[[dict[str, Any], str], Path]


def materialize_split(path: Path, storage_home: Path) -> tuple[dg.ExecuteInProcessResult, dg.DagsterInstance]:
    loaded = load_spec(path)
    assets = build_dataset_assets(loaded)[:3]  # source_snapshot, training_view, train/holdout split
    instance = dg.DagsterInstance.ephemeral()
    add_snapshot_partitions(instance, loaded, [today_partition(loaded)])
    result = dg.materialize(assets, instance=instance, partition_key=today_partition(loaded), raise_on_error=False,
                            resources={"storage": SynthStorage(root=str(storage_home)),
                                       "io_manager": dg.FilesystemIOManager(base_dir=str(storage_home / "io"))})
    return result, instance


def test_warnings_are_logged_and_attached(demo_spec_data: dict[str, Any], write_spec: WriteSpec,
                                          storage_home: Path) -> None:
    data = copy.deepcopy(demo_spec_data)
    data["training_view"]["leakage_columns"] = []
    result, instance = materialize_split(write_spec(data, "leaky.yaml"), storage_home)
    assert result.success
    train = next(m for m in result.get_asset_materialization_events()
                 if m.asset_key == dg.AssetKey(["demo_loans", "train_rows"])).materialization.metadata
    assert train["assessment/rows"].value == 1440 and train["assessment/columns"].value == 21
    assert train["assessment/estimated_training_seconds"].value > 0
    findings = {f["column"]: f for f in train["assessment/findings"].value}
    assert set(findings) == {"collection_date", "written_off_amount"}
    assert findings["collection_date"]["severity"] == "warning"
    logged = [e.user_message for e in instance.all_logs(result.run_id)]
    assert any("assessment: training_view.leakage_columns: column 'collection_date'" in m for m in logged)


def test_errors_fail_the_split(demo_spec_data: dict[str, Any], write_spec: WriteSpec, storage_home: Path) -> None:
    data = copy.deepcopy(demo_spec_data)
    data["training_view"]["sql"] = data["training_view"]["sql"].replace(
        "l.loan_id,", "l.loan_id, 'ref-' || CAST(l.loan_id AS VARCHAR) AS reference,", 1)
    path = write_spec(data, "identifier.yaml")
    result, _ = materialize_split(path, storage_home)
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert "holdout_split" in failure.step_key
    error = failure.event_specific_data.error
    while error.cause is not None:
        error = error.cause
    assert f"{path}: training_view.sql: column 'reference' is identifier-like" in error.message
    assert not (storage_home / "work" / "demo_loans" / today_partition(load_spec(path)) / "split").exists()

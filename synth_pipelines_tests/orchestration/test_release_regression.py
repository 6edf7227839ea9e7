"""The release_regression asset check in a real run: a dataset's first release has nothing to compare
with and passes; once an earlier release with one column shifted is published, the check names that
column and, when the spec makes it blocking, the gate stays closed."""

import json
from datetime import date, timedelta

import dagster as dg
import pandas as pd
import pytest

from synth_pipelines.core.publish import publish_local
from synth_pipelines.core.quality.report import PUBLISHED_FOLDER
from synth_pipelines.core.quality.thresholds import RELEASE_REGRESSION
from synth_pipelines.core.shards import part_files
from synth_pipelines.orchestration.code_location import build_definitions
from synth_pipelines.orchestration.factory import release_gate
from synth_pipelines.orchestration.resources import SynthStorage
from synth_pipelines.orchestration.runner import materialize_dataset
from synth_pipelines.spec import load_spec

pytestmark = pytest.mark.slow
DAY = "2026-11-22"


def run_regression_check(loaded, storage, instance) -> dg.AssetCheckEvaluation:
    """The features step again (the same rows: same seed and inputs) with only the release_regression check,
    for DAY (Dagster cannot run a partitioned check without an asset in the job)."""
    features = dg.AssetKey(["demo_loans", "synthetic_features"])
    check = dg.AssetCheckKey(features, RELEASE_REGRESSION)
    job = dg.define_asset_job("regression_only", selection=dg.AssetSelection.assets(features).without_checks()
                              | dg.AssetSelection.checks(check))
    defs = dg.Definitions.merge(build_definitions([loaded], storage), dg.Definitions(jobs=[job]))
    result = defs.resolve_job_def("regression_only").execute_in_process(instance=instance, partition_key=DAY,
                                                                     raise_on_error=False)
    (evaluation,) = result.get_asset_check_evaluations()
    return evaluation


def test_a_moved_column_against_the_previous_release_is_named_and_blocks_when_asked(
        demo_spec_data, write_spec, storage_home):
    demo_spec_data["qa"]["release_regression_blocking"] = True
    loaded = load_spec(write_spec(demo_spec_data))
    storage = SynthStorage(root=str(storage_home))
    with dg.instance_for_test() as instance:
        outcome = materialize_dataset(loaded, instance, storage, partition_key=DAY, publish=False)
        first = {c["name"]: c for c in outcome.checks}[RELEASE_REGRESSION]
        assert first["passed"] and "nothing to compare" in first["summary"]
        assert first["blocking"]  # as the spec asks
        assert release_gate(loaded, storage, DAY)[0].open, release_gate(loaded, storage, DAY)[0].reason
        qa = storage.work("demo_loans", DAY, "qa")
        for report in (qa / "qa_report.json", qa / PUBLISHED_FOLDER / "qa_report.json"):  # the report says so too
            assert "nothing to compare" in json.loads(report.read_text())["previous_release"]["note"]

        # An earlier release of the dataset whose amounts were half as large (a generation change).
        parts = part_files(storage.work("demo_loans", DAY, "synthetic_features"))
        earlier = pd.concat([pd.read_parquet(part) for part in parts], ignore_index=True)
        earlier["amount"] = earlier["amount"] / 2
        earlier_file = storage_home / "earlier.parquet"
        earlier.to_parquet(earlier_file)
        yesterday = (date.fromisoformat(DAY) - timedelta(days=1)).isoformat()
        publish_local(features_path=earlier_file, attachments=[], root=storage_home / "releases", dataset="demo_loans",
                      manifest={"dataset": "demo_loans", "release_name": "features_v1",
                                "created_at": "2026-11-21T03:00:00+00:00",
                                "source": {"snapshot_id": yesterday}, "rows": len(earlier)},
                      release_name="features_v1", snapshot_id=yesterday, rows=len(earlier))

        evaluation = run_regression_check(loaded, storage, instance)
        assert not evaluation.passed, evaluation.metadata["summary"].value
        assert evaluation.metadata["moved_columns"].value == ["amount"]
        assert evaluation.metadata["compared_with"].value == f"demo_loans/features_v1/snapshot={yesterday}"
        (metric,) = evaluation.metadata["details"].value.values()  # the shape the CLI's verdict table reads
        assert metric["bound"] == "max" and metric["value"] > metric["threshold"] == 0.05 and not metric["passed"]
        assert evaluation.metadata["release_diff"].value["columns"][0]["name"] == "amount"
        decision, _ = release_gate(loaded, storage, DAY)
        assert not decision.open and RELEASE_REGRESSION in decision.reason

"""Several dataset specs in one code location (issue 14): two feature datasets built from the same
source and two versions of one dataset track load side by side, every Dagster name is per dataset,
and one of them materializes while the others are loaded."""

import copy
import os
import subprocess
import sys

import dagster as dg
import pytest

from synth_pipelines.core.quality.thresholds import ASSET_CHECK_NAMES
from synth_pipelines.orchestration.code_location import build_definitions
from synth_pipelines.orchestration.resources import SynthStorage
from synth_pipelines.orchestration.factory import add_snapshot_partitions, today_partition
from synth_pipelines.paths import project_root
from synth_pipelines.spec import load_specs

pytestmark = pytest.mark.slow


@pytest.fixture
def three_specs(demo_spec_data, write_spec):
    """demo_loans v1; income_features from the same source (another label and view); demo_loans_v2,
    the next version of the demo_loans track (its own dataset name: load_specs refuses two specs with
    one dataset name)."""
    write_spec(demo_spec_data, "demo_loans.yaml")
    income = copy.deepcopy(demo_spec_data)
    income["dataset"] = "income_features"
    income["training_view"]["label"] = "home_ownership"
    income["qa"]["protected_columns"] = []
    write_spec(income, "income_features.yaml")
    v2 = copy.deepcopy(demo_spec_data)
    v2["dataset"], v2["version"] = "demo_loans_v2", 2
    v2["features"]["calculated_columns"].append({"name": "amount_per_month", "expression": "amount / term_months"})
    return load_specs(write_spec(v2, "demo_loans_v2.yaml").parent)


def names(defs: dg.Definitions) -> dict[str, list[str]]:
    repo = defs.get_repository_def()
    graph = defs.resolve_asset_graph()
    return {
        "nodes": [node.name for job in repo.get_all_jobs() for node in job.graph.node_defs],
        "jobs": [job.name for job in repo.get_all_jobs() if not job.name.startswith("__")],
        "sensors": [s.name for s in repo.sensor_defs],
        "partitions": sorted({node.partitions_def.name for node in graph.asset_nodes if node.partitions_def}),
        "checks": [key.to_user_string() for key in graph.asset_check_keys],
        "assets": [key.to_user_string() for key in graph.get_all_asset_keys()],
    }


def test_three_specs_load_side_by_side_with_names_per_dataset(three_specs):
    datasets = [loaded.spec.dataset for loaded in three_specs]
    assert sorted(datasets) == ["demo_loans", "demo_loans_v2", "income_features"]
    defs = build_definitions(three_specs)
    dg.Definitions.validate_loadable(defs)  # what `dagster definitions validate` runs
    found = names(defs)
    for kind in ("jobs", "sensors", "partitions", "checks", "assets"):
        assert len(found[kind]) == len(set(found[kind])), kind
        for dataset in datasets:  # every dataset has its own, named after it
            own = [n for n in found[kind] if n.startswith(dataset + "_") or n.startswith(dataset + "/")
                   and not any(n.startswith(o + "/") for o in datasets if o != dataset and o.startswith(dataset))]
            assert own, (kind, dataset)
    # Op names live in one namespace per code location: each starts with its dataset's name.
    ops = {n for n in found["nodes"]}
    for op in ops:
        assert any(op.startswith(d + "__") or op.startswith(d + "_qa") for d in datasets), op
    assert len(found["assets"]) == 3 * 8 and len(found["checks"]) == 3 * len(ASSET_CHECK_NAMES)
    for dataset in datasets:
        assert defs.resolve_job_def(f"{dataset}_refresh").tags["synth_pipelines/dataset"] == dataset
    # Resources are shared (one storage, one IO manager), never one key per dataset that could clash.
    assert set(defs.resources) == {"storage", "io_manager"}


def test_dagster_definitions_validate_cli_accepts_three_specs(three_specs, tmp_path):
    folder = three_specs[0].path.parent
    env = {**os.environ, "SYNTH_PIPELINES_DATASETS": str(folder), "DAGSTER_HOME": str(tmp_path / "dh")}
    (tmp_path / "dh").mkdir()
    dagster = os.path.join(os.path.dirname(sys.executable), "dagster")
    done = subprocess.run([dagster, "definitions", "validate", "-m", "synth_pipelines.definitions"],
                          cwd=project_root(), env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Validation successful" in done.stdout + done.stderr


def test_one_of_three_materializes_from_the_shared_code_location(three_specs, storage_home):
    income = next(s for s in three_specs if s.spec.dataset == "income_features")
    defs = build_definitions(three_specs, SynthStorage(root=str(storage_home)))
    with dg.instance_for_test() as instance:
        add_snapshot_partitions(instance, income, [today_partition(income)])
        result = defs.resolve_job_def("income_features_refresh").execute_in_process(
            instance=instance, partition_key=today_partition(income), raise_on_error=False)
        assert result.success
        materialized = {key.path[0] for key in instance.get_asset_keys()}
        checks = {e.check_name for e in result.get_asset_check_evaluations()}
    assert materialized == {"income_features"}
    assert len(checks) == len(ASSET_CHECK_NAMES)


def test_a_dataset_that_starts_in_the_future_does_not_stop_the_others(demo_spec_data, write_spec):
    """A spec whose start_date is still to come loads with the rest (the clock must not take the code
    location down); running it is refused with the field and the fix."""
    write_spec(demo_spec_data, "demo_loans.yaml")
    later = copy.deepcopy(demo_spec_data)
    later["dataset"] = "starts_later"
    later.setdefault("refresh", {})["start_date"] = "2999-01-01"
    specs = load_specs(write_spec(later, "starts_later.yaml").parent)
    dg.Definitions.validate_loadable(build_definitions(specs))
    starts_later = next(loaded for loaded in specs if loaded.spec.dataset == "starts_later")
    with pytest.raises(Exception, match=r"refresh\.start_date: 2999-01-01 is in the future.*use a date on or before"):
        today_partition(starts_later)

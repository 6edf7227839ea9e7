"""The code location as Dagster loads it: asset graph, groups, kinds, checks, job."""

import importlib
import sys

import dagster as dg
import pytest

from synth_pipelines.orchestration.code_location import CODE_LOCATION_NAME, build_definitions
from synth_pipelines.core.quality.thresholds import ASSET_CHECK_NAMES
from synth_pipelines.orchestration.factory import DATASET_TAG
from synth_pipelines.spec import SpecError, load_spec

STAGES = ["source_snapshot", "training_view", "train_rows", "holdout_rows", "synthesizer", "synthetic_rows",
          "synthetic_features", "published_features"]


@pytest.fixture
def demo_defs(demo_spec_data, write_spec):
    return build_definitions([load_spec(write_spec(demo_spec_data))])


def test_every_stage_is_an_asset_in_the_dataset_group(demo_defs):
    graph = demo_defs.resolve_asset_graph()
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    assert keys == {f"demo_loans/{stage}" for stage in STAGES}
    for stage in STAGES:
        node = graph.get(dg.AssetKey(["demo_loans", stage]))
        assert node.group_name == "demo_loans"
        assert node.kinds, f"{stage} has no kinds"
        assert node.description
        assert node.owners == ["team:ml-platform"]


def test_synthesizer_never_reads_the_holdout(demo_defs):
    graph = demo_defs.resolve_asset_graph()
    upstream = graph.get(dg.AssetKey(["demo_loans", "synthesizer"])).parent_keys
    assert upstream == {dg.AssetKey(["demo_loans", "train_rows"])}
    synthetic_lineage = graph.get(dg.AssetKey(["demo_loans", "synthetic_rows"])).parent_keys
    assert dg.AssetKey(["demo_loans", "holdout_rows"]) not in synthetic_lineage


def test_qa_checks_are_blocking_and_gate_publication(demo_defs):
    graph = demo_defs.resolve_asset_graph()
    checks = {key.name: graph.get_check_spec(key) for key in graph.asset_check_keys}
    assert set(checks) == set(ASSET_CHECK_NAMES)
    # fidelity and utility are advisory for the fast test generator (conftest); release_regression by default
    advisory = {"fidelity", "utility", "release_regression"}
    assert {name for name, spec in checks.items() if not spec.blocking} == advisory
    assert all(spec.asset_key == dg.AssetKey(["demo_loans", "synthetic_features"]) for spec in checks.values())
    publish_parents = graph.get(dg.AssetKey(["demo_loans", "published_features"])).parent_keys
    assert dg.AssetKey(["demo_loans", "synthetic_features"]) in publish_parents


def selected(job) -> set[str]:
    return {key.to_user_string() for key in job.asset_layer.selected_asset_keys}


def test_refresh_and_publish_jobs_split_the_group_with_the_dataset_tag(demo_defs):
    """The refresh job materializes every stage but the release, with the QA checks; publishing is the
    gate's own job, with only the release. Both carry the dataset tag the run queue limits by."""
    refresh = demo_defs.resolve_job_def("demo_loans_refresh")
    publish = demo_defs.resolve_job_def("demo_loans_publish")
    assert selected(refresh) == {f"demo_loans/{stage}" for stage in STAGES if stage != "published_features"}
    assert selected(publish) == {"demo_loans/published_features"}
    assert "demo_loans_qa" in {node.name for node in refresh.graph.node_defs}  # the checks run in the refresh
    assert "demo_loans_qa" not in {node.name for node in publish.graph.node_defs}
    snapshots = demo_defs.resolve_asset_graph().get(dg.AssetKey(["demo_loans", "source_snapshot"])).partitions_def
    for job in (refresh, publish):
        assert job.tags[DATASET_TAG] == "demo_loans"
        assert job.partitions_def == snapshots  # one run per snapshot day, in both jobs


def test_every_partitioned_asset_backfills_one_partition_per_run(demo_defs):
    """Each snapshot trains its own synthesizer: a UI backfill over many days must not batch them."""
    graph = demo_defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        if node.partitions_def is not None:
            assert node.backfill_policy == dg.BackfillPolicy.multi_run(max_partitions_per_run=1), key


def test_code_location_name_is_the_one_workspace_and_dg_serve():
    """Backfills recorded by the CLI name this location; the UI must serve the location under it."""
    import tomllib

    import yaml

    from synth_pipelines.paths import project_root

    workspace = yaml.safe_load((project_root() / "workspace.yaml").read_text())
    assert [entry["python_module"]["location_name"] for entry in workspace["load_from"]] == [CODE_LOCATION_NAME]
    pyproject = tomllib.loads((project_root() / "pyproject.toml").read_text())
    assert pyproject["tool"]["dg"]["project"]["code_location_name"] == CODE_LOCATION_NAME


def test_shipped_code_location_loads(monkeypatch):
    """synth_pipelines.definitions, as `dagster dev` loads it: the shipped spec's stages, jobs and sensors
    (the scheduled refresh among them), all named after its dataset."""
    monkeypatch.delenv("SYNTH_PIPELINES_DATASETS", raising=False)
    sys.modules.pop("synth_pipelines.definitions", None)
    module = importlib.import_module("synth_pipelines.definitions")
    repo = module.defs.get_repository_def()
    assert {job.name for job in repo.get_all_jobs() if not job.name.startswith("__")} == {
        "demo_loans_refresh", "demo_loans_publish"}
    assert {sensor.name for sensor in repo.sensor_defs} == {"demo_loans_scheduled_refresh", "demo_loans_publication_gate",
                                                            "demo_loans_source_change"}
    assert not repo.schedule_defs  # the scheduled refresh is a cron sensor: it adds the day's partition
    keys = {key.to_user_string() for key in module.defs.resolve_asset_graph().get_all_asset_keys()}
    assert keys == {f"demo_loans/{stage}" for stage in STAGES}
    assert selected(module.defs.resolve_job_def("demo_loans_publish")) == {"demo_loans/published_features"}


def test_invalid_spec_stops_the_code_location_from_loading(tmp_path, demo_spec_data, write_spec, monkeypatch):
    demo_spec_data["generator"]["plugin"] = "not_a_plugin"
    path = write_spec(demo_spec_data, "broken.yaml")
    monkeypatch.setenv("SYNTH_PIPELINES_DATASETS", str(path.parent))
    sys.modules.pop("synth_pipelines.definitions", None)
    with pytest.raises(SpecError, match=r"broken\.yaml: generator\.plugin: unknown synthcity plugin 'not_a_plugin'"):
        importlib.import_module("synth_pipelines.definitions")
    sys.modules.pop("synth_pipelines.definitions", None)

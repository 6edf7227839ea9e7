"""The code location as Dagster loads it: asset graph, groups, kinds, checks, job."""

import importlib
import sys

import dagster as dg
import pytest

from synth_pipelines.orchestration.code_location import build_definitions
from synth_pipelines.orchestration.factory import QA_CHECKS
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
    assert set(checks) == set(QA_CHECKS)
    advisory = {"fidelity", "utility"}  # advisory for the fast test generator (conftest)
    assert {name for name, spec in checks.items() if not spec.blocking} == advisory
    assert all(spec.asset_key == dg.AssetKey(["demo_loans", "synthetic_features"]) for spec in checks.values())
    publish_parents = graph.get(dg.AssetKey(["demo_loans", "published_features"])).parent_keys
    assert dg.AssetKey(["demo_loans", "synthetic_features"]) in publish_parents


def test_refresh_job_targets_the_group_with_the_dataset_tag(demo_defs):
    job = demo_defs.resolve_job_def("demo_loans_refresh")
    assert job.tags["synth_pipelines/dataset"] == "demo_loans"


def test_shipped_code_location_loads(monkeypatch):
    sys.modules.pop("synth_pipelines.definitions", None)
    module = importlib.import_module("synth_pipelines.definitions")
    assert module.defs.resolve_job_def("demo_loans_refresh")


def test_invalid_spec_stops_the_code_location_from_loading(tmp_path, demo_spec_data, write_spec, monkeypatch):
    demo_spec_data["generator"]["plugin"] = "not_a_plugin"
    path = write_spec(demo_spec_data, "broken.yaml")
    monkeypatch.setenv("SYNTH_PIPELINES_DATASETS", str(path.parent))
    sys.modules.pop("synth_pipelines.definitions", None)
    with pytest.raises(SpecError, match=r"broken\.yaml: generator\.plugin: unknown synthcity plugin 'not_a_plugin'"):
        importlib.import_module("synth_pipelines.definitions")
    sys.modules.pop("synth_pipelines.definitions", None)

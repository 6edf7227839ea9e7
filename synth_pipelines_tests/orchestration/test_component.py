"""The SyntheticDataset component (issue 14), loaded the way Dagster's docs test components: the project's
component tree (`dg.ComponentTree.for_project`) and a defs-folder sandbox (`create_defs_folder_sandbox`)."""

import copy
import importlib
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import pytest
import yaml
from dagster.components.testing import create_defs_folder_sandbox

from synth_pipelines.core.quality.thresholds import ASSET_CHECK_NAMES
from synth_pipelines.orchestration.code_location import dataset_definitions, shared_resources
from synth_pipelines.orchestration.component import SyntheticDataset
from synth_pipelines.paths import demo_spec, project_root
from synth_pipelines.spec import COMPONENT_TYPE, SpecError, load_spec

STAGES = ["source_snapshot", "training_view", "train_rows", "holdout_rows", "synthesizer", "synthetic_rows",
          "synthetic_features", "published_features"]


def with_resources(defs: dg.Definitions) -> dg.Definitions:
    """A dataset's definitions with the resources the project's defs/resources.py adds once for all."""
    return dg.Definitions.merge(defs, dg.Definitions(resources=shared_resources()))


def names(defs: dg.Definitions) -> dict[str, set[str]]:
    defs = defs if defs.resources else with_resources(defs)
    repo = defs.get_repository_def()
    graph = defs.resolve_asset_graph()
    return {"assets": {k.to_user_string() for k in graph.get_all_asset_keys()},
            "checks": {k.to_user_string() for k in graph.asset_check_keys},
            "jobs": {j.name for j in repo.get_all_jobs() if not j.name.startswith("__")},
            "sensors": {s.name for s in repo.sensor_defs}, "schedules": {s.name for s in repo.schedule_defs}}


def test_the_demo_is_a_component_of_the_project_tree():
    tree = dg.ComponentTree.for_project(project_root())
    component = tree.load_component("datasets/demo_loans")
    assert isinstance(component, SyntheticDataset)
    shipped = load_spec(demo_spec())
    assert component.loaded.path == demo_spec()
    assert component.loaded.spec == shipped.spec and component.loaded.spec_hash == shipped.spec_hash
    defs = tree.build_defs("datasets/demo_loans")
    found = names(defs)
    assert found["assets"] == {f"demo_loans/{stage}" for stage in STAGES}
    assert found["checks"] == {f"demo_loans/synthetic_features:{check}" for check in ASSET_CHECK_NAMES}
    assert found["jobs"] == {"demo_loans_refresh", "demo_loans_publish"}
    assert found["schedules"] == set()  # the scheduled refresh is a cron sensor: it adds the day's partition
    assert found["sensors"] == {"demo_loans_scheduled_refresh", "demo_loans_publication_gate",
                                "demo_loans_source_change"}
    # The same wiring as the factory's, not a second copy of it.
    assert found == names(dataset_definitions(shipped))
    graph = with_resources(defs).resolve_asset_graph()
    assert graph.get(dg.AssetKey(["demo_loans", "synthesizer"])).parent_keys == {dg.AssetKey(["demo_loans", "train_rows"])}


def test_the_project_tree_holds_the_shared_resources():
    defs = dg.ComponentTree.for_project(project_root()).build_defs()
    assert set(defs.resources) == {"storage", "io_manager"}
    dg.Definitions.validate_loadable(defs)


def dataset(data: dict, name: str, **changes) -> dict:
    data = copy.deepcopy(data)
    data["dataset"] = name
    for path, value in changes.items():
        *parents, leaf = path.split("__")
        target = data
        for part in parents:
            target = target[part]
        target[leaf] = value
    return data


@contextmanager
def sandbox_with(datasets: dict[str, dict]) -> Iterator[Path]:
    """A defs folder holding one `<folder>/defs.yaml` SyntheticDataset per entry."""
    with create_defs_folder_sandbox() as sandbox:
        for folder, attributes in datasets.items():
            sandbox.scaffold_component(SyntheticDataset, defs_path=folder,
                                       defs_yaml_contents={"type": COMPONENT_TYPE, "attributes": attributes})
        yield sandbox


def test_three_datasets_load_side_by_side(demo_spec_data):
    """Two feature datasets from one source and two versions of one track, each its own defs.yaml."""
    income = dataset(demo_spec_data, "income_features", training_view__label="home_ownership",
                     qa__protected_columns=[])
    v2 = dataset(demo_spec_data, "demo_loans_v2", version=2)
    datasets = {"demo_loans": demo_spec_data, "income_features": income, "demo_loans_v2": v2}
    with sandbox_with(datasets) as sandbox, sandbox.build_component_tree() as tree:
        components = tree.get_all_components(of_type=SyntheticDataset)
        assert {c.loaded.spec.dataset: c.loaded.spec.version for c in components} == {
            "demo_loans": 1, "income_features": 1, "demo_loans_v2": 2}
        assert {c.loaded.path for c in components} == {sandbox.defs_folder_path / f / "defs.yaml" for f in datasets}
        assert next(c for c in components if c.loaded.spec.dataset == "income_features").loaded.spec \
            .training_view.label == "home_ownership"
        defs = with_resources(tree.build_defs())
    dg.Definitions.validate_loadable(defs)
    found = names(defs)
    assert len(found["assets"]) == 3 * len(STAGES) and len(found["checks"]) == 3 * len(ASSET_CHECK_NAMES)
    for name in datasets:
        assert {f"{name}/{stage}" for stage in STAGES} <= found["assets"]
        assert {f"{name}_refresh", f"{name}_publish"} <= found["jobs"]
        assert {f"{name}_publication_gate", f"{name}_source_change"} <= found["sensors"]


def spec_error_in(exc: BaseException) -> SpecError:
    """Dagster wraps a component's load error; the SpecError is in the chain."""
    while exc is not None and not isinstance(exc, SpecError):
        exc = exc.__cause__ or exc.__context__
    assert exc is not None, "no SpecError in the exception chain"
    return exc


def test_a_bad_defs_yaml_names_its_file_the_field_and_the_fix(demo_spec_data):
    broken = dataset(demo_spec_data, "broken", generator__plugin="not_a_plugin")
    with sandbox_with({"broken": broken}) as sandbox, pytest.raises(Exception) as raised:
        with sandbox.build_all_defs():
            pass
    message = str(spec_error_in(raised.value))
    defs_yaml = sandbox.defs_folder_path / "broken" / "defs.yaml"
    assert message.startswith(f"{defs_yaml}: generator.plugin: unknown synthcity plugin 'not_a_plugin'. Fix: use one of")


def test_a_defs_yaml_without_attributes_says_where_the_spec_goes():
    with create_defs_folder_sandbox() as sandbox:
        path = sandbox.scaffold_component(SyntheticDataset, defs_path="empty")
        (path / "defs.yaml").write_text(f"type: {COMPONENT_TYPE}\n")
        with pytest.raises(Exception) as raised, sandbox.build_all_defs():
            pass
    assert str(spec_error_in(raised.value)) == \
        f"{path / 'defs.yaml'}: attributes: missing. Fix: put the dataset spec under attributes:"


def test_dg_scaffold_migrates_a_plain_spec_with_its_comments(demo_spec_data, write_spec):
    plain = write_spec(dataset(demo_spec_data, "churn_features"), "churn_features.yaml")
    plain.write_text("# churn features for the retention models\n" + plain.read_text())
    with create_defs_folder_sandbox() as sandbox:
        path = sandbox.scaffold_component(SyntheticDataset, defs_path="datasets/churn_features",
                                          scaffold_params={"spec": str(plain)})
        text = (path / "defs.yaml").read_text()
        with sandbox.load_component_and_build_defs(defs_path=path) as (component, defs):
            assert component.loaded.spec == load_spec(plain).spec
            assert component.loaded.spec_hash == load_spec(plain).spec_hash  # the same spec, moved
            assert "churn_features/published_features" in names(defs)["assets"]
    assert text.startswith(f"# churn features for the retention models\ntype: {COMPONENT_TYPE}\nattributes:\n  dataset:")


def test_dg_scaffold_without_a_spec_starts_from_the_demo():
    with create_defs_folder_sandbox() as sandbox:
        path = sandbox.scaffold_component(SyntheticDataset, defs_path="datasets/new_features")
        loaded = load_spec(path / "defs.yaml")
    assert loaded.spec.dataset == "new_features"
    assert loaded.spec.training_view == load_spec(demo_spec()).spec.training_view


@pytest.fixture
def shipped_location():
    sys.modules.pop("synth_pipelines.definitions", None)
    yield importlib.import_module("synth_pipelines.definitions")
    sys.modules.pop("synth_pipelines.definitions", None)


def test_plain_specs_still_load_beside_the_defs_folder(shipped_location, demo_spec_data, write_spec):
    folder = write_spec(dataset(demo_spec_data, "income_features"), "income_features.yaml").parent
    found = names(shipped_location.code_location(plain_folder=folder))
    assert {f"{name}/published_features" for name in ("demo_loans", "income_features")} <= found["assets"]


def test_a_plain_spec_with_a_component_dataset_name_names_both_files(shipped_location, demo_spec_data, write_spec):
    plain = write_spec(demo_spec_data, "demo_loans.yaml")  # left behind by a migration, say
    with pytest.raises(SpecError) as raised:
        shipped_location.code_location(plain_folder=plain.parent)
    assert str(raised.value).startswith(f"{plain}: dataset: name 'demo_loans' is already used by {demo_spec()}.")
    assert "Fix: " in str(raised.value)

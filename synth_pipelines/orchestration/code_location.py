"""Definitions for dataset specs: one dataset's assets, QA checks, jobs and sensors, and the
resources every dataset shares. The SyntheticDataset component and `build_definitions` both build a
dataset with `dataset_definitions`, so a dataset is wired in one place."""

from collections.abc import Sequence

import dagster as dg

from synth_pipelines.orchestration.factory import build_dataset_assets, publish_job, refresh_job
from synth_pipelines.orchestration.executors import executor_from_env
from synth_pipelines.orchestration.gate_sensor import publication_gate_sensor
from synth_pipelines.orchestration.multitable import build_multitable_assets, with_tables_publication
from synth_pipelines.orchestration.resources import SynthStorage
from synth_pipelines.orchestration.sensors import refresh_sensor, source_change_sensor
from synth_pipelines.orchestration.shared_io import io_manager_for
from synth_pipelines.spec import LoadedSpec, check_unique_datasets

# The location's name in workspace.yaml and [tool.dg.project] code_location_name (a test keeps them equal).
CODE_LOCATION_NAME = "synth_pipelines"


def dataset_definitions(loaded: LoadedSpec, storage: SynthStorage | None = None) -> dg.Definitions:
    """One dataset, without resources (shared_resources provides them once per code location).
    `storage` is where the gate sensor reads the QA reports; by default SYNTH_PIPELINES_HOME, as the
    default storage resource."""
    built = build_dataset_assets(loaded) + build_multitable_assets(loaded)  # the latter: `tables:` only
    refresh, publish = with_tables_publication(loaded, refresh_job(loaded), publish_job(loaded))
    return dg.Definitions(
        assets=[item for item in built if not isinstance(item, dg.AssetChecksDefinition)],
        asset_checks=[item for item in built if isinstance(item, dg.AssetChecksDefinition)],
        jobs=[refresh, publish],
        sensors=[refresh_sensor(loaded, refresh), source_change_sensor(loaded, refresh),
                 publication_gate_sensor(loaded, publish, storage or SynthStorage.from_env())])


def shared_resources(storage: SynthStorage | None = None) -> dict[str, object]:
    storage = storage or SynthStorage.from_env()
    return {"storage": storage, "io_manager": io_manager_for(storage)}


def build_definitions(specs: Sequence[LoadedSpec], storage: SynthStorage | None = None) -> dg.Definitions:
    """A code location of these specs with its resources (the CLI's runs, the tests, a served spec folder)."""
    check_unique_datasets(list(specs))
    return dg.Definitions.merge(*(dataset_definitions(loaded, storage) for loaded in specs),
                                dg.Definitions(resources=shared_resources(storage), executor=executor_from_env()))

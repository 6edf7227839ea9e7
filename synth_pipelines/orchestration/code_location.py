"""Definitions for a set of dataset specs: assets, QA checks, refresh jobs and resources."""

from collections.abc import Sequence

import dagster as dg

from synth_pipelines.orchestration.factory import build_dataset_assets, publish_job, refresh_job, refresh_schedule
from synth_pipelines.orchestration.gate_sensor import publication_gate_sensor
from synth_pipelines.orchestration.resources import SynthStorage
from synth_pipelines.orchestration.sensors import source_change_sensor
from synth_pipelines.spec import LoadedSpec


def build_definitions(specs: Sequence[LoadedSpec], storage: SynthStorage | None = None) -> dg.Definitions:
    storage = storage or SynthStorage()
    built = [item for loaded in specs for item in build_dataset_assets(loaded)]
    jobs = {loaded.spec.dataset: refresh_job(loaded) for loaded in specs}
    publish_jobs = {loaded.spec.dataset: publish_job(loaded) for loaded in specs}
    return dg.Definitions(
        assets=[item for item in built if not isinstance(item, dg.AssetChecksDefinition)],
        asset_checks=[item for item in built if isinstance(item, dg.AssetChecksDefinition)],
        jobs=[*jobs.values(), *publish_jobs.values()],
        schedules=[refresh_schedule(loaded, jobs[loaded.spec.dataset]) for loaded in specs],
        sensors=[*(source_change_sensor(loaded, jobs[loaded.spec.dataset]) for loaded in specs),
                 *(publication_gate_sensor(loaded, publish_jobs[loaded.spec.dataset], storage) for loaded in specs)],
        resources={
            "storage": storage,
            "io_manager": dg.FilesystemIOManager(base_dir=str(storage.base() / "io")),
        },
    )

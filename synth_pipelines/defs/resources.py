"""The resources every dataset's assets use: one storage and one IO manager per code location, and the
executor (SYNTH_PIPELINES_EXECUTOR, orchestration/executors.py)."""

import dagster as dg

from synth_pipelines.orchestration.code_location import shared_resources
from synth_pipelines.orchestration.executors import executor_from_env


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(resources=shared_resources(), executor=executor_from_env())

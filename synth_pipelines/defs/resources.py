"""The resources every dataset's assets use: one storage and one IO manager per code location."""

import dagster as dg

from synth_pipelines.orchestration.code_location import shared_resources


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(resources=shared_resources())

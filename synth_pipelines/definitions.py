"""The code location Dagster loads (workspace.yaml): every spec in assets/datasets/.

A spec that does not validate stops the code location from loading, with the spec error as the
message, so nothing runs on a bad spec.
"""

from synth_pipelines.core.synthcity_plugins import quiet_synthcity_env
from synth_pipelines.orchestration.code_location import build_definitions
from synth_pipelines.orchestration.resources import SynthStorage
from synth_pipelines.paths import datasets_folder, storage_root
from synth_pipelines.spec import load_specs

quiet_synthcity_env()
defs = build_definitions(load_specs(datasets_folder()), SynthStorage(root=str(storage_root())))

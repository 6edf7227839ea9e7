"""The code location (`dg dev`, `dg check defs`, workspace.yaml): the datasets of the defs folder,
`synth_pipelines/defs/datasets/<name>/defs.yaml`, plus any plain spec in `assets/datasets/*.yaml`.

With SYNTH_PIPELINES_DATASETS set, it serves the plain specs in that folder instead. A spec that does
not validate stops the code location from loading, with the spec error (file, field, fix) as the
message, so nothing runs on a bad spec.
"""

import warnings
from pathlib import Path

import dagster as dg

from synth_pipelines.core.synthcity_plugins import quiet_synthcity_env
from synth_pipelines.orchestration.code_location import build_definitions, dataset_definitions
from synth_pipelines.orchestration.component import SyntheticDataset
from synth_pipelines.paths import defs_folder, plain_specs_folder, served_specs_folder
from synth_pipelines.spec import check_unique_datasets, load_specs


def code_location(plain_folder: Path | None = None) -> dg.Definitions:
    """`plain_folder`: where plain specs still load from (default assets/datasets)."""
    served = served_specs_folder()
    if served is not None:
        return build_definitions(load_specs(served))
    tree = dg.ComponentTree.for_project(defs_folder())  # what dg.load_from_defs_folder builds
    plain_folder = plain_folder or plain_specs_folder()
    plain = load_specs(plain_folder) if plain_folder.is_dir() else []
    # The component specs first: a plain spec's error names the defs.yaml that already has its name.
    check_unique_datasets([*(c.loaded for c in tree.get_all_components(of_type=SyntheticDataset)), *plain])
    return dg.Definitions.merge(tree.build_defs(), *(dataset_definitions(loaded) for loaded in plain))


quiet_synthcity_env()
# Dagster's component loader calls its own beta and preview APIs (code references, module loading);
# those warnings are Dagster's to act on, not a user's. Ours (module synth_pipelines) still show.
for category in (dg.BetaWarning, dg.PreviewWarning):
    warnings.filterwarnings("ignore", category=category, module=r"dagster\.")
defs = code_location()

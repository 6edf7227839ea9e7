"""Where the pipeline keeps snapshots, models and releases: SYNTH_PIPELINES_HOME, default ./.synth."""

import os
from pathlib import Path


def storage_root() -> Path:
    return Path(os.environ.get("SYNTH_PIPELINES_HOME", Path.cwd() / ".synth")).resolve()


def project_root() -> Path:
    """The checkout this package runs from (holds assets/ and dagster.yaml)."""
    return Path(__file__).resolve().parent.parent


def datasets_folder() -> Path:
    return Path(os.environ.get("SYNTH_PIPELINES_DATASETS", project_root() / "assets" / "datasets"))

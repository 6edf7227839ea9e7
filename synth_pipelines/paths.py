"""Where the pipeline keeps snapshots, models and releases: SYNTH_PIPELINES_HOME, default ./.synth."""

import os
from pathlib import Path


def storage_root() -> Path:
    return Path(os.environ.get("SYNTH_PIPELINES_HOME", Path.cwd() / ".synth")).resolve()


def project_root() -> Path:
    """The checkout this package runs from (holds assets/ and dagster.yaml)."""
    return Path(__file__).resolve().parent.parent


def defs_folder() -> Path:
    """The dg defs folder: one `datasets/<name>/defs.yaml` per dataset (a SyntheticDataset component)."""
    return Path(__file__).resolve().parent / "defs"


def demo_spec() -> Path:
    return defs_folder() / "datasets" / "demo_loans" / "defs.yaml"


def plain_specs_folder() -> Path:
    """Plain spec files, the layout before components; they still load beside the defs folder."""
    return project_root() / "assets" / "datasets"


def served_specs_folder() -> Path | None:
    """SYNTH_PIPELINES_DATASETS: a folder of plain specs the code location serves instead of the project's
    own datasets (a deployment's mounted specs, a test's); None when unset."""
    folder = os.environ.get("SYNTH_PIPELINES_DATASETS")
    return Path(folder) if folder else None


def snapshot_id(value: str) -> str:
    """`value` if it is a snapshot partition key (an ISO date such as 2026-11-24), else ValueError.

    Snapshot ids become folder names under SYNTH_PIPELINES_HOME, so nothing but a date gets in:
    no `/`, no `..`, no other spelling of the same day."""
    from datetime import date

    try:
        parsed = date.fromisoformat(value)
    except (TypeError, ValueError):
        parsed = None
    if parsed is None or parsed.isoformat() != value:
        raise ValueError(f"'{value}' is not a snapshot id; write the partition's date as YYYY-MM-DD, e.g. 2026-11-24")
    return value

"""synth-pipelines: QA-gated synthetic feature datasets as a Dagster code location."""

import os

# OpenMP threads (scikit-learn's gradient boosting, torch) spin while they wait for work by default.
# On a busy machine (a shared runner, Dagster running steps side by side) the spinning threads starve
# each other: a 500-row HistGradientBoosting fit took 28 s instead of 0.2 s on a loaded 2-core
# machine. Passive waiting has its own price: a sleeping thread is slow to wake, so scikit-learn's
# models run on one thread instead (core/openmp.py: 7-10x faster on an idle machine than two passive
# threads); torch's training loops stay ~1.6x slower than with spinning threads when the machine is idle.
# It must be set before the OpenMP runtime loads, so here, at the package's first import.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"

# The dg component type `synth_pipelines.SyntheticDataset` ([tool.dg.project] registry_modules). Loaded on
# first use, so importing the core stages (which import this package) does not import Dagster.
_COMPONENTS = {"SyntheticDataset": "synth_pipelines.orchestration.component"}


def __getattr__(name: str):
    if name in _COMPONENTS:
        import importlib

        return getattr(importlib.import_module(_COMPONENTS[name]), name)
    raise AttributeError(f"module 'synth_pipelines' has no attribute {name!r}")


def __dir__() -> list[str]:  # dg lists a registry module's component types by dir()
    return sorted([*globals(), *_COMPONENTS])

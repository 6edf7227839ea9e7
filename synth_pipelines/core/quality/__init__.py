"""Quality checks a reviewer can trust: each metric a small named function that says which library computed it.

Entry points: `run_quality` (runner.py), `QAThresholds` (thresholds.py), `write_reports` (report.py).
No Dagster import here: orchestration turns each `QualityCheck` into an asset check result.

The names below are imported on first use: the spec needs only `thresholds`, and importing the
runner (scikit-learn, scipy) would cost every CLI command, `--help` included, seconds.
"""

from importlib import import_module
from typing import Any

_EXPORTS = {"CHECK_NAMES": "thresholds", "QAThresholds": "thresholds", "Metric": "results",
            "QualityCheck": "results", "QualityReport": "results", "run_quality": "runner"}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_EXPORTS[name]}"), name)

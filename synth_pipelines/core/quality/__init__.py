"""Quality checks a reviewer can trust: each metric a small named function that says which library computed it.

Entry points: `run_quality` (runner.py), `QAThresholds` (thresholds.py), `write_reports` (report.py).
No Dagster import here: orchestration turns each `QualityCheck` into an asset check result.
"""

from synth_pipelines.core.quality.results import Metric, QualityCheck, QualityReport
from synth_pipelines.core.quality.runner import run_quality
from synth_pipelines.core.quality.thresholds import CHECK_NAMES, QAThresholds

__all__ = ["CHECK_NAMES", "Metric", "QAThresholds", "QualityCheck", "QualityReport", "run_quality"]

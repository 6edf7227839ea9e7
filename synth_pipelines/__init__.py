"""synth-pipelines: QA-gated synthetic feature datasets as a Dagster code location."""

__version__ = "0.1.0"

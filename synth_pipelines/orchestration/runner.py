"""Headless materialization of one dataset's asset group, as the CLI and the e2e tests run it."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import dagster as dg

from synth_pipelines.orchestration.code_location import build_definitions
from synth_pipelines.orchestration.factory import today_partition
from synth_pipelines.orchestration.resources import SynthStorage
from synth_pipelines.spec import LoadedSpec


@dataclass
class RunOutcome:
    run_id: str
    success: bool
    release: dict[str, Any] | None
    failed_checks: dict[str, str] = field(default_factory=dict)
    error: str | None = None


def instance_for_cli() -> dg.DagsterInstance:
    """The DAGSTER_HOME instance when one is set (runs then show in `dagster dev`), else a temporary one."""
    if os.environ.get("DAGSTER_HOME"):
        return dg.DagsterInstance.get()
    return dg.DagsterInstance.ephemeral()


def materialize_dataset(loaded: LoadedSpec, instance: dg.DagsterInstance, storage: SynthStorage | None = None,
                        log_level: str = "INFO", partition_key: str | None = None) -> RunOutcome:
    """Run the dataset's refresh job for one snapshot partition (default: today's)."""
    defs = build_definitions([loaded], storage)
    job = defs.resolve_job_def(f"{loaded.spec.dataset}_refresh")
    run_config = {"loggers": {"console": {"config": {"log_level": log_level}}}}
    result = job.execute_in_process(run_config=run_config, instance=instance, raise_on_error=False,
                                    partition_key=partition_key or today_partition(loaded))
    failed = {evaluation.check_name: str(evaluation.metadata.get("summary").value)
              for evaluation in result.get_asset_check_evaluations() if not evaluation.passed}
    release = None
    error = None
    publish_step = f"{loaded.spec.dataset}__published_features"
    if result.success and publish_step in {e.step_key for e in result.all_events if e.is_step_success}:
        release = result.output_for_node(publish_step)
    for event in result.all_events:
        if event.is_step_failure:
            info = event.event_specific_data.error
            while info.cause is not None:  # Dagster wraps the stage's own exception; show that one
                info = info.cause
            error = f"{event.step_key}: {info.message.strip()}"
            break
    return RunOutcome(run_id=result.run_id, success=result.success and release is not None,
                      release=release, failed_checks=failed, error=error)

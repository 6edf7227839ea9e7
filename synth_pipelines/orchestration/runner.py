"""Headless runs of one dataset, as the CLI and the e2e tests do them: the refresh job (snapshot to
QA'd features), then the same publication gate the gate sensor applies, then the publish job."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import dagster as dg

from synth_pipelines.orchestration.code_location import build_definitions
from synth_pipelines.orchestration.factory import release_gate, today_partition
from synth_pipelines.orchestration.resources import SynthStorage
from synth_pipelines.spec import LoadedSpec


@dataclass
class RunOutcome:
    run_id: str
    success: bool
    release: dict[str, Any] | None
    failed_checks: dict[str, str] = field(default_factory=dict)  # blocking checks that failed
    advisory_failures: dict[str, str] = field(default_factory=dict)  # reported, not blocking
    error: str | None = None
    gate: str | None = None


def instance_for_cli() -> dg.DagsterInstance:
    """The DAGSTER_HOME instance when one is set (runs then show in `dagster dev`), else a temporary one."""
    if os.environ.get("DAGSTER_HOME"):
        return dg.DagsterInstance.get()
    return dg.DagsterInstance.ephemeral()


def _first_error(result: dg.ExecuteInProcessResult) -> str | None:
    for event in result.all_events:
        if event.is_step_failure:
            info = event.event_specific_data.error
            while info.cause is not None:  # Dagster wraps the stage's own exception; show that one
                info = info.cause
            return f"{event.step_key}: {info.message.strip()}"
    return None


def materialize_dataset(loaded: LoadedSpec, instance: dg.DagsterInstance, storage: SynthStorage | None = None,
                        log_level: str = "INFO", partition_key: str | None = None,
                        publish: bool = True) -> RunOutcome:
    """Run the refresh job for one snapshot partition (default: today's) and publish if the gate opens."""
    storage = storage or SynthStorage()
    defs = build_definitions([loaded], storage)
    partition = partition_key or today_partition(loaded)
    run_config = {"loggers": {"console": {"config": {"log_level": log_level}}}}
    name = loaded.spec.dataset
    result = defs.resolve_job_def(f"{name}_refresh").execute_in_process(
        run_config=run_config, instance=instance, raise_on_error=False, partition_key=partition)
    failed = [e for e in result.get_asset_check_evaluations() if not e.passed]
    outcome = RunOutcome(
        run_id=result.run_id, success=False, release=None, error=_first_error(result),
        failed_checks={e.check_name: str(e.metadata["summary"].value) for e in failed
                       if e.severity == dg.AssetCheckSeverity.ERROR},
        advisory_failures={e.check_name: str(e.metadata["summary"].value) for e in failed
                           if e.severity != dg.AssetCheckSeverity.ERROR})
    if not result.success or not publish:
        return outcome
    decision, _ = release_gate(loaded, storage, partition)
    outcome.gate = decision.reason
    if not decision.open:
        return outcome
    published = defs.resolve_job_def(f"{name}_publish").execute_in_process(
        run_config=run_config, instance=instance, raise_on_error=False, partition_key=partition)
    outcome.error = _first_error(published)
    if published.success:
        outcome.release = published.output_for_node(f"{name}__published_features")
        outcome.success = True
    return outcome

"""The source-change sensor: new rows or a changed schema in the source trigger a refresh.

A schema change that breaks the spec (a dropped column the view needs, a renamed table) requests
no run: the tick is skipped with the spec error and the way out, so the failure shows in the UI
instead of as a broken run.
"""

import json

import dagster as dg

from synth_pipelines.core.publish import release_folder
from synth_pipelines.core.source import source_state
from synth_pipelines.core.validation import validate_against_source
from synth_pipelines.orchestration.factory import today_partition
from synth_pipelines.spec import LoadedSpec, SpecError


def source_change_sensor(loaded: LoadedSpec, job, minimum_interval_seconds: int = 300) -> dg.SensorDefinition:
    spec = loaded.spec

    @dg.sensor(name=f"{spec.dataset}_source_change", job=job, minimum_interval_seconds=minimum_interval_seconds,
               default_status=dg.DefaultSensorStatus.STOPPED,
               description=f"Refreshes {spec.release_name} when the source's rows or schema change.")
    def _sensor(context: dg.SensorEvaluationContext):
        keys = {name: table.primary_key for name, table in spec.source.tables.items()}
        try:
            state = source_state(spec.source.url, keys)
        except Exception as exc:  # an unreachable source is a reason to wait, not to crash the daemon
            return dg.SkipReason(f"source not readable: {type(exc).__name__}: {str(exc).splitlines()[0]}")
        encoded = json.dumps(state, sort_keys=True)
        previous = json.loads(context.cursor) if context.cursor else None
        if previous == state:
            return dg.SkipReason("source unchanged since the last tick")
        changed = sorted(name for name in state if not previous or previous.get(name) != state[name])
        schema_changed = previous is not None and any(
            previous.get(name, {}).get("columns") != state[name].get("columns") for name in changed)
        if schema_changed:
            try:
                validate_against_source(loaded, check_generator=False)
            except SpecError as exc:
                # Keep the old cursor: the tick is skipped again until the spec is synchronized.
                return dg.SkipReason(f"source schema changed ({', '.join(changed)}) and no longer fits the spec: "
                                     f"{exc}. Validate and synchronize the spec "
                                     f"(synth-pipelines validate {loaded.path}), then the next tick refreshes.")
        context.update_cursor(encoded)
        partition = today_partition(loaded)
        if spec.destination.kind == "local" and (release_folder(
                spec.destination.root(), spec.dataset, spec.release_name, partition) / "manifest.json").is_file():
            return dg.SkipReason(f"source changed ({', '.join(changed)}) but today's release {partition} is already "
                                 "published; the change goes into tomorrow's snapshot")
        return dg.RunRequest(run_key=f"source-change-{partition}-{hash(encoded) & 0xFFFFFFFF:08x}",
                             partition_key=partition,
                             tags={"synth_pipelines/trigger": "source_change", "synth_pipelines/changed": ",".join(changed)})

    return _sensor

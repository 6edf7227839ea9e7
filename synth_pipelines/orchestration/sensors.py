"""The sensors that start a refresh, each adding the snapshot's partition with its run request (a
schedule cannot add a dynamic partition):

- the scheduled refresh fires at `refresh.cron` in `refresh.timezone`, for the tick's own day;
- the source-change sensor fires when new rows or a changed schema show in the source. A schema
  change that breaks the spec (a dropped column the view needs, a renamed table) requests no run:
  the tick is skipped with the spec error and the way out, so the failure shows in the UI instead
  of as a broken run.
"""

import json
from datetime import datetime, time, timezone
from zoneinfo import ZoneInfo

import dagster as dg

from synth_pipelines.core.cron import Cron, CronError, latest_tick, next_tick, parse_cron
from synth_pipelines.core.publish import release_folder
from synth_pipelines.core.source import source_state
from synth_pipelines.core.validation import validate_against_source
from synth_pipelines.orchestration.factory import snapshot_partitions, today_partition
from synth_pipelines.spec import LoadedSpec, RefreshSpec, SpecError


def current_time() -> datetime:
    """The refresh sensor's clock: a module function, so a test can set it (Dagster's own is private)."""
    return datetime.now(timezone.utc)


def due_refresh_tick(refresh: RefreshSpec, cron: Cron, now: datetime, last_fired: datetime | None) -> datetime | None:
    """The cron tick a refresh is due for at `now`: the latest one at or before it, unless it fired
    already or falls before refresh.start_date. Without a tick fired yet (a sensor just started), only
    a tick of today counts: an older one would snapshot today's source under a past day."""
    zone = ZoneInfo(refresh.timezone)
    first = datetime.combine(refresh.start_date, time(), zone)
    today = datetime.combine(now.astimezone(zone).date(), time(), zone)
    since = max(first, last_fired or today, key=datetime.timestamp)
    tick = latest_tick(cron, zone, now, since)
    if tick is None or (last_fired is not None and tick.timestamp() <= last_fired.timestamp()):
        return None
    return tick


def refresh_sensor(loaded: LoadedSpec, job, minimum_interval_seconds: int = 60) -> dg.SensorDefinition:
    """The scheduled refresh: at each cron tick, add the tick's day as a snapshot partition and run it.
    The cursor is the last tick fired, so a tick fires once, and a late evaluation fires its own day."""
    spec = loaded.spec
    refresh = spec.refresh
    try:  # as a schedule would, when the code location loads
        cron = parse_cron(refresh.cron)
    except CronError as exc:
        raise loaded.error("refresh.cron", f"'{refresh.cron}' is not a cron expression Dagster can run ({exc})",
                           "write minute, hour, day of month, month and day of week, e.g. '0 3 * * *'") from None

    @dg.sensor(name=f"{spec.dataset}_scheduled_refresh", job=job, minimum_interval_seconds=minimum_interval_seconds,
               default_status=dg.DefaultSensorStatus.STOPPED,
               description=f"At '{refresh.cron}' ({refresh.timezone}): adds the day's snapshot partition and takes "
                           f"it, for a new {spec.release_name} release.")
    def _sensor(context: dg.SensorEvaluationContext):
        now = current_time()
        last_fired = datetime.fromisoformat(context.cursor) if context.cursor else None
        tick = due_refresh_tick(refresh, cron, now, last_fired)
        if tick is None:
            upcoming = next_tick(cron, ZoneInfo(refresh.timezone), now)
            return dg.SkipReason(f"next refresh at {upcoming.isoformat()}" if upcoming else "no refresh.cron tick ahead")
        day = tick.date().isoformat()
        return dg.SensorResult(
            run_requests=[dg.RunRequest(run_key=f"{spec.release_name}-{day}", partition_key=day,
                                        tags={"synth_pipelines/trigger": "scheduled_refresh"})],
            dynamic_partitions_requests=[snapshot_partitions(loaded).build_add_request([day])],
            cursor=tick.isoformat())

    return _sensor


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
        request = dg.RunRequest(run_key=f"source-change-{partition}-{hash(encoded) & 0xFFFFFFFF:08x}",
                                partition_key=partition, tags={"synth_pipelines/trigger": "source_change",
                                                               "synth_pipelines/changed": ",".join(changed)})
        return dg.SensorResult(run_requests=[request],
                               dynamic_partitions_requests=[snapshot_partitions(loaded).build_add_request([partition])])

    return _sensor

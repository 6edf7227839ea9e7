"""The publication gate as a sensor: after a refresh run QA'd a snapshot's features (and, for a spec
with `tables:`, its tables), it requests the publish run of each once every blocking check passed and,
if the spec requires it, an approval is recorded. Features and tables pass their own gates and get
their own runs (`asset_selection`), so neither waits for the other. A closed gate shows its reason
in the sensor's tick history in the UI."""

import dagster as dg

from synth_pipelines.core.shards import parts_sha256
from synth_pipelines.orchestration.factory import release_gate
from synth_pipelines.orchestration.multitable import root_table, tables_gate, tables_sha256
from synth_pipelines.orchestration.resources import SynthStorage
from synth_pipelines.spec import LoadedSpec


def publication_gate_sensor(loaded: LoadedSpec, publish_job, storage: SynthStorage,
                            minimum_interval_seconds: int = 60) -> dg.SensorDefinition:
    spec = loaded.spec

    def key(*parts: str) -> dg.AssetKey:
        return dg.AssetKey([spec.dataset, *parts])

    def features_sha(partition: str) -> str:
        return parts_sha256(storage.work(spec.dataset, partition, "synthetic_features"))  # its part-*.parquet

    # (what, made by, published as, gate, rows digest, run key's prefix) of each thing the gate releases
    releases = [("", key("synthetic_features"), key("published_features"), release_gate, features_sha, "publish")]
    if spec.tables is not None:
        releases.append((" tables", key("tables", root_table(loaded)), key("published_tables"), tables_gate,
                         lambda partition: tables_sha256(storage, loaded, partition), "publish-tables"))

    @dg.sensor(name=f"{spec.dataset}_publication_gate", job=publish_job,
               minimum_interval_seconds=minimum_interval_seconds, default_status=dg.DefaultSensorStatus.RUNNING,
               description=f"Publishes {spec.release_name} for a snapshot once its blocking QA checks passed"
                           + (" and a person approved it." if spec.qa.require_approval else "."))
    def _sensor(context: dg.SensorEvaluationContext):
        # State comes from the instance and the QA reports, so the sensor needs no cursor.
        requests, reasons = [], []
        for what, made_by, published, gate, rows_sha256, prefix in releases:
            waiting = (context.instance.get_materialized_partitions(made_by)
                       - context.instance.get_materialized_partitions(published))
            for partition in sorted(waiting):
                decision, _ = gate(loaded, storage, partition)
                if not decision.open:
                    reasons.append(f"{partition}{what}: {decision.reason}")
                    continue
                # Keyed by the rows: rows regenerated for the same snapshot get their own request.
                requests.append(dg.RunRequest(run_key=f"{prefix}-{spec.release_name}-{partition}-"
                                                      f"{rows_sha256(partition)[:12]}", partition_key=partition,
                                              asset_selection=[published]))
        return requests or dg.SkipReason("; ".join(reasons) or "no QA'd snapshot is waiting for publication")

    return _sensor

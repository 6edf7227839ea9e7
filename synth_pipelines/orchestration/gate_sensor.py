"""The publication gate as a sensor: after a refresh run QA'd a snapshot's features, it requests the
publish run once every blocking check passed and, if the spec requires it, an approval is recorded.
A closed gate shows its reason in the sensor's tick history in the UI."""

import dagster as dg

from synth_pipelines.core.shards import parts_sha256
from synth_pipelines.orchestration.factory import release_gate
from synth_pipelines.orchestration.resources import SynthStorage
from synth_pipelines.spec import LoadedSpec


def publication_gate_sensor(loaded: LoadedSpec, publish_job, storage: SynthStorage,
                            minimum_interval_seconds: int = 60) -> dg.SensorDefinition:
    spec = loaded.spec
    features_key = dg.AssetKey([spec.dataset, "synthetic_features"])
    published_key = dg.AssetKey([spec.dataset, "published_features"])

    @dg.sensor(name=f"{spec.dataset}_publication_gate", job=publish_job,
               minimum_interval_seconds=minimum_interval_seconds, default_status=dg.DefaultSensorStatus.RUNNING,
               description=f"Publishes {spec.release_name} for a snapshot once its blocking QA checks passed"
                           + (" and a person approved it." if spec.qa.require_approval else "."))
    def _sensor(context: dg.SensorEvaluationContext):
        # State comes from the instance and the QA reports, so the sensor needs no cursor.
        waiting = (context.instance.get_materialized_partitions(features_key)
                   - context.instance.get_materialized_partitions(published_key))
        requests, reasons = [], []
        for partition in sorted(waiting):
            decision, _ = release_gate(loaded, storage, partition)
            if not decision.open:
                reasons.append(f"{partition}: {decision.reason}")
                continue
            features = storage.work(spec.dataset, partition, "synthetic_features")  # its part-*.parquet
            # Keyed by the rows: features regenerated for the same snapshot get their own request.
            requests.append(dg.RunRequest(run_key=f"publish-{spec.release_name}-{partition}-"
                                                  f"{parts_sha256(features)[:12]}", partition_key=partition))
        return requests or dg.SkipReason("; ".join(reasons) or "no QA'd snapshot is waiting for publication")

    return _sensor

"""deploy/dagster.prod.yaml loads against the real PostgreSQL and an S3 server on loopback, and the
demo graph runs on it: runs and events land in PostgreSQL, step logs in the S3 bucket."""

import shutil

import boto3
import dagster as dg
import pytest
import sqlalchemy as sa

from synth_pipelines.orchestration.resources import SynthStorage
from synth_pipelines.orchestration.runner import materialize_dataset
from synth_pipelines.paths import project_root
from synth_pipelines.spec import load_spec

pytestmark = pytest.mark.slow


def test_demo_graph_runs_on_the_production_instance(tmp_path, monkeypatch, postgres_url, moto, aws_env,
                                                    demo_spec_data, write_spec, storage_home):
    s3_endpoint = moto.url
    pg = sa.engine.make_url(postgres_url)
    for name, value in {"DAGSTER_PG_HOST": pg.host, "DAGSTER_PG_PORT": str(pg.port), "DAGSTER_PG_USER": pg.username,
                        "DAGSTER_PG_PASSWORD": "", "DAGSTER_PG_DB": pg.database,
                        "DAGSTER_COMPUTE_LOG_BUCKET": "dagster-logs", "DAGSTER_COMPUTE_LOG_PREFIX": "synth",
                        "DAGSTER_S3_ENDPOINT_URL": s3_endpoint, "DAGSTER_HOME": str(tmp_path)}.items():
        monkeypatch.setenv(name, value)
    s3 = boto3.client("s3", endpoint_url=s3_endpoint)
    s3.create_bucket(Bucket="dagster-logs")
    shutil.copy(project_root() / "deploy" / "dagster.prod.yaml", tmp_path / "dagster.yaml")

    instance = dg.DagsterInstance.get()
    try:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
        assert type(instance.compute_log_manager).__name__ == "S3ComputeLogManager"

        outcome = materialize_dataset(load_spec(write_spec(demo_spec_data)), instance,
                                      SynthStorage(root=str(storage_home)))
        assert outcome.success, outcome.error or outcome.failed_checks
    finally:
        instance.dispose()

    engine = sa.create_engine(postgres_url)
    try:
        with engine.connect() as conn:
            run_ids = conn.execute(sa.text("SELECT run_id FROM runs")).scalars().all()
            materialized = conn.execute(sa.text(
                "SELECT count(*) FROM event_logs WHERE dagster_event_type = 'ASSET_MATERIALIZATION'")).scalar_one()
    finally:
        engine.dispose()
    assert outcome.run_id in run_ids and len(run_ids) == 2  # the refresh run, then the gated publish run
    assert materialized == 8  # every stage of the demo graph
    logs = s3.list_objects_v2(Bucket="dagster-logs", Prefix="synth/").get("Contents", [])
    assert logs, "no step logs were written to the compute-log bucket"

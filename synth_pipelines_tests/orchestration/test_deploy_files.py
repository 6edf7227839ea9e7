"""deploy/: the instance files and the Helm values parse and name what the code reads; a dagster-celery
worker starts on deploy/celery/celery.yaml against the local broker."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import yaml

from synth_pipelines.orchestration.executors import celery_config, executor_from_env
from synth_pipelines.paths import project_root

DEPLOY = project_root() / "deploy"


def test_celery_settings_load_as_the_executor_and_the_worker_read_them(monkeypatch):
    from dagster_celery.cli import get_validated_config

    monkeypatch.setenv("DAGSTER_CELERY_BROKER_URL", "pyamqp://guest:guest@127.0.0.1:5672//")
    worker = get_validated_config(str(DEPLOY / "celery" / "celery.yaml"))  # what `worker start -y` does
    assert worker["broker"] == "pyamqp://guest:guest@127.0.0.1:5672//"
    assert worker["config_source"]["task_acks_late"] is True
    assert celery_config()["config_source"] == worker["config_source"]
    monkeypatch.setenv("SYNTH_PIPELINES_EXECUTOR", "celery")
    assert executor_from_env().name == "synth_celery_executor"
    monkeypatch.setenv("SYNTH_PIPELINES_EXECUTOR", "k8s")
    with pytest.raises(ValueError, match="dagster-k8s==0.29.27"):  # not in the lock: no cluster here
        executor_from_env()
    monkeypatch.setenv("SYNTH_PIPELINES_EXECUTOR", "spark")
    with pytest.raises(ValueError, match="use 'celery' or 'k8s'"):
        executor_from_env()


def test_helm_values_name_the_storage_and_executor_the_code_reads():
    values = yaml.safe_load((DEPLOY / "k8s" / "values.yaml").read_text())
    deployment = values["dagster-user-deployments"]["deployments"][0]
    env = {item["name"]: item["value"] for item in deployment["env"]}
    assert env["SYNTH_PIPELINES_EXECUTOR"] == "k8s" and env["SYNTH_PIPELINES_STORAGE"].startswith("s3://")
    assert deployment["dagsterApiGrpcArgs"] == ["-m", "synth_pipelines.definitions"]
    assert values["runLauncher"]["type"] == "K8sRunLauncher"


def test_prod_instance_file_parses(monkeypatch, tmp_path):
    for name in ("DAGSTER_PG_HOST", "DAGSTER_PG_PORT", "DAGSTER_PG_USER", "DAGSTER_PG_PASSWORD", "DAGSTER_PG_DB",
                 "DAGSTER_COMPUTE_LOG_BUCKET", "DAGSTER_COMPUTE_LOG_PREFIX", "DAGSTER_S3_ENDPOINT_URL"):
        monkeypatch.setenv(name, "x")
    from dagster._core.instance.config import dagster_instance_config

    config, _ = dagster_instance_config(str(DEPLOY), config_filename="dagster.prod.yaml")
    assert "postgres" in config["storage"]


def test_a_celery_worker_starts_against_the_local_broker(rabbitmq_url, tmp_path):
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")  # the worker opens an instance
    env = {**os.environ, "DAGSTER_CELERY_BROKER_URL": rabbitmq_url, "DAGSTER_HOME": str(tmp_path),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}  # it runs `celery`
    name = f"probe-{uuid.uuid4().hex[:8]}"
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        worker = subprocess.Popen([str(Path(sys.executable).parent / "dagster-celery"), "worker", "start", "-A",
                                   "dagster_celery.app", "-y", str(DEPLOY / "celery" / "celery.yaml"), "-q", name,
                                   "-n", f"{name}@%h", "--", "--pool", "solo"],
                                  cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        while b" ready." not in log.read_bytes():  # celery's "celery@host ready." once it consumes
            assert worker.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.5)
        assert b"Connected to amqp://guest:**@127.0.0.1:5672//" in log.read_bytes()
    finally:
        os.killpg(worker.pid, 15)
        worker.wait(timeout=60)

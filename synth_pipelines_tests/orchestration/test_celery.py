"""The demo with 4 shards on two dagster-celery workers that share nothing but the broker (RabbitMQ on
127.0.0.1:5672), the PostgreSQL instance storage and the S3 server. The dataset's refresh and publish jobs
are launched by the instance's run launcher through a code server, as a deployment's sensors launch them:
the shard steps spread over the workers, a worker killed mid-step has its step run again by the other,
and the release the workers publish to the bucket is whole and holds the same data, byte for byte, as an
in-process run's release."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import boto3
import dagster as dg
import pytest
import yaml

from synth_pipelines.orchestration.code_location import build_definitions
from synth_pipelines.orchestration.executors import celery_config
from synth_pipelines.orchestration.factory import add_snapshot_partitions
from synth_pipelines.orchestration.resources import SynthStorage
from synth_pipelines.spec import load_spec

pytestmark = pytest.mark.slow
PARTITION = "2026-11-24"
BUCKET = "synth-celery"
FEATURES = dg.AssetKey(["demo_loans", "synthetic_features"])
WORKER_START_SECONDS = 300  # importing dagster and the project under a loaded machine


def features_job() -> dg.JobDefinition:
    """Snapshot to synthetic features of the spec in SYNTH_TEST_CELERY_SPEC, on the executor and storage
    the environment names (celery, the bucket). Module level: the workers import it by reference
    (bench/bench_celery.py runs it too)."""
    defs = build_definitions([load_spec(os.environ["SYNTH_TEST_CELERY_SPEC"])])
    job = dg.define_asset_job("celery_features",
                              selection=dg.AssetSelection.assets(FEATURES).upstream().required_multi_asset_neighbors()
                              .without_checks())
    return dg.Definitions.merge(defs, dg.Definitions(jobs=[job])).resolve_job_def("celery_features")


def _start_worker(name: str, folder: Path, env: dict[str, str], config: Path, queue: str) -> subprocess.Popen:
    folder.mkdir(parents=True)
    log = (folder / "worker.log").open("wb")
    # --pool solo: the step runs in the worker process itself, so its PID is the one that dies.
    return subprocess.Popen([str(Path(sys.executable).parent / "dagster-celery"), "worker", "start", "-A",
                             "dagster_celery.app", "-y", str(config), "-q", queue, "-n", f"{name}@%h", "--", "--pool",
                             "solo"], cwd=folder, env={**env, "SYNTH_PIPELINES_HOME": str(folder / "home")},
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def _celery_pid(cli: subprocess.Popen) -> int:
    """The `celery worker` process the dagster-celery command started (its only child)."""
    children = Path(f"/proc/{cli.pid}/task/{cli.pid}/children").read_text().split()
    assert children, "the dagster-celery command has no celery worker child"
    return int(children[0])


def _wait_for(condition, seconds: float, what, workers) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        dead = [w for w in workers if w.poll() is not None]
        assert time.monotonic() < deadline and not dead, f"{what() if callable(what) else what}: timed out or a worker exited"
        time.sleep(0.5)


def _run_story(instance: dg.DagsterInstance, run_id: str, tmp_path: Path) -> str:
    """The run's status and last events, and the code server's log, for a failure message."""
    run = instance.get_run_by_id(run_id)
    events = [f"{r.step_key or ''} {r.dagster_event.event_type_value if r.dagster_event else ''} {r.message[:300]}"
              for r in instance.all_logs(run_id)][-8:]
    return (f"run {run.status if run else 'missing'}; last events: {events}; code server: "
            f"{(tmp_path / 'code_server.log').read_text()[-1500:]}")


def _step_workers(instance: dg.DagsterInstance, run_id: str) -> list[tuple[str, str]]:
    """(step key, worker name) of every step a celery worker started, in order."""
    found = []
    for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT):
        data = record.dagster_event.engine_event_data if record.dagster_event else None
        worker = data.metadata.get("Celery worker") if data else None
        if worker is not None:
            found.append((record.step_key, worker.value.split("@")[0]))
    return found


def test_shards_on_two_celery_workers_survive_a_killed_worker(rabbitmq_url, moto, aws_env, postgres_url,
                                                               shipped_demo_spec_data, write_spec, tmp_path,
                                                               storage_home, monkeypatch):
    s3 = boto3.client("s3", endpoint_url=moto.url)
    s3.create_bucket(Bucket=BUCKET)
    # The shipped generator (cart): its training is reproducible from the seed in any process, which the
    # fast test generator (bayesian_network) is not (its structure search differs between processes).
    shipped_demo_spec_data["synthetic"].update(rows=1200, batch_rows=300, shards=4)
    local_spec = tmp_path / "reference" / "local.yaml"  # not beside the served spec: one dataset per name there
    local_spec.parent.mkdir()
    local_spec.write_text(yaml.safe_dump(shipped_demo_spec_data, sort_keys=False))
    # The workers publish to the bucket: a local destination would land on whichever worker's disk.
    spec = write_spec({**shipped_demo_spec_data, "destination": {"kind": "s3", "bucket": BUCKET, "prefix": "releases",
                                                                 "endpoint_url": moto.url}})

    # The reference: the same spec and seed in one process, refreshed and published on the local disk.
    local = SynthStorage(root=str(tmp_path / "local"))
    reference = dg.DagsterInstance.ephemeral()
    add_snapshot_partitions(reference, load_spec(local_spec), [PARTITION])
    defs = build_definitions([load_spec(local_spec)], local)
    for job in ("demo_loans_refresh", "demo_loans_publish"):
        assert defs.resolve_job_def(job).execute_in_process(instance=reference, partition_key=PARTITION).success
    expected = data_parts(json.loads(next((storage_home / "releases").rglob("manifest.json")).read_text()))
    assert len(expected) == 4  # one part per shard

    queue = f"synth-test-{uuid.uuid4().hex[:8]}"  # other runs on the shared broker never take our steps
    config = yaml.safe_load((Path(__file__).parents[2] / "deploy" / "celery" / "celery.yaml").read_text())
    config["execution"]["config"]["config_source"]["task_default_queue"] = queue
    config_file = tmp_path / "celery.yaml"
    config_file.write_text(yaml.safe_dump(config))
    home = tmp_path / "dagster_home"
    home.mkdir()
    # No daemon here to dequeue runs: a submitted run goes straight to the instance's run launcher.
    (home / "dagster.yaml").write_text(yaml.safe_dump({
        "storage": {"postgres": {"postgres_url": postgres_url}}, "telemetry": {"enabled": False},
        "run_coordinator": {"module": "dagster._core.run_coordinator", "class": "DefaultRunCoordinator"}}))
    env = {"DAGSTER_HOME": str(home), "DAGSTER_CELERY_BROKER_URL": rabbitmq_url,
           "SYNTH_PIPELINES_EXECUTOR": "celery", "SYNTH_PIPELINES_CELERY_CONFIG": str(config_file),
           "SYNTH_PIPELINES_STORAGE": f"s3://{BUCKET}/synth", "SYNTH_PIPELINES_STORAGE_ENDPOINT_URL": moto.url,
           "SYNTH_TEST_CELERY_SPEC": str(spec), "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
           "SYNTH_PIPELINES_DATASETS": str(spec.parent),  # the code location (server and workers) serves this spec
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}  # dagster-celery runs `celery`
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert celery_config(config_file)["broker"] == {"env": "DAGSTER_CELERY_BROKER_URL"}
    workers = {name: _start_worker(name, tmp_path / name, dict(os.environ), config_file, queue) for name in ("w1", "w2")}
    # The code location as a deployment serves it (a code server for the spec's folder), and runs launched
    # by the instance's run launcher through it, as the daemon's sensors launch them.
    monkeypatch.setenv("SYNTH_PIPELINES_HOME", str(tmp_path / "orchestrator"))
    server = None
    try:
        server, workspace = _start_code_server(tmp_path)
        with dg.DagsterInstance.get() as instance:
            add_snapshot_partitions(instance, load_spec(spec), [PARTITION])
            run_id = _launch(workspace, "demo_loans_refresh")
            # Kill the worker that took the synthesizer step (it imports torch: seconds long) by its PID.
            _wait_for(lambda: any(k.endswith("synthesizer") for k, _ in _step_workers(instance, run_id)), 240,
                      lambda: f"the synthesizer step never started: {_run_story(instance, run_id, tmp_path)}",
                      workers.values())
            victim = next(w for k, w in _step_workers(instance, run_id) if k.endswith("synthesizer"))
            os.kill(_celery_pid(workers[victim]), signal.SIGKILL)
            workers[victim].wait(timeout=60)
            workers["w3"] = _start_worker("w3", tmp_path / "w3", dict(os.environ), config_file, queue)  # its stand-in
            assert _wait_run_end(instance, run_id, 900) == dg.DagsterRunStatus.SUCCESS
            steps = _step_workers(instance, run_id)
            # What the gate sensor does once QA passed: the publish job, on the workers too.
            published = _launch(workspace, "demo_loans_publish")
            assert _wait_run_end(instance, published, 600) == dg.DagsterRunStatus.SUCCESS
            publisher = _step_workers(instance, published)
    finally:
        if server is not None:
            _stop_process_group(server)
        for worker in workers.values():
            if worker.poll() is None:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait(timeout=60)

    synthesizer = [w for k, w in steps if k.endswith("synthesizer")]
    assert synthesizer[0] == victim and len(synthesizer) == 2 and synthesizer[1] != victim  # retried elsewhere
    shard_workers = {w for k, w in steps if "__generate_shard[" in k}
    assert len(shard_workers) == 2 and victim not in shard_workers
    assert len(publisher) == 1 and publisher[0][0].endswith("published_features")  # by a worker, not the test
    # The release in the bucket is whole (its manifest names 4 parts, each there with its SHA-256) and holds
    # the in-process release's data byte for byte.
    manifests = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="releases/")["Contents"]
                 if o["Key"].endswith("/manifest.json")]
    assert len(manifests) == 1, manifests
    release = manifests[0].rsplit("/", 1)[0]
    manifest = json.loads(s3.get_object(Bucket=BUCKET, Key=manifests[0])["Body"].read())
    assert data_parts(manifest) == expected
    for name, (sha256, _) in expected.items():
        body = s3.get_object(Bucket=BUCKET, Key=f"{release}/{manifest['objects'][name]['key']}")["Body"].read()
        assert hashlib.sha256(body).hexdigest() == sha256


def data_parts(manifest: dict) -> dict[str, tuple[str, int]]:
    """A release manifest's data parts: name -> (SHA-256, rows)."""
    return {n: (f["sha256"], f["rows"]) for n, f in manifest["files"].items() if n.startswith("data/")}


def _start_code_server(tmp_path: Path) -> tuple[subprocess.Popen, Path]:
    """`dagster code-server` for synth_pipelines.definitions on a free loopback port, and a workspace file
    that points at it; waits until the server answers."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = (tmp_path / "code_server.log").open("wb")
    server = subprocess.Popen([str(Path(sys.executable).parent / "dagster"), "code-server", "start", "-m",
                               "synth_pipelines.definitions", "-h", "127.0.0.1", "-p", str(port)], env=dict(os.environ),
                              stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    workspace = tmp_path / "workspace.yaml"
    workspace.write_text(yaml.safe_dump({"load_from": [{"grpc_server": {"host": "127.0.0.1", "port": port,
                                                                        "location_name": "synth_pipelines"}}]}))
    deadline = time.monotonic() + WORKER_START_SECONDS
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return server, workspace
        except OSError:
            assert server.poll() is None and time.monotonic() < deadline, (tmp_path / "code_server.log").read_text()
            time.sleep(1)


def _stop_process_group(process: subprocess.Popen) -> None:
    """SIGTERM to the code server's process group (its proxy, gRPC server and run processes), SIGKILL to what is
    left after 60 s: on a loaded machine the proxy once outlived a 60-second wait after SIGTERM with both runs
    finished, which failed a test whose runs had passed."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            continue
        with contextlib.suppress(ProcessLookupError):  # the proxy's children, if any outlived it
            os.killpg(process.pid, signal.SIGKILL)
        return


def _launch(workspace: Path, job: str) -> str:
    """`dagster job launch`: the instance's run launcher starts the run through the code server."""
    run_id = str(uuid.uuid4())
    done = subprocess.run([str(Path(sys.executable).parent / "dagster"), "job", "launch", "-w", str(workspace), "-j",
                           job, "--run-id", run_id, "--tags", json.dumps({"dagster/partition": PARTITION})],
                          env=dict(os.environ), capture_output=True, text=True, timeout=WORKER_START_SECONDS)
    assert done.returncode == 0, done.stdout + done.stderr
    return run_id


def _wait_run_end(instance: dg.DagsterInstance, run_id: str, seconds: float) -> dg.DagsterRunStatus:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        run = instance.get_run_by_id(run_id)
        if run is not None and run.is_finished:
            return run.status
        time.sleep(1)
    raise AssertionError(f"run {run_id} did not finish in {seconds} s")

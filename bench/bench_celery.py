"""Scale-out benchmark (issue 16): the demo's sharded stages on one and on two dagster-celery workers.

    PYTHONPATH=. .venv/bin/python bench/bench_celery.py --rows 1000000 --shards 4 --repeats 3

A worker is a `dagster-celery worker start ... -- --pool solo` process (one step at a time, run in the
worker process) with its own working folder; the workers share RabbitMQ (127.0.0.1:5672), a scratch
PostgreSQL database (127.0.0.1:5432) as instance storage and the storage root, a local folder here (an S3
server, moto, would take its CPU from the same 2 cores). Per repeat and worker count, fresh workers run
the snapshot -> synthetic features job (test_celery.features_job, the job the Celery test runs) 1 +
--warm-runs times on new snapshot partitions: the first run finds the workers cold (a worker's first
generation step imports torch and synthcity, ~5 s), the later ones warm, as a worker fleet that serves
many datasets is. The order of one and two workers alternates between repeats, so a drifting load hits
both. The sharded stages' time is the generation stage's span (first generate_shard start to last end)
plus the feature stage's (feature_shard); the serial steps between them (collect, plan) are not sharded
and not counted. The speed-up is one worker's time over two workers', per repeat, cold and warm (median
of the warm runs), and its median over repeats.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import ROOT, machine, write_run_spec  # noqa: E402

POSTGRES_ADMIN_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
BROKER_URL = "pyamqp://guest:guest@127.0.0.1:5672//"
SHARD_STEPS = ("__generate_shard[", "__feature_shard[")
RUN_SCRIPT = """
import json, sys, dagster as dg
from synth_pipelines.orchestration.factory import add_snapshot_partitions
from synth_pipelines.spec import load_spec
from synth_pipelines_tests.orchestration.test_celery import features_job
import os
with dg.DagsterInstance.get() as instance:
    add_snapshot_partitions(instance, load_spec(os.environ["SYNTH_TEST_CELERY_SPEC"]), [sys.argv[1]])
    result = dg.execute_job(dg.reconstructable(features_job), instance=instance, tags={"dagster/partition": sys.argv[1]})
    print(json.dumps({"run_id": result.run_id, "success": result.success}))
"""


def scratch_database() -> tuple[str, str]:
    name = f"bench_celery_{uuid.uuid4().hex[:8]}"
    with sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT").connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    return name, sa.engine.make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def drop_database(name: str) -> None:
    with sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT").connect() as conn:
        conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


def start_worker(name: str, folder: Path, env: dict[str, str], config: Path, queue: str) -> subprocess.Popen:
    folder.mkdir(parents=True)
    return subprocess.Popen([str(Path(sys.executable).parent / "dagster-celery"), "worker", "start", "-A",
                             "dagster_celery.app", "-y", str(config), "-q", queue, "-n", f"{name}@%h", "--",
                             "--pool", "solo"], cwd=folder, env=env, stdout=(folder / "worker.log").open("wb"),
                            stderr=subprocess.STDOUT, start_new_session=True)


def wait_until_ready(workers: dict[str, subprocess.Popen], folder: Path, seconds: float = 300) -> None:
    """Until each worker's log says it is ready (celery prints 'ready.' once it consumes its queue)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if all(b"ready." in (folder / name / "worker.log").read_bytes() for name in workers):
            return
        dead = [n for n, w in workers.items() if w.poll() is not None]
        if dead:
            raise RuntimeError(f"worker {dead} exited: see {folder / dead[0] / 'worker.log'}")
        time.sleep(1)
    raise RuntimeError("the workers were not ready in time")


def step_spans(run_id: str, home: Path) -> dict[str, Any]:
    """Per step: start, end (seconds) and worker, from the run's events in the instance."""
    import dagster as dg

    os.environ["DAGSTER_HOME"] = str(home)
    with dg.DagsterInstance.get() as instance:
        starts, ends, workers = {}, {}, {}
        for record in instance.all_logs(run_id):
            event, key = record.dagster_event, record.step_key
            if event is None or key is None:
                continue
            if event.event_type == dg.DagsterEventType.STEP_START:
                starts[key] = record.timestamp
            elif event.event_type == dg.DagsterEventType.STEP_SUCCESS:
                ends[key] = record.timestamp
            elif event.event_type == dg.DagsterEventType.ENGINE_EVENT:
                worker = event.engine_event_data.metadata.get("Celery worker")
                if worker is not None:
                    workers[key] = worker.value.split("@")[0]
    shards = [k for k in starts if any(s in k for s in SHARD_STEPS)]
    stages = {stage: round(max(ends[k] for k in shards if stage in k) - min(starts[k] for k in shards if stage in k), 1)
              for stage in SHARD_STEPS}
    return {"sharded_seconds": round(sum(stages.values()), 1),
            "generation_stage_seconds": stages[SHARD_STEPS[0]], "feature_stage_seconds": stages[SHARD_STEPS[1]],
            "run_seconds": round(max(ends.values()) - min(starts.values()), 1),
            "shard_steps": len(shards), "shard_workers": sorted({workers.get(k, "?") for k in shards}),
            "shard_step_seconds": {k.split(".")[-1].replace("demo_loans__", ""): round(ends[k] - starts[k], 1)
                                   for k in sorted(shards)}}


def runs_on_workers(workers_count: int, runs: int, spec: Path, folder: Path) -> list[dict[str, Any]]:
    """`runs` runs of the job, one after another, on the same `workers_count` freshly started workers:
    the first finds them cold (a worker's first generation step imports torch), the later ones warm."""
    database, postgres_url = scratch_database()
    home = folder / "dagster_home"
    home.mkdir(parents=True)
    (home / "dagster.yaml").write_text(yaml.safe_dump({"storage": {"postgres": {"postgres_url": postgres_url}},
                                                       "telemetry": {"enabled": False}}))
    queue = f"bench-{uuid.uuid4().hex[:8]}"  # other runs on the shared broker never take these steps
    config = yaml.safe_load((ROOT / "deploy" / "celery" / "celery.yaml").read_text())
    config["execution"]["config"]["config_source"]["task_default_queue"] = queue
    (folder / "celery.yaml").write_text(yaml.safe_dump(config))
    env = {**os.environ, "DAGSTER_HOME": str(home), "DAGSTER_CELERY_BROKER_URL": BROKER_URL,
           "SYNTH_PIPELINES_EXECUTOR": "celery", "SYNTH_PIPELINES_CELERY_CONFIG": str(folder / "celery.yaml"),
           "SYNTH_PIPELINES_HOME": str(folder / "storage"), "SYNTH_TEST_CELERY_SPEC": str(spec),
           "PYTHONPATH": str(ROOT), "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    workers = {f"w{i}": start_worker(f"w{i}", folder / f"w{i}", env, folder / "celery.yaml", queue)
               for i in range(1, workers_count + 1)}
    results = []
    try:
        wait_until_ready(workers, folder)
        for run in range(runs):
            partition = f"2026-11-{24 + run:02d}"
            started = time.perf_counter()
            done = subprocess.run([sys.executable, "-c", RUN_SCRIPT, partition], env=env, capture_output=True,
                                  text=True, timeout=3600)
            wall = time.perf_counter() - started
            if done.returncode != 0:
                raise RuntimeError(done.stderr[-3000:])
            result = json.loads(done.stdout.strip().splitlines()[-1])
            if not result["success"]:
                raise RuntimeError(f"run {result['run_id']} failed")
            results.append({"workers": workers_count, "workers_were": "cold" if run == 0 else "warm",
                            "job_wall_seconds": round(wall, 1), **step_spans(result["run_id"], home),
                            "load_average_after": [round(x, 2) for x in os.getloadavg()]})
        return results
    finally:
        for worker in workers.values():
            if worker.poll() is None:
                os.killpg(worker.pid, signal.SIGTERM)
                try:
                    worker.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    os.killpg(worker.pid, signal.SIGKILL)
        drop_database(database)


def main() -> None:
    from synth_pipelines.core.demo_source import build_demo_database
    from synth_pipelines.paths import demo_spec
    from synth_pipelines.spec import spec_fields

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--batch-rows", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--warm-runs", type=int, default=2, help="runs after the first on the same workers")
    parser.add_argument("--work", type=Path, default=ROOT / ".bench" / "celery")
    args = parser.parse_args()

    shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)
    source = args.work / "demo_bank.sqlite"
    build_demo_database(source)
    template = demo_spec()
    spec = write_run_spec(template, args.work / "spec.yaml", spec_fields(template)["generator"], {
        "source": {"url": f"sqlite:///{source}"},
        "synthetic": {"rows": args.rows, "batch_rows": args.batch_rows, "shards": args.shards}})
    print(json.dumps({"machine": machine(), "rows": args.rows, "shards": args.shards}), flush=True)
    ratios: dict[str, list[float]] = {"cold": [], "warm": []}
    for repeat in range(args.repeats):
        order = (1, 2) if repeat % 2 == 0 else (2, 1)  # alternate, so a drifting load hits both
        spans: dict[int, dict[str, float]] = {}
        for count in order:
            results = runs_on_workers(count, 1 + args.warm_runs, spec, args.work / f"r{repeat}-w{count}")
            for result in results:
                print(json.dumps({"repeat": repeat, **result}), flush=True)
            spans[count] = {"cold": results[0]["sharded_seconds"],
                            **({"warm": statistics.median(r["sharded_seconds"] for r in results[1:])} if results[1:] else {})}
        for state in ratios:
            if state in spans[1]:
                ratios[state].append(spans[1][state] / spans[2][state])
        print(json.dumps({"repeat": repeat, **{f"speedup_{k}": round(v[-1], 2) for k, v in ratios.items() if v}}), flush=True)
    print(json.dumps({f"{state}_workers": {"speedups": [round(r, 2) for r in values],
                                           "median_speedup": round(statistics.median(values), 2)}
                      for state, values in ratios.items() if values}))

if __name__ == "__main__":
    main()

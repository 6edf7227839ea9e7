"""The run queue both instance files document (dagster.yaml, deploy/dagster.prod.yaml) loads and takes
effect: runs of this code location's jobs are queued, not launched, when submitted, and the queue's
dequeue decision holds one run per dataset and at most max_concurrent_runs in all.

The decision is the QueuedRunCoordinatorDaemon's own (`_get_runs_to_dequeue`, what each daemon tick
launches), asked directly so that nothing is launched: no run of the pipeline starts here."""

from __future__ import annotations

import copy
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa
import yaml
from dagster._core.remote_origin import InProcessCodeLocationOrigin
from dagster._core.run_coordinator import QueuedRunCoordinator
from dagster._core.storage.dagster_run import DagsterRunStatus
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster._core.workspace.load_target import InProcessWorkspaceLoadTarget
from dagster._daemon.run_coordinator.queued_run_coordinator_daemon import QueuedRunCoordinatorDaemon

from synth_pipelines.orchestration.factory import DATASET_TAG
from synth_pipelines.paths import project_root

DATASETS = ["demo_loans", "income_features", "demo_loans_v2"]


def documented_queue(instance_file: Path) -> tuple[int, list[dict]]:
    queue = yaml.safe_load(instance_file.read_text())["run_queue"]
    return queue["max_concurrent_runs"], queue["tag_concurrency_limits"]


@pytest.fixture
def three_datasets(demo_spec_data, write_spec, monkeypatch) -> Path:
    """Three dataset specs in the code location's folder (as test_many_datasets)."""
    for name in DATASETS:
        data = copy.deepcopy(demo_spec_data)
        data["dataset"] = name
        if name == "income_features":
            data["training_view"]["label"] = "home_ownership"
            data["qa"]["protected_columns"] = []
        if name == "demo_loans_v2":
            data["version"] = 2
        folder = write_spec(data, f"{name}.yaml").parent
    monkeypatch.setenv("SYNTH_PIPELINES_DATASETS", str(folder))
    return folder


@pytest.fixture(params=["dagster.yaml", "deploy/dagster.prod.yaml"])
def instance_file(request, tmp_path, monkeypatch) -> Iterator[tuple[Path, dg.DagsterInstance]]:
    """The instance file copied into a fresh DAGSTER_HOME and loaded as Dagster loads it."""
    source = project_root() / request.param
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(source, home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    if request.param.startswith("deploy/"):
        postgres_url = request.getfixturevalue("postgres_url")
        request.getfixturevalue("aws_env")
        pg = sa.engine.make_url(postgres_url)
        for name, value in {"DAGSTER_PG_HOST": pg.host, "DAGSTER_PG_PORT": str(pg.port),
                            "DAGSTER_PG_USER": pg.username, "DAGSTER_PG_PASSWORD": "", "DAGSTER_PG_DB": pg.database,
                            "DAGSTER_COMPUTE_LOG_BUCKET": "dagster-logs", "DAGSTER_COMPUTE_LOG_PREFIX": "synth",
                            # Step logs are never written here: no run executes.
                            "DAGSTER_S3_ENDPOINT_URL": "http://127.0.0.1:9"}.items():
            monkeypatch.setenv(name, value)
    instance = dg.DagsterInstance.get()
    try:
        yield source, instance
    finally:
        instance.dispose()


def submit(instance: dg.DagsterInstance, context, job_name: str, partition: str,
           status: DagsterRunStatus | None = None) -> str:
    """A run of the code location's job with the tags its launches carry (the job's own plus the partition's),
    submitted to the instance's run coordinator, or created with `status` (a run already in progress)."""
    location = context.get_code_location("synth")
    job = next(iter(location.get_repositories().values())).get_full_job(job_name)
    run = instance.create_run(
        job_name=job.name, run_id=None, run_config={}, resolved_op_selection=None, step_keys_to_execute=None,
        status=status, tags={**job.run_tags, "dagster/partition": partition}, root_run_id=None, parent_run_id=None,
        job_snapshot=job.job_snapshot, execution_plan_snapshot=None, parent_job_snapshot=None,
        remote_job_origin=job.get_remote_origin(), job_code_origin=job.get_python_origin(), asset_selection=None,
        asset_check_selection=None, op_selection=None, asset_graph=context.asset_graph)
    if status is None:
        run = instance.submit_run(run.run_id, context)
    return run.run_id


def test_documented_run_queue_loads_and_limits_runs_per_dataset(instance_file, three_datasets):
    source, instance = instance_file
    most, tag_limits = documented_queue(source)
    # What the files document: one run per dataset at a time, and a cap on all of them.
    assert tag_limits == [{"key": DATASET_TAG, "value": {"applyLimitPerUniqueValue": True}, "limit": 1}]
    assert most >= 2

    assert isinstance(instance.run_coordinator, QueuedRunCoordinator)
    loaded = instance.get_concurrency_config().run_queue_config
    assert loaded.max_concurrent_runs == most
    assert [(limit["key"], limit["value"], limit["limit"]) for limit in loaded.tag_concurrency_limits] == [
        (DATASET_TAG, {"applyLimitPerUniqueValue": True}, 1)]

    origin = InProcessCodeLocationOrigin(
        LoadableTargetOrigin(executable_path=sys.executable, module_name="synth_pipelines.definitions",
                             working_directory=str(project_root())), location_name="synth")
    daemon = QueuedRunCoordinatorDaemon(interval_seconds=1)
    with WorkspaceProcessContext(instance, InProcessWorkspaceLoadTarget(origin)) as workspace:
        context = workspace.create_request_context()
        # Two snapshot days of every dataset's refresh and one publish, submitted as the UI, a schedule,
        # a backfill or the gate sensor submits them: all wait in the queue, none is launched.
        queued = {name: [submit(instance, context, f"{name}_refresh", day) for day in ("2026-11-20", "2026-11-21")]
                  + [submit(instance, context, f"{name}_publish", "2026-11-19")] for name in DATASETS}
        runs = {run_id: instance.get_run_by_id(run_id) for ids in queued.values() for run_id in ids}
        assert {run.status for run in runs.values()} == {DagsterRunStatus.QUEUED}
        assert {run.tags[DATASET_TAG] for run in runs.values()} == set(DATASETS)  # every job carries the tag

        chosen = daemon._get_runs_to_dequeue(instance, instance.get_concurrency_config(), None)
        per_dataset = [run.tags[DATASET_TAG] for run in chosen]
        assert len(chosen) == min(most, len(DATASETS))
        assert len(set(per_dataset)) == len(per_dataset)  # never two runs of one dataset
        assert [run.run_id for run in chosen] == [queued[name][0] for name in per_dataset]  # the oldest first

        # A run of demo_loans in progress holds every queued demo_loans run back; the others may start.
        started = submit(instance, context, "demo_loans_refresh", "2026-11-18", status=DagsterRunStatus.STARTED)
        chosen = daemon._get_runs_to_dequeue(instance, instance.get_concurrency_config(), None)
        assert chosen and "demo_loans" not in {run.tags[DATASET_TAG] for run in chosen}
        assert len(chosen) == min(most - 1, len(DATASETS) - 1)

        # max_concurrent_runs runs in progress (other datasets' ones): nothing more starts.
        for index in range(most - 1):
            submit(instance, context, "income_features_refresh", f"2026-10-{index + 1:02d}",
                   status=DagsterRunStatus.STARTED)
        assert daemon._get_runs_to_dequeue(instance, instance.get_concurrency_config(), None) == []
        assert instance.get_run_by_id(started).status == DagsterRunStatus.STARTED

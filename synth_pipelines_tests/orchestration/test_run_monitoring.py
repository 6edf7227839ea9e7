"""Issue 13: runs stuck in STARTED after a kill -9. The shipped instance files enable run monitoring
with a launcher that checks its workers; a run whose code server (and worker) was killed is marked
FAILED by the daemon's monitoring pass, a live one is left running."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest
import yaml
from dagster._core.errors import DagsterUserCodeUnreachableError
from dagster._core.test_utils import create_run_for_test
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster._core.workspace.load_target import GrpcServerTarget
from dagster._grpc.client import DagsterGrpcClient
from dagster._daemon.monitoring.run_monitoring import execute_run_monitoring_iteration

from synth_pipelines.orchestration.run_launcher import MonitoredRunLauncher
from synth_pipelines.paths import project_root

# The run's op waits for a file nobody writes: it is still running whenever the test looks, however slow
# the machine (a fixed sleep could end first), until its worker is killed.
SLOW_JOB = '''
import time
from pathlib import Path
import dagster as dg

@dg.op
def wait() -> None:
    while not Path(__file__).with_name("never-written").exists():
        time.sleep(0.2)

@dg.job
def slow():
    wait()

defs = dg.Definitions(jobs=[slow])
'''

HANG_SECONDS = 600


def test_both_shipped_instances_enable_run_monitoring_with_a_checking_launcher() -> None:
    for path in (project_root() / "dagster.yaml", project_root() / "deploy" / "dagster.prod.yaml"):
        config = yaml.safe_load(path.read_text())
        assert config["run_monitoring"]["enabled"] is True, path
        assert config["run_monitoring"]["max_resume_run_attempts"] == 0, path
        assert config["run_launcher"] == {"module": "synth_pipelines.orchestration.run_launcher",
                                          "class": "MonitoredRunLauncher"}, path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _monitor(instance: dg.DagsterInstance, context: WorkspaceProcessContext) -> None:
    for error in execute_run_monitoring_iteration(context, logging.getLogger("test")):
        assert error is None, error


def test_a_run_whose_code_server_was_killed_is_marked_failed(tmp_path: Path, monkeypatch) -> None:
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(project_root() / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    (tmp_path / "slow.py").write_text(SLOW_JOB)
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "dagster", "api", "grpc", "--python-file",
                               str(tmp_path / "slow.py"), "--host", "127.0.0.1", "--port", str(port)],
                              start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        with dg.DagsterInstance.get() as instance:
            assert isinstance(instance.run_launcher, MonitoredRunLauncher) and instance.run_monitoring_enabled
            # The deadlines below only bound a hang (a generous multiple of a loaded machine's seconds).
            client, deadline = DagsterGrpcClient(host="127.0.0.1", port=port), time.monotonic() + HANG_SECONDS
            while True:  # the server takes a few seconds to load
                try:
                    client.ping("")
                    break
                except DagsterUserCodeUnreachableError:
                    assert server.poll() is None, "the code server exited"
                    assert time.monotonic() < deadline, "the code server did not start"
                    time.sleep(0.3)
            context = WorkspaceProcessContext(
                instance, GrpcServerTarget(host="127.0.0.1", port=port, socket=None, location_name="slow"))
            workspace = context.create_request_context()
            location = workspace.get_code_location("slow")
            job = location.get_repository("__repository__").get_full_job("slow")
            run = create_run_for_test(instance, job_name="slow", remote_job_origin=job.get_remote_origin(),
                                      job_code_origin=job.get_python_origin())
            instance.launch_run(run.run_id, workspace)
            deadline = time.monotonic() + HANG_SECONDS
            while instance.get_run_by_id(run.run_id).status != dg.DagsterRunStatus.STARTED:
                assert time.monotonic() < deadline, instance.get_run_by_id(run.run_id).status
                time.sleep(0.2)

            _monitor(instance, context)  # alive: left alone
            assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.STARTED

            os.killpg(server.pid, signal.SIGKILL)  # the code server and its run worker, as kill -9 of dagster dev
            server.wait(HANG_SECONDS)
            _monitor(instance, context)
            assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.FAILURE
            context.__exit__(None, None, None)
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)

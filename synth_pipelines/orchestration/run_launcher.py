"""The run launcher of the shipped instances: Dagster's DefaultRunLauncher plus a worker health check,
so that run monitoring (enabled in dagster.yaml and deploy/dagster.prod.yaml) marks a run failed when
its run worker was killed.

The default launcher runs each run in a subprocess of the code server that launched it and records
that server's address in the run's tags. A code server notices a run process of its own that died and
fails the run itself; what nobody notices is the code server dying with it (`kill -9` of `dagster dev`,
a machine or container restart): the run then stays STARTED forever. Here the daemon asks the
recorded code server whether it still executes the run: a server that is gone, or one that does not
know the run (a new server on the same address), means the worker is dead and the run is marked
failed. Runs without the tag (executed in-process, e.g. by the CLI) are left to `max_runtime_seconds`.
"""

from __future__ import annotations

import grpc
from dagster import DefaultRunLauncher
from dagster._core.errors import DagsterUserCodeUnreachableError
from dagster._core.launcher.base import CheckRunHealthResult, WorkerStatus
from dagster._core.storage.dagster_run import DagsterRun
from dagster._grpc.types import CanCancelExecutionRequest, CanCancelExecutionResult
from dagster._serdes import deserialize_value

HEALTH_CHECK_TIMEOUT_SECONDS = 10


class MonitoredRunLauncher(DefaultRunLauncher):
    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: DagsterRun) -> CheckRunHealthResult:
        client = self._get_grpc_client_for_termination(run.run_id)
        if client is None:  # not launched through a code server, or finished meanwhile
            return CheckRunHealthResult(WorkerStatus.RUNNING, "no code server recorded; left to max_runtime")
        try:
            result = deserialize_value(
                client.can_cancel_execution(CanCancelExecutionRequest(run_id=run.run_id),
                                            timeout=HEALTH_CHECK_TIMEOUT_SECONDS),
                CanCancelExecutionResult)
        except DagsterUserCodeUnreachableError as exc:
            if isinstance(exc.__cause__, grpc.RpcError) and exc.__cause__.code() != grpc.StatusCode.UNAVAILABLE:
                # A busy server that answered late (or oddly) is no proof of a dead worker: ask next time.
                return CheckRunHealthResult(WorkerStatus.RUNNING, f"code server did not answer: {exc}")
            return CheckRunHealthResult(WorkerStatus.FAILED, "the code server that ran this run is gone "
                                                             "(killed or restarted), and its run worker with it")
        if result.can_cancel:
            return CheckRunHealthResult(WorkerStatus.RUNNING)
        return CheckRunHealthResult(WorkerStatus.FAILED, "the code server at the recorded address does not "
                                                         "execute this run (it was restarted)")

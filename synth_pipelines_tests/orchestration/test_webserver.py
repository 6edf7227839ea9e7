"""The real Dagster webserver on loopback serves the demo's lineage through its GraphQL API,
and the shipped dagster.yaml loads as an instance."""

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest
import requests

from synth_pipelines.core.quality.thresholds import ASSET_CHECK_NAMES
from synth_pipelines.orchestration.resources import SynthStorage
from synth_pipelines.orchestration.runner import materialize_dataset, publish_partition
from synth_pipelines.paths import project_root
from synth_pipelines.spec import load_spec

pytestmark = pytest.mark.slow

SERVER_DEADLINE_SECONDS = 600

ASSET_QUERY = """
{ assetNodes { assetKey { path } groupName kinds description
    dependencyKeys { path } assetChecksOrError { ... on AssetChecks { checks { name blocking } } }
    assetMaterializations(limit: 1) { runId partition metadataEntries { label } }
    partitionKeys partitionStats { numMaterialized numPartitions } } }
"""


def test_shipped_dagster_yaml_is_a_valid_instance_config(tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))  # dagster.yaml reads its storage folder from it
    shutil.copy(project_root() / "dagster.yaml", tmp_path / "dagster.yaml")
    instance = dg.DagsterInstance.from_config(str(tmp_path))
    try:
        coordinator = instance.run_coordinator
        assert type(coordinator).__name__ == "QueuedRunCoordinator"
        assert coordinator.get_run_queue_config().max_concurrent_runs == 2
    finally:
        instance.dispose()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def webserver(tmp_path, demo_spec_data, write_spec, storage_home, monkeypatch):
    spec_path = write_spec(demo_spec_data, "demo_loans.yaml")
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(project_root() / "dagster.yaml", home / "dagster.yaml")
    # One real run first, so the UI has a latest materialization to show.
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    instance = dg.DagsterInstance.get()
    loaded, storage = load_spec(spec_path), SynthStorage(root=str(storage_home))
    # The refresh run and the publish run apart: a RunOutcome's run_id is the last run's (the publish's).
    refresh = materialize_dataset(loaded, instance, storage, partition_key="2026-11-20", publish=False)
    assert refresh.error is None and not refresh.failed_checks, (refresh.error, refresh.failed_checks)
    outcome = publish_partition(loaded, instance, storage, partition_key="2026-11-20")
    instance.dispose()
    assert outcome.success, outcome.error
    port = _free_port()
    env = {**os.environ, "DAGSTER_HOME": str(home), "SYNTH_PIPELINES_DATASETS": str(spec_path.parent),
           "SYNTH_PIPELINES_HOME": str(storage_home)}
    log = (tmp_path / "webserver.log").open("w")
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "dagster-webserver"), "-w", "workspace.yaml", "-h", "127.0.0.1",
         "-p", str(port)], cwd=project_root(), env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        # Ready when it answers; it failed when it exits. The deadline only bounds a hang, far beyond any
        # start seen on a loaded machine (not a timing claim).
        deadline = time.monotonic() + SERVER_DEADLINE_SECONDS
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"dagster-webserver exited: {(tmp_path / 'webserver.log').read_text()[-2000:]}")
            try:
                if requests.get(f"{url}/server_info", timeout=30).ok:
                    break
            except (requests.ConnectionError, requests.Timeout):
                time.sleep(1)
        else:
            pytest.fail(f"dagster-webserver did not answer within {SERVER_DEADLINE_SECONDS} s: "
                        f"{(tmp_path / 'webserver.log').read_text()[-2000:]}")
        yield url, refresh.run_id
    finally:
        process.terminate()
        process.wait(timeout=120)
        log.close()


def test_graphql_serves_every_stage_with_lineage_checks_and_latest_run(webserver):
    webserver, run_id = webserver
    nodes = []
    deadline = time.monotonic() + SERVER_DEADLINE_SECONDS  # the code server may still be loading the location
    while time.monotonic() < deadline and not nodes:
        body = requests.post(f"{webserver}/graphql", json={"query": ASSET_QUERY}, timeout=300).json()
        nodes = body.get("data", {}).get("assetNodes") or []
        time.sleep(0 if nodes else 2)
    assert nodes, f"no asset nodes within {SERVER_DEADLINE_SECONDS} s: {body}"
    by_key = {"/".join(n["assetKey"]["path"]): n for n in nodes}
    assert set(by_key) == {f"demo_loans/{s}" for s in (
        "source_snapshot", "training_view", "train_rows", "holdout_rows", "synthesizer", "synthetic_rows",
        "synthetic_features", "published_features")}
    assert {n["groupName"] for n in nodes} == {"demo_loans"}
    assert all(n["kinds"] and n["description"] for n in nodes)
    deps = {key: {"/".join(d["path"]) for d in n["dependencyKeys"]} for key, n in by_key.items()}
    assert deps["demo_loans/synthesizer"] == {"demo_loans/train_rows"}
    assert "demo_loans/synthetic_features" in deps["demo_loans/published_features"]
    checks = by_key["demo_loans/synthetic_features"]["assetChecksOrError"]["checks"]
    assert {c["name"] for c in checks} == set(ASSET_CHECK_NAMES)
    # The fixture's fast generator has fidelity and utility advisory (conftest), release_regression is by
    # default; all else blocks.
    assert {c["name"] for c in checks if not c["blocking"]} == {"fidelity", "utility", "release_regression"}
    for key, node in by_key.items():
        # The partitions tab lists the one snapshot taken, filled (issue 14: not 337 empty days).
        assert node["partitionKeys"] == ["2026-11-20"], key
        assert node["partitionStats"] == {"numMaterialized": 1, "numPartitions": 1}, key
        latest = node["assetMaterializations"][0]
        assert latest["partition"] == "2026-11-20", key
        # Publication happens in its own gated run; every other stage in the refresh run.
        assert (latest["runId"] == run_id) == (key != "demo_loans/published_features"), key
    published = by_key["demo_loans/published_features"]["assetMaterializations"][0]
    assert {"manifest", "qa_report", "spec_hash"} <= {e["label"] for e in published["metadataEntries"]}

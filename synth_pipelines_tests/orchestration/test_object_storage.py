"""SynthStorage in a bucket (moto's S3 server): two "workers" with nothing on disk in common."""

from __future__ import annotations

import json
import urllib.request

import boto3
import dagster as dg
import pytest

from synth_pipelines.orchestration.code_location import build_definitions
from synth_pipelines.orchestration.factory import add_snapshot_partitions
from synth_pipelines.orchestration.resources import SynthStorage
from synth_pipelines.orchestration.runner import publish_partition
from synth_pipelines.spec import load_spec

pytestmark = pytest.mark.slow
PARTITION = "2026-11-24"
BUCKET = "synth-storage"


def _run(loaded, defs: dg.Definitions, selection: dg.AssetSelection) -> dg.ExecuteInProcessResult:
    job = dg.define_asset_job("part", selection=selection)
    instance = dg.DagsterInstance.ephemeral()
    add_snapshot_partitions(instance, loaded, [PARTITION])
    result = dg.Definitions.merge(defs, dg.Definitions(jobs=[job])).resolve_job_def("part").execute_in_process(
        instance=instance, partition_key=PARTITION, raise_on_error=False)
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    for event in result.get_asset_materialization_events():  # the pickle in the bucket is no user's business
        assert not {"path", "uri"} & set(event.materialization.metadata), event.asset_key
    return result


def test_a_second_worker_continues_from_the_bucket_alone(moto, aws_env, demo_spec_data, write_spec, tmp_path):
    s3 = boto3.client("s3", endpoint_url=moto.url)
    s3.create_bucket(Bucket=BUCKET)
    demo_spec_data["synthetic"].update(batch_rows=500, shards=3)
    loaded = load_spec(write_spec(demo_spec_data))

    def storage(worker: str) -> SynthStorage:
        return SynthStorage(root=str(tmp_path / worker), kind="s3", bucket=BUCKET, prefix="p", endpoint_url=moto.url)

    rows = dg.AssetKey(["demo_loans", "synthetic_rows"])
    _run(loaded, build_definitions([loaded], storage("a")),
         dg.AssetSelection.assets(rows).upstream().required_multi_asset_neighbors().without_checks())
    keys = {item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET, Prefix="p/")["Contents"]}
    assert {f"p/work/demo_loans/{PARTITION}/synthetic_rows/part-0000{i}.parquet" for i in range(3)} <= keys
    assert f"p/snapshots/demo_loans/{PARTITION}/snapshot.json" in keys
    assert any(k.startswith("p/io/demo_loans/synthesizer/") for k in keys)

    # Worker b starts from an empty folder: its inputs and the snapshot come from the bucket.
    b = storage("b")
    defs_b = build_definitions([loaded], b)
    qa = _run(loaded, defs_b, dg.AssetSelection.assets(dg.AssetKey(["demo_loans", "synthetic_features"])))
    # The check results link b's QA report in the bucket (presigned): a browser opens it with no disk shared.
    link = next(e for e in qa.get_asset_check_evaluations() if e.check_name == "fidelity").metadata["qa_report"].value
    with urllib.request.urlopen(link, timeout=30) as response:
        assert response.headers.get_content_type() == "text/html"
        assert response.read() == next((tmp_path / "b" / "work").rglob("qa_runs/*/qa_report.html")).read_bytes()
    assert not (tmp_path / "b" / "work" / "demo_loans" / PARTITION / "training_view").exists()  # never needed
    outcome = publish_partition(loaded, dg.DagsterInstance.ephemeral(), b, PARTITION, defs=defs_b)
    assert outcome.success, (outcome.gate, outcome.error)
    manifest = json.loads((tmp_path / "synth_home" / "releases" / "demo_loans" / "features_v1" /
                           f"snapshot={PARTITION}" / "manifest.json").read_text())
    assert [manifest["files"][f"data/part-0000{i}.parquet"]["rows"] for i in range(3)] == [500, 500, 500]
    # b's QA report went to the bucket too, where the next worker finds it.
    keys = {item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET, Prefix="p/work/")["Contents"]}
    assert f"p/work/demo_loans/{PARTITION}/qa/qa_report.json" in keys
    assert f"p/work/demo_loans/{PARTITION}/synthetic_features/part-00002.parquet" in keys


def test_storage_from_the_environment(monkeypatch):
    monkeypatch.setenv("SYNTH_PIPELINES_STORAGE", "s3://bucket/some/prefix/")
    monkeypatch.setenv("SYNTH_PIPELINES_STORAGE_ENDPOINT_URL", "http://127.0.0.1:9")
    storage = SynthStorage.from_env()
    assert (storage.kind, storage.bucket, storage.prefix, storage.endpoint_url) == (
        "s3", "bucket", "some/prefix", "http://127.0.0.1:9")
    monkeypatch.setenv("SYNTH_PIPELINES_STORAGE", "/data")
    with pytest.raises(ValueError, match="s3://bucket/prefix"):
        SynthStorage.from_env()
    monkeypatch.delenv("SYNTH_PIPELINES_STORAGE")
    assert SynthStorage.from_env().kind == "local"


def _worker(tmp_path, moto, name: str) -> SynthStorage:
    return SynthStorage(root=str(tmp_path / name), kind="s3", bucket=BUCKET, prefix="p", endpoint_url=moto.url)


def test_workers_on_different_machines_share_one_privacy_ledger(moto, aws_env, tmp_path):
    """Six DP trainings at epsilon 1 on two workers at once against a limit of 4: exactly four are charged,
    whatever the interleaving (conditional writes), and every worker reads the same spend."""
    from concurrent.futures import ThreadPoolExecutor

    from synth_pipelines.core.privacy_ledger import BudgetExceeded

    boto3.client("s3", endpoint_url=moto.url).create_bucket(Bucket=BUCKET)
    workers = [_worker(tmp_path, moto, "a"), _worker(tmp_path, moto, "b")]
    start = __import__("threading").Barrier(6)

    def train(i: int) -> str:
        start.wait()  # all six charge together
        try:
            workers[i % 2].charge_privacy("loans", epsilon=1.0, limit=4.0, release="features_v1",
                                          snapshot_id=f"2026-12-0{i + 1}")
            return "charged"
        except BudgetExceeded:
            return "refused"

    with ThreadPoolExecutor(6) as pool:
        outcomes = list(pool.map(train, range(6)))
    assert sorted(outcomes) == ["charged"] * 4 + ["refused"] * 2
    ledger = _worker(tmp_path, moto, "c").privacy_ledger("loans")  # a third machine
    assert [e["spent_before"] for e in ledger["entries"]] == [0.0, 1.0, 2.0, 3.0]
    assert not (tmp_path / "a" / "privacy_ledger").exists()  # nothing local a worker could diverge on


def test_an_approval_recorded_on_one_machine_is_what_the_gate_reads_on_another(moto, aws_env, demo_spec_data,
                                                                                write_spec, tmp_path, monkeypatch):
    import pandas as pd
    from click.testing import CliRunner

    from synth_pipelines.cli import main
    from synth_pipelines.core.gate import approval_path, load_approval
    from synth_pipelines.core.shards import parts_sha256

    s3 = boto3.client("s3", endpoint_url=moto.url)
    s3.create_bucket(Bucket=BUCKET)
    features = tmp_path / "rows.parquet"
    pd.DataFrame({"amount": [1.0, 2.0]}).to_parquet(features)
    s3.upload_file(str(features), BUCKET, f"p/work/demo_loans/{PARTITION}/synthetic_features/part-00000.parquet")
    spec = write_spec(demo_spec_data)
    monkeypatch.setenv("SYNTH_PIPELINES_STORAGE", f"s3://{BUCKET}/p")
    monkeypatch.setenv("SYNTH_PIPELINES_STORAGE_ENDPOINT_URL", moto.url)
    monkeypatch.setenv("SYNTH_PIPELINES_HOME", str(tmp_path / "laptop"))
    result = CliRunner().invoke(main, ["approve", str(spec), "--snapshot", PARTITION, "--approver", "ana"])
    assert result.exit_code == 0, result.output

    worker = _worker(tmp_path, moto, "worker")  # where the gate sensor and the publish step run
    approval = load_approval(approval_path(worker.approvals("demo_loans"), "demo_loans", "features_v1", PARTITION))
    assert approval is not None and approval.approver == "ana"
    assert approval.features_sha256 == parts_sha256(worker.work("demo_loans", PARTITION, "synthetic_features"))

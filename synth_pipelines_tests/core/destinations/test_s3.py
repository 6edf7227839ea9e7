"""S3 releases against a real S3 server (moto's server mode, its own process on loopback): complete,
read back byte for byte and verified, multipart, immutable, atomic when the server goes away midway,
and a concurrent loser never touches the winner's objects."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import socket
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from boto3.s3.transfer import TransferConfig

from synth_pipelines.core.destinations import DestinationError, ReleaseExistsError
from synth_pipelines.core.destinations.s3 import (CorruptReleaseError, list_s3_releases, publish_s3,
                                                  read_s3_release, s3_client)

BUCKET, DATASET, RELEASE = "synth-releases", "demo_loans", "features_v1"
FINAL = "team/ml/demo_loans/features_v1/snapshot=2026-11-24/"
# s3transfer never makes parts smaller than 5 MiB: the big file goes up (and is copied) in several parts.
SMALL_PARTS = TransferConfig(multipart_threshold=5 * 2**20, multipart_chunksize=5 * 2**20)


@pytest.fixture
def s3(moto, aws_env: str) -> Iterator[Any]:
    client = s3_client(endpoint_url=moto.url)
    client.create_bucket(Bucket=BUCKET)
    yield client
    for upload in client.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []):
        client.abort_multipart_upload(Bucket=BUCKET, Key=upload["Key"], UploadId=upload["UploadId"])
    for key in objects(client):
        client.delete_object(Bucket=BUCKET, Key=key)
    client.delete_bucket(Bucket=BUCKET)


@pytest.fixture
def big_features(make_features) -> Path:
    """~18 MB of hard-to-compress numbers: several 5 MiB parts."""
    import numpy as np

    values = np.random.default_rng(1).random(1_500_000)
    return make_features("big", table=pa.table({"row": np.arange(len(values)), "value": values}))


def publish(features: Path, qa_files: list[Path], moto: Any, snapshot_id: str = "2026-11-24",
            **kwargs: Any) -> Any:
    options = {"bucket": BUCKET, "prefix": "team/ml", "endpoint_url": moto.url, "transfer_config": SMALL_PARTS,
               **kwargs}
    return publish_s3(features_path=features, attachments=qa_files,
                      manifest={"dataset": DATASET, "created_at": "2026-11-24T08:18:00+00:00"},
                      dataset=DATASET, release_name=RELEASE, snapshot_id=snapshot_id,
                      rows=pq.ParquetFile(features).metadata.num_rows, **options)


def objects(s3: Any) -> dict[str, tuple[str, Any]]:
    listed = s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])
    return {item["Key"]: (item["ETag"], item["LastModified"]) for item in listed}


def body(s3: Any, key: str) -> bytes:
    return s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()


def attempt_folder(s3: Any, snapshot_id: str = "2026-11-24") -> str:
    """The committed attempt's objects folder, as the release's manifest names it."""
    final = FINAL.replace("2026-11-24", snapshot_id)
    return final + f"objects/{json.loads(body(s3, final + 'manifest.json'))['destination']['attempt']}/"


def test_publish_writes_a_complete_release_read_back_byte_for_byte(s3, moto, aws_env, big_features, qa_files,
                                                                    caplog) -> None:
    caplog.set_level(logging.DEBUG, logger="synth_pipelines")
    release = publish(big_features, qa_files, moto)
    assert release.location == f"s3://{BUCKET}/{FINAL}" and release.rows == 1_500_000
    assert release.manifest_location == release.location + "manifest.json"
    folder = attempt_folder(s3)
    assert sorted(objects(s3)) == ["team/ml/demo_loans/features_v1/LATEST", FINAL + "manifest.json",
                                   folder + "data/part-00000.parquet", folder + "qa_report.html",
                                   folder + "qa_report.json", folder + "qa_report.pdf"]
    assert release.qa_report_location == f"s3://{BUCKET}/{folder}qa_report.html"
    assert body(s3, folder + "data/part-00000.parquet") == big_features.read_bytes()
    for path in qa_files:
        assert body(s3, folder + path.name) == path.read_bytes()
    # Managed transfers: uploaded in 5 MiB parts (a multipart ETag ends in -<parts>).
    parts = -(-big_features.stat().st_size // SMALL_PARTS.multipart_chunksize)
    assert parts >= 3 and objects(s3)[folder + "data/part-00000.parquet"][0].strip('"').endswith(f"-{parts}")

    manifest = json.loads(body(s3, FINAL + "manifest.json"))
    assert manifest["release"] == f"{RELEASE}/snapshot=2026-11-24" and manifest["dataset"] == DATASET
    assert manifest["files"] == {"data/part-00000.parquet": {
        "sha256": hashlib.sha256(big_features.read_bytes()).hexdigest(), "rows": 1_500_000}}
    assert manifest["destination"] == {"kind": "s3", "uri": f"s3://{BUCKET}/{FINAL}",
                                       "attempt": folder.split("/")[-2]}
    assert manifest["objects"][path.name] == {"key": f"objects/{folder.split('/')[-2]}/{path.name}",
                                              "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
                                              "bytes": path.stat().st_size}
    assert body(s3, "team/ml/demo_loans/features_v1/LATEST") == b"snapshot=2026-11-24\n"
    assert s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []
    everything = b"".join(body(s3, key) for key in objects(s3)) + caplog.text.encode()
    assert aws_env.encode() not in everything


def test_latest_names_the_newest_snapshot(s3, moto, make_features, qa_files) -> None:
    features = make_features(rows=50)
    for snapshot_id in ("2026-11-02", "2026-11-01", "2026-11-03"):  # 11-01 is a backfill
        publish(features, qa_files, moto, snapshot_id)
        newest = "2026-11-03" if snapshot_id == "2026-11-03" else "2026-11-02"
        assert body(s3, "team/ml/demo_loans/features_v1/LATEST") == f"snapshot={newest}\n".encode()


def test_existing_release_is_never_overwritten(s3, moto, make_features, qa_files) -> None:
    publish(make_features("first", rows=100), qa_files, moto)
    before = objects(s3)
    with pytest.raises(ReleaseExistsError, match="immutable"):
        publish(make_features("second", rows=7, seed=3), qa_files, moto)
    assert objects(s3) == before  # same keys, ETags and modification times: nothing rewritten


def test_missing_bucket_names_the_destination_and_the_cause(s3, moto, aws_env, make_features, qa_files) -> None:
    with pytest.raises(DestinationError) as excinfo:
        publish(make_features(rows=10), qa_files, moto, bucket="no-such-bucket")
    message = str(excinfo.value)
    assert f"s3://no-such-bucket/{FINAL}" in message and moto.url in message
    assert "NoSuchBucket" in message and aws_env not in message


def test_failure_after_the_data_upload_leaves_nothing(s3, moto, big_features, qa_files, tmp_path) -> None:
    with pytest.raises(FileNotFoundError):  # a QA report that is missing fails before anything goes up
        publish(big_features, [qa_files[0], tmp_path / "missing.html"], moto)
    assert objects(s3) == {}

    class Interrupted(Exception):
        pass

    def interrupt(**_: Any) -> None:  # an error of ours once the data is up, before the QA reports
        raise Interrupted

    client = s3_client(endpoint_url=moto.url)
    client.meta.events.register("after-call.s3.CompleteMultipartUpload", interrupt)
    with pytest.raises(Interrupted):
        publish(big_features, qa_files, moto, client=client)
    assert objects(s3) == {}  # the attempt removed its own objects
    assert s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []
    publish(big_features, qa_files, moto)  # and the retry succeeds
    assert FINAL + "manifest.json" in objects(s3)


class CuttableLink:
    """A TCP relay on loopback in front of the S3 server: the client talks to the server through it until
    cut(), which drops every open connection and stops listening, so every later request is refused at
    once. The server goes away for this client at an exact point of the publish, with no timeout to
    wait for (a loaded machine cannot turn a slow answer into a spurious failure), and keeps its state."""

    def __init__(self, upstream: str) -> None:
        host, port = upstream.rsplit("/", 1)[-1].split(":")
        self._upstream = (host, int(port))
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._cut = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:  # the listener was closed by cut()
                return
            server = socket.create_connection(self._upstream)
            with self._lock:
                if self._cut:
                    client.close()
                    server.close()
                    return
                self._open |= {client, server}
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(1 << 16):
                sink.sendall(data)
            sink.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def cut(self) -> None:
        with self._lock:
            self._cut = True
            self._listener.close()
            for connection in self._open:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
                connection.close()


@pytest.mark.parametrize(("operation", "nth"), [("UploadPart", 1), ("PutObject", 1)],
                         ids=["while-uploading-the-data", "after-the-data-was-uploaded"])
def test_server_gone_midway_publishes_nothing_and_a_retry_succeeds(s3, moto, aws_env, big_features, qa_files,
                                                                    operation, nth) -> None:
    link = CuttableLink(moto.url)
    # Patient timeouts and a retry: before the cut nothing may fail, however slowly the server answers.
    client = s3_client(endpoint_url=link.url, connect_timeout=60, read_timeout=300, max_attempts=2)
    calls = []

    def cut_the_link(**_: Any) -> None:
        calls.append(operation)
        if len(calls) == nth:
            link.cut()

    client.meta.events.register(f"after-call.s3.{operation}", cut_the_link)
    with pytest.raises(DestinationError) as excinfo:
        publish(big_features, qa_files, moto, client=client)
    message = str(excinfo.value)  # names the destination and the cause (a refused or dropped connection)
    assert calls and f"s3://{BUCKET}/{FINAL}" in message and "failed: " in message and aws_env not in message
    assert any(cause in message for cause in ("EndpointConnectionError", "ConnectionClosedError"))
    assert "swept by a later publish" in message  # cleanup could not reach the server

    keys = objects(s3)
    assert not [key for key in keys if key.endswith(("manifest.json", "LATEST"))]  # no visible release
    if operation == "PutObject":  # the data went up but without a manifest it is no release
        assert [key for key in keys if key.endswith("data/part-00000.parquet")]
        assert list_s3_releases(s3, BUCKET, "team/ml") == []

    release = publish(big_features, qa_files, moto, stale_after=timedelta(0))
    folder = attempt_folder(s3)
    assert body(s3, folder + "data/part-00000.parquet") == big_features.read_bytes()
    assert json.loads(body(s3, release.manifest_location.split(BUCKET + "/", 1)[1]))["files"]
    # The retry swept the dead attempt's leftovers: only the committed attempt's objects remain.
    assert sorted(objects(s3)) == sorted([FINAL + "manifest.json", "team/ml/demo_loans/features_v1/LATEST",
                                          *(folder + n for n in ("data/part-00000.parquet", "qa_report.json",
                                                                 "qa_report.html", "qa_report.pdf"))])
    assert s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []


def test_readers_see_committed_releases_only_and_verify_every_object(s3, moto, make_features, qa_files,
                                                                     tmp_path) -> None:
    features = make_features(rows=40)
    publish(features, qa_files, moto, "2026-11-02")
    publish(features, qa_files, moto, "2026-11-01")  # a backfill
    # Objects without a manifest (a publish that is running or died) are no release.
    s3.put_object(Bucket=BUCKET, Key=FINAL.replace("2026-11-24", "2026-11-03") + f"objects/{'0' * 32}/qa_report.json",
                  Body=b"{}")
    listed = list_s3_releases(s3, BUCKET, "team/ml")
    assert [(r.snapshot_id, r.latest, r.rows) for r in listed] == [("2026-11-01", False, 40), ("2026-11-02", True, 40)]
    assert listed[1].location == f"s3://{BUCKET}/" + FINAL.replace("2026-11-24", "2026-11-02")

    manifest, files = read_s3_release(s3, BUCKET, "team/ml", DATASET, RELEASE, tmp_path / "read")  # the newest
    assert manifest["release"] == f"{RELEASE}/snapshot=2026-11-02"
    assert files["data/part-00000.parquet"].read_bytes() == features.read_bytes()
    assert sorted(files) == ["data/part-00000.parquet", "qa_report.html", "qa_report.json", "qa_report.pdf"]

    folder = attempt_folder(s3, "2026-11-02")
    s3.put_object(Bucket=BUCKET, Key=folder + "qa_report.html", Body=b"<html>changed</html>")
    with pytest.raises(CorruptReleaseError, match="SHA-256"):
        read_s3_release(s3, BUCKET, "team/ml", DATASET, RELEASE, tmp_path / "again", "2026-11-02")
    s3.delete_object(Bucket=BUCKET, Key=folder + "data/part-00000.parquet")
    with pytest.raises(CorruptReleaseError, match="lacks"):
        read_s3_release(s3, BUCKET, "team/ml", DATASET, RELEASE, tmp_path / "third", "2026-11-02")
    with pytest.raises(LookupError, match="no manifest"):
        read_s3_release(s3, BUCKET, "team/ml", DATASET, RELEASE, tmp_path / "none", "2026-11-03")


def test_a_stale_latest_is_repaired_by_the_next_publish_even_when_refused(s3, moto, make_features,
                                                                          qa_files) -> None:
    features = make_features(rows=20)
    publish(features, qa_files, moto, "2026-11-02")
    s3.delete_object(Bucket=BUCKET, Key="team/ml/demo_loans/features_v1/LATEST")  # as a kill before LATEST
    with pytest.raises(ReleaseExistsError):
        publish(features, qa_files, moto, "2026-11-02")
    assert body(s3, "team/ml/demo_loans/features_v1/LATEST") == b"snapshot=2026-11-02\n"


def test_young_attempts_of_a_running_publish_are_not_swept(s3, moto, make_features, qa_files) -> None:
    running = FINAL.replace("2026-11-24", "2026-11-03") + f"objects/{'1' * 32}/data/part-00000.parquet"
    s3.put_object(Bucket=BUCKET, Key=running, Body=b"in flight")
    publish(make_features(rows=20), qa_files, moto, "2026-11-02")  # sweeps only attempts older than a day
    assert running in objects(s3)


def test_a_store_without_conditional_writes_is_refused_and_left_clean(s3, moto, make_features, qa_files) -> None:
    """Without If-None-Match two publishers could both believe they committed: refuse, publish nothing."""
    from botocore.exceptions import ClientError

    def lacks_conditional_writes(params: dict[str, Any], **_: Any) -> None:
        if "IfNoneMatch" in params or "IfMatch" in params:
            raise ClientError({"Error": {"Code": "NotImplemented", "Message": "A header you provided implies "
                                         "functionality that is not implemented"}}, "PutObject")

    client = s3_client(endpoint_url=moto.url)
    client.meta.events.register("before-parameter-build.s3.PutObject", lacks_conditional_writes)
    with pytest.raises(DestinationError, match="does not support conditional writes"):
        publish(make_features("v1"), qa_files, moto, client=client)
    assert objects(s3) == {}

"""Publish a release to S3 (or an S3-compatible store such as MinIO), atomically and never twice.

Keys: <prefix>/<dataset>/features_vN/snapshot=<id>/{data/part-00000.parquet, lookups/<table>.parquet,
qa_report.*, manifest.json}
and <prefix>/<dataset>/features_vN/LATEST naming the newest snapshot's release, as on local disk.

S3 has no rename, so the manifest is the commit: files are uploaded under <prefix>/.staging-<uuid>/,
copied to their final keys, and manifest.json is written last (If-None-Match: *, so a concurrent
publisher cannot overwrite it). Readers treat a release without a manifest as absent. A failure
deletes the staging and any copied objects; when the store is unreachable that cleanup cannot run,
and a later publish sweeps staging older than `stale_staging_after` (on AWS, a lifecycle rule on
<prefix>/.staging- does the same). Credentials come only from boto3's standard chain.
"""

from __future__ import annotations

import json
import logging
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import boto3
from boto3.exceptions import S3UploadFailedError
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from synth_pipelines.core.destinations import (DATA_FILE, DestinationError, ReleaseExistsError, RemoteRelease,
                                               release_manifest)
from synth_pipelines.core.publish import file_sha256, lookup_files

log = logging.getLogger(__name__)

# Everything the store or the network can raise; other exceptions (a missing local file) pass as they are.
_S3_ERRORS = (BotoCoreError, ClientError, S3UploadFailedError)
_CONTENT_TYPES = {".parquet": "application/vnd.apache.parquet", ".json": "application/json",
                  ".html": "text/html; charset=utf-8", ".pdf": "application/pdf"}


def s3_client(*, region: str | None = None, endpoint_url: str | None = None, connect_timeout: float = 10,
              read_timeout: float = 120, max_attempts: int = 5) -> Any:
    """An S3 client on the standard credential chain (environment, AWS_PROFILE, instance/pod role)."""
    config = Config(connect_timeout=connect_timeout, read_timeout=read_timeout,
                    retries={"max_attempts": max_attempts, "mode": "standard"})
    return boto3.session.Session().client("s3", region_name=region, endpoint_url=endpoint_url, config=config)


def _join(*parts: str) -> str:
    return "/".join(part.strip("/") for part in parts if part.strip("/"))


def release_prefix(prefix: str, dataset: str, release_name: str, snapshot_id: str) -> str:
    return _join(prefix, dataset, release_name, f"snapshot={snapshot_id}") + "/"


def publish_s3(*, features_path: Path, attachments: list[Path], manifest: dict[str, Any], bucket: str, prefix: str,
               dataset: str, release_name: str, snapshot_id: str, rows: int, region: str | None = None,
               endpoint_url: str | None = None, transfer_config: TransferConfig | None = None, client: Any = None,
               stale_staging_after: timedelta | None = timedelta(days=1),
               lookups: dict[str, Path] | None = None) -> RemoteRelease:
    client = client or s3_client(region=region, endpoint_url=endpoint_url)
    config = transfer_config or TransferConfig()  # multipart above 8 MiB, parts in parallel
    final = release_prefix(prefix, dataset, release_name, snapshot_id)
    where = f"s3://{bucket}/{final}" + (f" (endpoint {endpoint_url})" if endpoint_url else "")
    release = f"{release_name}/snapshot={snapshot_id}"

    def failed(exc: BaseException, note: str = "") -> DestinationError:
        return DestinationError(f"publishing {release} to {where} failed: {_cause(exc)}; nothing was "
                                f"published{note}")

    try:
        if _exists(client, bucket, final + "manifest.json"):
            raise ReleaseExistsError(f"release {where} already exists; releases are immutable. Take a new "
                                     "snapshot or bump the spec's version to publish again")
        if stale_staging_after is not None:
            sweep_stale_staging(client, bucket, prefix, older_than=stale_staging_after)
    except _S3_ERRORS as exc:
        raise failed(exc) from exc

    body = release_manifest(manifest, release_name=release_name, snapshot_id=snapshot_id, rows=rows,
                            data_sha256=file_sha256(features_path),
                            destination={"kind": "s3", "uri": f"s3://{bucket}/{final}"}, lookups=lookups)
    staging = _join(prefix, f".staging-{uuid.uuid4().hex}") + "/"
    # Lookup tables are objects like the data file: uploaded and copied before the manifest commits.
    files = {DATA_FILE: features_path, **lookup_files(lookups), **{path.name: path for path in attachments}}
    copied: list[str] = []
    try:
        for name, path in files.items():
            content_type = _CONTENT_TYPES.get(Path(name).suffix, "application/octet-stream")
            client.upload_file(str(path), bucket, staging + name, Config=config,
                               ExtraArgs={"ContentType": content_type})
        for name in files:
            copied.append(final + name)  # before the copy: a copy that fails midway may still leave an object
            client.copy({"Bucket": bucket, "Key": staging + name}, bucket, final + name, Config=config)
        _put_manifest(client, bucket, final + "manifest.json", json.dumps(body, indent=2, default=str).encode(), where)
    except ReleaseExistsError:
        _remove(client, bucket, staging, [])  # the final objects are the other publisher's now
        raise
    except BaseException as exc:
        clean = _remove(client, bucket, staging, copied)
        if not isinstance(exc, _S3_ERRORS):
            raise
        note = "" if clean else (f"; staging objects under s3://{bucket}/{staging} could not be removed now and "
                                 "are swept by a later publish")
        raise failed(exc, note) from exc
    _remove(client, bucket, staging, [])
    _point_latest(client, bucket, final.rsplit("/snapshot=", 1)[0] + "/")
    location = f"s3://{bucket}/{final}"
    return RemoteRelease(name=release_name, location=location, manifest_location=location + "manifest.json",
                         qa_report_location=location + "qa_report.html", rows=rows)


def _cause(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _exists(client: Any, bucket: str, key: str) -> bool:
    try:
        client.head_object(Bucket=bucket, Key=key)
        return True
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return False
        raise


def _put_manifest(client: Any, bucket: str, key: str, body: bytes, where: str) -> None:
    try:
        client.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json", IfNoneMatch="*")
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code")
        if code in ("PreconditionFailed", "412", "ConditionalRequestConflict"):
            raise ReleaseExistsError(f"release {where} appeared while publishing; nothing was changed") from exc
        if code != "NotImplemented":
            raise
        # A store without conditional writes: existence was checked before the upload.
        client.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json")


def _list_keys(client: Any, bucket: str, prefix: str) -> list[dict[str, Any]]:
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return [item for page in pages for item in page.get("Contents", [])]


def _remove(client: Any, bucket: str, staging: str, copied: list[str]) -> bool:
    """Delete a publish's staging objects and unfinished uploads and the final objects it copied; best effort."""
    try:
        keys = [item["Key"] for item in _list_keys(client, bucket, staging)] + copied
        for start in range(0, len(keys), 1000):
            client.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys[start:start + 1000]],
                                                         "Quiet": True})
        for upload in client.list_multipart_uploads(Bucket=bucket, Prefix=staging).get("Uploads", []):
            client.abort_multipart_upload(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])
        return True
    except _S3_ERRORS as exc:
        log.warning("could not clean up s3://%s/%s: %s", bucket, staging, _cause(exc))
        return False


def sweep_stale_staging(client: Any, bucket: str, prefix: str, *, older_than: timedelta) -> int:
    """Delete staging objects and abort unfinished uploads of publishes that failed unreachable; returns how many."""
    root = _join(prefix, ".staging-")
    cutoff = datetime.now(timezone.utc) - older_than
    stale = [item["Key"] for item in _list_keys(client, bucket, root) if item["LastModified"] <= cutoff]
    for start in range(0, len(stale), 1000):
        client.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in stale[start:start + 1000]],
                                                     "Quiet": True})
    uploads = [u for u in client.list_multipart_uploads(Bucket=bucket, Prefix=root).get("Uploads", [])
               if u["Initiated"] <= cutoff]
    for upload in uploads:
        client.abort_multipart_upload(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])
    return len(stale) + len(uploads)


def _point_latest(client: Any, bucket: str, version_prefix: str) -> None:
    """LATEST names the newest snapshot's release (a backfill of an old snapshot leaves it alone)."""
    try:
        keys = [item["Key"] for item in _list_keys(client, bucket, version_prefix)]
        snapshots = [key[len(version_prefix):].split("/")[0] for key in keys if key.endswith("/manifest.json")]
        client.put_object(Bucket=bucket, Key=version_prefix + "LATEST", Body=(max(snapshots) + "\n").encode(),
                          ContentType="text/plain")
    except _S3_ERRORS as exc:  # the release itself is published; the next publish repairs LATEST
        log.warning("release published but s3://%s/%sLATEST was not updated: %s", bucket, version_prefix, _cause(exc))

"""Publish a release to S3 (or an S3-compatible store such as MinIO), atomically and never twice.

Keys, under <release> = <prefix>/<dataset>/features_vN/snapshot=<id>/:
  <release>objects/<attempt>/{data/part-NNNNN.parquet (one per shard), lookups/<table>.parquet, qa_report.*}
  <release>manifest.json      the commit: names every object of the release with its SHA-256
  <prefix>/<dataset>/features_vN/LATEST   the newest snapshot's release (also derivable from manifests)

S3 has no rename, so the manifest is the commit. Every publish attempt uploads its objects under its
own never-reused `objects/<attempt>/` folder, then writes manifest.json with If-None-Match: * so that
exactly one concurrent publisher commits; a loser (or a failed attempt) deletes only its own attempt
folder and never a key another publisher wrote. "No manifest, no release": `list_s3_releases` and
`read_s3_release` see only releases with a manifest and verify each object's SHA-256 against it.
A publish killed midway leaves an attempt folder that no manifest names; the next publish of the
same feature version sweeps such folders once they are older than `stale_after` (longer than any
publish takes). LATEST is moved by compare-and-swap (If-Match on its ETag), repaired by every
later publish of the version, and readers derive the newest release from the manifests anyway.

A store without conditional writes (NotImplemented) is refused: without them two publishers can
both believe they committed. AWS S3, MinIO and moto all support them. Credentials come only from boto3's standard chain.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import boto3
from boto3.exceptions import S3UploadFailedError
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from synth_pipelines.core.destinations import (DestinationError, ReleaseExistsError, RemoteRelease,
                                               release_manifest)
from synth_pipelines.core.publish import attachment_files, crash_point, file_sha256, lookup_files
from synth_pipelines.core.shards import part_rows, release_data_files

log = logging.getLogger(__name__)

# Everything the store or the network can raise; other exceptions (a missing local file) pass as they are.
_S3_ERRORS = (BotoCoreError, ClientError, S3UploadFailedError)
_CONTENT_TYPES = {".parquet": "application/vnd.apache.parquet", ".json": "application/json",
                  ".html": "text/html; charset=utf-8", ".pdf": "application/pdf"}
_CONFLICT = ("PreconditionFailed", "412", "ConditionalRequestConflict", "409")
_NOT_FOUND = ("404", "NoSuchKey", "NotFound")
_ATTEMPT = re.compile(r"^snapshot=([^/]+)/objects/([0-9a-f]{32})/")
# The steps of a publish a fault-injection test may kill the process at (see `crash_point`).
CRASH_POINTS = ("s3.checked", "s3.first_object_uploaded", "s3.objects_uploaded", "s3.manifest_written",
                "s3.latest_written")


class CorruptReleaseError(DestinationError):
    """A committed release whose object is missing or does not match the SHA-256 in its manifest."""


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


def _data_rows(manifest: dict[str, Any]) -> int:
    """Rows of a release: its data parts' (one per shard) together."""
    return sum(entry["rows"] for name, entry in manifest["files"].items() if name.startswith("data/"))


def publish_s3(*, features_path: Path, attachments: list[Path], manifest: dict[str, Any], bucket: str, prefix: str,
               dataset: str, release_name: str, snapshot_id: str, rows: int, region: str | None = None,
               endpoint_url: str | None = None, transfer_config: TransferConfig | None = None, client: Any = None,
               stale_after: timedelta | None = timedelta(days=1),
               lookups: dict[str, Path] | None = None) -> RemoteRelease:
    """`stale_after`: an attempt folder no manifest names is swept once this old (None: never)."""
    data = release_data_files(features_path)  # one part per shard

    def body(objects: dict[str, dict[str, Any]]) -> dict[str, Any]:
        return release_manifest(manifest, release_name=release_name, snapshot_id=snapshot_id, destination={},
                                data={name: {"sha256": objects[name]["sha256"], "rows": part_rows(part)}
                                      for name, part in data.items()}, lookups=lookups)

    location, folder = upload_release({**data, **lookup_files(lookups), **attachment_files(attachments)}, body,
                                      bucket=bucket, prefix=prefix, dataset=dataset, release_name=release_name,
                                      snapshot_id=snapshot_id, region=region, endpoint_url=endpoint_url,
                                      transfer_config=transfer_config, client=client, stale_after=stale_after)
    return RemoteRelease(name=release_name, location=location, manifest_location=location + "manifest.json",
                         qa_report_location=location + folder + "qa_report.html", rows=rows)


def upload_release(files: dict[str, Path], body: Callable[[dict[str, dict[str, Any]]], dict[str, Any]], *,
                   bucket: str, prefix: str, dataset: str, release_name: str, snapshot_id: str,
                   region: str | None = None, endpoint_url: str | None = None,
                   transfer_config: TransferConfig | None = None, client: Any = None,
                   stale_after: timedelta | None = timedelta(days=1)) -> tuple[str, str]:
    """Commit one release: `files` (release-relative name -> local file) uploaded under a new attempt
    folder, then the manifest `body(objects)` makes (objects: name -> key, SHA-256, bytes) as
    manifest.json, with the destination and the objects added; returns (the release's s3://
    location, the attempt folder under it)."""
    client = client or s3_client(region=region, endpoint_url=endpoint_url)
    config = transfer_config or TransferConfig()  # multipart above 8 MiB, parts in parallel
    final = release_prefix(prefix, dataset, release_name, snapshot_id)
    version = final.rsplit("snapshot=", 1)[0]
    where = f"s3://{bucket}/{final}" + (f" (endpoint {endpoint_url})" if endpoint_url else "")
    release = f"{release_name}/snapshot={snapshot_id}"

    def failed(exc: BaseException, note: str = "") -> DestinationError:
        return DestinationError(f"publishing {release} to {where} failed: {_cause(exc)}; nothing was "
                                f"published{note}")

    try:
        if _exists(client, bucket, final + "manifest.json"):
            _point_latest(client, bucket, version)  # repairs a LATEST a killed publish left behind
            raise ReleaseExistsError(f"release {where} already exists; releases are immutable. Take a new "
                                     "snapshot or bump the spec's version to publish again")
        if stale_after is not None:
            sweep_orphans(client, bucket, version, older_than=stale_after)
            sweep_legacy_staging(client, bucket, prefix, older_than=stale_after)
    except _S3_ERRORS as exc:
        raise failed(exc) from exc
    crash_point("s3.checked")

    attempt = uuid.uuid4().hex  # never reused: nobody else ever writes under this folder
    folder = f"objects/{attempt}/"
    objects = {name: {"key": folder + name, "sha256": file_sha256(path), "bytes": path.stat().st_size}
               for name, path in files.items()}
    manifest_bytes = json.dumps({**body(objects), "destination": {"kind": "s3", "uri": f"s3://{bucket}/{final}",
                                                                  "attempt": attempt}, "objects": objects},
                                indent=2, default=str).encode()
    try:
        for number, (name, path) in enumerate(files.items()):
            content_type = _CONTENT_TYPES.get(Path(name).suffix, "application/octet-stream")
            client.upload_file(str(path), bucket, final + folder + name, Config=config,
                               ExtraArgs={"ContentType": content_type})
            if number == 0:
                crash_point("s3.first_object_uploaded")
        crash_point("s3.objects_uploaded")
        _put_manifest(client, bucket, final + "manifest.json", manifest_bytes, where)
    except BaseException as exc:
        # A loser and a failed attempt alike remove their own attempt folder, nothing else.
        clean = _remove_prefix(client, bucket, final + folder)
        if isinstance(exc, ReleaseExistsError) or not isinstance(exc, _S3_ERRORS):
            raise
        note = "" if clean else (f"; objects under s3://{bucket}/{final}{folder} could not be removed now and "
                                 "are swept by a later publish")
        raise failed(exc, note) from exc
    crash_point("s3.manifest_written")
    _point_latest(client, bucket, version)
    crash_point("s3.latest_written")
    return f"s3://{bucket}/{final}", folder


def existing_s3_release(*, bucket: str, prefix: str, dataset: str, release_name: str, snapshot_id: str,
                        region: str | None = None, endpoint_url: str | None = None, client: Any = None) -> str | None:
    """The committed release's location, or None; repairs a LATEST that a killed publish left stale."""
    client = client or s3_client(region=region, endpoint_url=endpoint_url)
    final = release_prefix(prefix, dataset, release_name, snapshot_id)
    try:
        if not _exists(client, bucket, final + "manifest.json"):
            return None
    except _S3_ERRORS as exc:
        raise DestinationError(f"could not check s3://{bucket}/{final} for a release: {_cause(exc)}") from exc
    _point_latest(client, bucket, final.rsplit("snapshot=", 1)[0])
    return f"s3://{bucket}/{final}"


def _cause(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code"))


def _exists(client: Any, bucket: str, key: str) -> bool:
    try:
        client.head_object(Bucket=bucket, Key=key)
        return True
    except ClientError as exc:
        if _code(exc) in _NOT_FOUND:
            return False
        raise


def _put_manifest(client: Any, bucket: str, key: str, body: bytes, where: str) -> None:
    appeared = ReleaseExistsError(f"release {where} appeared while publishing; nothing was changed")
    try:
        client.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json", IfNoneMatch="*")
        return
    except ClientError as exc:
        if _code(exc) in _CONFLICT:
            raise appeared from exc
        if _code(exc) == "NotImplemented":
            raise DestinationError(f"the store at s3://{bucket} does not support conditional writes "
                                   "(If-None-Match), so a release cannot be committed exactly once; use AWS S3, "
                                   "MinIO or another store that supports them") from exc
        raise


def _list_keys(client: Any, bucket: str, prefix: str) -> list[dict[str, Any]]:
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return [item for page in pages for item in page.get("Contents", [])]


def _delete(client: Any, bucket: str, keys: list[str]) -> None:
    for start in range(0, len(keys), 1000):
        client.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys[start:start + 1000]],
                                                     "Quiet": True})


def _uploads(client: Any, bucket: str, prefix: str) -> list[dict[str, Any]]:
    pages = client.get_paginator("list_multipart_uploads").paginate(Bucket=bucket, Prefix=prefix)
    return [upload for page in pages for upload in page.get("Uploads", [])]


def _remove_prefix(client: Any, bucket: str, folder: str) -> bool:
    """Delete one attempt's objects and unfinished uploads; best effort (a later publish sweeps)."""
    try:
        _delete(client, bucket, [item["Key"] for item in _list_keys(client, bucket, folder)])
        for upload in _uploads(client, bucket, folder):
            client.abort_multipart_upload(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])
        return True
    except _S3_ERRORS as exc:
        log.warning("could not clean up s3://%s/%s: %s", bucket, folder, _cause(exc))
        return False


def _committed_attempts(client: Any, bucket: str, version: str, snapshots: set[str]) -> dict[str, str | None]:
    """snapshot -> the attempt its manifest names (None: a manifest of the old layout or none at all)."""
    committed: dict[str, str | None] = {}
    for snapshot in snapshots:
        try:
            manifest = json.loads(client.get_object(Bucket=bucket, Key=f"{version}snapshot={snapshot}/manifest.json")
                                  ["Body"].read())
            committed[snapshot] = manifest.get("destination", {}).get("attempt")
        except ClientError as exc:
            if _code(exc) not in _NOT_FOUND:
                raise
            committed[snapshot] = None
    return committed


def sweep_orphans(client: Any, bucket: str, version: str, *, older_than: timedelta) -> int:
    """Delete the attempt folders under a feature version that no manifest names and that are older than
    `older_than` (killed or lost publishes), and abort their unfinished uploads; returns how many."""
    cutoff = datetime.now(timezone.utc) - older_than
    stale = [(item["Key"], _ATTEMPT.match(item["Key"][len(version):])) for item in _list_keys(client, bucket, version)
             if item["LastModified"] <= cutoff]
    uploads = [(u, _ATTEMPT.match(u["Key"][len(version):])) for u in _uploads(client, bucket, version)
               if u["Initiated"] <= cutoff]
    committed = _committed_attempts(client, bucket, version,
                                    {m.group(1) for _, m in stale if m} | {m.group(1) for _, m in uploads if m})
    orphans = [key for key, m in stale if m and committed[m.group(1)] != m.group(2)]
    _delete(client, bucket, orphans)
    aborted = [u for u, m in uploads if m and committed[m.group(1)] != m.group(2)]
    for upload in aborted:
        client.abort_multipart_upload(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])
    return len(orphans) + len(aborted)


def sweep_legacy_staging(client: Any, bucket: str, prefix: str, *, older_than: timedelta) -> int:
    """Staging of the earlier layout (<prefix>/.staging-<uuid>/) that a failed publish left: delete it."""
    root = _join(prefix, ".staging-")
    cutoff = datetime.now(timezone.utc) - older_than
    stale = [item["Key"] for item in _list_keys(client, bucket, root) if item["LastModified"] <= cutoff]
    _delete(client, bucket, stale)
    uploads = [u for u in _uploads(client, bucket, root) if u["Initiated"] <= cutoff]
    for upload in uploads:
        client.abort_multipart_upload(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])
    return len(stale) + len(uploads)


def _committed_snapshots(client: Any, bucket: str, version: str) -> list[str]:
    keys = [item["Key"][len(version):] for item in _list_keys(client, bucket, version + "snapshot=")]
    return sorted(key.split("/")[0] for key in keys if key.count("/") == 1 and key.endswith("/manifest.json"))


def _point_latest(client: Any, bucket: str, version: str, attempts: int = 20) -> None:
    """LATEST names the newest snapshot's release (a backfill of an old snapshot leaves it alone).

    Compare-and-swap on LATEST's ETag: a publisher that lost the race re-reads the manifests, so
    LATEST never moves back to an older release. Failing here leaves the release published; the
    next publish of the version repairs LATEST, and readers derive it from the manifests anyway."""
    key = version + "LATEST"
    try:
        for _ in range(attempts):
            snapshots = _committed_snapshots(client, bucket, version)
            if not snapshots:
                return
            newest = f"{snapshots[-1]}\n".encode()
            try:
                current = client.get_object(Bucket=bucket, Key=key)
                if current["Body"].read() == newest:
                    return
                condition = {"IfMatch": current["ETag"]}
            except ClientError as exc:
                if _code(exc) not in _NOT_FOUND:
                    raise
                condition = {"IfNoneMatch": "*"}
            try:
                client.put_object(Bucket=bucket, Key=key, Body=newest, ContentType="text/plain", **condition)
                return
            except ClientError as exc:
                if _code(exc) not in (*_CONFLICT, *_NOT_FOUND):
                    raise
        log.warning("s3://%s/%s kept changing under %d attempts; the next publish repairs it", bucket, key, attempts)
    except _S3_ERRORS as exc:
        log.warning("release published but s3://%s/%s was not updated: %s", bucket, key, _cause(exc))


# --- readers ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class S3ReleaseInfo:
    dataset: str
    release_name: str  # features_vN
    snapshot_id: str
    location: str  # s3://bucket/.../snapshot=<id>/
    rows: int
    created_at: str
    latest: bool  # the newest committed snapshot of its feature version (derived, not LATEST's text)
    manifest: dict[str, Any]

    @property
    def name(self) -> str:
        return f"{self.dataset}/{self.release_name}/snapshot={self.snapshot_id}"


def list_s3_releases(client: Any, bucket: str, prefix: str, dataset: str | None = None) -> list[S3ReleaseInfo]:
    """The committed releases (those with a manifest) under `prefix`, oldest first; objects of
    unfinished, killed or lost publishes are not releases and are not listed."""
    base = _join(prefix) + "/" if _join(prefix) else ""
    pattern = re.compile(r"^([^/]+)/(features_v\d+)/snapshot=([^/]+)/manifest\.json$")
    found = []
    for item in _list_keys(client, bucket, base + (f"{dataset}/" if dataset else "")):
        match = pattern.match(item["Key"][len(base):])
        if not match:
            continue
        manifest = json.loads(client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read())
        found.append((*match.groups(), item["Key"][:-len("manifest.json")], manifest))
    newest: dict[tuple[str, str], str] = {}
    for ds, release_name, snapshot, _, _ in found:
        newest[ds, release_name] = max(newest.get((ds, release_name), snapshot), snapshot)
    return sorted((S3ReleaseInfo(dataset=ds, release_name=release_name, snapshot_id=snapshot,
                                 location=f"s3://{bucket}/{key}", rows=_data_rows(manifest),
                                 created_at=str(manifest.get("created_at", "")),
                                 latest=newest[ds, release_name] == snapshot, manifest=manifest)
                   for ds, release_name, snapshot, key, manifest in found),
                  key=lambda r: (r.dataset, r.release_name, r.snapshot_id))


def read_s3_release(client: Any, bucket: str, prefix: str, dataset: str, release_name: str, into: Path,
                    snapshot_id: str | None = None) -> tuple[dict[str, Any], dict[str, Path]]:
    """Download one committed release into `into` (its newest snapshot when `snapshot_id` is None),
    each object checked against the manifest's SHA-256; returns (manifest, name -> local file)."""
    if snapshot_id is None:
        snapshots = _committed_snapshots(client, bucket, _join(prefix, dataset, release_name) + "/")
        if not snapshots:
            raise LookupError(f"no committed release {dataset}/{release_name} under s3://{bucket}/{_join(prefix)}")
        snapshot_id = snapshots[-1].removeprefix("snapshot=")
    final = release_prefix(prefix, dataset, release_name, snapshot_id)
    try:
        manifest = json.loads(client.get_object(Bucket=bucket, Key=final + "manifest.json")["Body"].read())
    except ClientError as exc:
        if _code(exc) in _NOT_FOUND:
            raise LookupError(f"no committed release at s3://{bucket}/{final} (no manifest)") from exc
        raise
    # The earlier layout had no `objects`: its files lay beside the manifest, with only `files` hashed.
    objects = manifest.get("objects") or {name: {"key": name, **entry} for name, entry in manifest["files"].items()}
    local: dict[str, Path] = {}
    for name, entry in objects.items():
        target = into / name
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            client.download_file(bucket, final + entry["key"], str(target))
        except ClientError as exc:
            raise CorruptReleaseError(f"release s3://{bucket}/{final} lacks {entry['key']}: {_cause(exc)}") from exc
        digest = file_sha256(target)
        if digest != entry["sha256"]:
            raise CorruptReleaseError(f"release s3://{bucket}/{final}: {entry['key']} has SHA-256 {digest}, the "
                                      f"manifest says {entry['sha256']}")
        local[name] = target
    return manifest, local

"""Remote destinations of a release: S3 (`s3.py`) and SQL databases (`sql.py`). Local folders are
`core.publish`. Every destination publishes atomically (a reader sees a whole release or none),
never over an existing release (`ReleaseExistsError`), and names itself without secrets in errors.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from synth_pipelines.core.publish import ReleaseExistsError, lookup_entries

__all__ = ["DestinationError", "IsolationError", "ReleaseExistsError", "RemoteRelease", "existing_release",
           "release_manifest"]



class DestinationError(RuntimeError):
    """Publishing failed at the destination (unreachable, refused, failed midway); nothing was published."""


class IsolationError(ValueError):
    """The destination is the source database: releases never go into production."""


@dataclass(frozen=True)
class RemoteRelease:
    name: str  # features_vN
    location: str  # s3://bucket/key/ or <masked url>#<schema.table>; never carries a secret
    manifest_location: str
    qa_report_location: str
    rows: int


def release_manifest(manifest: dict[str, Any], *, release_name: str, snapshot_id: str,
                     data: dict[str, dict[str, Any]], destination: dict[str, Any],
                     lookups: dict[str, Path] | None = None) -> dict[str, Any]:
    """The manifest as published: the same release and file entries a local release has, plus where.
    `data`: each data part's name (data/part-NNNNN.parquet) -> its sha256 and rows."""
    return {**manifest, "release": f"{release_name}/snapshot={snapshot_id}",
            "files": {**data, **lookup_entries(lookups)},
            "destination": destination}


def existing_release(destination: Any, *, source_url: str, dataset: str, release_name: str,
                     snapshot_id: str) -> str | None:
    """Where a release is already published at the spec's `destination` (a location without secrets),
    or None. Asked before a run trains anything; it also repairs what a publish killed after its
    commit left behind (LATEST, the SQL view), so a re-run ends with the release whole and pointed to."""
    from synth_pipelines.core.publish import point_latest, release_folder

    if destination.kind == "local":
        folder = release_folder(destination.root(), dataset, release_name, snapshot_id)
        if not (folder / "manifest.json").is_file():
            return None
        point_latest(folder.parent)
        return str(folder)
    if destination.kind == "s3":
        from synth_pipelines.core.destinations.s3 import existing_s3_release

        return existing_s3_release(bucket=destination.bucket, prefix=destination.prefix, dataset=dataset,
                                   release_name=release_name, snapshot_id=snapshot_id, region=destination.region,
                                   endpoint_url=destination.endpoint_url)
    from synth_pipelines.core.destinations.sql import existing_sql_release

    return existing_sql_release(url=destination.url, schema=destination.db_schema, source_url=source_url,
                                dataset=dataset, release_name=release_name, snapshot_id=snapshot_id)

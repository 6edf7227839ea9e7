"""Reading published releases back, locally or from S3: listing, expiry and one release's manifest."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from synth_pipelines.core.publish import newest_snapshot

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class ReleaseInfo:
    dataset: str
    release_name: str  # features_vN
    snapshot_id: str
    location: str  # a local folder or s3://bucket/.../snapshot=<id>/
    rows: int
    created_at: str
    expires_at: str | None
    latest: bool
    manifest: dict[str, Any] | None = field(default=None, repr=False, compare=False)  # S3: read while listing

    @property
    def name(self) -> str:
        return f"{self.dataset}/{self.release_name}/snapshot={self.snapshot_id}"

    @property
    def path(self) -> Path:
        """The release folder of a local release."""
        if self.location.startswith("s3://"):
            raise ValueError(f"{self.name} is in S3 ({self.location}), not a local folder")
        return Path(self.location)

    def read_manifest(self) -> dict[str, Any]:
        return self.manifest or json.loads((Path(self.location) / "manifest.json").read_text())

    def expired(self, now: datetime | None = None) -> bool:
        if not self.expires_at:
            return False
        return datetime.fromisoformat(self.expires_at) <= (now or datetime.now(timezone.utc))


def list_releases(root: Path, dataset: str | None = None) -> list[ReleaseInfo]:
    """Complete releases (those with a manifest) under a local destination root, oldest first.

    Staging folders and anything without a manifest are not releases and are not listed. `latest` is
    derived from the manifests (the newest snapshot of its version), so a LATEST file that a killed
    publish left stale does not mislead a reader."""
    found = []
    newest: dict[Path, str | None] = {}
    for manifest_path in sorted(root.glob("*/features_v*/snapshot=*/manifest.json")):
        folder = manifest_path.parent
        if dataset and folder.parent.parent.name != dataset:
            continue
        manifest = json.loads(manifest_path.read_text())
        if folder.parent not in newest:
            newest[folder.parent] = newest_snapshot(folder.parent)
        latest = newest[folder.parent] == folder.name
        found.append(ReleaseInfo(
            dataset=manifest["dataset"], release_name=manifest["release_name"],
            snapshot_id=manifest["source"]["snapshot_id"], location=str(folder), rows=manifest["rows"],
            created_at=manifest["created_at"], expires_at=manifest.get("expires_at"), latest=latest))
    return sorted(found, key=lambda r: (r.dataset, r.release_name, r.snapshot_id))


def list_s3_destination(destination: Any, dataset: str | None = None) -> list[ReleaseInfo]:
    """Committed releases under an S3 destination (a spec's `destination` of kind s3), oldest first."""
    from synth_pipelines.core.destinations.s3 import list_s3_releases, s3_client

    client = s3_client(region=destination.region, endpoint_url=destination.endpoint_url)
    return [ReleaseInfo(dataset=r.dataset, release_name=r.release_name, snapshot_id=r.snapshot_id, location=r.location,
                        rows=r.rows, created_at=r.created_at, expires_at=r.manifest.get("expires_at"),
                        latest=r.latest, manifest=r.manifest)
            for r in list_s3_releases(client, destination.bucket, destination.prefix, dataset)]


class ReleasesNotListed(LookupError):
    """The destination's releases are not read back by this module (a SQL database: its releases table)."""


def list_destination_releases(destination: Any, dataset: str | None = None) -> list[ReleaseInfo]:
    """The releases of a spec's destination: a local root or an S3 bucket (SQL: ReleasesNotListed)."""
    if destination.kind == "local":
        return list_releases(destination.root(), dataset)
    if destination.kind == "s3":
        return list_s3_destination(destination, dataset)
    raise ReleasesNotListed(f"releases are listed from local and S3 destinations, not {destination.kind}")


def find_release(releases: list[ReleaseInfo], name: str, where: str) -> tuple[ReleaseInfo, dict[str, Any]]:
    """A release by `dataset/features_vN/snapshot=ID`, `dataset/features_vN` (its LATEST) or its location."""
    local = str(Path(name).resolve())
    for release in releases:
        if (release.name == name or release.location in (name, local)
                or (release.latest and f"{release.dataset}/{release.release_name}" == name)):
            return release, release.read_manifest()
    known = ", ".join(r.name for r in releases) or "none"
    raise LookupError(f"no release '{name}' under {where} (releases: {known})")


def release_rows(release: ReleaseInfo, destination: Any, scratch: Path, *, sample: int | None = None,
                 seed: int = 0) -> pd.DataFrame:
    """A release's rows (`sample`: a uniform sample of that many, read chunk by chunk): read from its
    folder, or downloaded from S3 into `scratch` and checked against the manifest's SHA-256 first."""
    import pandas as pd

    from synth_pipelines.core.quality.parts import SyntheticParts

    folder = Path(release.location)
    if destination.kind == "s3":
        from synth_pipelines.core.destinations.s3 import read_s3_release, s3_client

        client = s3_client(region=destination.region, endpoint_url=destination.endpoint_url)
        read_s3_release(client, destination.bucket, destination.prefix, release.dataset, release.release_name,
                        scratch, release.snapshot_id)
        folder = scratch
    if sample is not None:
        return SyntheticParts(tuple(sorted((folder / "data").rglob("*.parquet")))).sample(sample, seed)
    return pd.read_parquet(folder / "data")

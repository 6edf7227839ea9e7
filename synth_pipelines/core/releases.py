"""Reading published local releases back: listing, expiry and one release's manifest."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from synth_pipelines.core.publish import newest_snapshot


@dataclass(frozen=True)
class ReleaseInfo:
    dataset: str
    release_name: str  # features_vN
    snapshot_id: str
    path: Path
    rows: int
    created_at: str
    expires_at: str | None
    latest: bool

    @property
    def name(self) -> str:
        return f"{self.dataset}/{self.release_name}/snapshot={self.snapshot_id}"

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
            snapshot_id=manifest["source"]["snapshot_id"], path=folder, rows=manifest["rows"],
            created_at=manifest["created_at"], expires_at=manifest.get("expires_at"), latest=latest))
    return sorted(found, key=lambda r: (r.dataset, r.release_name, r.snapshot_id))


def find_release(root: Path, name: str) -> tuple[ReleaseInfo, dict[str, Any]]:
    """A release by `dataset/features_vN/snapshot=ID`, `dataset/features_vN` (its LATEST) or a path."""
    releases = list_releases(root)
    path = Path(name)
    for release in releases:
        if (release.name == name or release.path == path.resolve()
                or (release.latest and f"{release.dataset}/{release.release_name}" == name)):
            return release, json.loads((release.path / "manifest.json").read_text())
    known = ", ".join(r.name for r in releases) or "none"
    raise LookupError(f"no release '{name}' under {root} (releases: {known})")

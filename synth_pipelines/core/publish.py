"""Stage 7: publish a release to local storage, atomically and never over an existing one.

Layout: <root>/<dataset>/features_v<N>/snapshot=<snapshot id>/{data/part-00000.parquet,
lookups/<table>.parquet (lookup tables, verbatim from the snapshot), manifest.json, qa_report.*}. The release is assembled in a hidden staging folder and renamed into
place in one step, so a reader sees a whole release or none; `LATEST` in the version folder then
names the newest release (replaced atomically).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq


LOOKUP_FOLDER = "lookups"


class ReleaseExistsError(FileExistsError):
    pass


@dataclass(frozen=True)
class Release:
    name: str
    path: Path
    data_path: Path
    manifest_path: Path
    rows: int


def release_folder(root: Path, dataset: str, release_name: str, snapshot_id: str) -> Path:
    return root / dataset / release_name / f"snapshot={snapshot_id}"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def lookup_files(lookups: dict[str, Path] | None) -> dict[str, Path]:
    """Release-relative name -> snapshot file of each lookup table."""
    return {f"{LOOKUP_FOLDER}/{table}.parquet": path for table, path in sorted((lookups or {}).items())}


def lookup_entries(lookups: dict[str, Path] | None) -> dict[str, dict[str, Any]]:
    """Manifest `files` entries of the lookup tables: sha256 and rows, as for the data file."""
    return {name: {"sha256": file_sha256(path), "rows": pq.ParquetFile(path).metadata.num_rows, "lookup": True}
            for name, path in lookup_files(lookups).items()}


def publish_local(*, features_path: Path, attachments: list[Path], manifest: dict[str, Any], root: Path,
                  dataset: str, release_name: str, snapshot_id: str, rows: int,
                  lookups: dict[str, Path] | None = None) -> Release:
    """`lookups`: lookup table name -> its snapshot Parquet file, published byte for byte."""
    final = release_folder(root, dataset, release_name, snapshot_id)
    if final.exists():
        raise ReleaseExistsError(
            f"release {final} already exists; releases are immutable. Take a new snapshot or bump the "
            "spec's version to publish again")
    staging = final.parent / f".staging-{snapshot_id}-{uuid.uuid4().hex[:8]}"
    staging.mkdir(parents=True)
    try:
        data_path = staging / "data" / "part-00000.parquet"
        data_path.parent.mkdir()
        shutil.copyfile(features_path, data_path)
        for attachment in attachments:
            shutil.copyfile(attachment, staging / attachment.name)
        for name, path in lookup_files(lookups).items():
            (staging / name).parent.mkdir(exist_ok=True)
            shutil.copyfile(path, staging / name)
        manifest = {**manifest, "release": f"{release_name}/snapshot={snapshot_id}",
                    "files": {"data/part-00000.parquet": {"sha256": file_sha256(data_path), "rows": rows},
                              **lookup_entries(lookups)}}
        (staging / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str))
        try:
            # Fails when another run published the same release meanwhile: rename never replaces
            # a non-empty folder.
            os.rename(staging, final)
        except OSError as exc:
            raise ReleaseExistsError(f"release {final} appeared while publishing; nothing was changed") from exc
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _point_latest(final.parent)
    return Release(name=release_name, path=final, data_path=final / "data" / "part-00000.parquet",
                   manifest_path=final / "manifest.json", rows=rows)


def _point_latest(version_folder: Path) -> None:
    """Point LATEST at the newest snapshot's release (a backfill of an old snapshot leaves it alone)."""
    newest = max(p.name for p in version_folder.glob("snapshot=*") if (p / "manifest.json").is_file())
    tmp = version_folder / f".LATEST.{uuid.uuid4().hex[:8]}"
    tmp.write_text(newest + "\n")
    os.replace(tmp, version_folder / "LATEST")

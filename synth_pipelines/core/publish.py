"""Stage 7: publish a release to local storage, atomically and never over an existing one.

Layout: <root>/<dataset>/features_v<N>/snapshot=<snapshot id>/{data/part-NNNNN.parquet (one per shard),
lookups/<table>.parquet (lookup tables, verbatim from the snapshot), manifest.json, qa_report.*}. The release is assembled in a hidden staging folder and renamed into
place in one step, so a reader sees a whole release or none; `LATEST` in the version folder then
names the newest release (replaced atomically).

Crashes: every file is fsync'ed before the rename and the folder after it, so a release that was
renamed into place survives a power cut whole. A publish killed before the rename leaves a
`.staging-*` folder that no reader lists and that the next publish of the version sweeps once it is
older than `stale_after`; killed after the rename, LATEST may lag until the next publish of the
version (which repairs it, also when it is refused as already published), and readers derive the
newest release from the manifests anyway (`core.releases`).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from synth_pipelines.core.files import fsync_folder, write_atomically, write_durably
from synth_pipelines.core.shards import release_data_files

LOOKUP_FOLDER = "lookups"
CRASH_AT_ENV = "SYNTH_PIPELINES_CRASH_AT"
# The steps of a local publish a fault-injection test may kill the process at (see `crash_point`).
CRASH_POINTS = ("local.staging_created", "local.data_copied", "local.files_copied", "local.manifest_written",
                "local.renamed", "local.latest_written")


_steps_reached: dict[str, int] = {}


def crash_point(step: str) -> None:
    """A named step of a publish. Fault-injection tests set SYNTH_PIPELINES_CRASH_AT to a step's name
    (`name#N`: its N-th time, for a step done per table) and the process kills itself there with
    SIGKILL: no exception, no clean-up, as a power cut or OOM kill. Unset (always, outside those
    tests) it does nothing."""
    target = os.environ.get(CRASH_AT_ENV)
    if not target:
        return
    _steps_reached[step] = _steps_reached.get(step, 0) + 1
    name, _, nth = target.partition("#")
    if name == step and _steps_reached[step] == int(nth or 1):
        os.kill(os.getpid(), signal.SIGKILL)


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
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def lookup_files(lookups: dict[str, Path] | None) -> dict[str, Path]:
    """Release-relative name -> snapshot file of each lookup table."""
    return {f"{LOOKUP_FOLDER}/{table}.parquet": path for table, path in sorted((lookups or {}).items())}


def attachment_files(attachments: list[Path]) -> dict[str, Path]:
    """Release-relative name -> file of each attachment; a folder (the QA report's Data Docs) brings
    every file under it, named under the folder's name."""
    files = {}
    for path in attachments:
        if path.is_dir():
            files.update({f"{path.name}/{f.relative_to(path).as_posix()}": f
                          for f in sorted(path.rglob("*")) if f.is_file()})
        else:
            files[path.name] = path
    return files


def lookup_entries(lookups: dict[str, Path] | None) -> dict[str, dict[str, Any]]:
    """Manifest `files` entries of the lookup tables: sha256 and rows, as for the data file."""
    import pyarrow.parquet as pq  # here, not at the top: `releases` reads this module and starts in under 1 s

    return {name: {"sha256": file_sha256(path), "rows": pq.ParquetFile(path).metadata.num_rows, "lookup": True}
            for name, path in lookup_files(lookups).items()}


def data_entries(folder: Path, data: dict[str, Path]) -> dict[str, dict[str, Any]]:
    """Manifest entries of the release's data parts as written under `folder`: hash and rows of each."""
    import pyarrow.parquet as pq

    return {name: {"sha256": file_sha256(folder / name), "rows": pq.ParquetFile(folder / name).metadata.num_rows}
            for name in data}


def publish_local(*, features_path: Path, attachments: list[Path], manifest: dict[str, Any], root: Path,
                  dataset: str, release_name: str, snapshot_id: str, rows: int,
                  lookups: dict[str, Path] | None = None,
                  stale_after: timedelta | None = timedelta(days=1)) -> Release:
    """`lookups`: lookup table name -> its snapshot Parquet file, published byte for byte.
    `stale_after`: staging folders of dead publishes this old are swept (None: never)."""
    final = release_folder(root, dataset, release_name, snapshot_id)
    with staged_release(final, snapshot_id, stale_after) as staging:
        (staging / "data").mkdir()
        data = release_data_files(features_path)  # one part per shard
        for name, part in data.items():
            _copy(part, staging / name)
        crash_point("local.data_copied")
        for name, path in {**attachment_files(attachments), **lookup_files(lookups)}.items():
            (staging / name).parent.mkdir(parents=True, exist_ok=True)
            _copy(path, staging / name)
        crash_point("local.files_copied")
        manifest = {**manifest, "release": f"{release_name}/snapshot={snapshot_id}",
                    "files": {**data_entries(staging, data), **lookup_entries(lookups)}}
        write_durably(staging / "manifest.json", json.dumps(manifest, indent=2, default=str).encode())
        for folder in (staging / "data", staging / LOOKUP_FOLDER, staging):
            fsync_folder(folder)
        crash_point("local.manifest_written")
    return Release(name=release_name, path=final, data_path=final / next(iter(data)),
                   manifest_path=final / "manifest.json", rows=rows)


@contextmanager
def staged_release(final: Path, snapshot_id: str, stale_after: timedelta | None) -> Iterator[Path]:
    """A hidden staging folder beside `final` to assemble a release in; renamed into place in one step
    when the block ends (then LATEST is pointed), removed when it raises. Refused when `final` exists."""
    if final.exists():
        point_latest(final.parent)  # repairs a LATEST that a publish killed after its rename left behind
        raise ReleaseExistsError(
            f"release {final} already exists; releases are immutable. Take a new snapshot or bump the "
            "spec's version to publish again")
    if stale_after is not None:
        sweep_staging(final.parent, older_than=stale_after)
    staging = final.parent / f".staging-{snapshot_id}-{uuid.uuid4().hex[:8]}"
    staging.mkdir(parents=True)
    crash_point("local.staging_created")
    try:
        yield staging
        try:
            # Fails when another run published the same release meanwhile: rename never replaces
            # a non-empty folder.
            os.rename(staging, final)
        except OSError as exc:
            raise ReleaseExistsError(f"release {final} appeared while publishing; nothing was changed") from exc
        fsync_folder(final.parent)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    crash_point("local.renamed")
    point_latest(final.parent)
    crash_point("local.latest_written")


def _copy(source: Path, target: Path) -> None:
    shutil.copyfile(source, target)
    with target.open("rb+") as handle:
        os.fsync(handle.fileno())


def sweep_staging(version_folder: Path, *, older_than: timedelta) -> list[Path]:
    """Remove the staging folders (and LATEST temporaries) of publishes that died, once nothing in them
    changed for `older_than`; returns what was removed."""
    cutoff = time.time() - older_than.total_seconds()
    removed = []
    for leftover in sorted(version_folder.glob(".staging-*")) + sorted(version_folder.glob(".LATEST.*")):
        entries = [leftover, *leftover.rglob("*")] if leftover.is_dir() else [leftover]
        try:
            newest = max(entry.lstat().st_mtime for entry in entries)
        except FileNotFoundError:  # its publish finished or failed meanwhile
            continue
        if newest <= cutoff:
            shutil.rmtree(leftover, ignore_errors=True) if leftover.is_dir() else leftover.unlink(missing_ok=True)
            removed.append(leftover)
    return removed


def newest_snapshot(version_folder: Path) -> str | None:
    """The newest snapshot folder of a version that holds a release (one with a manifest)."""
    return max((p.name for p in version_folder.glob("snapshot=*") if (p / "manifest.json").is_file()), default=None)


def point_latest(version_folder: Path) -> None:
    """Point LATEST at the newest snapshot's release (a backfill of an old snapshot leaves it alone).

    Concurrent publishers each re-read after writing until LATEST names the newest release, so the
    last one to write leaves it right (no lock: a reader never waits)."""
    latest = version_folder / "LATEST"
    for _ in range(100):
        newest = newest_snapshot(version_folder)
        if newest is None or (latest.is_file() and latest.read_text().strip() == newest):
            return
        write_atomically(latest, (newest + "\n").encode())

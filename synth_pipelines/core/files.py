"""Durable local writes: what a crash or a power cut must not leave half-written (releases, LATEST, the
privacy ledger, approvals); and the pruning of per-run work folders."""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path


def write_durably(path: Path, data: bytes) -> None:
    """Write `data` to `path` and flush it to disk before returning."""
    with path.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def fsync_folder(folder: Path) -> None:
    """Make a rename or a new entry in `folder` survive a crash (the entry lives in the folder)."""
    if not folder.is_dir():
        return
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def write_atomically(path: Path, data: bytes) -> None:
    """Replace `path` with `data` in one step: a reader sees the old or the new content, never a part.
    The temporary is `.<name>.<random>` beside it (publish.sweep_staging removes dead `.LATEST.*` ones)."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}")
    write_durably(tmp, data)
    os.replace(tmp, path)
    fsync_folder(path.parent)


def keep_newest_folders(parent: Path, keep: int) -> list[Path]:
    """Remove all but the `keep` most recently modified subfolders of `parent`; returns those removed.
    Per-run work (QA reports of earlier runs) would otherwise grow with every rerun."""
    if not parent.is_dir():
        return []
    folders = sorted((p for p in parent.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime_ns, reverse=True)
    removed = folders[keep:]
    for folder in removed:
        shutil.rmtree(folder, ignore_errors=True)
    return removed

"""Durable local writes: what a crash or a power cut must not leave half-written (releases, LATEST, the
privacy ledger, approvals)."""

from __future__ import annotations

import os
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

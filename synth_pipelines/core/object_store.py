"""A local folder mirrored to an object store (S3 or an S3-compatible server), so steps on different
machines see each other's snapshots and working files.

Every stage reads and writes plain local files; a worker pulls the folders a step reads before it runs
and pushes the files the step wrote after it. Which local copy is current is decided by the object's
ETag, recorded beside the copy (`.mirror/<path>.etag`), so a worker downloads an object once and again
only after another worker replaced it. Nothing is ever deleted remotely except by `remove`, so steps
that write different files of one folder at once (the shards of one stage) never undo each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

STATE = ".mirror"  # per-file ETag and local (size, mtime) at the last pull or push


@dataclass
class ObjectMirror:
    bucket: str
    prefix: str
    local: Path
    client: Any  # a boto3 S3 client

    def key(self, path: Path) -> str:
        rel = Path(path).resolve().relative_to(self.local.resolve()).as_posix()
        return f"{self.prefix.strip('/')}/{rel}".lstrip("/")

    def _state(self, path: Path) -> Path:
        return self.local / STATE / (Path(path).resolve().relative_to(self.local.resolve()).as_posix() + ".etag")

    def _recorded(self, path: Path) -> tuple[str, str] | None:
        state = self._state(path)
        if not state.is_file():
            return None
        etag, _, local = state.read_text().partition("\n")
        return etag, local

    def _record(self, path: Path, etag: str) -> None:
        state = self._state(path)
        state.parent.mkdir(parents=True, exist_ok=True)
        stat = path.stat()
        state.write_text(f"{etag}\n{stat.st_size}:{stat.st_mtime_ns}")

    def _objects(self, prefix: str) -> dict[str, str]:
        found = {}
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            found.update({item["Key"]: item["ETag"] for item in page.get("Contents", [])})
        return found

    def pull(self, path: Path) -> int:
        """Download the objects at `path` (a file, or every object under a folder) that are missing here or
        were replaced remotely; returns how many were downloaded."""
        key = self.key(path)
        objects = self._objects(key)
        objects = {k: e for k, e in objects.items() if k == key or k.startswith(key.rstrip("/") + "/")}
        fetched = 0
        for name, etag in objects.items():
            target = self.local / Path(name[len(self.prefix.strip("/")):].lstrip("/"))
            recorded = self._recorded(target)
            if target.is_file() and recorded and recorded[0] == etag:
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.pull")
            self.client.download_file(self.bucket, name, str(tmp))
            tmp.replace(target)
            self._record(target, etag)
            fetched += 1
        return fetched

    def push(self, path: Path) -> int:
        """Upload the files at `path` (a file, or a folder's files; hidden ones are temporaries) that were
        written or changed here since their last pull or push; returns how many were uploaded."""
        path = Path(path)
        files = [path] if path.is_file() else [f for f in sorted(path.rglob("*")) if f.is_file()]
        pushed = 0
        for file in files:
            if any(part.startswith(".") for part in file.relative_to(self.local).parts):
                continue
            stat = file.stat()
            recorded = self._recorded(file)
            if recorded and recorded[1] == f"{stat.st_size}:{stat.st_mtime_ns}":
                continue
            self.client.upload_file(str(file), self.bucket, self.key(file))
            etag = self.client.head_object(Bucket=self.bucket, Key=self.key(file))["ETag"]
            self._record(file, etag)
            pushed += 1
        return pushed

    def remove(self, path: Path) -> None:
        """Delete the object at `path` here and remotely (a stale part of an earlier run)."""
        self.client.delete_object(Bucket=self.bucket, Key=self.key(path))
        self._state(path).unlink(missing_ok=True)
        Path(path).unlink(missing_ok=True)

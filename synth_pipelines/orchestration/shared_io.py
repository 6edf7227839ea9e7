"""The IO manager when SynthStorage is in a bucket: dagster-aws's S3 pickle IO manager, plus portable paths.

Assets hand each other descriptors (TableFile, Snapshot, TrainedModel, a shard's part) that name files
under SynthStorage. A worker's local copy of the storage lives wherever that worker keeps it, so a value
is stored with those paths relative to the storage (`synth-storage:work/...`), and on loading it they
point into the loading worker's copy, whose folders are pulled from the bucket first.
"""

import dataclasses
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_aws.s3 import S3PickleIOManager

from synth_pipelines.orchestration.resources import SynthStorage

MARKER = "synth-storage:"


def _map_paths(value: Any, convert) -> Any:
    """`value` with `convert` applied to every string in it (dataclass fields, dicts, lists, tuples)."""
    if isinstance(value, str):
        return convert(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {f.name: _map_paths(getattr(value, f.name), convert) for f in dataclasses.fields(value)}
        return dataclasses.replace(value, **changes)
    if isinstance(value, dict):
        return {k: _map_paths(v, convert) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_map_paths(v, convert) for v in value)
    return value


def portable(value: Any, base: Path) -> Any:
    prefix = str(base) + "/"
    return _map_paths(value, lambda s: MARKER + s[len(prefix):] if s.startswith(prefix) else s)


def localized(value: Any, storage: SynthStorage) -> Any:
    base, pulled = storage.base(), []

    def convert(text: str) -> str:
        if not text.startswith(MARKER):
            return text
        path = base / text[len(MARKER):]
        pulled.append(path)
        return str(path)

    value = _map_paths(value, convert)
    for path in dict.fromkeys(pulled):
        storage.pull(path)
    return value


class SharedStorageIOManager(S3PickleIOManager):
    """Values pickled to the storage's bucket, their file paths portable between workers."""

    storage: dg.ResourceDependency[SynthStorage]

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        super().handle_output(context, portable(obj, self.storage.base()))

    def load_input(self, context: dg.InputContext) -> Any:
        return localized(super().load_input(context), self.storage)


def io_manager_for(storage: SynthStorage) -> dg.ConfigurableIOManager | dg.IOManagerDefinition:
    """The code location's IO manager: beside the storage, on disk or in its bucket."""
    if storage.kind == "s3":
        return SharedStorageIOManager(s3_resource=storage.s3(), s3_bucket=storage.bucket,
                                      s3_prefix=f"{storage.prefix}/io", storage=storage)
    return dg.FilesystemIOManager(base_dir=str(storage.base() / "io"))

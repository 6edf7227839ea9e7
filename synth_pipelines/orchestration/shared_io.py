"""The code location's IO manager: Dagster's pickle IO manager on disk, or dagster-aws's in the storage's
bucket with portable paths; neither names its pickle in what the UI shows.

Assets hand each other descriptors (TableFile, Snapshot, TrainedModel, a shard's part) that name files
under SynthStorage. A worker's local copy of the storage lives wherever that worker keeps it, so a value
is stored with those paths relative to the storage (`synth-storage:work/...`), and on loading it they
point into the loading worker's copy, whose folders are pulled from the bucket first.

Dagster's pickle IO managers add the pickle's own file to each materialization (`path`, and `uri` in a
bucket). Here that file holds only a descriptor; the data is at the asset's `location`, so the pickle's
path next to it would only mislead a user in the UI, and is left out.
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


PICKLE_METADATA = ("path", "uri")  # what Dagster's pickle IO managers say about their own file


class _WithoutPicklePaths:
    """The output context as a pickle IO manager sees it, minus the metadata naming the pickle's file."""

    def __init__(self, context: dg.OutputContext) -> None:
        self._context = context

    def __getattr__(self, name: str) -> Any:
        return getattr(self._context, name)

    def add_output_metadata(self, metadata: dict[str, Any]) -> None:
        kept = {key: value for key, value in metadata.items() if key not in PICKLE_METADATA}
        if kept:
            self._context.add_output_metadata(kept)


class _LocalPickles(dg.IOManager):
    def __init__(self, pickles: dg.IOManager) -> None:
        self.pickles = pickles

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        self.pickles.handle_output(_WithoutPicklePaths(context), obj)

    def load_input(self, context: dg.InputContext) -> Any:
        return self.pickles.load_input(context)


class LocalStorageIOManager(dg.FilesystemIOManager):
    """Values pickled under the storage's io/ folder (Dagster's FilesystemIOManager), their pickles unnamed."""

    def create_io_manager(self, context: dg.InitResourceContext) -> dg.IOManager:
        return _LocalPickles(super().create_io_manager(context))


class SharedStorageIOManager(S3PickleIOManager):
    """Values pickled to the storage's bucket, their file paths portable between workers."""

    storage: dg.ResourceDependency[SynthStorage]

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        super().handle_output(_WithoutPicklePaths(context), portable(obj, self.storage.base()))

    def load_input(self, context: dg.InputContext) -> Any:
        return localized(super().load_input(context), self.storage)


def io_manager_for(storage: SynthStorage) -> dg.ConfigurableIOManager | dg.IOManagerDefinition:
    """The code location's IO manager: beside the storage, on disk or in its bucket."""
    if storage.kind == "s3":
        return SharedStorageIOManager(s3_resource=storage.s3(), s3_bucket=storage.bucket,
                                      s3_prefix=f"{storage.prefix}/io", storage=storage)
    return LocalStorageIOManager(base_dir=str(storage.base() / "io"))

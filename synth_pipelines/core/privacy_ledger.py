"""The privacy budget spent on one dataset, across all its releases.

Every release of a dataset is built from (mostly) the same people, so by sequential composition
their epsilons add up: ten daily releases at epsilon 1 are, together, 10-DP for a person in all ten
snapshots. The ledger is a JSON file per dataset under SYNTH_PIPELINES_HOME/privacy_ledger/, one
entry per trained DP model (charged before training; a failed or unpublished run still counts,
because its noise was drawn and QA saw its rows). A charge that would take the total past the
spec's `generator.epsilon_limit` is refused before any real row is read by the mechanism.

Writes hold an exclusive lock (fcntl) and replace the file atomically, so concurrent runs of one
dataset cannot both pass the limit. With the working storage in a bucket (workers on different
machines, where a file lock means nothing) the ledger is one object written with S3's conditional
writes: a charge reads the ledger and its ETag and writes it back only if nobody replaced it since
(`If-Match`, or `If-None-Match: *` for the first entry), else reads again (`charge_in_bucket`).
"""

from __future__ import annotations

import fcntl
import json
import random
import time
import uuid
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

from synth_pipelines.core.files import write_atomically

LEDGER_FOLDER = "privacy_ledger"
CONTENDED_ATTEMPTS = 20  # conditional writes a charge may lose to other writers before it gives up
COMPOSITION = "sequential composition (basic): the epsilons of all releases of the dataset add up"


class BudgetExceeded(ValueError):
    """The dataset's epsilon_limit would be passed by this run."""


def ledger_path(home: Path, dataset: str) -> Path:
    return home / LEDGER_FOLDER / f"{dataset}.json"


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def read_ledger(home: Path, dataset: str) -> dict[str, Any]:
    path = ledger_path(home, dataset)
    if not path.is_file():
        return {"dataset": dataset, "entries": []}
    return json.loads(path.read_text())


def spent(ledger: dict[str, Any]) -> float:
    return float(sum(entry["epsilon"] for entry in ledger["entries"]))


def _add_entry(ledger: dict[str, Any], dataset: str, *, epsilon: float, limit: float, release: str,
               snapshot_id: str, spec_file: str) -> dict[str, Any]:
    """Append the charge to `ledger` or refuse it; returns the new entry."""
    before = spent(ledger)
    if before + epsilon > limit + 1e-12:
        raise BudgetExceeded(
            f"{spec_file}: generator.epsilon_limit: dataset '{dataset}' has spent epsilon {before:g} over "
            f"{len(ledger['entries'])} trained releases; this run needs {epsilon:g} more, which passes the "
            f"limit {limit:g} ({COMPOSITION}). Fix: stop releasing this dataset, lower generator.epsilon, "
            "or (a governance decision, recorded in the spec's history) raise generator.epsilon_limit")
    entry = {"id": uuid.uuid4().hex[:12], "release": release, "snapshot_id": snapshot_id, "epsilon": epsilon,
             "charged_at": datetime.now(timezone.utc).isoformat(), "spent_before": before,
             "spent_after": before + epsilon, "limit": limit}
    ledger["entries"].append(entry)
    return entry


def charge(home: Path, dataset: str, *, epsilon: float, limit: float, release: str, snapshot_id: str,
           spec_file: str = "spec") -> dict[str, Any]:
    """Record `epsilon` for one release or refuse it; returns the new entry."""
    path = ledger_path(home, dataset)
    with _locked(path):
        ledger = read_ledger(home, dataset)
        entry = _add_entry(ledger, dataset, epsilon=epsilon, limit=limit, release=release,
                           snapshot_id=snapshot_id, spec_file=spec_file)
        write_atomically(path, json.dumps(ledger, indent=2).encode())
    return entry


def ledger_key(prefix: str, dataset: str) -> str:
    """The ledger's object key: where the local layout would put it under the storage prefix."""
    return f"{prefix.strip('/')}/{LEDGER_FOLDER}/{dataset}.json".lstrip("/")


def _read_object(client: Any, bucket: str, key: str, dataset: str) -> tuple[dict[str, Any], str | None]:
    try:
        found = client.get_object(Bucket=bucket, Key=key)
    except client.exceptions.NoSuchKey:
        return {"dataset": dataset, "entries": []}, None
    return json.loads(found["Body"].read()), found["ETag"]


def read_ledger_in_bucket(client: Any, bucket: str, prefix: str, dataset: str) -> dict[str, Any]:
    return _read_object(client, bucket, ledger_key(prefix, dataset), dataset)[0]


def charge_in_bucket(client: Any, bucket: str, prefix: str, dataset: str, *, epsilon: float, limit: float,
                     release: str, snapshot_id: str, spec_file: str = "spec",
                     attempts: int = CONTENDED_ATTEMPTS) -> dict[str, Any]:
    """`charge` for a ledger object in a bucket (a boto3 S3 client), safe across machines: the write is
    conditional on the ledger being the one this charge read, and a lost race reads and decides again."""
    from botocore.exceptions import ClientError

    key = ledger_key(prefix, dataset)
    for attempt in range(attempts):
        ledger, etag = _read_object(client, bucket, key, dataset)
        entry = _add_entry(ledger, dataset, epsilon=epsilon, limit=limit, release=release,
                           snapshot_id=snapshot_id, spec_file=spec_file)
        condition = {"IfMatch": etag} if etag else {"IfNoneMatch": "*"}
        try:
            client.put_object(Bucket=bucket, Key=key, Body=json.dumps(ledger, indent=2).encode(),
                              ContentType="application/json", **condition)
            return entry
        except ClientError as exc:  # another charge wrote first: 412, or 409 for a concurrent conditional write
            if exc.response.get("Error", {}).get("Code") not in ("PreconditionFailed", "ConditionalRequestConflict"):
                raise
            time.sleep(min(2.0, 0.05 * 2 ** attempt) * random.random())
    raise RuntimeError(f"privacy ledger s3://{bucket}/{key}: {attempts} charges in a row lost a race to another "
                       "writer; nothing was charged. Retry the run")


def summary(ledger: dict[str, Any], *, limit: float | None, entry_id: str | None = None) -> dict[str, Any]:
    """What a manifest records: the limit, the total spent so far, and every charge (this one marked)."""
    return {"unit": "the dataset (every release built from the same people)", "composition": COMPOSITION,
            "epsilon_limit": limit, "epsilon_spent_total": spent(ledger),
            "this_release_entry": entry_id,
            "entries": [{k: e[k] for k in ("id", "release", "snapshot_id", "epsilon", "charged_at")}
                        for e in ledger["entries"]]}


def ledger_summary(home: Path, dataset: str, *, limit: float | None, entry_id: str | None = None) -> dict[str, Any]:
    """`summary` of the dataset's ledger under `home`."""
    return summary(read_ledger(home, dataset), limit=limit, entry_id=entry_id)

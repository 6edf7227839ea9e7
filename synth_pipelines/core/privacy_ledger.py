"""The privacy budget spent on one dataset, across all its releases.

Every release of a dataset is built from (mostly) the same people, so by sequential composition
their epsilons add up: ten daily releases at epsilon 1 are, together, 10-DP for a person in all ten
snapshots. The ledger is a JSON file per dataset under SYNTH_PIPELINES_HOME/privacy_ledger/, one
entry per trained DP model (charged before training; a failed or unpublished run still counts,
because its noise was drawn and QA saw its rows). A charge that would take the total past the
spec's `generator.epsilon_limit` is refused before any real row is read by the mechanism.

Writes hold an exclusive lock (fcntl) and replace the file atomically, so concurrent runs of one
dataset cannot both pass the limit.
"""

from __future__ import annotations

import fcntl
import json
import uuid
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

from synth_pipelines.core.files import write_atomically

LEDGER_FOLDER = "privacy_ledger"
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


def charge(home: Path, dataset: str, *, epsilon: float, limit: float, release: str, snapshot_id: str,
           spec_file: str = "spec") -> dict[str, Any]:
    """Record `epsilon` for one release or refuse it; returns the new entry."""
    path = ledger_path(home, dataset)
    with _locked(path):
        ledger = read_ledger(home, dataset)
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
        write_atomically(path, json.dumps(ledger, indent=2).encode())
    return entry


def ledger_summary(home: Path, dataset: str, *, limit: float | None, entry_id: str | None = None) -> dict[str, Any]:
    """What a manifest records: the limit, the total spent so far, and every charge (this one marked)."""
    ledger = read_ledger(home, dataset)
    return {"unit": "the dataset (every release built from the same people)", "composition": COMPOSITION,
            "epsilon_limit": limit, "epsilon_spent_total": spent(ledger),
            "this_release_entry": entry_id,
            "entries": [{k: e[k] for k in ("id", "release", "snapshot_id", "epsilon", "charged_at")}
                        for e in ledger["entries"]]}

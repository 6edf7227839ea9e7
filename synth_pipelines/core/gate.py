"""The publication gate: a release is published only when every blocking QA check of the run that
made its features passed, and, when the spec asks for it, after a recorded human approval.

An approval names the exact rows it approves (the SHA-256 of the feature file), so features that
are regenerated after the approval need a new one. The same `gate_decision` is used by the Dagster
gate sensor and by the headless CLI run.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

from synth_pipelines.core.files import write_atomically
from synth_pipelines.core.shards import part_files, parts_sha256


@dataclass(frozen=True)
class Approval:
    approver: str
    approved_at: str
    features_sha256: str
    comment: str = ""


@dataclass(frozen=True)
class GateDecision:
    open: bool
    reason: str
    awaiting_approval: bool = False  # QA passed; only a (new) approval is missing


def approval_path(approvals_root: Path, dataset: str, release_name: str, snapshot_id: str) -> Path:
    return approvals_root / dataset / release_name / f"snapshot={snapshot_id}.json"


def record_approval(path: Path, features_path: Path | None, approver: str, comment: str = "", *,
                    rows_sha256: str | None = None) -> Approval:
    """Approve the features at `features_path`, or the rows whose SHA-256 is `rows_sha256` (a
    multi-table release's tables)."""
    if not approver.strip():
        raise ValueError("an approval needs the approver's name")
    if rows_sha256 is None and not part_files(features_path):
        raise FileNotFoundError(f"no synthetic features to approve at {features_path}; run the pipeline first")
    approval = Approval(approver=approver.strip(), approved_at=datetime.now(timezone.utc).isoformat(),
                        features_sha256=rows_sha256 or parts_sha256(features_path), comment=comment)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, json.dumps(asdict(approval), indent=2).encode())
    return approval


def load_approval(path: Path) -> Approval | None:
    return Approval(**json.loads(path.read_text())) if path.is_file() else None


def gate_decision(check_outcomes: dict[str, bool], required_checks: list[str], *, require_approval: bool,
                  approval: Approval | None, features_path: Path | None = None,
                  rows_sha256: Callable[[], str] | None = None,
                  approve: str = "synth-pipelines approve SPEC --snapshot ID --approver NAME") -> GateDecision:
    """`rows_sha256`: the digest an approval must name, where the rows are not one features table;
    `approve`: the command that records an approval of them."""
    missing = [name for name in required_checks if name not in check_outcomes]
    if missing:
        return GateDecision(False, f"QA has not run for: {', '.join(missing)}")
    failed = [name for name in required_checks if not check_outcomes[name]]
    if failed:
        return GateDecision(False, f"blocking QA checks failed: {', '.join(failed)}")
    if require_approval:
        if approval is None:
            return GateDecision(False, f"QA passed; waiting for a recorded approval ({approve})", True)
        if approval.features_sha256 != (rows_sha256() if rows_sha256 else parts_sha256(features_path)):
            return GateDecision(False, f"the approval by {approval.approver} was for other rows (they were "
                                       "regenerated after it); approve again", True)
        return GateDecision(True, f"QA passed and approved by {approval.approver} at {approval.approved_at}")
    return GateDecision(True, "all blocking QA checks passed")

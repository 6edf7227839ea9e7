"""The publication gate's decision and approval records."""

from pathlib import Path

import pytest

from synth_pipelines.core.gate import approval_path, gate_decision, load_approval, record_approval

CHECKS = ["fidelity", "privacy_dcr"]


@pytest.fixture
def features(tmp_path) -> Path:
    path = tmp_path / "features.parquet"
    path.write_bytes(b"rows v1")
    return path


def decide(outcomes, features, require_approval=False, approval=None):
    return gate_decision(outcomes, CHECKS, require_approval=require_approval, approval=approval,
                         features_path=features)


def test_gate_opens_only_when_every_blocking_check_passed(features):
    assert decide({"fidelity": True, "privacy_dcr": True}, features).open
    closed = decide({"fidelity": True, "privacy_dcr": False}, features)
    assert not closed.open and closed.reason == "blocking QA checks failed: privacy_dcr"
    not_run = decide({"fidelity": True}, features)
    assert not not_run.open and "QA has not run for: privacy_dcr" in not_run.reason


def test_approval_is_required_recorded_and_bound_to_the_rows(tmp_path, features):
    passed = {"fidelity": True, "privacy_dcr": True}
    waiting = decide(passed, features, require_approval=True)
    assert not waiting.open and "waiting for a recorded approval" in waiting.reason

    path = approval_path(tmp_path / "approvals", "demo_loans", "features_v1", "2026-11-24")
    record_approval(path, features, approver="Dana Steward", comment="checked the review sample")
    approval = load_approval(path)
    assert approval.approver == "Dana Steward" and approval.comment == "checked the review sample"
    opened = decide(passed, features, require_approval=True, approval=approval)
    assert opened.open and "approved by Dana Steward" in opened.reason

    features.write_bytes(b"rows v2 regenerated")
    stale = decide(passed, features, require_approval=True, approval=approval)
    assert not stale.open and "approve again" in stale.reason
    # An approval never opens a gate whose checks failed.
    assert not decide({"fidelity": False, "privacy_dcr": True}, features, True, approval).open


def test_approval_needs_a_name_and_existing_features(tmp_path, features):
    with pytest.raises(ValueError, match="approver's name"):
        record_approval(tmp_path / "a.json", features, approver="  ")
    with pytest.raises(FileNotFoundError, match="run the pipeline first"):
        record_approval(tmp_path / "a.json", tmp_path / "missing.parquet", approver="Dana")

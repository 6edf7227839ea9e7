"""The verdict table: the metric that decided each check, its threshold, and a fix for a failed check."""

from synth_pipelines.core.quality.results import Metric, QualityCheck
from synth_pipelines.core.quality.verdict import FIXES, fix_for, verdict_markdown, verdict_rows, verdict_table
from synth_pipelines.core.quality.thresholds import CHECK_NAMES


def test_rows_name_the_deciding_metric_and_fix() -> None:
    checks = [
        QualityCheck("fidelity", [Metric("fidelity_score", 0.81, "x").gate(0.75, "min"),
                                  Metric("discriminator_auc", 0.95, "y").gate(0.9, "max")]),
        QualityCheck("privacy_dcr", [Metric("dcr_share", 0.5, "nn").gate(0.6, "max"),
                                     Metric("dcr_share_holdout_leak", 0.3, "nn").gate(0.4, "min")], blocking=False),
        QualityCheck("bias", [], note="no protected columns declared: nothing to compare"),
    ]
    rows = verdict_rows([c.to_dict() for c in checks])
    assert [(r["check"], r["metric"], r["verdict"]) for r in rows] == [
        ("fidelity", "discriminator_auc", "fail"), ("privacy_dcr", "dcr_share_holdout_leak", "warn"),
        ("bias", None, "pass")]
    assert rows[0]["fix"] == FIXES["fidelity"]
    assert "holdout" in rows[1]["fix"]  # the leak, not memorization
    assert "fix" not in rows[2]

    table = verdict_table(rows)
    assert table[0].split() == ["check", "metric", "value", "threshold", "verdict"]
    assert table[1].split() == ["fidelity", "discriminator_auc", "0.95", "<=", "0.9", "FAIL"]
    assert table[2].split() == ["privacy_dcr", "dcr_share_holdout_leak", "0.3", ">=", "0.4", "WARN"]
    assert table[3].split() == ["bias", "-", "n/a", "-", "PASS"]
    assert table[4] == f"FAIL fidelity: {checks[0].summary}"
    assert table[5] == f"  fix: {FIXES['fidelity']}"
    assert table[6].startswith("WARN privacy_dcr: FAILED: dcr_share_holdout_leak=0.3 (min 0.4)")


def test_every_check_has_a_fix() -> None:
    assert all(name in FIXES for name in CHECK_NAMES)
    assert fix_for("utility", "error") == fix_for("fidelity", "error")  # a check that crashed


def test_markdown_verdict_lists_the_gated_metrics_and_the_fix() -> None:
    check = QualityCheck("privacy_dcr", [Metric("dcr_share", 0.71, "x").gate(0.6, "max"),
                                         Metric("dcr_share_holdout_leak", 0.71, "x").gate(0.4, "min"),
                                         Metric("median_distance", 1.2, "x")])
    assert verdict_markdown(check.to_dict()).splitlines() == [
        "**privacy_dcr: FAILED**", "", "| metric | value | threshold | verdict |", "|---|---|---|---|",
        "| dcr_share | 0.71 | <= 0.6 | FAIL |", "| dcr_share_holdout_leak | 0.71 | >= 0.4 | pass |", "",
        f"Fix: {FIXES['privacy_dcr']}"]


def test_markdown_verdict_of_an_advisory_check_and_of_a_check_that_did_not_apply() -> None:
    advisory = QualityCheck("utility", [Metric("ratio", 0.5, "x").gate(0.9, "min")], blocking=False)
    assert verdict_markdown(advisory.to_dict()).startswith("**utility: failed (advisory, does not block)**")
    headline = QualityCheck("fidelity", [Metric("score", None, "x")])
    assert verdict_markdown(headline.to_dict()).splitlines()[-1] == "| score | n/a |  | pass |"
    assert verdict_markdown(QualityCheck("bias", [], note="no protected columns declared").to_dict()) == \
        "**bias: passed** (no protected columns declared)"


def test_a_synthesized_tables_check_gets_the_fix_of_its_own_failed_check() -> None:
    # a table's "quality" check names its deciding metric "<check>.<metric>" (orchestration/multitable.py)
    assert fix_for("loans: quality", "privacy_dcr.dcr_share") == FIXES["privacy_dcr"]
    assert fix_for("loans: quality", "privacy_dcr.dcr_share_holdout_leak") == FIXES[("privacy_dcr", "dcr_share_holdout_leak")]
    assert fix_for("loans: children_per_parent", "children_per_parent_tvd.loans") == "see the QA report"

"""A check's verdict as the short Markdown table its result carries in the UI."""

from synth_pipelines.core.quality.results import Metric, QualityCheck


def test_verdict_table_lists_the_gated_metrics_with_their_bounds():
    check = QualityCheck("privacy_dcr", [Metric("dcr_share", 0.71, "x").gate(0.6, "max"),
                                         Metric("dcr_share_floor", 0.71, "x").gate(0.4, "min"),
                                         Metric("median_distance", 1.2, "x")])
    assert check.verdict_markdown().splitlines() == [
        "**privacy_dcr: FAILED**", "", "| metric | value | threshold | verdict |", "|---|---|---|---|",
        "| dcr_share | 0.71 | <= 0.6 | FAIL |", "| dcr_share_floor | 0.71 | >= 0.4 | pass |"]


def test_verdict_of_an_advisory_check_without_gated_metrics_shows_its_headline():
    check = QualityCheck("fidelity", [Metric("score", None, "x")], blocking=False)
    assert check.verdict_markdown().splitlines()[0] == "**fidelity: passed**"
    assert check.verdict_markdown().splitlines()[-1] == "| score | n/a |  | pass |"
    failed = QualityCheck("utility", [Metric("ratio", 0.5, "x").gate(0.9, "min")], blocking=False)
    assert failed.verdict_markdown().startswith("**utility: failed (advisory)**")


def test_verdict_of_a_check_that_did_not_apply_is_its_note():
    assert QualityCheck("bias", [], note="no protected columns declared").verdict_markdown() == \
        "**bias: passed** (no protected columns declared)"

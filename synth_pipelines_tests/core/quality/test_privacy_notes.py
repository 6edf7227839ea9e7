"""The privacy figures explained in the report: one sentence each, what the checks cannot show, in the
HTML, the PDF's tables and both report JSONs (aggregates only)."""

from __future__ import annotations

import json

import pytest

from synth_pipelines.core.quality import QAThresholds, privacy_notes, run_quality
from synth_pipelines.core.quality.report import published_report_data, report_tables, write_reports


@pytest.fixture(scope="module")
def privacy_report(mixed, with_ids):
    checks = {"privacy_dcr", "privacy_exact_copies", "privacy_membership_inference", "privacy_rare_combinations",
              "privacy_singling_out", "privacy_linkability", "privacy_inference"}
    return run_quality(mixed.train, mixed.holdout, with_ids(mixed.pool.iloc[:600]), mixed.codecs, "flag",
                       "classification", checks=checks)


def test_every_privacy_figure_has_a_sentence_and_the_attacks_their_interval(privacy_report):
    rows = privacy_notes.explained(privacy_report)
    assert {r["figure"] for r in rows} >= {"dcr_share", "nndr_median", "mia_auc", "singling_out_risk",
                                          "linkability_risk", "inference_flag_risk", "inference_flag_holdout_leak_risk"}
    assert all(r["meaning"].endswith(".") and len(r["meaning"]) > 60 for r in rows)
    by_figure = {r["figure"]: r for r in rows}
    low, high = by_figure["linkability_risk"]["ci_95"]
    assert 0 <= low <= by_figure["linkability_risk"]["value"] <= high <= 1
    assert "unseen real rows" in by_figure["nndr_median"]["reference"]  # NNDR next to the holdout's


def test_cannot_show_names_the_columns_no_inference_attack_covered(privacy_report):
    statements = privacy_notes.cannot_show(privacy_report)
    untested = next(s for s in statements if s.startswith("Not tested for attribute inference"))
    assert "income" in untested and "flag" not in untested.split("(")[1]


def test_the_report_shows_the_explanations_and_its_json_carries_them(privacy_report, mixed, with_ids, tmp_path):
    titles = [title for title, _, _ in report_tables(privacy_report)]
    assert titles[-2:] == ["Privacy figures explained", "What the privacy checks cannot show"]
    paths = write_reports(privacy_report, tmp_path / "qa", mixed.train, with_ids(mixed.pool.iloc[:600]), mixed.codecs,
                          QAThresholds(report_max_columns=2, report_max_pairs=0, report_sample_rows=0))
    for html in (paths["html"], paths["published_html"]):
        page = html.read_text()
        assert "What the privacy checks cannot show" in page and privacy_notes.MEANINGS["linkability_risk"] in page
    published = json.loads(paths["published_json"].read_text())
    assert published["privacy_cannot_show"] and any(r["figure"] == "singling_out_risk" and r["value"] is not None
                                                    for r in published["privacy_explained"])
    # A DP release discloses no metric value: the sentences and limits only.
    dp = published_report_data(privacy_report, {"plugin": "privbayes"})
    assert dp["privacy_explained"] and all(set(r) == {"check", "figure", "meaning"} for r in dp["privacy_explained"])

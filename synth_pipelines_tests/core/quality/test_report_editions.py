"""The QA report's two editions (issue 18): the internal one may show real rows, the published one only
aggregates of at least MIN_CELL_ROWS real rows without extremes, and for DP releases no real statistic."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PathCollection

from synth_pipelines.core.quality import run_quality
from synth_pipelines.core.quality.report import (MIN_CELL_ROWS, PUBLISHED_FOLDER, _published_pair_codes,
                                                 build_figures, build_published_figures, published_report_data,
                                                 suppressed_shares, write_reports)
from synth_pipelines.core.quality.results import Metric, QualityCheck, QualityReport
from synth_pipelines.core.quality.thresholds import QAThresholds
from synth_pipelines.core.synthesis import fit_codecs
from synth_pipelines.spec import RebalanceSpec

OUTLIER = 98765.4


@pytest.fixture
def frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(0)
    n = 2000
    real = pd.DataFrame({"x": np.round(rng.normal(50, 10, n), 1),
                         "c": rng.choice(["red", "green", "blue"], n).astype(object)})
    real.loc[0, "x"] = OUTLIER  # one person's extreme value
    real.loc[1:3, "c"] = "rare_value"  # held by 3 real rows
    synthetic = pd.DataFrame({"x": np.round(rng.normal(50, 10, n), 1),
                              "c": rng.choice(["red", "green", "blue"], n).astype(object)})
    return real, synthetic


def _tick_texts(figure) -> str:
    return " ".join(t.get_text() for ax in figure.axes for t in ax.get_xticklabels() + ax.get_yticklabels())


def test_small_cells_are_suppressed():
    shares = suppressed_shares(np.array([MIN_CELL_ROWS - 1, MIN_CELL_ROWS, 30]), 100)
    assert np.isnan(shares[0]) and shares[1:].tolist() == [0.1, 0.3]


def test_published_figures_show_no_extreme_and_no_rare_value(frames):
    real, synthetic = frames
    codecs = fit_codecs(real, {"c"})
    report = QualityReport(checks=[])
    sections = build_published_figures(report, real, synthetic, codecs, QAThresholds(), dp=False)
    texts = " ".join(_tick_texts(f) for figures in sections.values() for _, f in figures)
    assert "rare_value" not in texts and "9.877e+04" not in texts and "98765" not in texts
    by_name = {c.name: c for c in codecs}
    pairs = set(_published_pair_codes(real, real, by_name["x"])) | set(_published_pair_codes(real, real, by_name["c"]))
    assert not any("98765" in p or "9.877e+04" in p or "rare_value" in p for p in pairs)
    dp = build_published_figures(report, real, synthetic, codecs, QAThresholds(), dp=True)
    assert list(dp) == ["Synthetic rows over the declared domain"]


def test_published_json_names_no_real_value_and_dp_keeps_only_pass_fail(frames, tmp_path):
    real, synthetic = frames
    metric = Metric("category_coverage", 0.75, "set coverage (pandas)",
                    {"per_column": {"c": 0.75}, "absent_categories": {"c": ["rare_value"]}})
    report = QualityReport(checks=[QualityCheck("diversity", [metric])])
    paths = write_reports(report, tmp_path, real, synthetic, fit_codecs(real, {"c"}))
    assert paths["published_html"].parent == tmp_path / PUBLISHED_FOLDER
    assert "rare_value" in paths["json"].read_text()  # internal: kept for the reviewer
    published = paths["published_json"].read_text()
    assert "rare_value" not in published
    assert json.loads(published)["checks"][0]["metrics"][0]["details"]["absent_categories"] == {"c": 1}
    privacy = {"plugin": "privbayes", "epsilon_budget": 1.0, "epsilon_spent": 1.0, "delta": None, "accounting": "x"}
    dp = published_report_data(report, privacy)
    assert dp["checks"] == [{"name": "diversity", "passed": True, "blocking": True}]
    assert "rare_value" not in json.dumps(dp) and dp["not_covered_by_epsilon"]


def test_published_edition_leaves_out_every_statistic_of_a_small_real_group(frames, tmp_path):
    """A protected group of 3 real rows (bias: its name, real label rate and size) and a rebalanced
    column's value held by 4 real rows (its real share) stay internal; large groups are published."""
    real, synthetic = frames
    rng = np.random.default_rng(1)
    real = real.assign(y=rng.choice(["0", "1"], len(real)).astype(object),
                       d=np.where(np.arange(len(real)) % 2, "q", "p").astype(object))
    real.loc[10:13, "d"] = "tiny"
    synthetic = synthetic.assign(y=rng.choice(["0", "1"], len(synthetic)).astype(object),
                                 d=np.where(np.arange(len(synthetic)) % 2, "q", "p").astype(object),
                                 synthetic_id=[f"s{i}" for i in range(len(synthetic))])
    codecs = fit_codecs(real, {"c", "y", "d"})
    report = run_quality(real, real, synthetic, codecs, "y", "classification",
                         QAThresholds(protected_columns=["c"]), checks={"bias"},
                         rebalance=RebalanceSpec(column="d", proportions={"p": 0.5, "q": 0.5}))
    paths = write_reports(report, tmp_path, real, synthetic, codecs)
    internal = paths["json"].read_text()
    assert "rare_value" in internal and "tiny" in internal  # the reviewer sees every group
    published = json.loads(paths["published_json"].read_text())
    assert "rare_value" not in json.dumps(published) and "tiny" not in json.dumps(published)
    bias = published["checks"][0]["metrics"][0]["details"]
    assert {g["group"] for g in bias["groups"]} == {"red", "green", "blue"} and bias["suppressed_cells"] == 1
    assert all(g["real_rows"] >= MIN_CELL_ROWS for g in bias["groups"])
    rebalance = published["settings"]["rebalance"]
    assert set(rebalance["real_proportions"]) == set(rebalance["real_rows"]) == {"p", "q"}
    assert rebalance["suppressed_cells"] == 1
    html = paths["published_html"].read_text()
    assert "rare_value" not in html and "tiny" not in html


def test_published_pairs_are_heatmaps_never_real_points(frames):
    real, synthetic = frames
    real, synthetic = real.assign(y=real["x"] * 2), synthetic.assign(y=synthetic["x"] * 2)
    codecs = fit_codecs(real, {"c"})
    names = ["x", "y", "c"]
    phik = pd.DataFrame(np.full((3, 3), 0.5) + np.eye(3) / 2, index=names, columns=names)
    report = QualityReport(checks=[], artifacts={"phik_real": phik, "phik_synthetic": phik})
    internal = build_figures(report, real, synthetic, codecs, QAThresholds())
    published = build_published_figures(report, real, synthetic, codecs, QAThresholds(), dp=False)
    key = "Bivariate: most associated pairs (real PhiK)"
    def points(figures) -> bool:  # scatter points (a colour scale draws other collections)
        return any(isinstance(c, PathCollection) for _, f in figures for ax in f.axes for c in ax.collections)

    assert points(internal[key])  # internal: real rows as points
    assert not points(published[key])  # published: none

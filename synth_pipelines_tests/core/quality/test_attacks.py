"""The anonymeter attacks (singling out, linkability, inference) as QA checks.

On Adult and two suite tables (the gate-calibration splits, at most 1500 train rows): a perfect
generator (real rows neither side saw) passes all three; a verbatim copy fails singling out and
inference; a copy with 1% noise on the numbers fails linkability or inference; holdout rows passed off as synthetic fail a
holdout-leak mirror. The numbers for every table are in BENCHMARKS.md (bench/calibrate_privacy_attacks.py).
"""

from __future__ import annotations

import numpy as np
import pytest

from synth_pipelines.core.quality import QAThresholds, run_quality
from synth_pipelines.core.quality.results import Metric
from synth_pipelines.core.quality.attacks import null_risk_se
from synth_pipelines.core.quality.runner import widened_gate
from synth_pipelines_tests.core.quality.test_gate_calibration import Split
from synth_pipelines_tests.real_tables import load_table, require_shared_data

ATTACKS = {"privacy_singling_out", "privacy_linkability", "privacy_inference"}


@pytest.fixture(scope="module", params=("adult", "diamonds", "cps1988"))
def split(request) -> Split:
    require_shared_data()
    return Split(load_table(request.param))


def _failed(report) -> set[str]:
    return set(report.failed)


def _verdict(report) -> str:
    return "; ".join(f"{c.name}: {c.summary}" for c in report.checks)


def test_a_perfect_generator_passes_the_attacks(split):
    report = split.judge(split.unseen, checks=ATTACKS)
    assert report.passed and {c.name for c in report.checks} == ATTACKS, _verdict(report)


def test_a_verbatim_copy_is_singled_out_and_its_secret_inferred(split):
    """Linkability too where each half of the columns identifies people (not cps1988's: a few small
    integers and yes/no columns tie with hundreds of rows)."""
    report = split.judge(split.train, checks=ATTACKS)
    failed = {name.split(":")[0] for name in _failed(report)}
    assert {"privacy_singling_out", "privacy_inference"} <= failed, _verdict(report)
    assert all(not m.name.endswith("holdout_leak_risk") for c in report.checks for m in c.failed_metrics)


def test_a_noisy_copy_is_linked_or_its_secret_inferred(split):
    report = split.judge(split.noisy_copy(), checks=ATTACKS)
    assert {name.split(":")[0] for name in _failed(report)} & {"privacy_linkability", "privacy_inference"}, \
        _verdict(report)


def test_holdout_rows_fail_a_holdout_leak_mirror(split):
    report = split.judge(split.holdout, checks=ATTACKS)
    leaks = {name for name in _failed(report) if name.endswith("holdout_leak_risk")}
    assert leaks and leaks == _failed(report), _verdict(report)


# ---- small, no shared data ------------------------------------------------------------------------

def test_the_gate_allows_what_chance_explains_and_no_more():
    """Risk standard errors from the reference side: a rare label's noisy 0.57 (a perfect generator on
    nass_cds: 487 vs 470 of 500 guessed) passes; a copy guessing all 500 against the control's 400 fails."""
    def gated(value, control_successes):
        metric = Metric("inference_risk", value, "x", {"standard_error": null_risk_se(control_successes, 500, 500)})
        return widened_gate(metric, 0.1, 0.0, "max")

    assert gated((487 - 470) / 30, 470).passed
    assert not gated(1.0, 400).passed
    assert null_risk_se(400, 500, 500) == pytest.approx((0.8 * 0.2 * 2 / 500) ** 0.5 / 0.2)
    assert np.isfinite(null_risk_se(500, 500, 500))  # every control attack succeeding: a wide, finite gate
    assert not widened_gate(Metric("linkability_risk", None, "x", {}), 0.1, 0.0, "max").passed  # unmeasured fails


def test_inference_targets_the_label_unless_sensitive_columns_are_declared(mixed, with_ids):
    report = run_quality(mixed.train, mixed.holdout, with_ids(mixed.pool.iloc[:600]), mixed.codecs, "flag",
                         "classification", checks={"privacy_inference", "privacy_linkability"})
    assert [m.name for m in report.check("privacy_inference").metrics] == ["inference_flag_risk",
                                                                          "inference_flag_holdout_leak_risk"]
    columns = report.check("privacy_linkability").details["linkability_risk"]
    assert "flag" not in columns["columns_a"] + columns["columns_b"]
    declared = QAThresholds(sensitive_columns=["segment", "income"])
    report = run_quality(mixed.train, mixed.holdout, with_ids(mixed.pool.iloc[:600]), mixed.codecs, "flag",
                         "classification", declared, checks={"privacy_inference"})
    names = {m.name for m in report.check("privacy_inference").metrics}
    assert {"inference_segment_risk", "inference_income_risk"} <= names and "inference_flag_risk" not in names
    with pytest.raises(ValueError, match="sensitive_columns"):
        run_quality(mixed.train, mixed.holdout, mixed.pool, mixed.codecs, "flag", "classification",
                    QAThresholds(sensitive_columns=["nope"]))


def test_a_copy_of_the_small_population_fails_the_attacks(mixed, with_ids):
    report = run_quality(mixed.train, mixed.holdout, with_ids(mixed.train), mixed.codecs, "flag", "classification",
                         checks=ATTACKS)
    assert {name.split(":")[0] for name in report.failed} == ATTACKS, _verdict(report)


def test_too_few_singling_out_queries_are_noted_with_the_figure_not_printed(capfd):
    """Three small-category columns allow few distinct queries: anonymeter's warning that the risk may be
    underestimated goes into the metric's details, and nothing reaches the terminal."""
    import pandas as pd

    from synth_pipelines.core.quality.attacks import attack_rows, singling_out
    from synth_pipelines.core.synthesis import fit_codecs

    rng = np.random.default_rng(5)

    def rows(n: int) -> pd.DataFrame:
        return pd.DataFrame({c: rng.choice(["a", "b"], n).astype(object) for c in ("x", "y", "z")})

    train, holdout, synthetic = rows(300), rows(300), rows(300)
    codecs = fit_codecs(train, {"x", "y", "z"})
    metrics = singling_out(attack_rows(train, holdout, synthetic, codecs, attacks=200, synthetic_rows=300, seed=1),
                           columns=3, seed=1)
    notes = metrics[0].details["anonymeter_notes"]
    assert any("could generate only" in note for note in notes), notes
    printed = capfd.readouterr()
    assert "could generate only" not in printed.out + printed.err

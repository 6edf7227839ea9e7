"""QA of rebalanced synthetic rows: the intended shift of one column is not a fidelity failure."""

from __future__ import annotations

import pandas as pd
import pytest

from synth_pipelines.core.quality import QAThresholds, run_quality
from synth_pipelines.core.quality.fidelity import resample_to_proportions
from synth_pipelines.core.quality.report import rebalance_frame, report_html, report_tables
from synth_pipelines.spec import RebalanceSpec

TARGET = RebalanceSpec(column="flag", proportions={0: 0.8, 1: 0.2})  # the real rows have ~65% ones
STRICT = QAThresholds(min_column_similarity=0.9)


def test_resample_to_proportions_draws_real_rows_without_replacement(mixed) -> None:
    reference = resample_to_proportions(mixed.train, "flag", {"0": 0.25, "1": 0.75}, seed=1)
    shares = reference["flag"].value_counts(normalize=True)
    assert shares[1] == pytest.approx(0.75, abs=0.01)
    assert not reference.duplicated().any()  # duplicated real rows would give the discriminator an edge
    assert len(reference) >= (mixed.train["flag"] == 1).sum()  # the largest such sample
    with pytest.raises(ValueError, match=r"\['2'\] do not occur in 'flag'"):
        resample_to_proportions(mixed.train, "flag", {"1": 0.5, "2": 0.5}, seed=1)


@pytest.mark.slow  # two full QA runs (~40 s on 2 shared cores)
def test_qa_judges_rebalanced_rows_against_the_real_rows_at_the_target_shares(mixed, with_ids) -> None:
    # An ideal generator asked for 80/20: more real rows of the same population at those shares.
    synthetic = with_ids(resample_to_proportions(mixed.pool, "flag", TARGET.proportions, seed=3))
    plain = run_quality(mixed.train, mixed.holdout, synthetic, mixed.codecs, "flag", "classification", STRICT)
    rebalanced = run_quality(mixed.train, mixed.holdout, synthetic, mixed.codecs, "flag", "classification", STRICT,
                             rebalance=TARGET)
    # Without knowing about the rebalancing, the label's shift fails fidelity; with it, it does not.
    assert not plain.check("fidelity").passed
    assert plain.check("fidelity").details["column_similarity"]["per_column"]["flag"] < 0.6
    assert rebalanced.check("fidelity").passed
    assert rebalanced.check("fidelity").details["column_similarity"]["per_column"]["flag"] > 0.95
    # Associations are held to the holdout's own at the target shares too (the holdout resampled like the train rows).
    versus = rebalanced.check("fidelity").details["association_vs_holdout"]
    assert versus["value"] is not None and versus["bound"] == "min"
    assert rebalanced.check("fidelity").details["dependence_kept"]["rows_per_draw"] < len(mixed.holdout)
    assert versus["rows_per_draw"] < len(mixed.holdout)
    # Utility is computed as usual (ROC AUC does not depend on the prevalence).
    assert rebalanced.check("utility").value == plain.check("utility").value
    settings = rebalanced.settings["rebalance"]
    assert settings["target_proportions"] == {"0": 0.8, "1": 0.2}
    assert settings["real_proportions"]["1"] == pytest.approx(mixed.train["flag"].mean(), abs=1e-3)
    assert settings["synthetic_proportions"]["1"] == pytest.approx(0.2, abs=0.01)

    assert rebalance_frame(rebalanced).to_dict("records") == [
        {"column": "flag", "value": "0", "real (train)": "0.345", "target": "0.8", "synthetic": "0.8008"},
        {"column": "flag", "value": "1", "real (train)": "0.655", "target": "0.2", "synthetic": "0.1992"}]
    html = report_html(rebalanced, report_tables(rebalanced), {}, synthetic.head())  # no figures: fast
    assert "<h2>Rebalancing</h2>" in html and "target shares of &#x27;flag&#x27;" in html
    assert "<h2>Rebalancing</h2>" not in report_html(plain, report_tables(plain), {}, synthetic.head())


def test_a_shift_of_another_column_still_fails(mixed, with_ids) -> None:
    """Rebalancing flag excuses flag's shift only: a collapsed segment column still fails fidelity."""
    synthetic = resample_to_proportions(mixed.pool, "flag", TARGET.proportions, seed=3)
    synthetic = with_ids(synthetic.assign(segment=pd.Series(["a"] * len(synthetic), dtype=object)))
    report = run_quality(mixed.train, mixed.holdout, synthetic, mixed.codecs, "flag", "classification", STRICT,
                         rebalance=TARGET)
    assert not report.check("fidelity").passed


def test_a_holdout_without_a_rebalanced_value_leaves_association_unmeasured_with_the_reason(mixed, with_ids) -> None:
    synthetic = with_ids(resample_to_proportions(mixed.pool, "flag", TARGET.proportions, seed=3))
    holdout = mixed.holdout[mixed.holdout["flag"] == 0]
    report = run_quality(mixed.train, holdout, synthetic, mixed.codecs, "flag", "classification", checks=["fidelity"],
                         rebalance=TARGET)
    versus = report.check("fidelity").details["association_vs_holdout"]
    assert versus["value"] is None and versus["bound"] == "info"
    assert versus["skipped"].startswith("the holdout cannot be resampled to the rebalanced shares")
    kept = report.check("fidelity").details["dependence_kept"]  # the same holdout, the same reason
    assert kept["value"] is None and kept["skipped"] == versus["skipped"]

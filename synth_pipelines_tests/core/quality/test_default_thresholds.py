"""The default QA thresholds (core/quality/thresholds.py) hold their intent under default settings.

Each gate is fed real rows of the same population that the 'generator' never saw (they pass), and the
same rows with a small dose of the failure the threshold exists for (they fail). A default loosened so
far that the dose slips through (e.g. max_exact_copy_excess 0.01 -> 0.3) fails here, and so does one
tightened so far that fresh real rows are rejected.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from synth_pipelines.core.quality import QAThresholds, run_quality
from synth_pipelines.core.synthesis import fit_codecs


def _mix(fresh: pd.DataFrame, injected: pd.DataFrame, share: float, seed: int = 3) -> pd.DataFrame:
    """`fresh` with `share` of its rows replaced by rows of `injected`."""
    n = round(len(fresh) * share)
    mixed = pd.concat([fresh.iloc[n:], injected.sample(n, random_state=seed)], ignore_index=True)
    return mixed.sample(frac=1, random_state=seed).reset_index(drop=True)


def _failed(mixed_split, synthetic: pd.DataFrame, check: str, with_ids, **thresholds) -> list[str]:
    report = run_quality(mixed_split.train, mixed_split.holdout, with_ids(synthetic), mixed_split.codecs, "flag",
                         "classification", QAThresholds(**thresholds), checks=[check])
    assert [c.name for c in report.checks] == [check]
    return report.failed


def test_defaults_are_the_documented_values():
    """The values the gate calibration (test_gate_calibration) and the README were measured with."""
    t = QAThresholds()
    assert (t.max_exact_copy_excess, t.max_rare_combination_excess, t.max_duplicate_rate_excess) == (0.01, 0.05, 0.05)
    assert (t.min_dcr_share, t.max_dcr_share, t.max_mia_auc) == (0.4, 0.6, 0.6)
    assert (t.min_fidelity, t.min_column_similarity, t.min_association_similarity) == (0.75, 0.8, 0.8)
    assert t.max_association_loss == 0.05
    assert (t.max_discriminator_auc, t.min_utility_ratio) == (0.9, 0.9)
    assert (t.min_category_coverage, t.min_range_coverage, t.max_label_rate_gap) == (0.8, 0.8, 0.1)
    assert (t.range_tolerance, t.min_unexpected_share, t.rare_k) == (0.05, 0.001, 1)
    assert t.advisory_checks == [] and t.protected_columns == []  # every check blocks by default


def test_fresh_rows_pass_the_privacy_and_diversity_gates(mixed, with_ids):
    for check in ("privacy_exact_copies", "privacy_dcr", "privacy_membership_inference", "diversity"):
        assert _failed(mixed, mixed.pool, check, with_ids) == [], check


def test_five_percent_verbatim_train_rows_fail_exact_copies(mixed, with_ids):
    synthetic = _mix(mixed.pool, mixed.train, 0.05)
    assert _failed(mixed, synthetic, "privacy_exact_copies", with_ids) == ["privacy_exact_copies: train_copy_share"]


def test_under_three_percent_verbatim_train_rows_fail_exact_copies_on_300_rows(mixed, with_ids):
    """8 copies in 300 rows (2.7%) against a 1% excess: the gate may widen for the noise of fresh rows,
    never for that of the copies (an error from the observed share let up to 2.9% pass)."""
    synthetic = pd.concat([mixed.pool.iloc[:292], mixed.train.iloc[:8]], ignore_index=True)
    assert _failed(mixed, synthetic, "privacy_exact_copies", with_ids) == ["privacy_exact_copies: train_copy_share"]


def test_five_percent_verbatim_holdout_rows_fail_exact_copies(mixed, with_ids):
    synthetic = _mix(mixed.pool, mixed.holdout, 0.05)
    assert _failed(mixed, synthetic, "privacy_exact_copies", with_ids) == ["privacy_exact_copies: holdout_copy_share"]


def test_a_third_of_rows_on_top_of_train_rows_fails_the_dcr_share(mixed, with_ids):
    # DCR share about 0.5 + 0.35 / 2 = 0.67 > max_dcr_share 0.6.
    synthetic = _mix(mixed.pool, mixed.train, 0.35)
    assert "privacy_dcr: dcr_share" in _failed(mixed, synthetic, "privacy_dcr", with_ids)


def test_a_third_of_rows_on_top_of_holdout_rows_fails_the_dcr_leak_side(mixed, with_ids):
    # DCR share about 0.5 - 0.35 / 2 = 0.33 < min_dcr_share 0.4.
    synthetic = _mix(mixed.pool, mixed.holdout, 0.35)
    assert "privacy_dcr: dcr_share_holdout_leak" in _failed(mixed, synthetic, "privacy_dcr", with_ids)


def test_one_row_repeated_in_ten_percent_of_rows_fails_the_duplicate_rate(mixed, with_ids):
    synthetic = _mix(mixed.pool, pd.concat([mixed.pool.iloc[[0]]] * len(mixed.pool)), 0.10)
    assert "diversity: duplicate_rate" in _failed(mixed, synthetic, "diversity", with_ids)


def test_a_flipped_label_in_a_protected_group_fails_the_label_rate_gap(mixed, with_ids):
    synthetic = mixed.pool.copy()
    in_group = synthetic.segment == "c"  # its real label rate is 1 (population()); "a" and "b" sit near 0.5,
    # where a flip barely moves the rate
    synthetic.loc[in_group, "flag"] = 1 - synthetic.loc[in_group, "flag"]
    assert "bias: max_label_rate_gap" in _failed(mixed, synthetic, "bias", with_ids, protected_columns=["segment"])
    # Fresh rows pass: groups of ~200 real rows give them a raw gap of 0.109, within its sampling noise.
    assert "bias: max_label_rate_gap" not in _failed(mixed, mixed.pool, "bias", with_ids, protected_columns=["segment"])


@pytest.mark.parametrize("column", ["segment", "region"])
def test_a_category_column_collapsed_to_one_value_fails_category_coverage(mixed, with_ids, column):
    synthetic = mixed.pool.copy()
    synthetic[column] = synthetic[column].mode().iloc[0]
    assert "diversity: category_coverage" in _failed(mixed, synthetic, "diversity", with_ids)


def _related_pairs(rows: int, seed: int) -> pd.DataFrame:
    """Four pairs of related numbers (correlation 0.6) and a class that follows the first: relations a few
    column pairs hold, as on many real tables."""
    rng = np.random.default_rng(seed)
    columns = {}
    for i in range(4):
        base = rng.normal(size=rows)
        columns[f"x{i}"], columns[f"y{i}"] = base, 0.6 * base + 0.8 * rng.normal(size=rows)
    columns["group"] = np.where(columns["x0"] + rng.normal(size=rows) > 0, "high", "low")
    return pd.DataFrame(columns)


def test_columns_shuffled_apart_fail_association_against_the_holdout_under_the_fixed_caps(with_ids):
    """Every marginal kept, every relation gone: the fixed caps (association similarity 0.80, discriminator 0.90)
    let it through, since most column pairs relate weakly in real rows too; the holdout's own similarity,
    0.05 below which the synthetic rows may not fall, does not."""
    rows = _related_pairs(2400, seed=0)
    train, holdout, fresh = (rows.iloc[i:i + 600].reset_index(drop=True) for i in (0, 600, 1200))
    codecs = fit_codecs(train, categorical={"group"})

    assert run_quality(train, holdout, with_ids(fresh), codecs, "group", "classification", checks=["fidelity"]).passed
    shuffled = pd.DataFrame({c: fresh[c].sample(frac=1, random_state=i).to_numpy() for i, c in enumerate(fresh)})
    report = run_quality(train, holdout, with_ids(shuffled), codecs, "group", "classification", checks=["fidelity"])
    assert report.failed == ["fidelity: association_vs_holdout", "fidelity: dependence_kept"]  # chance-adjusted too
    assert "column pairs whose PhiK association the synthetic rows miss most" in report.check("fidelity").summary
    # The five related pairs, each of them lost: not pairs whose PhiK the holdout misses as much.
    lost = next(m for m in report.check("fidelity").metrics if m.name == "association_vs_holdout").details["lost_pairs"]
    assert set(lost) == {"x0 ~ group", *(f"x{i} ~ y{i}" for i in range(4))}

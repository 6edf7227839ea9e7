"""dependence_kept: the share of the train rows' pairwise dependence the synthetic rows keep, next to the holdout's."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from synth_pipelines.core.quality import run_quality
from synth_pipelines.core.quality.dependence import dependence_kept, train_pattern
from synth_pipelines.core.synthesis import fit_codecs


def survey(n: int, seed: int) -> pd.DataFrame:
    """A small survey whose columns relate weakly, as many real ones do: age and children, schooling and
    income, income and the label, each a modest dependence among noise."""
    rng = np.random.default_rng(seed)
    age = rng.integers(20, 65, n)
    children = np.clip(rng.poisson(np.where(age < 35, 2.2, 0.3)), 0, 4)
    schooling = rng.integers(8, 18, n)
    income = np.round(rng.lognormal(10 + 0.15 * (schooling - 12), 0.4, n), 2)
    works = rng.random(n) < 1 / (1 + np.exp(-2.2 * (np.log(income) - 10) + 0.8 * children))
    return pd.DataFrame({"age": age, "children": children, "schooling": schooling, "income": income,
                         "region": rng.choice(["north", "south", "east", "west"], n).astype(object),
                         "works": np.where(works, "yes", "no").astype(object)})


def shuffled(frame: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({c: frame[c].sample(frac=1, random_state=i).to_numpy() for i, c in enumerate(frame.columns)})


@pytest.fixture(scope="module")
def parts():
    train, holdout, fresh = survey(400, 1), survey(200, 2), survey(400, 3)
    return train, holdout, fresh, fit_codecs(train, {"region", "works"})


def test_fresh_rows_keep_the_holdouts_dependence_and_shuffled_columns_keep_none(parts):
    train, holdout, fresh, codecs = parts
    real = dependence_kept(train, holdout, fresh, codecs, rows=10_000, seed=0)
    independent = dependence_kept(train, holdout, shuffled(fresh), codecs, rows=10_000, seed=0)
    error = real.details["standard_error"]  # the holdout's: the same for both
    assert abs(real.value - 1) < 3 * error < 0.5  # within chance of the holdout's own, and chance is resolved
    assert abs(independent.value) < 0.1 and independent.details["standard_error"] == error
    assert real.details["pattern_pairs"] >= 5 and len(real.details["least_kept_pairs"]) == 5


def test_the_gate_rejects_shuffled_columns_that_the_association_similarity_lets_through(parts):
    """PhiK's noise floor on 200 rows reads the shuffled columns as related nearly as much as real ones: the
    association similarity stays within its tolerance of the holdout's. The chance-adjusted measure does not."""
    train, holdout, fresh, codecs = parts

    def judged(rows: pd.DataFrame):
        rows = rows.reset_index(drop=True).assign(synthetic_id=[f"s{i}" for i in range(len(rows))])
        return run_quality(train, holdout, rows, codecs, "works", "classification", checks=["fidelity"])

    fresh_report, shuffled_report = judged(fresh), judged(shuffled(fresh))
    assert fresh_report.passed, fresh_report.failed
    assert "fidelity: association_vs_holdout" not in shuffled_report.failed
    assert "fidelity: dependence_kept" in shuffled_report.failed
    metric = next(m for c in shuffled_report.checks for m in c.metrics if m.name == "dependence_kept")
    assert metric.hint.startswith("(pairs kept least") and metric.threshold == 0.25


def test_columns_that_depend_on_nothing_leave_it_unmeasured():
    rng = np.random.default_rng(0)
    noise = pd.DataFrame({"a": rng.normal(size=600), "b": rng.choice(["x", "y"], 600).astype(object)})
    codecs = fit_codecs(noise, {"b"})
    metric = dependence_kept(noise[:300], noise[300:450], noise[450:], codecs, rows=10_000, seed=0)
    assert metric.value is None and "depend" in metric.details["skipped"]


def test_on_a_small_holdout_the_threshold_widens_and_real_rows_still_pass():
    """150 holdout rows of the weakly related survey: the holdout's own share is uncertain, so the gate sits 3
    of its standard errors under 1 when that is lower than min_dependence_kept; fresh rows pass it."""
    train, holdout, fresh = survey(300, 4), survey(60, 5), survey(300, 6)
    codecs = fit_codecs(train, {"region", "works"})
    rows = fresh.assign(synthetic_id=[f"s{i}" for i in range(len(fresh))])
    report = run_quality(train, holdout, rows, codecs, "works", "classification", checks=["fidelity"])
    metric = next(m for c in report.checks for m in c.metrics if m.name == "dependence_kept")
    assert metric.threshold == pytest.approx(1 - 3 * metric.details["standard_error"]) and metric.threshold < 0.25
    assert metric.passed and "standard error" in metric.details["threshold_rule"]


def test_missing_values_carry_dependence_as_a_value_of_their_own():
    """A column missing exactly where another reads 'manual' (a form field left empty by one kind of
    applicant): real rows keep that dependence, rows whose missing cells moved elsewhere do not."""
    def rows(n: int, seed: int) -> pd.DataFrame:
        rng = np.random.default_rng(seed)
        kind = rng.choice(["manual", "online"], n, p=[0.3, 0.7]).astype(object)
        score = np.where(kind == "manual", np.nan, rng.normal(600, 50, n))
        return pd.DataFrame({"kind": kind, "score": score, "noise": rng.integers(0, 5, n)})

    train, holdout, fresh = rows(400, 1), rows(200, 2), rows(400, 3)
    codecs = fit_codecs(train, {"kind"})
    moved = fresh.assign(score=fresh["score"].sample(frac=1, random_state=0).to_numpy())
    assert dependence_kept(train, holdout, fresh, codecs, rows=10_000, seed=0).value == pytest.approx(1, abs=0.1)
    assert dependence_kept(train, holdout, moved, codecs, rows=10_000, seed=0).value < 0.1


def test_a_real_pair_of_few_values_outranks_many_valued_columns_of_noise():
    """Two columns of 20 values each share mutual information by chance on 300 rows (its plug-in estimate is
    biased up by (levels - 1)^2 / 2n): the shortlist corrects for it, so the pattern starts at the real pair."""
    rng = np.random.default_rng(1)
    x = rng.random(300) < 0.5
    frame = pd.DataFrame({f"c{i}": rng.choice([f"v{j}" for j in range(20)], 300).astype(object) for i in range(14)})
    frame["x"] = np.where(x, "a", "b").astype(object)
    frame["y"] = np.where(rng.random(300) < 0.75, frame["x"], np.where(x, "b", "a")).astype(object)
    pattern = train_pattern(frame, fit_codecs(frame, set(frame.columns)))
    assert pattern.pairs[0] == ("x", "y") and pattern.strength[0] > 3 * pattern.strength[1]


def test_whole_numbers_match_whatever_their_dtype_and_a_holdout_that_keeps_nothing_leaves_it_unmeasured(parts):
    """A category of counts read back as floats (2.0 for 2: a column with a missing cell, a CSV) is the same
    value; and a holdout that keeps no more of the pattern than chance cannot say what the synthetic rows lost."""
    train, holdout, fresh, codecs = parts
    as_int = dependence_kept(train, holdout, fresh, codecs, rows=10_000, seed=0)
    as_float = dependence_kept(train, holdout, fresh.astype({"children": float}), codecs, rows=10_000, seed=0)
    assert as_float.value == pytest.approx(as_int.value)
    unrelated = dependence_kept(train, shuffled(holdout), fresh, codecs, rows=10_000, seed=0)
    assert unrelated.value is None and "never saw" in unrelated.details["skipped"]

"""dependence_kept: the share of the train rows' pairwise dependence the synthetic rows keep, next to the holdout's."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from synth_pipelines.core.quality import run_quality
from synth_pipelines.core.quality.dependence import dependence_kept
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

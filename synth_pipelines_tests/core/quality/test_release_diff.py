"""core/quality/release_diff.py on real tables: two releases drawn from the same rows show no moved
column; a planted change of one column's distribution (a scale change, a shifted category mix, a
missing share) is found, named first and fails the gate; schema changes and QA figures are listed."""

import numpy as np
import pytest

from synth_pipelines.core.quality.release_diff import compare_releases, qa_side_by_side
from synth_pipelines_tests.real_tables import SUITE, load_table, require_shared_data

MAX_DRIFT = 0.05  # the default qa.max_release_drift


@pytest.fixture(scope="module", params=["adult", SUITE[0], SUITE[3]])
def halves(request):
    """Two disjoint random halves of a real table: releases of a perfect, unchanged generator."""
    require_shared_data()
    frame = load_table(request.param).frame
    shuffled = frame.sample(frac=1.0, random_state=3).reset_index(drop=True)
    middle = len(shuffled) // 2
    return shuffled.iloc[:middle].reset_index(drop=True), shuffled.iloc[middle:].reset_index(drop=True)


def test_two_draws_of_the_same_rows_move_no_column(halves):
    before, after = halves
    diff = compare_releases(before, after, before_name="a", after_name="b")
    assert diff.columns, "nothing was compared"
    assert diff.moved(MAX_DRIFT) == [], [c for c in diff.columns[:3]]
    assert diff.metric(MAX_DRIFT).passed
    assert "row_id" not in {c.name for c in diff.columns}  # a unique id is not a distribution
    assert diff.association_change is not None and diff.association_change < 0.1  # reported, not gated: PhiK on 5k rows is noisy


def _numeric_and_category(frame):
    numeric = next(c for c in frame.columns if c != "row_id" and frame[c].dtype.kind in "if" and frame[c].nunique() > 20)
    category = next(c for c in frame.columns if frame[c].dtype == object and 2 <= frame[c].nunique() <= 50)
    return numeric, category


def test_a_planted_change_of_one_column_is_found_and_named_first(halves):
    before, after = halves
    numeric, category = _numeric_and_category(before)
    for planted, column in ((after.assign(**{numeric: after[numeric] * 1.3 + after[numeric].std()}), numeric),
                            (after.assign(**{category: np.where(np.arange(len(after)) % 3 == 0,
                                                                after[category].mode()[0], after[category])}), category),
                            (after.assign(**{numeric: after[numeric].mask(np.arange(len(after)) % 5 == 0)}), numeric)):
        diff = compare_releases(before, planted, before_name="a", after_name="b")
        assert diff.columns[0].name == column, diff.columns[:3]
        assert [c.name for c in diff.moved(MAX_DRIFT)] == [column]
        metric = diff.metric(MAX_DRIFT)
        assert not metric.passed and column in metric.hint


def test_schema_changes_and_qa_figures_are_listed():
    import pandas as pd

    before = pd.DataFrame({"a": range(100), "b": ["x", "y"] * 50})
    after = pd.DataFrame({"a": [float(v) for v in range(100)], "c": range(100)})
    diff = compare_releases(before, after, before_name="v1", after_name="v2")
    assert (diff.added_columns, diff.removed_columns) == (["c"], ["b"])
    assert diff.type_changes == {"a": ("int64", "float64")}
    manifest = lambda value: {"qa": {"checks": [{"name": "utility", "metrics": [
        {"name": "tstr_trtr_ratio", "value": value, "bound": "min"}, {"name": "tstr", "value": 0.8, "bound": "info"}]}]}}
    assert qa_side_by_side(manifest(0.95), manifest(0.9)) == [
        {"check": "utility", "metric": "tstr_trtr_ratio", "before": 0.95, "after": 0.9, "change": -0.05}]

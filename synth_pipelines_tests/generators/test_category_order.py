"""A text category's levels ordered for a tree's threshold splits, as CART orders them."""

import numpy as np
import pytest

from synth_pipelines.generators.category_order import category_order


def test_levels_are_ordered_by_the_mean_of_the_predicted_number():
    column = np.repeat([0.0, 1.0, 2.0, 3.0], 50)
    target = np.repeat([5.0, -1.0, 9.0, 2.0], 50)
    order = category_order(column, target, categorical_target=False, min_rows=20)
    assert order.apply(np.array([0.0, 1.0, 2.0, 3.0])).tolist() == [2, 0, 3, 1]


def test_a_level_fewer_rows_than_a_leaf_hold_sits_at_the_overall_mean_in_code_order():
    # Levels 1 and 3 hold 5 rows each: their means (-100, 100) are those rows' own values, not used.
    column = np.r_[np.zeros(50), np.ones(5), np.full(50, 2.0), np.full(5, 3.0)]
    target = np.r_[np.full(50, -1.0), np.full(5, -100.0), np.full(50, 1.0), np.full(5, 100.0)]
    order = category_order(column, target, categorical_target=False, min_rows=20)
    assert order.apply(np.array([0.0, 1.0, 2.0, 3.0])).tolist() == [0, 1, 3, 2]


def test_levels_of_a_class_target_follow_the_main_direction_of_their_class_shares():
    # Three classes; the levels' shares move from class a to class c, in another order than their codes.
    shares = {0.0: [0.1, 0.1, 0.8], 1.0: [0.8, 0.1, 0.1], 2.0: [0.4, 0.2, 0.4], 3.0: [0.6, 0.2, 0.2]}
    rng = np.random.default_rng(0)
    column = np.repeat(list(shares), 400)
    target = np.concatenate([rng.choice(list("abc"), 400, p=p) for p in shares.values()])
    ranks = category_order(column, target, categorical_target=True, min_rows=20).apply(np.array(list(shares)))
    assert ranks.tolist() in ([3, 0, 2, 1], [0, 3, 1, 2])  # a principal direction has no sign


@pytest.mark.parametrize("value, nearest", [(-5.0, 0.0), (1.4, 1.0), (1.6, 2.0), (9.0, 2.0)])
def test_a_value_training_never_saw_takes_the_nearest_levels_rank(value, nearest):
    column, target = np.repeat([0.0, 1.0, 2.0], 30), np.repeat([3.0, 1.0, 2.0], 30)
    order = category_order(column, target, categorical_target=False, min_rows=10)
    assert order.apply(np.array([value])) == order.apply(np.array([nearest]))

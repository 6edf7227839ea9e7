"""Cross-table QA (core/quality/multitable.py) on the tiny customers -> accounts -> payments family."""

from __future__ import annotations

import pandas as pd
import pytest

from synth_pipelines.core.multitable import generate_tables, plan_tables, split_families, train_tables
from synth_pipelines.core.quality.multitable import (children_per_parent_tvd, count_tvd, family_view,
                                                     joined_with_parent, referential_integrity,
                                                     run_multitable_quality)
from synth_pipelines_tests.core.multitable_fixture import SPECS, family_tables

PLANS = plan_tables(SPECS)


@pytest.fixture(scope="module")
def family_run():
    train, holdout = split_families(family_tables(), PLANS, 0.2, seed=0)
    synthetic = generate_tables(train_tables(train, PLANS, {"min_samples_leaf": 10}, seed=0), 240, seed=0)
    return train, holdout, synthetic, run_multitable_quality(train, holdout, synthetic, PLANS, label="segment")


def test_every_table_and_the_families_are_judged(family_run) -> None:
    *_, quality = family_run
    assert set(quality.tables) == {"customers", "accounts", "payments"}  # the lookup is copied, not judged
    assert "utility" in [c.name for c in quality.tables["customers"].checks]
    assert "utility" not in [c.name for c in quality.tables["accounts"].checks]
    assert quality.tables["accounts"].check("great_expectations").passed  # the parent key is no stray column
    family_checks = {c.name for c in quality.families.checks}
    assert family_checks == {"utility", "privacy_dcr", "privacy_exact_copies", "privacy_membership_inference"}
    assert quality.families.check("utility").value > 0.9  # segment is plain in the account counts and balances


def test_cross_table_checks_pass_on_the_generated_family(family_run) -> None:
    *_, quality = family_run
    assert quality.cross_tables.check("referential_integrity").value == 1.0
    associations = quality.cross_tables.check("parent_child_association")
    assert {m.name for m in associations.metrics} == {"parent_child_association.accounts",
                                                      "parent_child_association.payments"}
    assert associations.passed
    tvd = {m.name: m.value for m in quality.cross_tables.check("children_per_parent").metrics}
    assert tvd["children_per_parent_tvd.accounts"] < 0.1


def test_a_dangling_key_fails_referential_integrity(family_run) -> None:
    _, _, synthetic, _ = family_run
    broken = dict(synthetic)
    broken["payments"] = synthetic["payments"].assign(account_id=lambda f: f.account_id.where(f.index > 0, -1))
    metric = referential_integrity(broken, PLANS)
    assert not metric.passed and metric.details["unresolved"] == {"payments.account_id": 1}
    broken["accounts"] = synthetic["accounts"].assign(branch_id=99)
    assert "accounts.branch_id" in referential_integrity(broken, PLANS).details["unresolved"]


def test_children_per_parent_distance() -> None:
    assert count_tvd(pd.Series([0, 1, 1, 2]), pd.Series([0, 1, 1, 2] * 3)) == 0
    assert count_tvd(pd.Series([0, 0, 1, 1]), pd.Series([1, 1, 1, 1])) == pytest.approx(0.5)
    tables = family_tables()
    childless = {**tables, "accounts": tables["accounts"].iloc[:0]}
    metric = children_per_parent_tvd(tables, childless, PLANS, "accounts")
    assert not metric.passed and metric.details["synthetic_zero_share"] == 1.0


def test_family_view_aggregates_children_and_grandchildren() -> None:
    tables = family_tables(customers=50)
    view = family_view(tables, PLANS)
    assert len(view) == 50 and view.customer_id.is_unique
    assert view.accounts__rows.sum() == len(tables["accounts"])
    assert view.payments__rows.sum() == len(tables["payments"])
    first = tables["accounts"][tables["accounts"].customer_id == view.customer_id[view.accounts__rows > 0].iloc[0]]
    row = view.set_index("customer_id").loc[first.customer_id.iloc[0]]
    assert row.accounts__mean_balance == pytest.approx(first.balance.mean())


def test_the_parent_join_holds_columns_not_keys() -> None:
    tables = family_tables(customers=50)
    joined = joined_with_parent(tables, PLANS, "accounts")
    own = [c for c in tables["accounts"].columns if c not in ("account_id", "customer_id")]
    assert list(joined.columns) == [*own, "parent__segment", "parent__age"]  # no key, under any name
    first = tables["accounts"].iloc[0]
    parent = tables["customers"].set_index("customer_id").loc[first.customer_id]
    assert joined.parent__age.iloc[0] == parent.age

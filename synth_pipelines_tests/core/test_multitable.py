"""Multi-table generation (core/multitable.py) on a tiny customers -> accounts -> payments family."""

from __future__ import annotations

import pandas as pd
import pytest

from synth_pipelines.core.multitable import families_of, generate_tables, plan_tables, split_families, train_tables
from synth_pipelines_tests.core.multitable_fixture import SPECS, family_tables


@pytest.fixture(scope="module")
def generated() -> tuple[dict[str, pd.DataFrame], dict[str, pd.DataFrame], dict[str, pd.DataFrame]]:
    frames = family_tables()
    plans = plan_tables(SPECS)
    train, holdout = split_families(frames, plans, 0.2, seed=0)
    model = train_tables(train, plans, {"min_samples_leaf": 10}, seed=0)
    return train, holdout, generate_tables(model, root_rows=240, seed=0)


def test_plan_walks_root_first_and_finds_lookup_keys() -> None:
    plans = plan_tables(SPECS)
    assert list(plans) == ["customers", "accounts", "payments", "branches"]
    assert plans["accounts"].parent == "customers" and plans["accounts"].parent_key == "customer_id"
    assert plans["accounts"].lookup_keys == {"branch_id": "branches"}
    assert plans["customers"].children == ("accounts",)


def test_a_family_stays_on_one_side_of_the_split() -> None:
    frames = family_tables()
    train, holdout = split_families(frames, plan_tables(SPECS), 0.2, seed=0)
    assert 0.1 < len(holdout["customers"]) / len(frames["customers"]) < 0.3
    assert set(train["accounts"].customer_id) <= set(train["customers"].customer_id)
    assert set(holdout["accounts"].customer_id) <= set(holdout["customers"].customer_id)
    assert set(holdout["payments"].account_id) <= set(holdout["accounts"].account_id)
    assert len(train["payments"]) + len(holdout["payments"]) == len(frames["payments"])


def test_every_key_is_new_and_every_foreign_key_resolves(generated) -> None:
    train, _, synthetic = generated
    assert len(synthetic["customers"]) == 240
    assert synthetic["customers"].customer_id.is_unique and synthetic["accounts"].account_id.is_unique
    assert synthetic["accounts"].customer_id.isin(synthetic["customers"].customer_id).all()
    assert synthetic["payments"].account_id.isin(synthetic["accounts"].account_id).all()
    assert synthetic["accounts"].branch_id.isin([1, 2, 3, 4, 5]).all()
    assert synthetic["branches"].equals(train["branches"])
    assert not set(synthetic["customers"].customer_id) & set(train["customers"].customer_id)  # 1..n, real from 10000
    assert list(synthetic["accounts"].columns) == list(train["accounts"].columns)


def test_children_follow_their_parent(generated) -> None:
    _, _, synthetic = generated
    counts = synthetic["accounts"].groupby("customer_id").size()
    customers = synthetic["customers"].set_index("customer_id")
    per_segment = counts.reindex(customers.index, fill_value=0).groupby(customers.segment).mean()
    assert per_segment["A"] > 2.0 and per_segment["B"] < 0.8  # real: 2.5 and 0.5
    balance = synthetic["accounts"].join(customers, on="customer_id").groupby("segment").balance.mean()
    assert balance["A"] > 4000 and balance["B"] < 2000  # real: 5000 and 1000


def test_sequences_are_in_order_within_their_parent(generated) -> None:
    _, _, synthetic = generated
    accounts = synthetic["accounts"]
    in_order = accounts.groupby("customer_id").opened.apply(lambda s: s.is_monotonic_increasing)
    assert in_order.all()
    assert accounts.account_id.is_monotonic_increasing


def test_same_seed_same_tables() -> None:
    frames = family_tables(customers=80)
    plans = plan_tables(SPECS)
    model = train_tables(frames, plans, {"min_samples_leaf": 10}, seed=3)
    first, second = generate_tables(model, 50, seed=1), generate_tables(model, 50, seed=1)
    assert all(first[name].equals(second[name]) for name in first)
    assert not generate_tables(model, 50, seed=2)["accounts"].equals(first["accounts"])


def test_a_rare_label_class_keeps_its_families() -> None:
    """45 segment-A roots (2-3 accounts of ~5000 each) among ~400 B ones (0-1 of ~1000), leaves of 120
    rows: shared trees cannot isolate A, so its families look like B's; with the label given, each class's
    families come from models of their own."""
    frames = family_tables(customers=800, seed=1)
    people = frames["customers"]
    rare = people[people.segment == "A"].customer_id.to_numpy()[:45]
    plans = plan_tables(SPECS)
    frames = families_of(frames, plans, ((people.segment == "B") | people.customer_id.isin(rare)).to_numpy())
    train, _ = split_families(frames, plans, 0.0, seed=0)

    def families(label: str | None) -> tuple[dict[str, pd.DataFrame], pd.Series, pd.Series]:
        model = train_tables(train, plans, {"min_samples_leaf": 120}, seed=0, label=label)
        synthetic = generate_tables(model, root_rows=len(train["customers"]), seed=0)
        customers, accounts = synthetic["customers"], synthetic["accounts"]
        counts = customers.customer_id.map(accounts.customer_id.value_counts()).fillna(0).groupby(customers.segment)
        balance = accounts.merge(customers, on="customer_id").groupby("segment").balance.mean()
        return synthetic, counts.agg(["min", "mean", "max"]), balance

    synthetic, counts, balance = families("segment")
    customers, accounts = synthetic["customers"], synthetic["accounts"]
    assert customers.customer_id.is_unique and accounts.account_id.is_unique
    assert synthetic["payments"].payment_id.is_unique
    assert accounts.customer_id.isin(customers.customer_id).all()
    assert synthetic["payments"].account_id.isin(accounts.account_id).all()
    assert abs((customers.segment == "A").mean() - (train["customers"].segment == "A").mean()) < 0.05
    assert counts.loc["A", "min"] >= 2 and counts.loc["B", "max"] <= 1
    assert balance["A"] > 4000 and balance["B"] < 1500

    _, pooled_counts, pooled_balance = families(None)  # the label one column among the others
    assert pooled_counts.loc["A", "mean"] < 1.5 and pooled_balance["A"] < 4000

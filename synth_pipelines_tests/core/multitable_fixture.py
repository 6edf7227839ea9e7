"""A tiny two-level family of tables (customers -> accounts -> payments, a branches lookup) whose
children depend on their parent: segment A customers have 2-3 accounts with high balances, B ones 0-1."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

from synth_pipelines.spec import SynthesizedTableSpec

# `tables:` over the demo bank source (core/demo_source.py): customers -> accounts -> loans, branches lookup.
DEMO_TABLES = {
    "customers": {"primary_key": "customer_id", "label": "home_ownership",
                  "sql": "SELECT customer_id, gender, education, annual_income, credit_score, home_ownership "
                         "FROM customers"},
    "accounts": {"primary_key": "account_id", "order_by": "opened_date",
                 "foreign_keys": {"customer_id": "customers.customer_id", "branch_id": "branches.branch_id"}},
    "loans": {"primary_key": "loan_id", "foreign_keys": {"account_id": "accounts.account_id"},
              "sql": "SELECT loan_id, account_id, amount, term_months, purpose FROM loans"},
    "branches": {"primary_key": "branch_id", "lookup": True},
}

SPECS = {
    "customers": SynthesizedTableSpec(primary_key="customer_id", label="segment"),
    "accounts": SynthesizedTableSpec(primary_key="account_id", order_by="opened",
                                     foreign_keys={"customer_id": "customers.customer_id",
                                                   "branch_id": "branches.branch_id"}),
    "payments": SynthesizedTableSpec(primary_key="payment_id", foreign_keys={"account_id": "accounts.account_id"}),
    "branches": SynthesizedTableSpec(primary_key="branch_id", lookup=True),
}


def family_tables(customers: int = 300, seed: int = 0) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    segment = rng.choice(["A", "B"], customers)
    people = pd.DataFrame({"customer_id": np.arange(10_000, 10_000 + customers), "segment": segment,
                           "age": rng.integers(20, 80, customers)})
    counts = np.where(segment == "A", rng.integers(2, 4, customers), rng.integers(0, 2, customers))
    owner = np.repeat(people["customer_id"].to_numpy(), counts)
    owner_segment = np.repeat(segment, counts)
    n = len(owner)
    accounts = pd.DataFrame({
        "account_id": np.arange(5000, 5000 + n), "customer_id": owner,
        "branch_id": rng.choice([1, 2, 3, 4, 5], n),
        "opened": [date(2020, 1, 1) + timedelta(days=int(d)) for d in rng.integers(0, 1000, n)],
        "balance": np.round(np.where(owner_segment == "A", rng.normal(5000, 500, n), rng.normal(1000, 200, n)), 2)})
    pay_counts = rng.integers(0, 4, n)
    payments = pd.DataFrame({
        "payment_id": np.arange(1, pay_counts.sum() + 1),
        "account_id": np.repeat(accounts["account_id"].to_numpy(), pay_counts),
        "amount": np.round(np.repeat(accounts["balance"].to_numpy(), pay_counts) / 10
                           + rng.normal(0, 20, pay_counts.sum()), 2)})
    branches = pd.DataFrame({"branch_id": [1, 2, 3, 4, 5], "city": ["a", "b", "c", "d", "e"]})
    return {"customers": people, "accounts": accounts, "payments": payments, "branches": branches}

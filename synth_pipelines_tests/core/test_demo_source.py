"""The embedded demo source: deterministic, with real structure, and a consistent SQLite database."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from synth_pipelines.core.demo_source import DEFAULT_SEED, build_demo_database, demo_tables

TABLES = ["branches", "products", "customers", "accounts", "loans"]
FOREIGN_KEYS = [("accounts", "customer_id", "customers"), ("accounts", "branch_id", "branches"),
                ("loans", "account_id", "accounts"), ("loans", "product_id", "products")]


@pytest.fixture(scope="module")
def tables() -> dict[str, pd.DataFrame]:
    return demo_tables()  # the shipped size: 4,000 customers


def test_same_seed_same_rows_other_seed_other_rows() -> None:
    first, again = demo_tables(300, seed=1), demo_tables(300, seed=1)
    other = demo_tables(300, seed=2)
    for name in TABLES:
        pd.testing.assert_frame_equal(first[name], again[name])
    pd.testing.assert_frame_equal(demo_tables(300)["loans"], demo_tables(300, seed=DEFAULT_SEED)["loans"])
    assert not first["customers"].equals(other["customers"])
    assert not first["loans"].equals(other["loans"])
    assert first["customers"].full_name.tolist() != other["customers"].full_name.tolist()
    assert not np.allclose(first["customers"].annual_income, other["customers"].annual_income)


def test_sizes_and_keys(tables: dict[str, pd.DataFrame]) -> None:
    assert {name: len(frame) for name, frame in tables.items()} == {
        "branches": 12, "products": 5, "customers": 4000, "accounts": 5000, "loans": 4800}
    for name, key in [("branches", "branch_id"), ("products", "product_id"), ("customers", "customer_id"),
                      ("accounts", "account_id"), ("loans", "loan_id")]:
        assert tables[name][key].is_unique, name
    assert tables["customers"].email.is_unique
    # Every customer has at least one account.
    assert set(tables["accounts"].customer_id) == set(tables["customers"].customer_id)


def test_income_and_credit_score_are_related(tables: dict[str, pd.DataFrame]) -> None:
    customers = tables["customers"]
    assert (customers.annual_income > 0).all()
    assert customers.credit_score.between(300, 850).all()
    corr = np.corrcoef(np.log(customers.annual_income), customers.credit_score)[0, 1]
    assert corr > 0.3
    by_education = customers.groupby("education").annual_income.median()
    assert by_education["doctorate"] > by_education["secondary"]


def test_missing_values_where_they_belong(tables: dict[str, pd.DataFrame]) -> None:
    customers = tables["customers"]
    status = customers.employment_status
    not_working = status.isin(["unemployed", "retired"])
    assert not_working.sum() > 100
    assert customers.loc[not_working, "years_employed"].isna().all()
    working = status.isin(["employed", "self_employed"])
    assert customers.loc[working, "years_employed"].notna().all()
    assert (customers.loc[working, "years_employed"] >= 0).all()
    # A status left blank on the form: some, but few.
    missing_share = status.isna().mean()
    assert 0.01 < missing_share < 0.06
    assert customers.loc[status.isna(), "years_employed"].isna().all()
    for column in ("full_name", "email", "phone", "date_of_birth", "annual_income", "credit_score"):
        assert customers[column].notna().all(), column


def _loan_frame(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    loans = tables["loans"].merge(tables["accounts"][["account_id", "customer_id"]], on="account_id")
    loans = loans.merge(tables["customers"][["customer_id", "annual_income"]], on="customer_id")
    monthly_rate = loans.interest_rate / 12
    payment = loans.amount * monthly_rate / (1 - (1 + monthly_rate) ** (-loans.term_months))
    return loans.assign(dti=payment * 12 / np.maximum(loans.annual_income, 1000))


def test_default_rate_and_its_dependence_on_debt_to_income(tables: dict[str, pd.DataFrame]) -> None:
    loans = _loan_frame(tables)
    assert len(loans) == len(tables["loans"])
    assert set(loans.defaulted.unique()) == {0, 1}
    assert 0.1 < loans.defaulted.mean() < 0.4
    low, high = loans.dti.quantile([0.25, 0.75])
    bottom = loans.loc[loans.dti <= low, "defaulted"].mean()
    top = loans.loc[loans.dti >= high, "defaulted"].mean()
    assert top > bottom + 0.05
    # Credit score matters as well: the lowest scores default more than the highest.
    scores = tables["customers"].set_index("customer_id").credit_score
    loan_scores = loans.customer_id.map(scores)
    assert (loans.loc[loan_scores <= loan_scores.quantile(0.25), "defaulted"].mean()
            > loans.loc[loan_scores >= loan_scores.quantile(0.75), "defaulted"].mean())


def test_post_outcome_fields_only_on_defaulted_loans(tables: dict[str, pd.DataFrame]) -> None:
    loans = tables["loans"]
    defaulted = loans.defaulted == 1
    assert (loans.collection_date.notna() == defaulted).all()
    assert (loans.written_off_amount.notna() == defaulted).all()
    assert (loans.recovery_agent.notna() == defaulted).all()
    hit = loans[defaulted]
    assert (hit.collection_date > hit.application_date).all()
    assert ((hit.written_off_amount > 0) & (hit.written_off_amount <= hit.amount)).all()


def test_build_demo_database_is_complete_and_consistent(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "demo.sqlite"
    path.parent.mkdir()
    path.write_text("an older file to replace")
    assert build_demo_database(path, n_customers=400, seed=3) == path
    assert sorted(p.name for p in path.parent.iterdir()) == ["demo.sqlite"]  # no .tmp left
    expected = demo_tables(400, seed=3)
    with sqlite3.connect(path) as conn:
        counts = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}
        assert counts == {name: len(expected[name]) for name in TABLES}
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        for child, column, parent in FOREIGN_KEYS:
            # Every foreign key column has the name of the parent's primary key.
            orphans = conn.execute(
                f"SELECT count(*) FROM {child} c LEFT JOIN {parent} p ON p.{column} = c.{column} "
                f"WHERE p.{column} IS NULL").fetchone()[0]
            assert orphans == 0, (child, column)
        declared = {(t, row[3], row[2]) for t in ("accounts", "loans")
                    for row in conn.execute(f"PRAGMA foreign_key_list({t})")}
        assert declared == set(FOREIGN_KEYS)
        # NULLs are real NULLs (not 'nan' or 'None' text), dates are ISO dates.
        assert conn.execute("SELECT count(*) FROM customers WHERE years_employed IS NULL").fetchone()[0] == \
            expected["customers"].years_employed.isna().sum()
        assert conn.execute("SELECT count(*) FROM loans WHERE collection_date IS NOT NULL").fetchone()[0] == \
            expected["loans"].defaulted.sum()
        assert conn.execute("SELECT count(*) FROM customers WHERE employment_status IN ('nan', 'None')").fetchone()[0] == 0
        dob = conn.execute("SELECT date_of_birth FROM customers ORDER BY customer_id LIMIT 1").fetchone()[0]
        assert dob == expected["customers"].date_of_birth.iloc[0].isoformat()
        income = conn.execute("SELECT annual_income FROM customers ORDER BY customer_id").fetchall()
        np.testing.assert_array_equal([r[0] for r in income], expected["customers"].annual_income.to_numpy())

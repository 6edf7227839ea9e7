"""The embedded demo source: a small retail-bank database in SQLite, deterministic from a seed.

Tables: branches and products (lookup tables), customers, accounts, loans. The structure is there
on purpose so QA figures mean something: income is log-normal and rises with age and education,
credit score follows income and employment, loan amounts follow income and product, the default
label depends on debt-to-income, credit score, rate and employment, and some fields are missing
(unemployed customers have no `years_employed`). Loans also carry post-outcome fields
(collection_date, written_off_amount, recovery_agent) that a training view must never see.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from faker import Faker
from sqlalchemy import (Column, Date, DateTime, Float, ForeignKey, Integer, MetaData, String, Table,
                        create_engine)

DEFAULT_SEED = 20261124
REGIONS = ["North", "South", "East", "West", "Central"]


def _schema() -> MetaData:
    md = MetaData()
    Table("branches", md,
          Column("branch_id", Integer, primary_key=True),
          Column("branch_name", String(60), nullable=False),
          Column("region", String(20), nullable=False),
          Column("opened_year", Integer, nullable=False))
    Table("products", md,
          Column("product_id", Integer, primary_key=True),
          Column("product_name", String(60), nullable=False),
          Column("product_type", String(20), nullable=False),
          Column("base_rate", Float, nullable=False),
          Column("max_term_months", Integer, nullable=False))
    Table("customers", md,
          Column("customer_id", Integer, primary_key=True),
          Column("full_name", String(100), nullable=False),
          Column("email", String(120), nullable=False),
          Column("phone", String(40), nullable=False),
          Column("date_of_birth", Date, nullable=False),
          Column("gender", String(10), nullable=False),
          Column("education", String(20), nullable=False),
          Column("employment_status", String(20)),
          Column("years_employed", Float),
          Column("annual_income", Float, nullable=False),
          Column("credit_score", Integer, nullable=False),
          Column("home_ownership", String(10), nullable=False),
          Column("dependents", Integer, nullable=False),
          Column("created_at", DateTime, nullable=False))
    Table("accounts", md,
          Column("account_id", Integer, primary_key=True),
          Column("customer_id", Integer, ForeignKey("customers.customer_id"), nullable=False),
          Column("branch_id", Integer, ForeignKey("branches.branch_id"), nullable=False),
          Column("opened_date", Date, nullable=False),
          Column("account_type", String(20), nullable=False),
          Column("avg_monthly_balance", Float, nullable=False),
          Column("overdraft_count_12m", Integer, nullable=False))
    Table("loans", md,
          Column("loan_id", Integer, primary_key=True),
          Column("account_id", Integer, ForeignKey("accounts.account_id"), nullable=False),
          Column("product_id", Integer, ForeignKey("products.product_id"), nullable=False),
          Column("application_date", Date, nullable=False),
          Column("amount", Float, nullable=False),
          Column("term_months", Integer, nullable=False),
          Column("interest_rate", Float, nullable=False),
          Column("purpose", String(30), nullable=False),
          Column("defaulted", Integer, nullable=False),
          Column("collection_date", Date),
          Column("written_off_amount", Float),
          Column("recovery_agent", String(60)))
    return md


def demo_tables(n_customers: int = 4000, seed: int = DEFAULT_SEED) -> dict[str, pd.DataFrame]:
    """All demo tables as DataFrames; the same seed always gives the same rows."""
    rng = np.random.default_rng(seed)
    fake = Faker("en_GB")
    fake.seed_instance(seed)

    branches = pd.DataFrame({
        "branch_id": np.arange(1, 13),
        "branch_name": [f"{fake.city()} Branch" for _ in range(12)],
        "region": [REGIONS[i % len(REGIONS)] for i in range(12)],
        "opened_year": rng.integers(1965, 2015, 12),
    })
    products = pd.DataFrame({
        "product_id": [1, 2, 3, 4, 5],
        "product_name": ["Everyday Personal Loan", "Car Finance", "Home Improvement",
                         "Small Business Starter", "Graduate Loan"],
        "product_type": ["personal", "auto", "home", "business", "student"],
        "base_rate": [0.089, 0.064, 0.058, 0.095, 0.049],
        "max_term_months": [60, 72, 120, 84, 120],
    })

    n = n_customers
    today = date(2026, 6, 30)
    age = np.clip(rng.gamma(6.0, 7.0, n) + 18, 18, 90).astype(int)
    education = rng.choice(["secondary", "vocational", "bachelor", "master", "doctorate"], n,
                           p=[0.34, 0.22, 0.28, 0.13, 0.03])
    edu_boost = pd.Series(education).map({"secondary": 0.0, "vocational": 0.1, "bachelor": 0.3,
                                          "master": 0.45, "doctorate": 0.6}).to_numpy()
    employment = rng.choice(["employed", "self_employed", "unemployed", "retired"], n,
                            p=[0.68, 0.14, 0.08, 0.10]).astype(object)
    employment[age >= 66] = np.where(rng.random((age >= 66).sum()) < 0.8, "retired", "employed")
    # Status missing for 3% of customers: a real form left blank.
    employment[rng.random(n) < 0.03] = None
    working = np.isin(employment, ["employed", "self_employed"])
    years_employed = np.where(working, np.round(np.minimum(rng.exponential(6.0, n), age - 17), 1), np.nan)
    age_curve = -((age - 50) / 25.0) ** 2
    income = np.exp(10.3 + edu_boost + 0.35 * age_curve + rng.normal(0, 0.45, n))
    income = np.where(employment == "unemployed", income * 0.25, income)
    income = np.where(employment == "retired", income * 0.6, income)
    credit = (560 + 55 * (np.log(income) - 10.3) + 2.2 * np.minimum(np.nan_to_num(years_employed), 20)
              + 1.1 * (age - 18) + rng.normal(0, 45, n)
              - 60 * (employment == "unemployed"))
    credit = np.clip(credit, 300, 850).round().astype(int)
    ownership = np.where(age + rng.normal(0, 10, n) > 45,
                         rng.choice(["own", "mortgage"], n, p=[0.45, 0.55]),
                         rng.choice(["rent", "mortgage", "family"], n, p=[0.6, 0.3, 0.1]))
    dependents = np.clip(rng.poisson(np.where((age > 28) & (age < 60), 1.4, 0.3)), 0, 6)
    birth = [today - timedelta(days=int(a * 365.25 + d)) for a, d in zip(age, rng.integers(0, 365, n))]
    gender = rng.choice(["female", "male", "other"], n, p=[0.49, 0.49, 0.02])
    customers = pd.DataFrame({
        "customer_id": np.arange(1, n + 1),
        "full_name": [fake.name() for _ in range(n)],
        "email": [fake.unique.email() for _ in range(n)],
        "phone": [fake.phone_number() for _ in range(n)],
        "date_of_birth": birth,
        "gender": gender,
        "education": education,
        "employment_status": employment,
        "years_employed": years_employed,
        "annual_income": income.round(2),
        "credit_score": credit,
        "home_ownership": ownership,
        "dependents": dependents,
        "created_at": [datetime(2015, 1, 1) + timedelta(seconds=int(s))
                       for s in rng.integers(0, 11 * 365 * 86400, n)],
    })

    # Accounts: every customer has one, a quarter a second one.
    owners = np.concatenate([customers.customer_id.to_numpy(),
                             rng.choice(customers.customer_id.to_numpy(), n // 4, replace=False)])
    m = len(owners)
    owner_income = income[owners - 1]
    overdraft_rate = np.clip(2.5 - (credit[owners - 1] - 600) / 80, 0.05, None)
    accounts = pd.DataFrame({
        "account_id": np.arange(1, m + 1),
        "customer_id": owners,
        "branch_id": rng.integers(1, 13, m),
        "opened_date": [date(2012, 1, 1) + timedelta(days=int(d)) for d in rng.integers(0, 4500, m)],
        "account_type": rng.choice(["current", "savings", "joint"], m, p=[0.62, 0.25, 0.13]),
        "avg_monthly_balance": (owner_income / 12 * rng.lognormal(-0.8, 0.6, m)).round(2),
        "overdraft_count_12m": rng.poisson(overdraft_rate),
    })

    # Loans: about 1.2 per customer, on a random account of theirs.
    k = int(n * 1.2)
    account_ids = rng.choice(accounts.account_id.to_numpy(), k)
    cust = accounts.customer_id.to_numpy()[account_ids - 1] - 1
    product_id = rng.choice(products.product_id.to_numpy(), k, p=[0.38, 0.25, 0.17, 0.1, 0.1])
    prod = products.set_index("product_id").loc[product_id]
    size = {"personal": 0.25, "auto": 0.45, "home": 0.6, "business": 0.8, "student": 0.3}
    amount = income[cust] * prod.product_type.map(size).to_numpy() * rng.lognormal(0, 0.5, k)
    amount = np.round(np.clip(amount, 1000, 250000), -2)
    term = np.minimum(rng.choice([12, 24, 36, 48, 60, 72, 84, 120], k), prod.max_term_months.to_numpy())
    rate = prod.base_rate.to_numpy() + (720 - credit[cust]) / 4000 + rng.normal(0, 0.006, k)
    rate = np.clip(rate, 0.02, 0.35).round(4)
    monthly = amount * (rate / 12) / (1 - (1 + rate / 12) ** (-term))
    dti = monthly * 12 / np.maximum(income[cust], 1000)
    unemployed = employment[cust] == "unemployed"
    overdrafts = accounts.overdraft_count_12m.to_numpy()[account_ids - 1]
    logit = (-3.0 + 3.2 * (dti - 0.15) - 0.012 * (credit[cust] - 650) + 9 * (rate - 0.08)
             + 0.9 * unemployed + 0.18 * overdrafts + 0.25 * (age[cust] < 25) + rng.normal(0, 0.35, k))
    defaulted = (rng.random(k) < 1 / (1 + np.exp(-logit))).astype(int)
    application = [date(2019, 1, 1) + timedelta(days=int(d)) for d in rng.integers(0, 2200, k)]
    collection = [a + timedelta(days=int(d)) if y else None
                  for a, d, y in zip(application, rng.integers(120, 700, k), defaulted)]
    written_off = np.where(defaulted == 1, (amount * rng.uniform(0.1, 0.9, k)).round(2), np.nan)
    agents = [fake.company() for _ in range(8)]
    loans = pd.DataFrame({
        "loan_id": np.arange(1, k + 1),
        "account_id": account_ids,
        "product_id": product_id,
        "application_date": application,
        "amount": amount,
        "term_months": term,
        "interest_rate": rate,
        "purpose": rng.choice(["debt_consolidation", "vehicle", "renovation", "education",
                               "business", "other"], k, p=[0.3, 0.22, 0.16, 0.1, 0.1, 0.12]),
        "defaulted": defaulted,
        "collection_date": collection,
        "written_off_amount": written_off,
        "recovery_agent": [agents[i % len(agents)] if y else None
                           for i, y in zip(rng.integers(0, 8, k), defaulted)],
    })
    return {"branches": branches, "products": products, "customers": customers,
            "accounts": accounts, "loans": loans}


def build_demo_database(path: str | Path, n_customers: int = 4000, seed: int = DEFAULT_SEED) -> Path:
    """Write the demo database to a fresh SQLite file (replacing an older one) and return its path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    engine = create_engine(f"sqlite:///{tmp}")
    metadata = _schema()
    metadata.create_all(engine)
    tables = demo_tables(n_customers, seed)
    with engine.begin() as conn:
        for name in ["branches", "products", "customers", "accounts", "loans"]:
            records = tables[name].astype(object).where(tables[name].notna(), None).to_dict("records")
            conn.execute(metadata.tables[name].insert(), records)
    engine.dispose()
    tmp.replace(path)
    return path

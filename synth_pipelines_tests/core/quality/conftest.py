"""Fixtures for the quality tests: a small mixed-type population, and UCI Adult samples.

UCI Adult is read from ../shared/data/adult next to the project (never copied into it); without
it the Adult tests are skipped with the reason, and fail in CI (CI=true).
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from synth_pipelines.core.synthesis import ColumnCodec, fit_codecs

ADULT_DIR = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "adult"
ADULT_TRAIN_ROWS, ADULT_HOLDOUT_ROWS = 4000, 2000


def population(n: int, seed: int) -> pd.DataFrame:
    """Rows of one population with numbers, missing values, categories, dates and a dependent label."""
    rng = np.random.default_rng(seed)
    income = rng.lognormal(10, 0.5, n)
    segment = rng.choice(["a", "b", "c"], n)
    return pd.DataFrame({
        "income": income,
        "age": rng.integers(18, 80, n),
        "tenure": np.where(rng.random(n) < 0.2, np.nan, rng.exponential(5, n)),
        "segment": segment.astype(object),
        "region": np.where(rng.random(n) < 0.1, None, rng.choice(["north", "south"], n)).astype(object),
        "opened": [dt.date(2020, 1, 1) + dt.timedelta(days=int(d)) for d in rng.integers(0, 900, n)],
        "flag": ((income > np.median(income)) ^ (rng.random(n) < 0.1) | (segment == "c")).astype(int),
    })


@dataclass
class Split:
    train: pd.DataFrame
    holdout: pd.DataFrame
    codecs: list[ColumnCodec]
    pool: pd.DataFrame  # more real rows of the same population, disjoint from train and holdout


def _with_ids(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.reset_index(drop=True).copy()
    frame.insert(0, "synthetic_id", [f"s-{i:06d}" for i in range(len(frame))])
    return frame


@pytest.fixture(scope="session")
def with_ids():
    """Synthetic rows as the pipeline hands them to QA: a unique synthetic_id first."""
    return _with_ids


@pytest.fixture(scope="session")
def mixed() -> Split:
    rows = population(2400, seed=0)
    train, holdout, pool = rows.iloc[:600], rows.iloc[600:1200], rows.iloc[1200:]
    return Split(train.reset_index(drop=True), holdout.reset_index(drop=True),
                 fit_codecs(train, categorical={"flag"}), pool.reset_index(drop=True))


def _read_adult(name: str) -> pd.DataFrame:
    frame = pd.read_csv(ADULT_DIR / name)
    for column in frame.columns:  # missing values are the literal string "?"
        if frame[column].dtype == object:
            frame[column] = frame[column].str.strip().replace("?", np.nan)
    return frame


@pytest.fixture(scope="session")
def adult() -> Split:
    if not (ADULT_DIR / "adult_train.csv.gz").exists():
        message = f"UCI Adult is needed for this test but is missing: {ADULT_DIR.resolve()}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    full_train = _read_adult("adult_train.csv.gz")
    train = full_train.sample(ADULT_TRAIN_ROWS, random_state=1)
    pool = full_train.drop(train.index).sample(ADULT_TRAIN_ROWS, random_state=5)
    holdout = _read_adult("adult_test.csv.gz").sample(ADULT_HOLDOUT_ROWS, random_state=2)
    train = train.reset_index(drop=True)
    return Split(train, holdout.reset_index(drop=True), fit_codecs(train, categorical={"income"}),
                 pool.reset_index(drop=True))

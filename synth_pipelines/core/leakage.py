"""Heuristics for columns that leak the outcome or merely restate other columns, run on the train rows.

Two kinds of column are flagged (as warnings: a heuristic can be wrong, the spec author decides):

- derived totals: a numeric column that equals a linear combination of other numeric columns
  (a + b, a + b + c, a - b, ...) or the product of two, on nearly every row. The generator would
  learn it as an independent column and break the identity; compute it after synthesis instead.
- post-outcome columns (classification): a column whose presence (not missing; for numbers, not
  zero) or absence occurs only in rows of one label class, e.g. a collection date set only when
  a loan defaulted. Such a value is recorded after the outcome and would not exist at prediction time.

Columns already listed in training_view.leakage_columns are removed from the train rows before
this runs, so they are never flagged again. Everything runs on a seeded sample of SAMPLE_ROWS
rows: the rules are about (near) certainties, which a sample of that size shows as well as the
whole table, and it keeps the check within a second or two on a million rows.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import binom
from sklearn.linear_model import OrthogonalMatchingPursuit

# The sample the heuristics look at (all rows when fewer).
SAMPLE_ROWS = 50_000
# A derived column must match its formula on this share of rows: a few rows may differ through
# rounding, corrections or missing parts without the column being any less derived.
DERIVED_MATCH_SHARE = 0.99
# Matching tolerance: rounding to cents of each part adds up to about 0.01 per term; 1e-6
# relative covers float arithmetic on large values. For small-scale columns (rates, shares) the
# absolute part shrinks to DERIVED_SPREAD_TOLERANCE of the column's standard deviation, or any
# rate would "match" a fit that is off by a percentage point.
DERIVED_ABS_TOLERANCE = 0.011
DERIVED_SPREAD_TOLERANCE = 0.01
DERIVED_REL_TOLERANCE = 1e-6
# Linear combinations are fitted on this many rows (then checked on the whole sample); products of
# all column pairs are first screened on SCREEN_ROWS rows. Both keep wide tables fast.
FIT_ROWS = 2_000
SCREEN_ROWS = 200
QUICK_ROWS = 8  # products of all column pairs are first compared on this many rows
# Sums of more parts than this are not searched (each extra part is one more fit per column).
MAX_TERMS = 6
# Post-outcome: presence (or absence) must fall into one label class in this share of its rows ...
POST_OUTCOME_PURITY = 0.99
# ... on at least this many rows, so a handful of rows cannot look like a rule ...
POST_OUTCOME_MIN_ROWS = 30
# ... and be this unlikely by chance given that class's share (binomial tail): with many columns
# and classes tested, a coincidence must be very improbable before we call it a rule. A class of
# 90% share needs ~130 rows, one of 20% share only the minimum.
POST_OUTCOME_MAX_CHANCE = 1e-6


@dataclass(frozen=True)
class LeakageSuspect:
    column: str
    kind: str  # "derived" or "post_outcome"
    evidence: str  # what was observed, for the message


def sample_rows(frame: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    return frame if len(frame) <= SAMPLE_ROWS else frame.sample(SAMPLE_ROWS, random_state=seed)


def find_leakage(train: pd.DataFrame, label: str, task: str, exclude: set[str] = frozenset(),
                 seed: int = 0) -> list[LeakageSuspect]:
    """Suspected leakage columns of the train rows (label and `exclude`, e.g. the entity key, are never flagged)."""
    rows = sample_rows(train, seed)
    candidates = [c for c in rows.columns if c != label and c not in exclude]
    suspects = derived_columns(rows[candidates])
    if task == "classification":
        flagged = {s.column for s in suspects}
        suspects += [s for s in post_outcome_columns(rows[candidates], rows[label]) if s.column not in flagged]
    return suspects


def _numeric(frame: pd.DataFrame) -> pd.DataFrame:
    columns = [c for c in frame.columns
               if pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])]
    return frame[columns].astype(float)


def _tolerance(target: np.ndarray) -> float:
    return min(DERIVED_ABS_TOLERANCE, DERIVED_SPREAD_TOLERANCE * float(np.nanstd(target)))


def _matches(target: np.ndarray, formula: np.ndarray) -> float | np.ndarray:
    """Share of rows where the formula gives the target (rows with a missing target do not count).
    `formula` may be rows x candidates: then the share for each candidate."""
    known = ~np.isnan(target)
    if not known.any():
        return 0.0 if formula.ndim == 1 else np.zeros(formula.shape[1])
    y = target[known] if formula.ndim == 1 else target[known, None]
    close = np.abs(y - formula[known]) <= _tolerance(target) + DERIVED_REL_TOLERANCE * np.abs(y)
    return float(close.mean()) if formula.ndim == 1 else close.mean(axis=0)


def derived_columns(frame: pd.DataFrame) -> list[LeakageSuspect]:
    """Numeric columns that are sums (linear combinations) of others or a product of two.

    In a + b = total, any one of the three is "derived" from the other two; the largest in magnitude
    (the total, when the parts are positive) is named, then left out, so its parts are not named too.
    Wide tables stay fast: one least-squares fit of every column on all the others, checked on rows it
    was not fitted on, picks the columns worth the sparse search (_combination_candidates), and
    products are screened on a few rows before the full check.
    """
    numbers = _numeric(frame)
    # A constant column equals anything times zero; it is reported as constant elsewhere.
    numbers = numbers[[c for c in numbers.columns if numbers[c].nunique(dropna=True) > 1]]
    pool = sorted(numbers.columns, key=lambda c: -float(np.nanmean(np.abs(numbers[c]))))
    candidates = _combination_candidates(numbers)
    values, position = numbers.to_numpy(), {c: i for i, c in enumerate(numbers.columns)}
    products = _PairProducts(values)
    suspects = []
    for target in list(pool):
        y = values[:, position[target]]
        rest = [c for c in pool if c != target]
        if not rest:
            break
        # A copy of one column is not a derived total (and is not what this rule is about).
        if (_matches(y, values[:, [position[c] for c in rest]]) >= DERIVED_MATCH_SHARE).any():
            continue
        found = (_linear_combination(y, numbers[rest]) if target in candidates else None) \
            or products.find(y, [position[c] for c in rest], list(numbers.columns))
        if found:
            suspects.append(LeakageSuspect(target, "derived", found))
            pool.remove(target)
    return suspects


def _combination_candidates(numbers: pd.DataFrame) -> set[str]:
    """Columns that a linear combination of the other columns reproduces on rows it was not fitted on.

    Every column is regressed on all the others at once (the inverse of the Gram matrix of the fit rows
    gives each column's residual), then checked on held-out rows: a real identity carries over, a fit
    of noise does not. A looser bar than DERIVED_MATCH_SHARE: this only decides where to search."""
    x = numbers.fillna(0.0).to_numpy()
    rows, columns = x.shape
    if rows < 20 * MAX_TERMS:  # too few rows to hold some out: search every column, as _linear_combination can
        return set(numbers.columns)
    half = min(rows // 2, FIT_ROWS)
    fit, check = x[:half], x[half:half + FIT_ROWS]
    scale = fit.std(axis=0)
    scale[scale == 0] = 1.0
    gram = (fit / scale).T @ (fit / scale)
    gram += np.eye(columns) * 1e-9 * np.trace(gram) / columns  # a ridge: exact identities make it singular
    precision = np.linalg.pinv(gram, hermitian=True)
    # Regressing column j on the others leaves the residual (x / scale) @ P[:, j] / P[j, j] (in units of j).
    residuals = (check / scale) @ (precision / np.diag(precision)) * scale
    found = set()
    for j, name in enumerate(numbers.columns):
        y = numbers[name].to_numpy()[half:half + FIT_ROWS]
        if _matches(y, check[:, j] - residuals[:, j]) >= DERIVED_MATCH_SHARE - 0.1:
            found.add(name)
    return found


def _linear_combination(y: np.ndarray, others: pd.DataFrame) -> str | None:
    """'a + b' when y is a combination of 2 to MAX_TERMS other columns (missing parts count as 0).

    Orthogonal matching pursuit picks the fewest columns that reproduce y, so the message names
    the parts rather than a blend of every column that happens to be collinear with them."""
    known = np.flatnonzero(~np.isnan(y))
    x = others.fillna(0.0).to_numpy()
    fit_rows = known[:FIT_ROWS]  # fitted on a subset, checked on the whole sample
    if len(fit_rows) < 10 * MAX_TERMS:  # too few rows to tell a rule from an overfit
        return None
    scale = x[fit_rows].std(axis=0)
    scale[scale == 0] = 1.0
    for terms in range(2, min(MAX_TERMS, x.shape[1]) + 1):
        omp = OrthogonalMatchingPursuit(n_nonzero_coefs=terms, fit_intercept=False)
        with warnings.catch_warnings():  # "ended prematurely": the fit is exact with fewer terms
            warnings.simplefilter("ignore", RuntimeWarning)
            omp.fit(x[fit_rows] / scale, y[fit_rows])
        coefficients = omp.coef_ / scale
        if _matches(y, x @ coefficients) >= DERIVED_MATCH_SHARE:
            # OMP may add a last column with a float-noise coefficient once the fit is exact.
            used = [(name, c) for name, c, s in zip(others.columns, coefficients, scale)
                    if abs(c) * s > 1e-9 * (np.nanstd(y) or 1.0)]
            return " ".join(f"{'-' if c < 0 else '+'} {'' if abs(abs(c) - 1) < 1e-3 else f'{abs(c):.3g} * '}{n}"
                            for n, c in used).removeprefix("+ ")
    return None


class _PairProducts:
    """'a * b' when a column is the product of two others. The products of every column pair are
    computed once on the first rows; each target is compared with them there (one row may miss), the
    pairs left on SCREEN_ROWS rows, and a survivor on every row."""

    def __init__(self, values: np.ndarray) -> None:
        self.values = values
        self.rows = min(len(values), 8 * QUICK_ROWS)  # enough rows for QUICK_ROWS known values of most targets
        self.pairs = np.triu_indices(values.shape[1], k=1)
        self.head = values[:self.rows, self.pairs[0]] * values[:self.rows, self.pairs[1]]  # rows x pairs

    def find(self, y: np.ndarray, usable: list[int], names: list[str]) -> str | None:
        known = np.flatnonzero(~np.isnan(y))
        if len(known) < POST_OUTCOME_MIN_ROWS:
            return None
        allowed = np.zeros(self.values.shape[1], dtype=bool)
        allowed[usable] = True
        keep = allowed[self.pairs[0]] & allowed[self.pairs[1]]
        quick = known[known < self.rows][:QUICK_ROWS]
        if len(quick) >= QUICK_ROWS - 1:
            keep &= self._close(y[quick], self.head[quick], y).mean(axis=0) >= (len(quick) - 1) / len(quick)
        first, second = self.pairs[0][keep], self.pairs[1][keep]
        screen = known[:SCREEN_ROWS]
        close = self._close(y[screen], self.values[screen][:, first] * self.values[screen][:, second], y)
        keep = close.mean(axis=0) >= DERIVED_MATCH_SHARE - 0.05
        for i, j in zip(first[keep], second[keep]):
            if _matches(y, self.values[:, i] * self.values[:, j]) >= DERIVED_MATCH_SHARE:
                return f"{names[i]} * {names[j]}"
        return None

    @staticmethod
    def _close(target: np.ndarray, products: np.ndarray, whole: np.ndarray) -> np.ndarray:
        tolerance = _tolerance(whole)
        return np.abs(target[:, None] - products) <= tolerance + DERIVED_REL_TOLERANCE * np.abs(target[:, None])


def post_outcome_columns(frame: pd.DataFrame, label: pd.Series) -> list[LeakageSuspect]:
    classes = label.astype(str).to_numpy()
    shares = pd.Series(classes).value_counts(normalize=True)
    suspects = []
    for column in frame.columns:
        series = frame[column]
        indicators = {"is set": series.notna().to_numpy(), "is missing": series.isna().to_numpy()}
        if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
            indicators["is non-zero"] = (series.notna() & (series != 0)).to_numpy()
        for wording, present in indicators.items():
            evidence = _one_class_only(present, classes, shares)
            if evidence:
                suspects.append(LeakageSuspect(column, "post_outcome", f"{wording} {evidence}"))
                break
    return suspects


def _one_class_only(present: np.ndarray, classes: np.ndarray, shares: pd.Series) -> str | None:
    count = int(present.sum())
    if count < POST_OUTCOME_MIN_ROWS or count == len(present):
        return None
    within = pd.Series(classes[present]).value_counts()
    top, hits = within.index[0], int(within.iloc[0])
    if hits / count < POST_OUTCOME_PURITY:
        return None
    chance = binom.sf(hits - 1, count, shares[top])  # P(at least this many in the class) if unrelated
    if chance > POST_OUTCOME_MAX_CHANCE:
        return None
    return f"only in rows with label {top} ({hits} of {count} rows; {shares[top]:.0%} of all rows have that label)"

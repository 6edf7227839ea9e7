"""Arithmetic relations between numeric columns: one column is the sum, difference, product or ratio
of two others in every real row.

Real tables hold them: a loan's amount is its duration times its monthly payment (Berka), a day's
highest temperature its lowest plus the change (modeldata's Chicago). A generator that draws the result
from a model of it given the others breaks the identity in nearly every row (Berka: 0.9% of synthetic
loans within 1% of duration x payments, every real one exactly), which no real row does. The result is
then computed from its two operands instead of drawn, for every generator (after decode, in the view's
own values: a loan's duration is a category of numbers to the generator and a number here), where the
computed value keeps the result column's own rules: its real range, whole numbers, its value set or
categories (elsewhere the drawn value stays).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pandas as pd

OPERATIONS = {"+": np.add, "-": np.subtract, "*": np.multiply, "/": np.divide}
SCREEN_ROWS = 256  # rows every (pair, operation) is screened on before a candidate is checked on all rows
MIN_DISTINCT = 3  # a result column needs this many values: a 0/1 flag equal to a product of flags is chance
# The screen compares every pair with every column (columns^3): 40 number columns take 0.2 s, 150 take 5 s;
# a wider view is not searched (its relations are drawn like any column).
MAX_COLUMNS = 150
TOLERANCE = 1e-9  # relative: float sums of the real values (19.4 + 0.6) are off by ~1e-15


@dataclass(frozen=True)
class Relation:
    """`result` = `left` `operation` `right` in every real row."""

    result: str
    left: str
    operation: str
    right: str

    def compute(self, rows: dict[str, np.ndarray]) -> np.ndarray:
        left, right = np.asarray(rows[self.left], dtype=float), np.asarray(rows[self.right], dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            return OPERATIONS[self.operation](left, right)

    def describe(self) -> str:
        return f"{self.left} {self.operation} {self.right}"


def fit_relations(train: pd.DataFrame, codecs: list, label: str | None, fixed: frozenset[str] = frozenset()
                  ) -> list[Relation]:
    """The relations of the view's real rows: operands and results are number columns and categories of
    numbers, other than the label (drawn from its own model) and the `fixed` ones (given, not generated: a
    child table's parent columns) as results. A column with missing values takes no part."""
    numbers, results = {}, set()
    for codec in codecs:
        column = train[codec.name]
        if codec.has_missing or column.isna().any():
            continue
        if codec.kind in ("integer", "float"):
            numbers[codec.name] = pd.to_numeric(column).astype(float)
            results |= {codec.name} - {label} - fixed
        elif (codec.kind == "category" and pd.api.types.is_numeric_dtype(column)
              and not pd.api.types.is_bool_dtype(column)):
            numbers[codec.name] = column.astype(float)  # a result only where the value is one of its categories
            results |= {codec.name} - {label} - fixed
    if len(numbers) < 3:
        return []
    return list(arithmetic_relations(pd.DataFrame(numbers), results).values())


def apply_relations(frame: pd.DataFrame, relations: list[Relation], codecs: list) -> pd.DataFrame:
    """Each result computed from its operands in the decoded rows, where the value is inside the result's
    real range, whole for a column of whole numbers (a ratio rarely is) and one of the column's values
    where it has a value set (value_formats.py) or is a category of numbers; elsewhere the drawn value
    stays. `frame` is changed in place and returned."""
    by_name = {c.name: c for c in codecs}
    for relation in relations:
        codec = by_name[relation.result]
        computed = relation.compute({c: frame[c].to_numpy(dtype=float) for c in (relation.left, relation.right)})
        if codec.kind == "category":  # a category of numbers (a count of 0-8 liens): one of them, or drawn
            keep, value_set = np.isfinite(computed), np.array(sorted(float(v) for v in codec.categories))
        else:
            keep = np.isfinite(computed) & (computed >= codec.minimum) & (computed <= codec.maximum)
            value_set = np.array(sorted(v for v, _ in codec.number_format.values)) if codec.number_format else []
        if len(value_set):  # a column of few values keeps them (Chicago's temperatures: converted whole degrees)
            keep &= _in_set(computed, value_set)
            computed = value_set[_nearest(computed, value_set)]  # exactly the value (10.5, not 10.500000000001)
        if codec.kind == "integer":
            keep &= np.abs(computed - np.round(computed)) <= TOLERANCE * np.maximum(1.0, np.abs(computed))
            computed = np.round(computed)
        values = frame[relation.result].to_numpy(copy=True)
        values[keep] = computed[keep].astype(values.dtype)
        frame[relation.result] = values
    return frame


def _nearest(values: np.ndarray, value_set: np.ndarray) -> np.ndarray:
    """Index of each value's nearest member of the sorted `value_set` (0 for a value that is not finite)."""
    finite = np.where(np.isfinite(values), values, value_set[0])
    above = np.clip(np.searchsorted(value_set, finite), 0, len(value_set) - 1)
    below = np.maximum(above - 1, 0)
    return np.where(np.abs(finite - value_set[below]) <= np.abs(finite - value_set[above]), below, above)


def _in_set(values: np.ndarray, value_set: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        distance = np.abs(values - value_set[_nearest(values, value_set)])
        return np.isfinite(values) & (distance <= TOLERANCE * np.maximum(1.0, np.abs(values)) + 1e-9)


def _holds(result: np.ndarray, computed: np.ndarray) -> np.ndarray:
    return np.isfinite(computed) & (np.abs(result - computed) <= TOLERANCE * np.maximum(1.0, np.abs(result)))


def arithmetic_relations(frame: pd.DataFrame, results: set[str]) -> dict[str, Relation]:
    """Per result column, the first relation it satisfies on every row of `frame` (numbers only, no
    missing value: a missing value is the codec's fill, no number); `results` are the columns that may be
    one. A result varies over at least MIN_DISTINCT values and is not also an operand, so relations never
    chain into a cycle (Berka's amount = duration x payments also reads payments = amount / duration: the
    earlier column wins). Columns equal to an operand, or constant, take no part (x = x + 0 holds
    everywhere)."""
    columns = [c for c in frame.columns if frame[c].nunique() > 1]
    if not 3 <= len(columns) <= MAX_COLUMNS:
        return {}
    values = frame[columns].to_numpy(dtype=float)
    if not np.isfinite(values).all():
        return {}
    screen = values[np.random.default_rng(0).permutation(len(values))[:SCREEN_ROWS]]
    candidates_by_result = _screened(columns, screen)
    found: dict[str, Relation] = {}
    operands: set[str] = set()
    for target, result in enumerate(columns):
        if result in operands or result not in results or frame[result].nunique() < MIN_DISTINCT:
            continue
        for left, operation, right in candidates_by_result.get(target, []):
            if {columns[left], columns[right]} & set(found):
                continue
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                computed = OPERATIONS[operation](values[:, left], values[:, right])
            if _holds(values[:, target], computed).all():
                found[result] = Relation(result, columns[left], operation, columns[right])
                operands |= {columns[left], columns[right]}
                break
    return found


def _screened(columns: list[str], screen: np.ndarray) -> dict[int, list[tuple[int, str, int]]]:
    """Per result column (index), the (left, operation, right) that hold on every screened row, in order.
    One pass over pairs, each compared with every column at once: 60 columns take about a second."""
    out: dict[int, list[tuple[int, str, int]]] = {}
    scale = TOLERANCE * np.maximum(1.0, np.abs(screen))
    for left, right in itertools.permutations(range(len(columns)), 2):
        for operation, function in OPERATIONS.items():
            if operation in "+*" and left > right:  # commutative: one order is enough
                continue
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                computed = function(screen[:, left], screen[:, right])
            if not np.isfinite(computed).all():
                continue
            holds = (np.abs(screen - computed[:, None]) <= scale).all(axis=0)
            for target in np.flatnonzero(holds):
                # x = x + 0 or x * 1 holds everywhere: an operand equal to the result is no relation
                if target not in (left, right) and not (screen[:, target] == screen[:, left]).all() \
                        and not (screen[:, target] == screen[:, right]).all():
                    out.setdefault(int(target), []).append((left, operation, right))
    return out


"""Stage 2: the training view (the spec's SQL, run by DuckDB over the snapshot), minus leakage
columns, split into the train rows the generator sees and a holdout it never sees.

The SQL runs on the immutable snapshot, never on the source, so a view is reproducible from its
snapshot alone, and in the sandbox of core/sql.py: it sees this snapshot's tables and nothing else.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
from sklearn.model_selection import train_test_split

from synth_pipelines.core.sql import run_query
from synth_pipelines.spec import FieldError, GeneratorSpec, TrainingViewSpec


class TrainingViewError(FieldError):
    """A problem with the view's result; `field` is the spec field to correct."""


def run_view_sql(sql: str, tables: Mapping[str, str | Path | pa.Table], field: str = "training_view.sql") -> pa.Table:
    """Run the view SQL, sandboxed (core/sql.py), with each snapshot table registered under its source
    name; SQL that is refused or does not run raises core.sql.SpecSqlError naming `field`."""
    return run_query(sql, tables, field)


# Marks the rows of `training_view.holdout_sql` inside the stored view; split_holdout removes it.
HOLDOUT_MARKER = "_synth_pipelines_holdout"


def build_training_view(view_spec: TrainingViewSpec, tables: Mapping[str, str | Path]) -> pd.DataFrame:
    """One row per entity, with the spec's leakage columns removed.

    With `holdout_sql`, its rows are appended with HOLDOUT_MARKER set, so the predefined split
    travels with the view and split_holdout honours it."""
    view = decimals_as_floats(run_view_sql(view_spec.sql, tables))
    check_view_columns(view_spec, list(view.columns))
    if view_spec.holdout_sql:
        holdout = decimals_as_floats(run_view_sql(view_spec.holdout_sql, tables, "training_view.holdout_sql"))
        if list(holdout.columns) != list(view.columns):
            raise TrainingViewError(
                "training_view.holdout_sql", f"returns columns {list(holdout.columns)}, but training_view.sql "
                f"returns {list(view.columns)}", "select the same columns in the same order in both queries")
        if holdout.empty:
            raise TrainingViewError("training_view.holdout_sql", "returns no rows",
                                    "correct its WHERE clause or use holdout_fraction instead")
        shared = pd.Index(holdout[view_spec.entity_key].dropna().unique()).intersection(
            pd.Index(view[view_spec.entity_key].dropna().unique()))
        if len(shared):
            raise TrainingViewError(
                "training_view.holdout_sql", f"returns {len(shared)} rows whose {view_spec.entity_key} training_view.sql "
                f"returns too (e.g. {shared[:3].tolist()}): the holdout must be rows the generator never sees",
                "make the two queries disjoint, e.g. add WHERE NOT (<the holdout's condition>) to training_view.sql")
        view = pd.concat([view.assign(**{HOLDOUT_MARKER: False}), holdout.assign(**{HOLDOUT_MARKER: True})],
                         ignore_index=True)
    duplicated = view[view_spec.entity_key].duplicated()
    if duplicated.any():
        examples = view.loc[duplicated, view_spec.entity_key].head(3).tolist()
        raise TrainingViewError(
            "training_view.sql", f"returns {int(duplicated.sum())} repeated values of entity_key "
            f"'{view_spec.entity_key}' (e.g. {examples}), but the view must have one row per entity",
            "aggregate the joined rows (GROUP BY) or join one-to-one")
    if view[view_spec.label].isna().any():
        raise TrainingViewError(
            "training_view.label", f"'{view_spec.label}' is empty in {int(view[view_spec.label].isna().sum())} rows",
            f"filter them out in training_view.sql (WHERE {view_spec.label} IS NOT NULL)")
    leaked = [c.column for c in view_spec.leakage_columns if c.column in view.columns]
    return view.drop(columns=leaked).reset_index(drop=True)


def decimals_as_floats(table: pa.Table) -> pd.DataFrame:
    """The view as the generator sees it: DECIMAL columns as floats (their type and scale are restored on
    the synthetic features, see view_decimal_columns)."""
    schema = pa.schema([f.with_type(pa.float64()) if pa.types.is_decimal(f.type) else f for f in table.schema])
    return table.cast(schema).to_pandas()


def view_decimal_columns(view_spec: TrainingViewSpec, tables: Mapping[str, str | Path]) -> dict[str, tuple[int, int]]:
    """(precision, scale) of each DECIMAL column the view returns, found by binding its SQL on empty tables
    typed like the snapshot's, so synthetic values get the real column's type back."""
    import pyarrow.parquet as pq

    empty = {name: pq.read_schema(path).empty_table() for name, path in tables.items()}
    schema = run_view_sql(view_spec.sql, empty).schema
    return {f.name: (f.type.precision, f.type.scale) for f in schema if pa.types.is_decimal(f.type)}


def check_view_columns(view_spec: TrainingViewSpec, columns: list[str]) -> None:
    for field, column in (("entity_key", view_spec.entity_key), ("label", view_spec.label)):
        if column not in columns:
            raise TrainingViewError(
                f"training_view.{field}", f"'{column}' is not a column of the view (it returns: {', '.join(columns)})",
                "select it in training_view.sql or correct the name")


@dataclass(frozen=True)
class Split:
    train: pd.DataFrame
    holdout: pd.DataFrame


def split_view(view: pd.DataFrame, view_spec: TrainingViewSpec, generator: GeneratorSpec, dataset: str) -> Split:
    """The one train/holdout split that validate, preview and run all use: holdout_sql's rows when the
    view has them; under differential privacy a split keyed on the entity key (one person's row decides
    only that person's side); else the seeded split. Both sides must hold rows."""
    if generator.differentially_private and HOLDOUT_MARKER not in view.columns:
        from synth_pipelines.core.differential_privacy import keyed_split  # it imports this module

        split = keyed_split(view, view_spec, dataset)
    else:
        split = split_holdout(view, view_spec, seed=generator.seed)
    if split.train.empty or split.holdout.empty:
        raise _too_few_rows(view, view_spec)
    return split


def _too_few_rows(view: pd.DataFrame, view_spec: TrainingViewSpec) -> TrainingViewError:
    return TrainingViewError(
        "training_view.sql", f"returns {len(view)} rows, too few to split into train rows and a holdout "
        f"(holdout_fraction {view_spec.holdout_fraction})",
        "select more rows (a few hundred at least); if the source tables are empty, point source.url at the "
        "database that holds the data")


def split_holdout(view: pd.DataFrame, view_spec: TrainingViewSpec, seed: int) -> Split:
    """The holdout_sql rows when the view has them, else a seeded holdout split, stratified on the
    label for classification when every class can be."""
    if HOLDOUT_MARKER in view.columns:
        marked = view[HOLDOUT_MARKER].astype(bool)
        rows = view.drop(columns=[HOLDOUT_MARKER])
        return Split(train=rows[~marked].reset_index(drop=True), holdout=rows[marked].reset_index(drop=True))
    holdout_rows = math.ceil(len(view) * view_spec.holdout_fraction)
    if len(view) - holdout_rows < 1 or holdout_rows < 1:
        raise _too_few_rows(view, view_spec)
    stratify = None
    if view_spec.task == "classification":
        counts = view[view_spec.label].value_counts()
        if (counts >= 2).all() and len(counts) > 1:
            stratify = view[view_spec.label]
    train, holdout = train_test_split(view, test_size=view_spec.holdout_fraction, random_state=seed,
                                      stratify=stratify)
    return Split(train=train.reset_index(drop=True), holdout=holdout.reset_index(drop=True))

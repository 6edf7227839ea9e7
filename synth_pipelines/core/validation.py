"""Checks of a spec against its source database, run before anything is materialized.

The pydantic model checks what the file alone can tell; this module checks what needs the source:
that tables and columns exist, that the view's SQL runs and returns the declared columns, that
calculated columns fit the view's types and that the generator accepts the settings. The view SQL
is bound by DuckDB against empty tables typed like the source, so no row is read.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.exc import NoSuchTableError, SQLAlchemyError

from synth_pipelines.core.assessment import Assessment, assess_training_rows
from synth_pipelines.core.features import FeatureExpressionError, check_feature_expressions, drop_replaced_columns
from synth_pipelines.core.snapshot import Snapshot, selected_columns, take_snapshot
from synth_pipelines.core.source import arrow_type, read_only_connection, reflect_table, table_names
from synth_pipelines.core.synthcity_plugins import mistyped_settings, unsupported_settings
from synth_pipelines.core.training_view import build_training_view, check_view_columns, run_view_sql, split_view
from synth_pipelines.spec import FieldError, LoadedSpec, masked_url


@dataclass(frozen=True)
class SourceCheck:
    view_columns: list[str]
    feature_columns: list[str]
    table_rows: dict[str, int]


def validate_against_source(loaded: LoadedSpec, check_generator: bool = True) -> SourceCheck:
    spec = loaded.spec
    loaded.check_start_date()
    empty_tables: dict[str, pa.Table] = {}
    row_counts: dict[str, int] = {}
    try:
        with read_only_connection(spec.source.url) as conn:
            existing = set(table_names(conn))
            for name, table_spec in spec.source.tables.items():
                field = f"source.tables.{name}"
                if name not in existing:
                    raise loaded.error(field, f"table '{name}' does not exist in {masked_url(spec.source.url)} "
                                       f"(it has: {', '.join(sorted(existing)) or 'no tables'})",
                                       "correct the table name or remove the entry")
                table = reflect_table(conn, name)
                known = set(table.columns.keys())
                declared = [("primary_key", [table_spec.primary_key]), ("columns", table_spec.columns or []),
                            ("exclude_columns", table_spec.exclude_columns),
                            ("foreign_keys", list(table_spec.foreign_keys))]
                for sub, columns in declared:
                    for column in columns:
                        if column not in known:
                            where = f"{field}.{sub}.{column}" if sub == "foreign_keys" else f"{field}.{sub}"
                            raise loaded.error(where, f"column '{column}' does not exist in table "
                                               f"'{name}' (columns: {', '.join(sorted(known))})",
                                               "correct the column name")
                columns = selected_columns(table, table_spec)
                empty_tables[name] = pa.schema([(c.name, arrow_type(c.type)) for c in columns]).empty_table()
                row_counts[name] = conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
                if row_counts[name] == 0:
                    raise loaded.error(field, f"table '{name}' in {masked_url(spec.source.url)} is empty (0 rows), "
                                       "so there is nothing to learn from", "point source.url at the database that "
                                       "holds the data (or fill the table), or remove the entry")
            _check_foreign_key_targets(loaded, conn)
    except SQLAlchemyError as exc:
        raise loaded.error("source.url", f"cannot read the source database {masked_url(spec.source.url)}: "
                           f"{type(exc).__name__}: {str(exc).splitlines()[0]}",
                           "check that the database is reachable and the credentials in the environment") from None
    view_columns = _check_view(loaded, empty_tables)
    feature_columns = _check_features(loaded, empty_tables)
    if check_generator:
        bad = unsupported_settings(spec.generator.plugin, spec.generator.settings)
        if bad:
            raise loaded.error("generator.settings", f"plugin '{spec.generator.plugin}' does not accept "
                               f"{', '.join(bad)}", "remove them; `seed` sets the random state")
        mistyped = mistyped_settings(spec.generator.plugin, spec.generator.settings)
        if mistyped:
            setting, expected, why = mistyped[0]
            raise loaded.error(f"generator.settings.{setting}", f"{spec.generator.settings[setting]!r} is not a valid "
                               f"value: plugin '{spec.generator.plugin}' declares {setting} as {expected} ({why})",
                               f"give {setting} a value of type {expected}")
        if spec.generator.differentially_private:  # the declared domain names the synthesized columns
            from synth_pipelines.core.differential_privacy import domain_problem

            if problem := domain_problem(spec, view_columns):
                raise loaded.error(*problem)
    return SourceCheck(view_columns=view_columns, feature_columns=feature_columns, table_rows=row_counts)


def _check_foreign_key_targets(loaded: LoadedSpec, conn: sa.Connection) -> None:
    for name, table_spec in loaded.spec.source.tables.items():
        for column, target in table_spec.foreign_keys.items():
            target_table, target_column = target.split(".")
            try:
                target_columns = reflect_table(conn, target_table).columns.keys()
            except NoSuchTableError:
                continue  # reported for the target table itself
            if target_column not in target_columns:
                raise loaded.error(f"source.tables.{name}.foreign_keys.{column}",
                                   f"'{target}' does not exist", f"name a column of '{target_table}'")


def _check_view(loaded: LoadedSpec, empty_tables: dict[str, pa.Table]) -> list[str]:
    view_spec = loaded.spec.training_view
    try:
        schema = run_view_sql(view_spec.sql, empty_tables).schema
    except FieldError as exc:  # refused by the sandbox, or does not run
        raise loaded.error_from(exc) from None
    columns = schema.names
    try:
        check_view_columns(view_spec, columns)
    except FieldError as exc:
        raise loaded.error_from(exc) from None
    label_type = schema.field(view_spec.label).type
    if view_spec.task == "regression" and not (pa.types.is_integer(label_type) or pa.types.is_floating(label_type)
                                               or pa.types.is_decimal(label_type)):
        raise loaded.error("training_view.label", f"'{view_spec.label}' is {label_type}, but a regression label must "
                           "be a number", "select a numeric label (CAST it in training_view.sql if it is a number "
                           "stored as text), or set training_view.task: classification for a category")
    if view_spec.holdout_sql:
        try:
            holdout_columns = run_view_sql(view_spec.holdout_sql, empty_tables, "training_view.holdout_sql").column_names
        except FieldError as exc:
            raise loaded.error_from(exc) from None
        if holdout_columns != columns:
            raise loaded.error("training_view.holdout_sql", f"returns columns {holdout_columns}, but "
                               f"training_view.sql returns {columns}",
                               "select the same columns in the same order in both queries")
    source_columns = {c for t in empty_tables.values() for c in t.column_names}
    for index, leak in enumerate(view_spec.leakage_columns):
        if leak.column not in columns and leak.column not in source_columns:
            raise loaded.error(f"training_view.leakage_columns[{index}].column",
                               f"'{leak.column}' is neither a view column nor a source column",
                               "correct the name or remove the entry")
    return columns


def _check_features(loaded: LoadedSpec, empty_tables: dict[str, pa.Table]) -> list[str]:
    view_spec = loaded.spec.training_view
    view = run_view_sql(view_spec.sql, empty_tables)
    dropped = {c.column for c in view_spec.leakage_columns} | {view_spec.entity_key}
    rows = view.select([c for c in view.column_names if c not in dropped])
    try:
        check_feature_expressions(loaded.spec.features, rows)
    except FeatureExpressionError as exc:
        field, _, problem = str(exc).partition(": ")
        problem, _, fix = problem.partition("; ")
        raise loaded.error(field, problem, fix) from None
    features = loaded.spec.features
    added = [c.name for c in features.calculated_columns] + [m.name for m in features.masked_columns]
    # dict.fromkeys: a masked column that `replaces` a view column is listed once, under its name.
    return [c for c in dict.fromkeys(rows.column_names + added) if c not in features.drop_columns]


def assess_source(loaded: LoadedSpec, work_dir: Path | None = None) -> Assessment:
    """Read the source (a snapshot in a temporary folder), build the view and assess its train rows
    as the pipeline will see them: the same view, leakage columns dropped, the same seeded holdout."""
    with tempfile.TemporaryDirectory(dir=work_dir) as folder:
        try:
            snapshot = take_snapshot(loaded.spec, Path(folder), snapshot_id="assessment")
        except FieldError as exc:
            raise loaded.error_from(exc) from None
        return assess_snapshot(loaded, snapshot)


def assess_snapshot(loaded: LoadedSpec, snapshot: Snapshot) -> Assessment:
    spec = loaded.spec
    try:
        view = build_training_view(spec.training_view, {t: s.path for t, s in snapshot.tables.items()})
        view = drop_replaced_columns(view, spec.features)  # as the training_view asset does
        train = split_view(view, spec.training_view, spec.generator, spec.dataset).train
    except FieldError as exc:
        raise loaded.error_from(exc) from None
    _check_rebalance_values(loaded, train)
    return assess_training_rows(train, spec.training_view, spec.generator)


def _check_rebalance_values(loaded: LoadedSpec, train: pd.DataFrame) -> None:
    """Every value synthetic.rebalance lists must occur in the train rows (else training is wasted)."""
    rebalance = loaded.spec.synthetic.rebalance
    if rebalance is None or rebalance.column not in train.columns:
        return  # a missing column is reported by the run with the columns there are
    present = train[rebalance.column].dropna()
    known = sorted({str(v) for v in present.unique()})
    for value in rebalance.proportions:
        if value not in known:
            raise loaded.error(f"synthetic.rebalance.proportions.{value}", f"'{value}' never occurs in "
                               f"'{rebalance.column}' of the train rows (values: {', '.join(known[:20])})",
                               "list values that occur, or correct the spelling")

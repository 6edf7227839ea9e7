"""The dataset spec: one YAML file per synthetic feature dataset, validated by one pydantic model.

Every setting the pipeline uses comes from here. Errors name the spec file, the field and the fix
(`SpecError`). Checks that need the source database (tables, columns, the view's SQL) live in
`core.validation`; this module only checks what the file alone can tell.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import pkgutil
import re
import socket
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from synth_pipelines.core.quality.thresholds import QAThresholds
from synth_pipelines.paths import storage_root

IDENTIFIER = r"^[A-Za-z_][A-Za-z0-9_]*$"
_ENV_PATTERN = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class SpecError(ValueError):
    """A spec problem, already phrased for the user: file, field, what is wrong, how to fix it."""


class FieldError(ValueError):
    """A problem a stage found with one spec field, before the spec file is known; LoadedSpec.error_from
    turns it into a SpecError naming the file."""

    def __init__(self, field: str, problem: str, fix: str) -> None:
        super().__init__(f"{field}: {problem}; {fix}")
        self.field, self.problem, self.fix = field, problem, fix


class _FieldProblem(ValueError):
    """Raised by the validators below; `field` is relative to the model being validated."""

    def __init__(self, problem: str, fix: str, field: str = "") -> None:
        super().__init__(f"{problem}; {fix}")
        self.problem, self.fix, self.field = problem, fix, field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TableSpec(_Strict):
    """One source table to snapshot."""

    primary_key: str = Field(description="Column that identifies a row; snapshots are ordered by it.")
    columns: list[str] | None = Field(None, description="Columns to read; all when omitted.")
    exclude_columns: list[str] = Field(default_factory=list, description="Columns never read.")
    foreign_keys: dict[str, str] = Field(
        default_factory=dict, description="column -> 'table.column' it references."
    )
    lookup: bool = Field(False, description=(
        "Reference data kept verbatim (e.g. branches): published with every release as "
        "lookups/<table>.parquet, and view columns named like a foreign key into it are synthesized "
        "as categories and checked to hold only its keys."))

    @model_validator(mode="after")
    def _columns_consistent(self) -> TableSpec:
        if self.columns is not None and self.exclude_columns:
            raise _FieldProblem("both 'columns' and 'exclude_columns' are set",
                                "set either 'columns' (a list to include) or 'exclude_columns', not both",
                                "exclude_columns")
        if self.columns is not None and self.primary_key not in self.columns:
            raise _FieldProblem(f"primary key '{self.primary_key}' is not one of 'columns'",
                                "add it to the list", "columns")
        if self.primary_key in self.exclude_columns:
            raise _FieldProblem(f"primary key '{self.primary_key}' cannot be excluded",
                                "remove it from exclude_columns", "exclude_columns")
        for column, target in self.foreign_keys.items():
            if not re.match(r"^[A-Za-z_]\w*\.[A-Za-z_]\w*$", target):
                raise _FieldProblem(f"foreign key '{column}: {target}' must reference 'table.column'",
                                    f"write e.g. '{column}: customers.customer_id'", f"foreign_keys.{column}")
        return self


class AsOfSpec(_Strict):
    """How to read the source as it was on a past date, for a backfill of a day whose snapshot was not
    retained: per table, an SQL condition (run in the source's read-only session) with `{snapshot_date}`
    for the partition date, e.g. `application_date <= '{snapshot_date}'`. Tables not listed are read as
    they are now; the manifest records both."""

    filters: dict[str, str] = Field(min_length=1)

    @model_validator(mode="after")
    def _placeholder(self) -> AsOfSpec:
        for table, condition in self.filters.items():
            if "{snapshot_date}" not in condition:
                raise _FieldProblem(f"the condition for '{table}' has no {{snapshot_date}} placeholder",
                                    "write e.g. \"updated_at <= '{snapshot_date}'\"", f"filters.{table}")
            if ";" in condition:
                raise _FieldProblem(f"the condition for '{table}' holds a ';'", "write one condition",
                                    f"filters.{table}")
        return self


class SourceSpec(_Strict):
    url: str = Field(description="SQLAlchemy URL; ${ENV_VAR} is replaced from the environment.")
    tables: dict[str, TableSpec] = Field(min_length=1)
    as_of: AsOfSpec | None = Field(None, description="How to reconstruct a past snapshot that was not retained; "
                                   "without it such a backfill is refused.")

    @field_validator("url")
    @classmethod
    def _url_parses(cls, url: str) -> str:
        _check_sqlalchemy_url(url)
        return url

    @model_validator(mode="after")
    def _foreign_keys_resolve(self) -> SourceSpec:
        for table in (self.as_of.filters if self.as_of else {}):
            if table not in self.tables:
                raise _FieldProblem(f"'{table}' is not among the declared tables {sorted(self.tables)}",
                                    "name a table of source.tables", f"as_of.filters.{table}")
        for name, table in self.tables.items():
            for column, target in table.foreign_keys.items():
                target_table = target.split(".")[0]
                if target_table not in self.tables:
                    raise _FieldProblem(
                        f"references table '{target_table}', which is not among the declared tables "
                        f"{sorted(self.tables)}", "declare it under source.tables too",
                        f"tables.{name}.foreign_keys.{column}")
        # Reference data only makes sense when something refers to it.
        referenced = {target.split(".")[0] for table in self.tables.values() for target in table.foreign_keys.values()}
        for name, table in self.tables.items():
            if table.lookup and name not in referenced:
                raise _FieldProblem(
                    f"lookup table '{name}' is not referenced by any foreign key",
                    f"declare the foreign key that points at {name} (e.g. under the table that uses it), "
                    "or remove `lookup: true`", f"tables.{name}.lookup")
        return self


class LeakageColumn(_Strict):
    column: str
    reason: str = Field(min_length=3, description="Why the column must not reach training.")


class TrainingViewSpec(_Strict):
    sql: str = Field(
        min_length=1,
        description="DuckDB SQL over the snapshot tables (by their source names); one row per entity.",
    )
    entity_key: str = Field(description="Column of the view that is unique per row (never synthesized).")
    label: str = Field(description="Target column of the downstream model.")
    task: Literal["classification", "regression"] = "classification"
    leakage_columns: list[LeakageColumn] = Field(default_factory=list)
    holdout_fraction: float = Field(0.2, gt=0.0, lt=0.9, description="Share of the view's rows held out "
                                    "(seeded, stratified on the label); unused when holdout_sql is set.")
    holdout_sql: str | None = Field(None, min_length=1, description=(
        "DuckDB SQL returning the holdout rows (same columns as `sql`, disjoint entity keys), for a "
        "predefined split such as an official test set or a later time period."))

    @model_validator(mode="after")
    def _label_not_leaking(self) -> TrainingViewSpec:
        leaked = {item.column for item in self.leakage_columns}
        if self.label in leaked:
            raise _FieldProblem(f"label '{self.label}' is also listed in leakage_columns", "remove it there",
                                "leakage_columns")
        if self.entity_key == self.label:
            raise _FieldProblem("entity_key and label are the same column", "use two different columns",
                                "label")
        return self


class SynthesizedTableSpec(_Strict):
    """One table of a multi-table synthesis (`tables:`): the root, a child of another synthesized table,
    or `lookup: true` reference data copied from the snapshot (core/multitable.py)."""

    sql: str | None = Field(None, min_length=1, description=(
        "DuckDB SQL over the snapshot tables giving this table's rows; default: the source table of this name."))
    primary_key: str = Field(description="Column unique per row; replaced by new synthetic keys (lookups keep theirs).")
    foreign_keys: dict[str, str] = Field(default_factory=dict, description=(
        "column -> 'table.column' of another entry of `tables`: at most one to a synthesized table (the "
        "context parent its rows are generated under), any number to lookup tables."))
    order_by: str | None = Field(None, description="Sequence column of a child table (a date or counter): "
                                 "children are generated in this order within their parent.")
    lookup: bool = Field(False, description="Reference data: keys and rows kept as in the snapshot, never a root.")
    label: str | None = Field(None, description="Root only: target of the parent-level utility check (root "
                              "columns plus child aggregates, TSTR/TRTR).")

    @model_validator(mode="after")
    def _keys_well_formed(self) -> SynthesizedTableSpec:
        for column, target in self.foreign_keys.items():
            if not re.match(r"^[A-Za-z_]\w*\.[A-Za-z_]\w*$", target):
                raise _FieldProblem(f"foreign key '{column}: {target}' must reference 'table.column'",
                                    f"write e.g. '{column}: customers.customer_id'", f"foreign_keys.{column}")
            if column == self.primary_key:
                raise _FieldProblem(f"'{column}' is the primary key", "reference the parent from another column",
                                    f"foreign_keys.{column}")
        if self.lookup and (self.foreign_keys or self.order_by or self.label):
            raise _FieldProblem("a lookup table is copied as it is, so it takes no foreign_keys, order_by or label",
                                "remove them, or drop `lookup: true` to synthesize it", "lookup")
        return self


def check_table_graph(tables: dict[str, SynthesizedTableSpec]) -> None:
    """One root, every foreign key to a declared table's primary key, one context parent per child, no
    cycles, every lookup referenced; raises _FieldProblem naming the field under `tables`."""
    for name, table in tables.items():
        if not re.match(IDENTIFIER, name):
            raise _FieldProblem(f"'{name}' is not a table name", "use letters, digits and underscores", name)
        parents = []
        for column, target in table.foreign_keys.items():
            target_table, target_column = target.split(".")
            field = f"{name}.foreign_keys.{column}"
            if target_table not in tables:
                raise _FieldProblem(f"references '{target_table}', which is not among the tables {sorted(tables)}",
                                    "declare it under tables too (`lookup: true` for reference data)", field)
            if target_column != tables[target_table].primary_key:
                raise _FieldProblem(f"references '{target}', not the primary key of '{target_table}' "
                                    f"('{tables[target_table].primary_key}')", "reference the primary key", field)
            if not tables[target_table].lookup:
                parents.append(column)
        if len(parents) > 1:
            raise _FieldProblem(f"has {len(parents)} foreign keys to synthesized tables ({', '.join(parents)}); a "
                                "child is generated under one context parent", "keep one of them (others as a "
                                "lookup table or leave the column out of the table's sql)",
                                f"{name}.foreign_keys.{parents[1]}")
        if table.order_by is not None and not parents:
            raise _FieldProblem("order_by orders children within their parent, and this table has none",
                                "remove order_by, or declare the foreign key to its parent", f"{name}.order_by")
    roots = [n for n, t in tables.items() if not t.lookup and context_parent(t, tables) is None]
    if len(roots) != 1:
        raise _FieldProblem(f"needs exactly one root (a synthesized table without a parent), found {len(roots)}: "
                            f"{', '.join(roots) or 'none'}", "give every other table a foreign key to its parent",
                            "" if not roots else f"{roots[-1]}.foreign_keys")
    for name in tables:
        seen, current = [name], context_parent(tables[name], tables)
        while current is not None:
            if current[0] in seen:
                raise _FieldProblem(f"parents form a cycle: {' -> '.join([*seen, current[0]])}",
                                    "make the root table reference no synthesized table", f"{name}.foreign_keys")
            seen.append(current[0])
            current = context_parent(tables[current[0]], tables)
    referenced = {target.split(".")[0] for table in tables.values() for target in table.foreign_keys.values()}
    for name, table in tables.items():
        if table.lookup and name not in referenced:
            raise _FieldProblem(f"lookup table '{name}' is not referenced by any foreign key",
                                f"declare the foreign key that points at {name}, or remove `lookup: true`",
                                f"{name}.lookup")
        if table.label is not None and name != roots[0]:
            raise _FieldProblem("only the root declares the parent-level utility label", "remove it here",
                                f"{name}.label")


def context_parent(table: SynthesizedTableSpec, tables: dict[str, SynthesizedTableSpec]) -> tuple[str, str] | None:
    """(parent table, foreign-key column) of a child table; None for the root and lookups."""
    for column, target in table.foreign_keys.items():
        parent = target.split(".")[0]
        if parent in tables and not tables[parent].lookup:
            return parent, column
    return None


class EarlyStoppingSpec(_Strict):
    patience: int = Field(gt=0, description="Epochs without improvement of the validation score before "
                                            "training stops.")
    min_epochs: int = Field(0, ge=0, description="Epochs trained before early stopping may stop.")
    min_relative_improvement: float | None = Field(
        None, gt=0.0, lt=1.0, description="Score change (relative) that counts as an improvement (ddpm only).")


class ColumnDomain(_Strict):
    """What a column may hold, declared instead of read from the rows (differential privacy: the
    domain is public, so it must not come from the data). Either `values` (a category column) or
    `minimum` and `maximum` (a number, date or timestamp column); `nullable`: whether it may be missing."""

    values: list[str | int | float | bool] | None = Field(
        None, min_length=1, description="Every value a category column may take (public: the generator "
                                        "can emit each of them).")
    minimum: float | datetime | date | None = Field(None, description="Lower bound (numbers are clipped to it).")
    maximum: float | datetime | date | None = Field(None, description="Upper bound (numbers are clipped to it).")
    nullable: bool = Field(False, description="Whether the column may be missing; a missing value in a column "
                                              "declared not nullable is an error.")

    @model_validator(mode="after")
    def _values_or_bounds(self) -> ColumnDomain:
        bounds = (self.minimum is not None, self.maximum is not None)
        if self.values is not None:
            if any(bounds):
                raise _FieldProblem("declares both `values` and bounds", "keep `values` for a category column, "
                                    "or `minimum`/`maximum` for a number, date or timestamp column")
            if len({(type(v).__name__, v) for v in self.values}) != len(self.values):
                raise _FieldProblem("`values` repeats a value", "list each value once", "values")
            return self
        if not all(bounds):
            raise _FieldProblem("needs `values` (a category column) or both `minimum` and `maximum`",
                                "declare the values or the bounds the column may take")
        if type(self.minimum) is not type(self.maximum) or not self.minimum < self.maximum:
            raise _FieldProblem(f"minimum {self.minimum} is not below maximum {self.maximum} (same type)",
                                "give a lower minimum than maximum, both numbers, dates or timestamps")
        return self


class GeneratorSpec(_Strict):
    """The synthcity plugin and its settings. Typed settings are mapped onto the plugin's own argument
    names (core/generator_settings.py); `settings` passes anything else through unchanged."""

    plugin: str = Field("cart", description=(
        "synthcity plugin name, e.g. cart (the default: chosen on UCI Adult, see BENCHMARKS.md), "
        "tvae, ctgan, ddpm, arf, bayesian_network."))
    seed: int = Field(0, ge=0)
    epochs: int | None = Field(None, gt=0, description="Maximum epochs (adversarial rounds for arf).")
    learning_rate: float | None = Field(None, gt=0.0, description="Fixed learning rate of the optimizer.")
    batch_size: Annotated[int, Field(gt=0)] | Literal["auto"] | None = Field(
        None, description="Rows per optimizer step, or auto (from the row count and the free memory).")
    validation_fraction: float | None = Field(None, gt=0.0, lt=0.9, description="Train rows held out to "
                                              "score the model during training (ddpm).")
    early_stopping: EarlyStoppingSpec | None = None
    device: Literal["cpu", "cuda", "auto"] | None = Field(None, description="auto: cuda when torch finds one.")
    progress_every: int | None = Field(None, gt=0, description="Epochs between logged loss lines (and, for "
                                       "most plugins, validation checks); about 10 lines per run by default.")
    epsilon: float | None = Field(None, gt=0.0, description="Differential privacy budget (privbayes).")
    # Refused with the reason (core/generator_settings.py): privbayes is pure epsilon-DP and not trained by
    # gradient descent; synthcity's DP-SGD/PATE/AIM plugins are refused as not DP (synthcity_plugins.UNSUPPORTED).
    epsilon_limit: float | None = Field(None, gt=0.0, description=(
        "Differential privacy: the total epsilon all releases of this dataset may spend together (sequential "
        "composition, core/privacy_ledger.py); a run that would pass it is refused."))
    domain: dict[str, ColumnDomain] = Field(default_factory=dict, description=(
        "Differential privacy: the declared values or bounds and nullability of every synthesized column "
        "(not the entity_key, masked `replaces` columns or calculated columns); they are public and never "
        "read from the rows."))
    delta: float | None = Field(None, gt=0.0, lt=1.0, description="Refused: privbayes is pure epsilon-DP.")
    max_grad_norm: float | None = Field(None, gt=0.0, description="Refused: no DP-SGD generator is offered.")
    noise_multiplier: float | None = Field(None, gt=0.0, description="Refused: no DP-SGD generator is offered.")
    settings: dict[str, Any] = Field(
        default_factory=dict, description="Other keyword arguments of the synthcity plugin."
    )

    @field_validator("plugin")
    @classmethod
    def _known_plugin(cls, plugin: str) -> str:
        from synth_pipelines.core.synthcity_plugins import UNSUPPORTED, available_plugins

        available = available_plugins()
        if plugin not in available:
            problem = (f"synthcity plugin '{plugin}' is not supported here: {UNSUPPORTED[plugin]}"
                       if plugin in UNSUPPORTED else f"unknown synthcity plugin '{plugin}'")
            raise _FieldProblem(problem, f"use one of: {', '.join(sorted(available))}")
        return plugin

    @model_validator(mode="after")
    def _settings_fit_the_plugin(self) -> GeneratorSpec:
        from synth_pipelines.core.generator_settings import SettingProblem, check_settings

        try:
            check_settings(self)
        except SettingProblem as problem:
            raise _FieldProblem(problem.problem, problem.fix, problem.field) from None
        return self

    @property
    def differentially_private(self) -> bool:
        from synth_pipelines.core.generator_settings import DP_ARGUMENTS

        return self.plugin in DP_ARGUMENTS


class RebalanceSpec(_Strict):
    """Target shares of one category column in the synthetic rows (e.g. more defaults than the real 20%)."""

    column: Annotated[str, Field(pattern=IDENTIFIER, description="A category column of the view, e.g. the label.")]
    proportions: dict[str, float] = Field(
        min_length=1, description="value -> share of the synthetic rows; shares sum to 1, unlisted values get 0.")

    @field_validator("proportions", mode="before")
    @classmethod
    def _values_as_text(cls, proportions: Any) -> Any:
        # YAML reads `0: 0.5` as an int key and `true:` as a bool: values are matched as text.
        return {str(k): v for k, v in proportions.items()} if isinstance(proportions, dict) else proportions

    @field_validator("proportions")
    @classmethod
    def _shares(cls, proportions: dict[str, float]) -> dict[str, float]:
        for value, share in proportions.items():
            if not 0.0 <= share <= 1.0:
                raise _FieldProblem(f"share {share} of value '{value}' is not between 0 and 1",
                                    "give each value a fraction, e.g. 0.5", value)
        total = sum(proportions.values())
        if abs(total - 1.0) > 1e-6:
            raise _FieldProblem(f"the shares sum to {total:.6g}, not 1", "make the fractions add up to 1")
        return proportions


class SyntheticSpec(_Strict):
    rows: int = Field(gt=0, description="Number of synthetic rows to generate.")
    batch_rows: int = Field(50_000, gt=0, description="Rows generated and written per batch.")
    rebalance: RebalanceSpec | None = Field(
        None, description="Generate these shares of a category column (quota sampling); QA compares with "
                          "real rows resampled to the same shares.")
    shards: int | None = Field(None, gt=0, description=(
        "Generation and features run as this many steps (each a run of whole batches, so any worker of a "
        "distributed executor can take one); the release has one Parquet part per shard. Default 1."))
    rows_per_shard: int | None = Field(None, gt=0, description=(
        "Instead of shards: one shard per this many rows (rounded up to whole batches)."))

    @model_validator(mode="after")
    def _shardable(self) -> SyntheticSpec:
        if self.shards is not None and self.rows_per_shard is not None:
            raise _FieldProblem("both 'shards' and 'rows_per_shard' are set",
                                "set one of them (rows_per_shard derives the shard count from rows)", "shards")
        if self.shard_count > self.batches:
            field = "shards" if self.shards is not None else "rows_per_shard"
            raise _FieldProblem(
                f"{self.shard_count} shards for {self.batches} batch(es) of {self.batch_rows} rows: a shard is a run "
                "of whole batches", f"use at most {self.batches} shards or lower batch_rows", field)
        return self

    @property
    def batches(self) -> int:
        return -(-self.rows // self.batch_rows)

    @property
    def shard_count(self) -> int:
        if self.rows_per_shard is not None:
            return -(-self.rows // max(self.rows_per_shard, self.batch_rows))
        return self.shards or 1


class CalculatedColumn(_Strict):
    name: Annotated[str, Field(pattern=IDENTIFIER)]
    expression: str = Field(min_length=1, description="DuckDB SQL expression over the synthetic row.")


# Faker providers that make format-valid stand-ins for direct identifiers.
MASK_PROVIDERS = ("name", "first_name", "last_name", "email", "phone_number", "address", "street_address",
                  "city", "postcode", "iban", "bban", "ssn", "company", "user_name", "ipv4", "credit_card_number")


DEFAULT_MASKING_KEY_ENV = "SYNTH_PIPELINES_MASKING_KEY"


class MaskedColumn(_Strict):
    """A format-valid placeholder column (e.g. an email) added to every synthetic row, never trained on."""

    name: Annotated[str, Field(pattern=IDENTIFIER, description="Output column; defaults to `replaces`.")]
    faker: str = Field(description="Faker provider that makes the values, e.g. email, name, iban.")
    locale: str = Field("en_US", description="Faker locale, e.g. en_GB, de_DE.")
    consistent_on: Annotated[str | None, Field(None, pattern=IDENTIFIER, description=(
        "Synthetic column whose value keys the masked value: equal values always get the same masked "
        "value (HMAC-SHA256 of the value with the secret in `key_env` seeds Faker), across runs and releases."))]
    key_env: Annotated[str, Field(DEFAULT_MASKING_KEY_ENV, pattern=IDENTIFIER, description=(
        "Environment variable holding the masking secret of `consistent_on` (never the secret itself)."))]
    replaces: Annotated[str | None, Field(None, pattern=IDENTIFIER, description=(
        "A view column (e.g. a real email) removed before training; the masked column takes its name."))]

    @model_validator(mode="before")
    @classmethod
    def _name_from_replaces(cls, data: Any) -> Any:
        if isinstance(data, dict) and "name" not in data and data.get("replaces"):
            return {**data, "name": data["replaces"]}
        return data

    @model_validator(mode="after")
    def _consistent_settings(self) -> MaskedColumn:
        if self.replaces and self.name != self.replaces:
            raise _FieldProblem(f"name '{self.name}' differs from replaces '{self.replaces}'; the masked "
                                "column takes the replaced column's name", "remove `name`", "name")
        if "key_env" in self.model_fields_set and not self.consistent_on:
            raise _FieldProblem("key_env is set but consistent_on is not, so no key is used",
                                "set consistent_on (the column that keys the masked values) or remove key_env",
                                "key_env")
        if self.consistent_on and self.consistent_on in (self.name, self.replaces):
            raise _FieldProblem(f"a masked column cannot be consistent on itself ('{self.consistent_on}')",
                                "name a synthetic column, e.g. a synthesized customer key", "consistent_on")
        return self

    @field_validator("locale")
    @classmethod
    def _known_locale(cls, locale: str) -> str:
        locales = faker_locales()
        if locale not in locales:
            close = [known for known in locales if known.split("_")[0] == locale.split("_")[0].lower()]
            raise _FieldProblem(f"'{locale}' is not a Faker locale",
                                f"use one of: {', '.join(close)}" if close else
                                "use a Faker locale such as en_US, en_GB, de_DE, fr_FR (faker.config.AVAILABLE_LOCALES)")
        return locale

    @field_validator("faker")
    @classmethod
    def _known_provider(cls, provider: str) -> str:
        if provider not in MASK_PROVIDERS:
            raise _FieldProblem(f"'{provider}' is not a supported masking provider",
                                f"use one of: {', '.join(MASK_PROVIDERS)}")
        return provider


@cache
def faker_locales() -> list[str]:
    """Faker's locales, as faker.config.AVAILABLE_LOCALES lists them (the locale sub-packages of its
    provider packages), read from its folders: importing faker.config imports every provider module,
    most of a second on each CLI command that loads a spec (tested equal to AVAILABLE_LOCALES)."""
    found = importlib.util.find_spec("faker")
    if found is None or not found.submodule_search_locations:
        return []
    providers = Path(list(found.submodule_search_locations)[0]) / "providers"
    return sorted({locale.name for provider in pkgutil.iter_modules([str(providers)]) if provider.ispkg
                   for locale in pkgutil.iter_modules([str(providers / provider.name)]) if locale.ispkg})


class FeaturesSpec(_Strict):
    calculated_columns: list[CalculatedColumn] = Field(default_factory=list)
    masked_columns: list[MaskedColumn] = Field(default_factory=list)
    drop_columns: list[str] = Field(default_factory=list, description="Dropped after calculation.")

    @model_validator(mode="after")
    def _masked_keys_are_synthesized(self) -> FeaturesSpec:
        masked = {m.name for m in self.masked_columns}
        replaced = [m.replaces for m in self.masked_columns if m.replaces]
        for index, column in enumerate(self.masked_columns):
            if column.consistent_on in masked or column.consistent_on in replaced:
                raise _FieldProblem(f"'{column.consistent_on}' is a masked or replaced column, never synthesized",
                                    "name a synthesized column of the view (or a calculated one)",
                                    f"masked_columns[{index}].consistent_on")
            if column.replaces and replaced.count(column.replaces) > 1:
                raise _FieldProblem(f"'{column.replaces}' is replaced twice", "replace it once",
                                    f"masked_columns[{index}].replaces")
        return self


class QASpec(QAThresholds):
    """QA thresholds and options (see core/quality/thresholds.py) plus the publication policy."""

    require_approval: bool = Field(
        False, description="Publish only after a person approved the QA'd rows (synth-pipelines approve).")


class LocalDestination(_Strict):
    kind: Literal["local"] = "local"
    path: str = Field("releases", description="Folder; relative paths are under SYNTH_PIPELINES_HOME.")

    @field_validator("path")
    @classmethod
    def _stays_where_written(cls, path: str) -> str:
        # A relative path lands under SYNTH_PIPELINES_HOME, so `..` would climb out of it unseen.
        if not path.strip() or ".." in Path(path).parts:
            raise _FieldProblem(f"'{path}' climbs out of its folder with '..'" if path.strip() else "is empty",
                                "write a folder under SYNTH_PIPELINES_HOME such as 'releases', or an absolute "
                                "path (starting with /) for a folder elsewhere")
        return path

    def root(self) -> Path:
        path = Path(self.path)
        return path if path.is_absolute() else storage_root() / path


# Field names that look like credentials: S3 credentials come only from the environment or the
# standard AWS chain (env vars, AWS_PROFILE, instance/pod role), never from a spec file in git.
_SECRET_FIELD = re.compile(r"(secret|access_?key|key_?id|password|passwd|token|credential|session)", re.I)


def _valid_bucket(name: str) -> bool:
    """S3's bucket naming rules: 3-63 characters of lowercase letters, digits, '.' and '-', a letter or digit
    at both ends, no '..', not an IP address."""
    return bool(re.fullmatch(r"[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]", name)) and ".." not in name \
        and not re.fullmatch(r"\d+\.\d+\.\d+\.\d+", name)


class S3Destination(_Strict):
    """Releases as objects in an S3 bucket (AWS, MinIO, ...); credentials from the environment."""

    kind: Literal["s3"]
    bucket: str = Field(description="Bucket name.")
    prefix: str = Field("", description="Key prefix of all releases, e.g. 'synthetic/releases'.")
    region: str | None = Field(None, description="AWS region; the standard chain's default when omitted.")
    endpoint_url: str | None = Field(None, description="S3-compatible endpoint (MinIO, ...); AWS when omitted.")

    @model_validator(mode="before")
    @classmethod
    def _no_credentials(cls, data: Any) -> Any:
        for name in data if isinstance(data, dict) else ():
            if _SECRET_FIELD.search(str(name)):
                raise _FieldProblem(
                    f"'{name}' looks like a credential; S3 credentials are never read from the spec",
                    "remove it and provide credentials through the environment (AWS_ACCESS_KEY_ID and "
                    "AWS_SECRET_ACCESS_KEY, AWS_PROFILE) or an instance/pod role", str(name))
        return data

    @field_validator("bucket")
    @classmethod
    def _bucket_name(cls, bucket: str) -> str:
        if not _valid_bucket(bucket):
            suggestion = re.sub(r"\.{2,}", ".", re.sub(r"[^a-z0-9.\-]+", "-", bucket.lower())).strip(".-")[:63]
            raise _FieldProblem(f"'{bucket}' is not a valid S3 bucket name", "use 3 to 63 lowercase letters, digits, "
                                "'.' and '-', starting and ending with a letter or digit, not shaped like an IP address"
                                + (f", e.g. '{suggestion}'" if _valid_bucket(suggestion) else ""))
        return bucket

    @field_validator("endpoint_url")
    @classmethod
    def _endpoint_without_userinfo(cls, url: str | None) -> str | None:
        if url is not None and not re.match(r"^https?://[^/@\s]+(/.*)?$", url):
            raise _FieldProblem(f"'{url.split('@')[-1]}' is not an http(s) URL without credentials",
                                "write e.g. http://minio.internal:9000; credentials come from the environment")
        return url

    @field_validator("prefix")
    @classmethod
    def _clean_prefix(cls, prefix: str) -> str:
        if ".." in prefix.split("/") or prefix.startswith(".staging-"):
            raise _FieldProblem(f"'{prefix}' is not a usable key prefix", "write e.g. synthetic/releases")
        return prefix.strip("/")


# Bulk loaders exist for these drivers only (COPY through psycopg2, LOAD DATA/executemany through pymysql).
_SQL_DESTINATION_DRIVERS = {"postgresql": ("psycopg2",), "mysql": ("pymysql",), "mariadb": ("pymysql",)}


class SqlDestination(_Strict):
    """Releases as tables in a SQL database (one per release), a features_vN view and a registry."""

    model_config = ConfigDict(populate_by_name=True)

    kind: Literal["sql"]
    url: str = Field(description="SQLAlchemy URL of the destination; ${ENV_VAR} is replaced from the environment.",
                     repr=False)  # may carry a password once interpolated
    db_schema: Annotated[str | None, Field(None, alias="schema", pattern=IDENTIFIER,
                                           description="Schema (PostgreSQL) or database (MySQL) of the tables.")]

    @field_validator("url")
    @classmethod
    def _supported_url(cls, url: str) -> str:
        try:
            parsed = make_url(url)
        except ArgumentError:
            raise _FieldProblem("not a SQLAlchemy URL", "write e.g. "
                                "postgresql+psycopg2://writer:${DEST_DB_PASSWORD}@host:5432/features") from None
        backend, driver = parsed.get_backend_name(), parsed.get_driver_name()
        if driver not in _SQL_DESTINATION_DRIVERS.get(backend, ()):
            raise _FieldProblem(f"'{parsed.drivername}' is not a supported destination driver",
                                "use postgresql+psycopg2 or mysql+pymysql (MariaDB too)")
        if backend != "postgresql" and not parsed.database:
            raise _FieldProblem("names no database", "append /<database> to the URL")
        return url


Destination = Annotated[LocalDestination | S3Destination | SqlDestination, Field(discriminator="kind")]


def same_database(url_a: str, url_b: str, schema_a: str | None = None, schema_b: str | None = None,
                  *, resolve: bool = False) -> bool:
    """Whether two SQLAlchemy URLs reach the same database (same server and database; for MySQL a
    `schema` is the database). Compared is what the driver will connect to, not the URL's text:
    query parameters such as `?dbname=`, `?host=`, `?port=` override the URL's parts, and libpq's
    PG* environment variables fill what is missing. `resolve` also compares the hosts' addresses."""
    try:
        a, b = connection_target(url_a, schema_a), connection_target(url_b, schema_b)
    except HiddenTargetError:
        return True  # cannot be told apart: treated as the same (the spec check names the parameter)
    if a is None or b is None or a.family != b.family:
        return False
    if a.family == "sqlite":
        return bool(a.database) and Path(a.database).resolve() == Path(b.database or "").resolve()
    if (a.database or "").lower() != (b.database or "").lower():
        return False
    return any(port_a == port_b and _same_host(host_a, host_b, resolve)
               for host_a, port_a in a.servers for host_b, port_b in b.servers)


class ConnectionTarget(BaseModel):
    """The server(s) and database a URL's driver connects to."""

    family: str
    servers: list[tuple[str, int]] = []
    database: str | None = None


# Driver parameters that take the target from somewhere the URL does not show (a service or option file).
_HIDDEN_TARGET_PARAMETERS = {"service", "dsn", "read_default_file", "read_default_group"}


class HiddenTargetError(ValueError):
    """The URL names its server or database through a file or service that cannot be compared."""


def connection_target(url: str, schema: str | None = None) -> ConnectionTarget | None:
    """What the driver of `url` will connect to (None when it is no URL of a known family); raises
    HiddenTargetError when a parameter hides it (`?service=`, `?read_default_file=`, ...)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return None
    family = {"postgresql": "postgresql", "mysql": "mysql", "mariadb": "mysql", "sqlite": "sqlite"}.get(
        parsed.get_backend_name())
    if family is None:
        return None
    if family == "sqlite":
        return ConnectionTarget(family=family, database=parsed.database)
    hidden = sorted(_HIDDEN_TARGET_PARAMETERS & set(parsed.query))
    if hidden:
        raise HiddenTargetError(f"?{hidden[0]}= takes the server or database from outside the URL")
    try:
        _, kwargs = parsed.get_dialect()().create_connect_args(parsed)
    except Exception:  # noqa: BLE001 - a dialect that cannot build its arguments: compare the URL's parts
        kwargs = {**parsed.translate_connect_args(), **parsed.query}
    env = os.environ
    if family == "postgresql":
        hosts = str(kwargs.get("host") or env.get("PGHOST") or "localhost").split(",")
        ports = str(kwargs.get("port") or env.get("PGPORT") or "5432").split(",")
        database = (kwargs.get("dbname") or kwargs.get("database") or env.get("PGDATABASE") or kwargs.get("user")
                    or env.get("PGUSER"))
    else:
        hosts = ["localhost" if kwargs.get("unix_socket") else str(kwargs.get("host") or "localhost")]
        ports = [str(kwargs.get("port") or 3306)]
        database = schema or kwargs.get("database") or kwargs.get("db")
    if len(ports) == 1:
        ports = ports * len(hosts)
    servers = [("localhost" if host.startswith("/") else host, int(port or 0)) for host, port in zip(hosts, ports)]
    return ConnectionTarget(family=family, servers=servers, database=str(database) if database else None)


def _same_host(host_a: str | None, host_b: str | None, resolve: bool) -> bool:
    loopback = {"", "localhost", "127.0.0.1", "::1", "localhost.localdomain"}

    def normal(host: str | None) -> str:
        host = (host or "").lower().strip("[]")
        return "localhost" if host in loopback or host.startswith("127.") else host

    if normal(host_a) == normal(host_b):
        return True
    if not resolve:
        return False

    def addresses(host: str | None) -> set[str]:
        if normal(host) == "localhost":
            return {"localhost"}
        try:
            found = {info[4][0] for info in socket.getaddrinfo(host, None)}
        except OSError:
            return set()
        return {"localhost" if a.startswith("127.") or a == "::1" else a for a in found}

    return bool(addresses(host_a) & addresses(host_b))


class RefreshSpec(_Strict):
    """A snapshot per day from start_date; the scheduled refresh (a cron sensor) takes the tick's day at `cron`."""

    cron: str = Field("0 3 * * *", description="When the scheduled refresh runs (cron, in `timezone`).")
    timezone: str = "UTC"
    start_date: date = Field(date(2026, 1, 1), description="First day a snapshot can be taken for.")
    release_ttl_days: int | None = Field(
        90, gt=0, description="A release expires this many days after publication; null: never.")

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, timezone: str) -> str:
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise _FieldProblem(f"'{timezone}' is not a time zone",
                                "use an IANA time zone name such as UTC, Europe/Berlin or America/New_York") from None
        return timezone

    def today(self) -> date:
        """Today in the spec's time zone: the newest day a snapshot can be taken for."""
        return datetime.now(ZoneInfo(self.timezone)).date()

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, cron: str) -> str:
        # Shape only; the scheduled refresh checks the fields (core/cron.py, Dagster's rules) when the code location loads.
        if len(cron.split()) != 5 or not re.fullmatch(r"[\d*/,\-\sA-Za-z?LW#]+", cron):
            raise _FieldProblem(f"'{cron}' is not a cron expression", "write five fields, e.g. '0 3 * * *'")
        return cron


class DatasetSpec(_Strict):
    dataset: Annotated[str, Field(pattern=IDENTIFIER, description="Dagster group and key prefix.")]
    version: int = Field(ge=1, description="Feature version: releases are features_v<version>.")
    description: str = ""
    owners: list[str] = Field(default_factory=list)
    source: SourceSpec
    training_view: TrainingViewSpec
    generator: GeneratorSpec = GeneratorSpec()
    synthetic: SyntheticSpec
    features: FeaturesSpec = FeaturesSpec()
    qa: QASpec = QASpec()
    destination: Destination = LocalDestination()
    refresh: RefreshSpec = RefreshSpec()
    tables: dict[str, SynthesizedTableSpec] | None = Field(None, min_length=2, description=(
        "Multi-table synthesis besides the training view: one root table, child tables generated under "
        "their parent, lookup tables copied (core/multitable.py); published together in one release."))

    @model_validator(mode="after")
    def _cross_field(self) -> DatasetSpec:
        calculated = {c.name for c in self.features.calculated_columns}
        if self.training_view.label in self.features.drop_columns:
            raise _FieldProblem(f"drops the label '{self.training_view.label}'", "remove it there",
                                "features.drop_columns")
        if self.training_view.label in calculated:
            raise _FieldProblem(f"a calculated column cannot replace the label '{self.training_view.label}'",
                                "rename it", "features.calculated_columns")
        return self

    @model_validator(mode="after")
    def _data_treatment_columns(self) -> DatasetSpec:
        view = self.training_view
        for index, masked in enumerate(self.features.masked_columns):
            if masked.replaces in (view.label, view.entity_key):
                raise _FieldProblem(f"cannot replace '{masked.replaces}': it is the view's label or entity_key",
                                    "replace a direct identifier column instead",
                                    f"features.masked_columns[{index}].replaces")
        rebalance = self.synthetic.rebalance
        if rebalance and rebalance.column == view.entity_key:
            raise _FieldProblem("cannot rebalance the entity_key (never synthesized)",
                                "name a category column such as the label", "synthetic.rebalance.column")
        if rebalance and rebalance.column == view.label and view.task == "regression":
            raise _FieldProblem(f"the label '{view.label}' of a regression is a number, not a category",
                                "rebalance a category column", "synthetic.rebalance.column")
        return self

    @model_validator(mode="after")
    def _tables_graph(self) -> DatasetSpec:
        if self.tables is None:
            return self
        try:
            check_table_graph(self.tables)
        except _FieldProblem as problem:
            raise _FieldProblem(problem.problem, problem.fix, f"tables.{problem.field}".rstrip(".")) from None
        for name, table in self.tables.items():
            if table.sql is None and name not in self.source.tables:
                raise _FieldProblem(f"'{name}' is no source table and has no sql", "write its `sql:` over the "
                                    "snapshot tables, or name it like a table of source.tables", f"tables.{name}")
        if self.generator.plugin != "cart":
            raise _FieldProblem(f"multi-table synthesis generates children conditioned on their parent with the "
                                f"cart plugin; '{self.generator.plugin}' cannot be conditioned that way",
                                "use plugin: cart, or remove `tables:`", "generator.plugin")
        return self

    @model_validator(mode="after")
    def _privacy_for_one_table(self) -> DatasetSpec:
        # A DP budget bounds what one row of one table can reveal; rows of several synthesized tables
        # (a customer and their loans) would each spend it on the same person.
        synthesized = sorted(name for name, table in self.source.tables.items() if not table.lookup)
        if self.generator.differentially_private and len(synthesized) > 1:
            raise _FieldProblem(f"differential privacy is only supported when one table is synthesized; "
                                f"source.tables has {len(synthesized)}: {', '.join(synthesized)}",
                                "declare one source table (others only as `lookup: true` reference data), or "
                                "use a plugin that is not differentially private", "generator.epsilon")
        return self

    @model_validator(mode="after")
    def _destination_isolated(self) -> DatasetSpec:
        # Releases never land in the source (production) database, whatever the URLs' spelling.
        destination = self.destination
        if not isinstance(destination, SqlDestination):
            return self
        for field, url in (("destination.url", destination.url), ("source.url", self.source.url)):
            try:
                connection_target(url)
            except HiddenTargetError as exc:
                raise _FieldProblem(f"{masked_url(url)}: {exc}, so a SQL destination cannot be shown to be "
                                    "another database than the source", "write the host, port and database "
                                    "in the URL itself", field) from None
        if same_database(destination.url, self.source.url, destination.db_schema):
            raise _FieldProblem(f"{masked_url(destination.url)} is the source database; publishing into "
                                "the source is refused", "publish to a separate database (or another "
                                "server)", "destination.url")
        return self

    @property
    def release_name(self) -> str:
        return f"features_v{self.version}"


class LoadedSpec(BaseModel):
    """A validated spec plus where it came from; `raw` keeps the text before ${ENV} interpolation."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    path: Path
    spec: DatasetSpec
    raw: dict[str, Any]

    @property
    def spec_hash(self) -> str:
        """Hash of the spec as written (secrets stay as ${VAR}), so it is stable across machines."""
        canonical = json.dumps(self.raw, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(canonical.encode()).hexdigest()

    def error(self, field: str, problem: str, fix: str) -> SpecError:
        return spec_error(self.path, field, problem, fix)

    def error_from(self, problem: FieldError) -> SpecError:
        return self.error(problem.field, problem.problem, problem.fix)

    def check_start_date(self) -> None:
        """A start_date after today leaves no snapshot partition to run. Checked by validate and run, not
        when the spec loads: a spec whose dataset starts next month must not stop the code location
        (every other dataset in it) from loading until then."""
        refresh = self.spec.refresh
        today = refresh.today()
        if refresh.start_date > today:
            raise self.error("refresh.start_date", f"{refresh.start_date} is in the future (today is {today} in "
                             f"{refresh.timezone}), so there is no snapshot partition to run",
                             f"use a date on or before {today}")


def spec_error(path: Path | str, field: str, problem: str, fix: str) -> SpecError:
    return SpecError(f"{path}: {field}: {problem}. Fix: {fix}")


# A spec file is either a plain spec (the fields at the top) or a dg component file, `defs.yaml`, whose
# `attributes:` are the spec (orchestration/component.py). Both name their fields the same way.
COMPONENT_TYPE = "synth_pipelines.SyntheticDataset"
_COMPONENT_TYPES = {COMPONENT_TYPE, "synth_pipelines.orchestration.component.SyntheticDataset"}  # same class
EXAMPLE_SPEC = "synth_pipelines/defs/datasets/demo_loans/defs.yaml"


def load_spec(path: str | Path) -> LoadedSpec:
    """Read, interpolate and validate a spec file (plain or defs.yaml); raise SpecError naming file, field and fix."""
    return spec_from_data(spec_fields(path), Path(path))


def spec_fields(path: str | Path) -> Any:
    """The spec's fields as written (before interpolation): a plain file's top level, a defs.yaml's attributes."""
    path = Path(path)
    if not path.is_file():
        raise SpecError(f"{path}: spec file not found. Fix: pass the path of a dataset's defs.yaml or of a "
                        "plain YAML spec")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise SpecError(f"{path}: not valid YAML ({exc}). Fix: correct the YAML syntax at that line") from exc
    if isinstance(raw, dict) and "type" in raw:
        if raw["type"] not in _COMPONENT_TYPES:
            raise spec_error(path, "type", f"'{raw['type']}' is not a dataset", f"write type: {COMPONENT_TYPE}")
        return raw.get("attributes")
    return raw


def as_component_file(spec_text: str) -> str:
    """A plain spec's text as a defs.yaml: its leading comments stay on top, every other line moves under
    `attributes:` (indented), so comments and layout survive the migration."""
    lines = spec_text.splitlines()
    head = 0
    while head < len(lines) and (not lines[head].strip() or lines[head].lstrip().startswith("#")):
        head += 1
    body = [f"  {line}" if line.strip() else "" for line in lines[head:]]
    return "\n".join([*lines[:head], f"type: {COMPONENT_TYPE}", "attributes:", *body]) + "\n"


def spec_from_data(raw: Any, path: Path) -> LoadedSpec:
    """Interpolate and validate the fields of a spec read from `path` (a file's top level or its
    `attributes:`); errors name `path`, the field and the fix."""
    if not isinstance(raw, dict):
        raise SpecError(f"{path}: the spec must be a YAML mapping of fields. Fix: start from {EXAMPLE_SPEC}")
    data = _interpolate(raw, path, field="")
    try:
        spec = DatasetSpec.model_validate(data)
    except ValidationError as exc:
        raise SpecError(_describe_validation_error(path, exc)) from None
    return LoadedSpec(path=path, spec=spec, raw=raw)


def load_specs(folder: str | Path) -> list[LoadedSpec]:
    """Every plain spec (*.yaml, *.yml) directly in `folder`."""
    specs = [load_spec(p) for p in sorted(Path(folder).glob("*.yaml")) + sorted(Path(folder).glob("*.yml"))]
    check_unique_datasets(specs)
    return specs


def check_unique_datasets(specs: list[LoadedSpec]) -> None:
    """Every Dagster name carries the dataset, so two specs with one dataset name cannot load together."""
    seen: dict[str, Path] = {}
    for loaded in specs:
        name = loaded.spec.dataset
        if name in seen:
            raise spec_error(loaded.path, "dataset", f"name '{name}' is already used by {seen[name]}",
                             "give every spec its own dataset name (or delete the copy a migration left)")
        seen[name] = loaded.path


def _interpolate(value: Any, path: Path, field: str) -> Any:
    """Replace ${VAR} and ${VAR:-default} in strings; SYNTH_PIPELINES_HOME always has a value."""
    if isinstance(value, dict):
        return {k: _interpolate(v, path, f"{field}.{k}" if field else str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, path, f"{field}[{i}]") for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value
    env = {"SYNTH_PIPELINES_HOME": str(storage_root()), **os.environ}

    encoded_until = _url_credentials_end(value)

    def replace(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in env:
            found = env[name]
        elif default is not None:
            found = default
        else:
            raise spec_error(path, field, f"environment variable {name} is not set",
                             f"export {name}=... before running, or write ${{{name}:-default}}")
        # In a URL's user part or query a value is data: percent-encode it, so a password holding
        # '@', ':', '/' or '?' can neither move the host nor escape masking.
        if match.start() < encoded_until or _in_url_query(value, match.start()):
            return quote(found, safe="")
        return found

    return _ENV_PATTERN.sub(replace, value)


_URL_START = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")


def _url_credentials_end(text: str) -> int:
    """Where the user part (`user:password@`) of a URL written as `text` ends; 0 when `text` is no URL
    or has none. The template's own '@' (after ${VARS}, which hold none) marks it."""
    start = _URL_START.match(text)
    if not start:
        return 0
    authority = re.split(r"[/?#]", _ENV_PATTERN.sub(lambda m: "x" * len(m.group(0)), text[start.end():]), 1)[0]
    return start.end() + authority.rfind("@") + 1 if "@" in authority else 0


def _in_url_query(text: str, position: int) -> bool:
    return bool(_URL_START.match(text)) and "?" in text[:position]


_FIX_BY_ERROR_TYPE = {
    "missing": "add this field",
    "extra_forbidden": "remove this field or correct its spelling",
    "greater_than": "use a larger value",
    "greater_than_equal": "use a larger value",
    "less_than": "use a smaller value",
    "less_than_equal": "use a smaller value",
    "string_pattern_mismatch": "use letters, digits and underscores, starting with a letter",
    "literal_error": "use one of the allowed values",
    "union_tag_invalid": "use one of the allowed kinds",
    "too_short": "add at least one entry",
}


def _describe_validation_error(path: Path, exc: ValidationError) -> str:
    lines = []
    for error in exc.errors():
        field = ".".join(str(part) for part in error["loc"])
        problem = (error.get("ctx") or {}).get("error")
        if isinstance(problem, _FieldProblem):
            # Our own validators name the field below the model they check, the problem and the fix.
            field = ".".join(part for part in (field, problem.field) if part)
            lines.append(f"{path}: {field or '(top level)'}: {problem.problem}. Fix: {problem.fix}")
            continue
        message = error["msg"].removeprefix("Value error, ")
        fix = _FIX_BY_ERROR_TYPE.get(error["type"], "see the message")
        lines.append(f"{path}: {field or '(top level)'}: {message}. Fix: {fix}")
    return "\n".join(lines)


def _check_sqlalchemy_url(url: str) -> None:
    from synth_pipelines.core.source import _READ_ONLY_STATEMENTS  # the dialects a source can use

    read_only_backends = sorted(_READ_ONLY_STATEMENTS)
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise _FieldProblem(
            "not a SQLAlchemy URL",
            "write e.g. postgresql+psycopg2://user:${DB_PASSWORD}@host:5432/db or sqlite:///path/to/file.sqlite",
        ) from None
    drivers = "use postgresql+psycopg2, mysql+pymysql or sqlite, or install the driver"
    try:
        dialect = parsed.get_dialect()
    except NoSuchModuleError:
        raise _FieldProblem(f"no SQLAlchemy dialect or driver '{parsed.drivername}' is installed", drivers) from None
    if parsed.get_backend_name() not in read_only_backends:
        raise _FieldProblem(f"source dialect '{parsed.get_backend_name()}' has no read-only mode configured here",
                            f"use one of: {', '.join(read_only_backends)}")
    try:
        dialect.import_dbapi()  # a known dialect can still lack its driver module (e.g. pg8000)
    except ImportError as exc:
        raise _FieldProblem(f"the driver of '{parsed.drivername}' is not installed ({exc})", drivers) from None


_SECRET_QUERY_KEY = re.compile(r"(pass|secret|token|key|credential)", re.I)


def masked_url(url: str) -> str:
    """The URL with its whole user part (name and password) replaced by ***, and the values of
    credential-like query parameters (`?password=`) too: for logs, metadata, errors and manifests."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return "<unparseable URL>"
    query = {k: ("***" if _SECRET_QUERY_KEY.search(k) else v) for k, v in parsed.query.items()}
    hidden = parsed.username is not None or parsed.password is not None
    if parsed.host and "@" in parsed.host:  # an unencoded '@' in a password: the host is after the last one
        parsed, hidden = parsed._replace(host=parsed.host.rsplit("@", 1)[1]), True
    text = parsed._replace(username=None, password=None).set(query=query).render_as_string(hide_password=False)
    if hidden:
        scheme, _, rest = text.partition("://")
        text = f"{scheme}://***@{rest}"
    return text.replace("%2A%2A%2A", "***")

"""Lookup tables (`source.tables.<t>.lookup: true`): reference data kept verbatim.

A lookup table is not synthesized: its snapshot is published with every release
(`lookups/<table>.parquet`), and a view column that holds a key into it is synthesized as a
category (only keys seen in the train rows come out) and checked after generation, so every
synthetic foreign key resolves against the published lookup table.

Which view columns are such keys is read from the spec by name: a view column named like a
foreign-key column declared in `source.tables` whose target is a lookup table (e.g. `branch_id`
for `accounts.foreign_keys: {branch_id: branches.branch_id}`). Select the key under that name
(`a.branch_id`, not `a.branch_id AS home_branch`): a renamed column is not recognized.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import pyarrow.parquet as pq

from synth_pipelines.spec import SourceSpec


class LookupKeyError(ValueError):
    """Synthetic rows reference keys a lookup table does not have, or a key column is ambiguous."""


def lookup_tables(source: SourceSpec) -> list[str]:
    return [name for name, table in source.tables.items() if table.lookup]


def lookup_foreign_keys(source: SourceSpec, columns: Iterable[str]) -> dict[str, str]:
    """View columns holding a key of a lookup table: column -> 'table.column' it references."""
    targets: dict[str, set[str]] = {}
    for name, table in source.tables.items():
        for column, target in table.foreign_keys.items():
            if source.tables[target.split(".")[0]].lookup:
                targets.setdefault(column, set()).add(target)
    found = {}
    for column in columns:
        if column not in targets:
            continue
        if len(targets[column]) > 1:
            raise LookupKeyError(
                f"view column '{column}' is a foreign key into several lookup tables ({sorted(targets[column])}); "
                "select it under one name per lookup table in training_view.sql and declare that name under "
                "source.tables.<table>.foreign_keys")
        found[column] = next(iter(targets[column]))
    return found


def check_lookup_keys(rows_path: Path | list[str], keys: Mapping[str, str],
                      table_paths: Mapping[str, Path]) -> dict[str, int]:
    """Raise unless every non-missing value of each key column is a key of its lookup table snapshot.
    `rows_path`: the synthetic rows, one Parquet file or a list of parts.

    Returns the number of distinct keys referenced per column.
    """
    referenced = {}
    for column, target in keys.items():
        table, key = target.split(".")
        allowed = set(pq.read_table(table_paths[table], columns=[key]).column(key).to_pylist())
        values = set(pq.read_table(rows_path, columns=[column]).column(column).unique().to_pylist()) - {None}
        unknown = values - allowed
        if unknown:
            raise LookupKeyError(
                f"synthetic column '{column}' references {len(unknown)} keys missing from lookup table '{table}' "
                f"(e.g. {sorted(unknown, key=str)[:5]}); the real rows reference them too: fix the source's "
                f"referential integrity or keep only rows whose {column} exists in {table} (an inner JOIN) in "
                "training_view.sql")
        referenced[column] = len(values)
    return referenced

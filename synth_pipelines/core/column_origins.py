"""Where each column of the synthetic rows and features comes from, in words and as input columns: the
column descriptions and column lineage the UI shows. A calculated column's inputs are the columns its
expression names, as DuckDB's own parser reads it (no regex over SQL text)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from synth_pipelines.core.sql import sandboxed_duckdb
from synth_pipelines.spec import CalculatedColumn, FeaturesSpec, MaskedColumn

ROW_ID = "synthetic_id"
Origin = Literal["synthesized", "calculated", "masked", "row_id"]


@dataclass(frozen=True)
class ColumnOrigin:
    name: str
    origin: Origin
    inputs: tuple[str, ...]  # same-named column upstream for a synthesized one; the synthetic rows' columns otherwise
    description: str


def expression_inputs(expression: str) -> tuple[str, ...]:
    """The columns a DuckDB expression reads, in order of first use (`t.x` reads `x`)."""
    with sandboxed_duckdb() as con:
        tree = json.loads(con.execute("SELECT json_serialize_sql(?)", [f"SELECT ({expression}) FROM rows"]).fetchone()[0])
    found: dict[str, None] = {}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("class") == "COLUMN_REF":
                found[node["column_names"][-1]] = None
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(tree)
    return tuple(found)


def synthesized(name: str, plugin: str) -> ColumnOrigin:
    if name == ROW_ID:
        return ColumnOrigin(name, "row_id", (), "Synthetic row id (dataset-snapshot-number); linked to no real row.")
    return ColumnOrigin(name, "synthesized", (name,),
                        f"Synthesized by {plugin}, learned from the train rows' {name} (their joint "
                        "distribution, no one row).")


def feature_origins(columns: list[str], features: FeaturesSpec, plugin: str) -> list[ColumnOrigin]:
    """One ColumnOrigin per column of the feature rows (`columns`, in their order)."""
    calculated = {c.name: c for c in features.calculated_columns}
    masked = {m.name: m for m in features.masked_columns}
    origins = []
    for name in columns:
        if name in calculated:
            expression = " ".join(calculated[name].expression.split())
            origins.append(ColumnOrigin(name, "calculated", expression_inputs(expression),
                                        f"Calculated from the synthetic rows: {expression}"))
        elif name in masked:
            origins.append(_masked(masked[name], calculated))
        else:
            origins.append(synthesized(name, plugin))
    return origins


def _masked(column: MaskedColumn, calculated: dict[str, CalculatedColumn]) -> ColumnOrigin:
    on = column.consistent_on
    how = f"the same value for the same {on}" if on else "random per row"
    text = f"Masked: a Faker {column.faker} ({column.locale}), {how}; no source value is in it."
    if column.replaces:
        text += f" Stands in for the source's {column.replaces}, which was never trained on."
    inputs: tuple[str, ...] = ()
    if on:  # keyed on a synthesized column, or on a calculated one's inputs
        inputs = expression_inputs(calculated[on].expression) if on in calculated else (on,)
    return ColumnOrigin(column.name, "masked", inputs, text)

"""Stage 5: calculated columns and masked columns on the synthetic rows, then the spec's drops.

Expressions are DuckDB SQL evaluated over the synthetic rows, never Python `eval` of spec text:
a spec can compute `CASE WHEN age < 35 THEN '18-34' ... END` but cannot run code. Masked columns
are format-valid Faker values (emails, names, IBANs) for downstream tools that need the field;
they are made per synthetic row from a seed and carry no information from the source.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from faker import Faker

from synth_pipelines.core.sql import quote_identifier
from synth_pipelines.spec import FeaturesSpec


class FeatureExpressionError(ValueError):
    pass


def _select_sql(features: FeaturesSpec, columns: list[str]) -> str:
    kept = [quote_identifier(c) for c in columns if c not in features.drop_columns]
    calculated = [f"({c.expression}) AS {quote_identifier(c.name)}" for c in features.calculated_columns
                  if c.name not in features.drop_columns]
    return f"SELECT {', '.join(kept + calculated)} FROM rows"


def _check_calculated(features: FeaturesSpec, columns: list[str]) -> None:
    """Each added column gets a new name; each expression is one SQL expression (no `;` smuggling in statements)."""
    taken = set(columns)
    for kind, items in (("calculated_columns", features.calculated_columns), ("masked_columns", features.masked_columns)):
        for index, item in enumerate(items):
            if item.name in taken:
                raise FeatureExpressionError(
                    f"features.{kind}[{index}].name: '{item.name}' is already a column; give the column a new name")
            taken.add(item.name)
    for index, calculated in enumerate(features.calculated_columns):
        try:
            statements = duckdb.extract_statements(f"SELECT ({calculated.expression}) FROM rows")
        except duckdb.Error as exc:
            raise FeatureExpressionError(
                f"features.calculated_columns[{index}].expression: {str(exc).splitlines()[0]}; "
                "write a DuckDB SQL expression over the view's columns") from None
        if len(statements) != 1:
            raise FeatureExpressionError(
                f"features.calculated_columns[{index}].expression: is not a single SQL expression; "
                "remove the ';' and the statements after it")


def check_feature_expressions(features: FeaturesSpec, typed_rows: pa.Table) -> None:
    """Fail early when a dropped column or an expression does not fit the rows' columns and types.

    `typed_rows` may be empty: DuckDB binds names and types without needing data.
    """
    columns = typed_rows.column_names
    calculated_names = {c.name for c in features.calculated_columns} | {m.name for m in features.masked_columns}
    for index, column in enumerate(features.drop_columns):
        if column not in columns and column not in calculated_names:
            raise FeatureExpressionError(
                f"features.drop_columns[{index}]: '{column}' is not a column of the synthetic rows "
                f"({', '.join(columns)}); correct the name or remove it")
    _check_calculated(features, columns)
    with _sandboxed_duckdb(typed_rows) as con:
        for index, calculated in enumerate(features.calculated_columns):
            try:
                con.execute(f"SELECT ({calculated.expression}) FROM rows LIMIT 0")
            except duckdb.Error as exc:
                raise FeatureExpressionError(
                    f"features.calculated_columns[{index}].expression: {str(exc).splitlines()[0]}; "
                    "write a DuckDB SQL expression over the view's columns") from None


@contextmanager
def _sandboxed_duckdb(rows: pa.Table | ds.Dataset) -> Iterator[duckdb.DuckDBPyConnection]:
    """DuckDB with `rows` registered and no file or network access: spec expressions can compute,
    not read /etc/passwd through a subquery. Locked so an expression cannot switch it back on."""
    with duckdb.connect() as con:
        con.register("rows", rows)
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
        yield con


def apply_features(rows_path: Path, features: FeaturesSpec, out_path: Path, seed: int = 0,
                   batch_rows: int = 100_000) -> int:
    """Write the feature rows to `out_path`, streaming batches, and return the row count."""
    columns = pq.read_schema(rows_path).names
    _check_calculated(features, columns)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fakers = {}
    for masked in features.masked_columns:
        if masked.name in features.drop_columns:
            continue
        fake = Faker(masked.locale)
        fake.seed_instance(seed * 1_000_003 + zlib.crc32(masked.name.encode()))
        fakers[masked.name] = getattr(fake, masked.faker)
    rows = 0
    # pyarrow reads the file and pyarrow writes the result, so DuckDB itself never touches a file.
    with _sandboxed_duckdb(ds.dataset(rows_path)) as con:
        try:
            reader = con.sql(_select_sql(features, columns)).to_arrow_reader(batch_rows)
            schema = reader.schema
            for name in fakers:
                schema = schema.append(pa.field(name, pa.string()))
            with pq.ParquetWriter(out_path, schema) as writer:
                for batch in reader:
                    table = pa.Table.from_batches([batch])
                    for name, make in fakers.items():
                        table = table.append_column(name, pa.array([str(make()) for _ in range(len(table))], pa.string()))
                    writer.write_table(table)
                    rows += len(table)
        except duckdb.Error as exc:
            raise FeatureExpressionError(f"features: a calculated column failed on the synthetic rows: {exc}") from None
    return rows

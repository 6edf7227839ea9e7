"""Stage 5: calculated columns on the synthetic rows, then the spec's column drops.

Expressions are DuckDB SQL evaluated over the synthetic rows, never Python `eval` of spec text:
a spec can compute `CASE WHEN age < 35 THEN '18-34' ... END` but cannot run code.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from synth_pipelines.core.sql import quote_identifier, quote_literal
from synth_pipelines.spec import FeaturesSpec


class FeatureExpressionError(ValueError):
    pass


def _select_sql(features: FeaturesSpec, columns: list[str]) -> str:
    kept = [quote_identifier(c) for c in columns if c not in features.drop_columns]
    calculated = [f"({c.expression}) AS {quote_identifier(c.name)}" for c in features.calculated_columns]
    return f"SELECT {', '.join(kept + calculated)} FROM rows"


def check_feature_expressions(features: FeaturesSpec, typed_rows: pa.Table) -> None:
    """Fail early when a dropped column or an expression does not fit the rows' columns and types.

    `typed_rows` may be empty: DuckDB binds names and types without needing data.
    """
    columns = typed_rows.column_names
    calculated_names = {c.name for c in features.calculated_columns}
    for index, column in enumerate(features.drop_columns):
        if column not in columns and column not in calculated_names:
            raise FeatureExpressionError(
                f"features.drop_columns[{index}]: '{column}' is not a column of the synthetic rows "
                f"({', '.join(columns)}); correct the name or remove it")
    with duckdb.connect() as con:
        con.register("rows", typed_rows)
        for index, calculated in enumerate(features.calculated_columns):
            try:
                con.execute(f"SELECT ({calculated.expression}) FROM rows LIMIT 0")
            except duckdb.Error as exc:
                raise FeatureExpressionError(
                    f"features.calculated_columns[{index}].expression: {str(exc).splitlines()[0]}; "
                    "write a DuckDB SQL expression over the view's columns") from None


def apply_features(rows_path: Path, features: FeaturesSpec, out_path: Path) -> int:
    """Write the feature rows to `out_path` (streamed by DuckDB) and return the row count."""
    columns = pq.read_schema(rows_path).names
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect() as con:
        con.execute(f"CREATE VIEW rows AS SELECT * FROM read_parquet({quote_literal(rows_path)})")
        try:
            con.execute(f"COPY ({_select_sql(features, columns)}) TO {quote_literal(out_path)} (FORMAT PARQUET)")
        except duckdb.Error as exc:
            raise FeatureExpressionError(f"features: a calculated column failed on the synthetic rows: {exc}") from None
    return pq.ParquetFile(out_path).metadata.num_rows

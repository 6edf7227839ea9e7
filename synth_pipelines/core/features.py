"""Stage 5: calculated columns and masked columns on the synthetic rows, then the spec's drops.

Expressions are DuckDB SQL evaluated over the synthetic rows, never Python `eval` of spec text:
a spec can compute `CASE WHEN age < 35 THEN '18-34' ... END` but cannot run code. Masked columns
are format-valid Faker values (emails, names, IBANs) for downstream tools that need the field;
they carry no information from the source. By default they are random per row (seeded); with
`consistent_on` they are keyed: HMAC-SHA256(secret, column + value) seeds Faker, so a synthetic
value (e.g. a synthesized customer key) gets the same fake email in every batch, run and release
that uses the same secret, and nobody without the secret can recompute the mapping. `replaces`
masks a view column: it is dropped from the view before training (`drop_replaced_columns`) and the
masked column takes its name in the output.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import zlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from faker import Faker

from synth_pipelines.core.sql import quote_identifier, sandboxed_duckdb
from synth_pipelines.spec import FeaturesSpec, MaskedColumn


class FeatureExpressionError(ValueError):
    pass


MIN_MASKING_KEY_CHARS = 16


def _select_sql(features: FeaturesSpec, columns: list[str], keep: set[str] = frozenset(),
                decimals: Mapping[str, tuple[int, int]] | None = None) -> str:
    """`keep`: dropped columns still needed until the masked columns are made (their keys); `decimals`:
    (precision, scale) of the view's DECIMAL columns, which get that type back (rounded to the scale)."""
    decimals = decimals or {}

    def typed(column: str) -> str:
        if column not in decimals:
            return quote_identifier(column)
        precision, scale = decimals[column]
        return f"CAST({quote_identifier(column)} AS DECIMAL({precision}, {scale})) AS {quote_identifier(column)}"

    kept = [typed(c) for c in columns if c not in features.drop_columns or c in keep]
    calculated = [f"({c.expression}) AS {quote_identifier(c.name)}" for c in features.calculated_columns
                  if c.name not in features.drop_columns or c.name in keep]
    return f"SELECT {', '.join(kept + calculated)} FROM rows"


def replaced_columns(features: FeaturesSpec) -> list[str]:
    """View columns that masked columns replace: never trained on, never published as they are."""
    return [m.replaces for m in features.masked_columns if m.replaces]


def drop_replaced_columns(view: Any, features: FeaturesSpec) -> Any:
    """The training view (a DataFrame) without the columns masked columns replace."""
    for index, masked in enumerate(features.masked_columns):
        if masked.replaces and masked.replaces not in view.columns:
            raise FeatureExpressionError(
                f"features.masked_columns[{index}].replaces: '{masked.replaces}' is not a column of the view "
                f"({', '.join(view.columns)}); correct the name or select it in training_view.sql")
    return view.drop(columns=replaced_columns(features))


def masking_key(masked: MaskedColumn, index: int) -> bytes:
    """The secret of a consistent masked column, from its environment variable."""
    field = f"features.masked_columns[{index}].key_env"
    secret = os.environ.get(masked.key_env, "")
    if not secret:
        raise FeatureExpressionError(
            f"{field}: environment variable {masked.key_env} is not set, but masked column '{masked.name}' is "
            f"consistent_on '{masked.consistent_on}' and needs its secret; export {masked.key_env}=<secret> "
            "(e.g. from `openssl rand -hex 32`, kept in your secret store: the same secret gives the same "
            "masked values in every run and release)")
    if len(secret) < MIN_MASKING_KEY_CHARS:
        raise FeatureExpressionError(
            f"{field}: the secret in {masked.key_env} has {len(secret)} characters, too short to be a secret; "
            f"use at least {MIN_MASKING_KEY_CHARS}, e.g. from `openssl rand -hex 32`")
    return secret.encode()


def _key_text(value: Any) -> str:
    # 7 and 7.0 are the same key (an integer column read back as float after missing values).
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


def consistent_masker(masked: MaskedColumn, key: bytes) -> Callable[[Any], str | None]:
    """value -> masked value, the same for the same value and key; one Faker draw per distinct value."""
    fake = Faker(masked.locale)
    make = getattr(fake, masked.faker)
    # The column, provider and locale are part of the message: two masked columns on the same key differ.
    prefix = f"{masked.name}\x1f{masked.faker}\x1f{masked.locale}\x1f".encode()
    cache: dict[str, str] = {}

    def mask(value: Any) -> str | None:
        if value is None:
            return None
        text = _key_text(value)
        made = cache.get(text)
        if made is None:
            digest = hmac.new(key, prefix + text.encode(), hashlib.sha256).digest()
            fake.seed_instance(int.from_bytes(digest, "big"))
            made = cache[text] = str(make())
        return made

    return mask


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
    for index, masked in enumerate(features.masked_columns):
        if masked.replaces and masked.replaces not in typed_rows.column_names:
            raise FeatureExpressionError(
                f"features.masked_columns[{index}].replaces: '{masked.replaces}' is not a column of the view "
                f"({', '.join(typed_rows.column_names)}); correct the name or select it in training_view.sql")
        if masked.consistent_on:
            masking_key(masked, index)  # the secret must be there when the features are made
    # Replaced columns never reach the synthetic rows: expressions cannot use them.
    typed_rows = typed_rows.drop_columns(replaced_columns(features))
    columns = typed_rows.column_names
    calculated_names = {c.name for c in features.calculated_columns} | {m.name for m in features.masked_columns}
    _check_consistent_on(features, [*columns, "synthetic_id"])
    for index, column in enumerate(features.drop_columns):
        if column not in columns and column not in calculated_names:
            raise FeatureExpressionError(
                f"features.drop_columns[{index}]: '{column}' is not a column of the synthetic rows "
                f"({', '.join(columns)}); correct the name or remove it")
    _check_calculated(features, columns)
    with sandboxed_duckdb({"rows": typed_rows}) as con:
        for index, calculated in enumerate(features.calculated_columns):
            try:
                con.execute(f"SELECT ({calculated.expression}) FROM rows LIMIT 0")
            except duckdb.Error as exc:
                raise FeatureExpressionError(
                    f"features.calculated_columns[{index}].expression: {str(exc).splitlines()[0]}; "
                    "write a DuckDB SQL expression over the view's columns") from None


def _check_consistent_on(features: FeaturesSpec, columns: list[str]) -> None:
    known = set(columns) | {c.name for c in features.calculated_columns}
    for index, masked in enumerate(features.masked_columns):
        if masked.consistent_on and masked.consistent_on not in known:
            raise FeatureExpressionError(
                f"features.masked_columns[{index}].consistent_on: '{masked.consistent_on}' is not a column of the "
                f"synthetic rows ({', '.join(columns)}); name a synthesized or calculated column")


class _BlockSeededFaker:
    """Random per-row values of one masked column, reseeded at each block of rows (one seed when no block)."""

    def __init__(self, masked: MaskedColumn, seed: int, block_rows: int | None) -> None:
        self.fake, self.block_rows, self.block = Faker(masked.locale), block_rows, None
        self.base = seed * 1_000_003 + zlib.crc32(masked.name.encode())
        self.make = getattr(self.fake, masked.faker)

    def values(self, first_row: int, count: int) -> list[str]:
        out = []
        for row in range(first_row, first_row + count):
            block = row // self.block_rows if self.block_rows else 0
            if block != self.block:
                self.fake.seed_instance(self.base if block == 0 else f"{self.base}:{block}")
                self.block = block
            out.append(str(self.make()))
        return out


def apply_features(rows_path: Path, features: FeaturesSpec, out_path: Path, seed: int = 0,
                   batch_rows: int = 100_000, decimals: Mapping[str, tuple[int, int]] | None = None,
                   first_row: int = 0, seed_block_rows: int | None = None) -> int:
    """Write the feature rows to `out_path`, streaming batches, and return the row count.
    `decimals`: the view's DECIMAL columns (training_view.view_decimal_columns), published as such.
    Random masked values are reseeded every `seed_block_rows` rows of the whole dataset (None: once),
    from the seed and the block's index; `first_row` is where `rows_path` starts in the dataset. With
    the generation batch as the block, a shard's masked values do not depend on how rows were sharded."""
    columns = pq.read_schema(rows_path).names
    _check_calculated(features, columns)
    _check_consistent_on(features, columns)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    random_fakers, keyed = {}, {}
    for index, masked in enumerate(features.masked_columns):
        if masked.name in features.drop_columns:
            continue
        if masked.consistent_on:
            keyed[masked.name] = (masked.consistent_on, consistent_masker(masked, masking_key(masked, index)))
            continue
        random_fakers[masked.name] = _BlockSeededFaker(masked, seed, seed_block_rows)
    # Key columns that are dropped stay until the masked values are made from them.
    hidden = sorted({on for on, _ in keyed.values()} & set(features.drop_columns))
    rows = 0
    # pyarrow reads the file and pyarrow writes the result, so DuckDB itself never touches a file.
    with sandboxed_duckdb({"rows": ds.dataset(rows_path)}) as con:
        try:
            reader = con.sql(_select_sql(features, columns, set(hidden), decimals)).to_arrow_reader(batch_rows)
            schema = reader.schema
            for name in hidden:
                schema = schema.remove(schema.get_field_index(name))
            made = [m.name for m in features.masked_columns if m.name in random_fakers or m.name in keyed]
            for name in made:
                schema = schema.append(pa.field(name, pa.string()))
            with pq.ParquetWriter(out_path, schema) as writer:
                for batch in reader:
                    table = pa.Table.from_batches([batch])
                    for name in made:
                        if name in keyed:
                            on, mask = keyed[name]
                            values = [mask(v) for v in table.column(on).to_pylist()]
                        else:
                            values = random_fakers[name].values(first_row + rows, len(table))
                        table = table.append_column(name, pa.array(values, pa.string()))
                    writer.write_table(table.drop_columns(hidden))
                    rows += len(table)
        except duckdb.Error as exc:
            raise FeatureExpressionError(f"features: a calculated column failed on the synthetic rows: {exc}") from None
    return rows

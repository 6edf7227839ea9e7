"""Great Expectations 1.x: an expectation suite built from the REAL train rows, run on the synthetic rows.

The suite says what any row of this dataset must look like: the column set, each column's type
family, not-null where the real column has no missing values, category domains, numeric and
date ranges (real min/max widened by a tolerance), unique keys. Date/datetime columns are parsed
to timestamps before validation (a value that does not parse becomes missing), so their ranges
compare as dates. GX is imported lazily: the import alone takes seconds.

Real rows the train rows did not include fall outside what those rows showed now and then (a rare
category the sample missed, a new maximum), so the value expectations allow a share of unexpected
values (GX's `mostly`) derived from the train rows: the chance a new real value is unseen
(Good-Turing: (categories seen once + 1) / (n + 1); beyond the range: 2 / (n + 1); missing in a
column without missing values: 1 / (n + 1)), plus standard errors (of that estimate over the n train
rows, and of a share over the synthetic rows): results.STANDARD_ERRORS of them shared out over the suite's
value expectations (Bonferroni), as one failed expectation fails the suite; never below
`min_unexpected_share`. Types, columns and keys allow nothing.

Under differential privacy (`declared_domain`) nothing is learned from the real rows: value sets,
ranges (no tolerance) and not-null come from the codecs, which hold the spec's declared domain, and
every value expectation allows only `min_unexpected_share`. The column types are the schema's.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd

from synth_pipelines.core.quality.data_docs import expectation_counts
from synth_pipelines.core.quality.results import STANDARD_ERRORS, Metric
from synth_pipelines.core.synthesis import ColumnCodec

_INTS = ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
         "Int8Dtype", "Int16Dtype", "Int32Dtype", "Int64Dtype", "UInt8Dtype", "UInt16Dtype", "UInt32Dtype", "UInt64Dtype"]
_FLOATS = ["float16", "float32", "float64", "Float32Dtype", "Float64Dtype"]
_PY_TYPES = {str: "str", int: "int", float: "float", bool: "bool"}
MAX_DOMAIN = 5000  # larger "categories" are identifiers or free text: no domain expectation


def _type_list(codec: ColumnCodec, real: pd.Series) -> list[str] | None:
    """Accepted dtypes (or, for object columns, value types: GX then checks every value)."""
    if codec.kind == "integer":
        return _INTS
    if codec.kind == "float":
        return _FLOATS + _INTS
    if codec.kind in ("date", "datetime"):
        return None  # parsed to timestamps before validation, see the module docstring
    if pd.api.types.is_bool_dtype(real):
        return ["bool", "BooleanDtype"]
    if pd.api.types.is_integer_dtype(real):
        return _INTS
    if pd.api.types.is_float_dtype(real):
        return _FLOATS
    seen = {_PY_TYPES.get(type(v)) for v in real.dropna().head(1000)}
    if None in seen or not seen:
        return None  # values of other Python types: the domain expectation covers them
    return sorted(seen) + (["StringDtype", "CategoricalDtype"] if "str" in seen else [])


def as_checked(frame: pd.DataFrame, codecs: list[ColumnCodec]) -> pd.DataFrame:
    out = frame.copy()
    for c in codecs:
        if c.kind in ("date", "datetime") and c.name in out.columns:
            out[c.name] = pd.to_datetime(out[c.name], errors="coerce")
    return out


def allowed_unexpected(new_value_chance: float, synthetic_rows: int, floor: float,
                       estimate_variance: float = 0.0, expectations: int = 1) -> float:
    """Share of synthetic values allowed outside an expectation: the chance a real row the train rows
    did not include is outside it, plus standard errors (of a share over the synthetic rows, binomial, and
    of the chance itself, `estimate_variance`, learned from a train sample): STANDARD_ERRORS of them for one
    expectation. The suite fails when any of its `expectations` value expectations does, so each gets its
    Bonferroni share of the chance one STANDARD_ERRORS test has to fail real rows: at 3 standard errors
    each, real rows neither side saw failed 3 of 56 runs of 28 unseen tables (a rare state, hour or
    creatinine level 6-14% over its allowance; BENCHMARKS.md), about the 1 - 0.99865^k of k tests."""
    p = min(max(new_value_chance, 0.0), 1.0)
    variance = p * (1 - p) / max(synthetic_rows, 1) + max(estimate_variance, 0.0)
    from scipy.stats import norm

    errors = float(norm.isf(norm.sf(STANDARD_ERRORS) / max(expectations, 1)))
    return max(floor, p + errors * float(np.sqrt(variance)))


def build_expectations(train: pd.DataFrame, codecs: list[ColumnCodec], present: set[str], *,
                       key_columns: Sequence[str], extra_columns: Sequence[str], range_tolerance: float,
                       synthetic_rows: int, min_unexpected_share: float = 0.001,
                       declared_domain: bool = False) -> list[Any]:
    """Expectations learned from the real train rows (or, with `declared_domain`, from the codecs' declared
    domain alone); column expectations only for `present` columns."""
    import great_expectations.expectations as gxe

    expected = [c.name for c in codecs] + list(key_columns) + list(extra_columns)
    columns = [c for c in codecs if c.name in present]
    if declared_domain:  # nothing learned: every value expectation allows only the floor
        values = _declared_expectations(train, columns, mostly=1 - min_unexpected_share)
    else:
        values = _learned_expectations(train, columns, range_tolerance=range_tolerance, synthetic_rows=synthetic_rows,
                                       min_unexpected_share=min_unexpected_share)
    return [gxe.ExpectTableColumnsToMatchSet(column_set=sorted(set(expected)), exact_match=True), *values,
            *(gxe.ExpectColumnValuesToBeUnique(column=key) for key in key_columns if key in present)]


def _learned_expectations(train: pd.DataFrame, codecs: list[ColumnCodec], *, range_tolerance: float,
                          synthetic_rows: int, min_unexpected_share: float) -> list[Any]:
    import great_expectations.expectations as gxe

    def mostly(new_value_chance: float, estimate_variance: float | None, expectations: int) -> float:
        """`estimate_variance` None: a binomial share's over the train rows."""
        n = max(len(train), 1)
        variance = new_value_chance * (1 - new_value_chance) / n if estimate_variance is None else estimate_variance
        # Within [0, 1]: a column of mostly single values (a model name) has an unseen mass near 1 or above.
        return min(1.0, max(0.0, 1 - allowed_unexpected(new_value_chance, synthetic_rows, min_unexpected_share,
                                                        variance, expectations)))

    # (expectation, its arguments, (chance a new real value fails it, that chance's variance) or None)
    entries: list[tuple[Any, dict[str, Any], tuple[float, float | None] | None]] = []
    real = as_checked(train, codecs)
    for c in codecs:
        if c.name not in real.columns:
            continue
        column = real[c.name]
        types = _type_list(c, train[c.name])
        if types:
            entries.append((gxe.ExpectColumnValuesToBeInTypeList, {"column": c.name, "type_list": types}, None))
        if column.notna().all():
            entries.append((gxe.ExpectColumnValuesToNotBeNull, {"column": c.name}, (1 / (len(column) + 1), None)))
        values = column.dropna()
        if c.kind == "category" and 0 < values.nunique() <= MAX_DOMAIN:
            counts = values.value_counts()
            domain = sorted(counts.index.tolist(), key=str)
            once, twice, n = int((counts == 1).sum()), int((counts == 2).sum()), len(values) + 1
            # Good-Turing's unseen mass and Esty's upper bound on its variance, (n1 + 2 n2) / n^2 (the
            # exact form subtracts n1^2 / n^3), both +1-smoothed
            unseen, variance = (once + 1) / n, (once + 2 * twice + 1) / n ** 2
            entries.append((gxe.ExpectColumnValuesToBeInSet, {"column": c.name, "value_set": domain},
                            (unseen, variance)))
        elif c.kind != "category" and len(values):
            low, high = values.min(), values.max()
            slack = (high - low) * range_tolerance
            entries.append((gxe.ExpectColumnValuesToBeBetween, {"column": c.name, "min_value": _plain(low - slack),
                                                                "max_value": _plain(high + slack)},
                            (2 / (len(values) + 1), None)))
    expectations = sum(chance is not None for *_, chance in entries)  # any one of them fails the suite
    return [kind(**arguments) if chance is None else kind(**arguments, mostly=mostly(*chance, expectations))
            for kind, arguments, chance in entries]


def _declared_expectations(train: pd.DataFrame, codecs: list[ColumnCodec], *, mostly: float) -> list[Any]:
    import great_expectations.expectations as gxe

    suite = []
    for c in codecs:
        if c.kind in ("integer", "float"):  # the schema's type family (text and dates: the value checks)
            suite.append(gxe.ExpectColumnValuesToBeInTypeList(column=c.name, type_list=_type_list(c, train[c.name])))
        if not c.has_missing:
            suite.append(gxe.ExpectColumnValuesToNotBeNull(column=c.name, mostly=mostly))
        if c.kind == "category":
            suite.append(gxe.ExpectColumnValuesToBeInSet(column=c.name, value_set=list(c.categories), mostly=mostly))
        elif c.minimum is not None and c.maximum is not None:
            low, high = c.minimum, c.maximum
            if c.kind in ("date", "datetime"):  # day ordinals / seconds back to timestamps (the checked form)
                low, high = (pd.Timestamp.fromordinal(int(v)) if c.kind == "date" else pd.Timestamp(v, unit="s")
                             for v in (low, high))
            suite.append(gxe.ExpectColumnValuesToBeBetween(column=c.name, min_value=_plain(low), max_value=_plain(high),
                                                           mostly=mostly))
    return suite


def _plain(value: Any) -> Any:
    """numpy/pandas scalars as plain Python values (GX's pydantic models want them)."""
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    return value.item() if hasattr(value, "item") else value


def validate_synthetic(train: pd.DataFrame, synthetic: pd.DataFrame, codecs: list[ColumnCodec], *,
                       key_columns: Sequence[str] = ("synthetic_id",), extra_columns: Sequence[str] = (),
                       range_tolerance: float = 0.05, examples: int = 5, min_unexpected_share: float = 0.001,
                       declared_domain: bool = False, keep: dict[str, Any] | None = None) -> Metric:
    """Run the suite on the synthetic rows. Value: the number of failed expectations (0 is a pass).

    details["failures"] lists each failed expectation with its column, unexpected count/percent and
    up to `examples` unexpected values (for the column set: the missing and unexpected columns);
    details["by_type"] how many expectations of each type were checked, passed and failed.
    `keep`: receives the expectations under "ge_expectations" (the report's Data Docs run them again).
    """
    return validate_chunks(train, [synthetic], len(synthetic), list(synthetic.columns), codecs,
                           key_columns=key_columns, extra_columns=extra_columns, range_tolerance=range_tolerance,
                           examples=examples, min_unexpected_share=min_unexpected_share,
                           declared_domain=declared_domain, keep=keep)


def validate_chunks(train: pd.DataFrame, chunks: Iterable[pd.DataFrame], rows: int, columns: list[str],
                    codecs: list[ColumnCodec], *, key_columns: Sequence[str] = ("synthetic_id",),
                    extra_columns: Sequence[str] = (), range_tolerance: float = 0.05, examples: int = 5,
                    min_unexpected_share: float = 0.001, declared_domain: bool = False,
                    keep: dict[str, Any] | None = None) -> Metric:
    """validate_synthetic over `rows` synthetic rows with these `columns`, given chunk by chunk: each chunk
    is validated and the results merged into what one validation of all rows gives (counts summed and
    judged against `mostly` once; uniqueness across chunks from the keys' hashes)."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import (DataContextConfig, InMemoryStoreBackendDefaults,
                                                             ProgressBarsConfig)

    config = DataContextConfig(store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
                               analytics_enabled=False, progress_bars=ProgressBarsConfig(globally=False))
    context = gx.get_context(mode="ephemeral", project_config=config)
    batch_definition = (context.data_sources.add_pandas("synthetic").add_dataframe_asset("synthetic_rows")
                        .add_batch_definition_whole_dataframe("all_rows"))
    expectations = build_expectations(train, codecs, set(columns), key_columns=key_columns,
                                      extra_columns=extra_columns, range_tolerance=range_tolerance,
                                      synthetic_rows=rows, min_unexpected_share=min_unexpected_share,
                                      declared_domain=declared_domain)
    if keep is not None:
        keep["ge_expectations"] = [e.copy() for e in expectations]
    # Added whole: suite.add_expectation re-serializes the stored suite each time (quadratic; 3 s of 6 on Adult).
    suite = context.suites.add(gx.ExpectationSuite(name="learned_from_train_rows", expectations=expectations))
    unique = [key for key in key_columns if key in columns]
    merged: list[Any] | None = None
    key_hashes: dict[str, list[np.ndarray]] = {key: [] for key in unique}
    batches = 0
    for batches, chunk in enumerate(chunks, start=1):
        batch = batch_definition.get_batch(batch_parameters={"dataframe": as_checked(chunk, codecs)})
        outcome = batch.validate(suite, result_format={"result_format": "SUMMARY",
                                                       "partial_unexpected_count": max(examples, 1)})
        merged = list(outcome.results) if merged is None else [_merge(a, b, examples)
                                                               for a, b in zip(merged, outcome.results)]
        for key in unique:
            key_hashes[key].append(pd.util.hash_pandas_object(chunk[key].dropna(), index=False).to_numpy())
    results = [_judged(r, key_hashes) for r in merged or []]
    failures = [_failure(r, examples) for r in results if not r.success]
    expected = {c.name for c in codecs} | set(key_columns) | set(extra_columns)
    return Metric(
        name="failed_expectations", value=float(len(failures)),
        implementation=f"great_expectations {gx.__version__} (ephemeral context, "
                       f"{f'{batches} pandas batches merged' if batches > 1 else 'pandas batch'})",
        details={"expectations": len(results), "failures": failures,
                 "by_type": expectation_counts(results).to_dict(orient="records"),
                 "missing_columns": sorted(expected - set(columns)),
                 "unexpected_columns": sorted(set(columns) - expected)})


_COUNTS = ("element_count", "unexpected_count", "missing_count")


def _merge(first: Any, second: Any, examples: int) -> Any:
    """Two chunks' results of one expectation as one: counts added (a value expectation) or, for a table
    or type expectation, the first failure kept."""
    a, b = first.result or {}, second.result or {}
    if "element_count" not in a or "element_count" not in b:
        return first if not first.success or second.success else second
    result = {**a, **{k: a.get(k, 0) + b.get(k, 0) for k in _COUNTS if k in a or k in b},
              "partial_unexpected_list": ((a.get("partial_unexpected_list") or [])
                                          + (b.get("partial_unexpected_list") or []))[:max(examples, 1)]}
    exception = first.exception_info if first.exception_info and first.exception_info.get("raised_exception") \
        else second.exception_info
    return SimpleNamespace(expectation_config=first.expectation_config, success=None, result=result,
                           exception_info=exception)


def _judged(result: Any, key_hashes: dict[str, list[np.ndarray]]) -> Any:
    """A merged value expectation judged once over all rows, as GX judges one batch: the unexpected share
    of the non-missing values (of all values for not-null) against `mostly`. A unique key's duplicates
    are counted over all chunks' key hashes, not per chunk."""
    if result.success is not None:  # one chunk: GX's own verdict
        return result
    config, found = result.expectation_config, dict(result.result)
    column = config.kwargs.get("column")
    if config.type == "expect_column_values_to_be_unique" and column in key_hashes:
        hashes = np.concatenate(key_hashes[column]) if key_hashes[column] else np.array([], dtype=np.uint64)
        _, counts = np.unique(hashes, return_counts=True)
        found["unexpected_count"] = int(counts[counts > 1].sum())
    checked = found.get("element_count", 0) - found.get("missing_count", 0)
    share = found.get("unexpected_count", 0) / checked if checked else 0.0
    found["unexpected_percent"] = 100 * share
    mostly = config.kwargs.get("mostly") or 1.0
    failed = bool(result.exception_info and result.exception_info.get("raised_exception"))
    return SimpleNamespace(expectation_config=config, result=found, exception_info=result.exception_info,
                           success=not failed and (1 - share) >= mostly - 1e-12)


def _failure(result: Any, examples: int) -> dict[str, Any]:
    config, found = result.expectation_config, result.result or {}
    failure = {"expectation": config.type, "column": config.kwargs.get("column"),
               "unexpected_count": found.get("unexpected_count"),
               "unexpected_percent": found.get("unexpected_percent"),
               "allowed_percent": round(100 * (1 - config.kwargs.get("mostly", 1.0)), 4),
               "examples": [str(v) for v in (found.get("partial_unexpected_list") or [])[:examples]]}
    mismatched = (found.get("details") or {}).get("mismatched")
    if isinstance(mismatched, dict):  # the column set: name what differs, not the whole observed list
        failure["observed_value"] = "; ".join(f"{k}: {', '.join(map(str, v))}" for k, v in mismatched.items() if v)
    elif "observed_value" in found:
        failure["observed_value"] = str(found["observed_value"])
    if result.exception_info and result.exception_info.get("raised_exception"):
        failure["error"] = result.exception_info.get("exception_message")
    return failure

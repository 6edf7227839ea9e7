"""Stages 3 and 4: train a synthcity plugin on the train rows, then generate rows in batches.

synthcity plugins want a frame of numbers and category labels without gaps. `ColumnCodec` turns
a real training view into that (dates become day numbers, missing numbers become a fill value
plus a `<column>__missing` flag placed before the column, missing categories a sentinel) and turns
generated rows back into the view's own types, ranges, value formats (core/value_formats.py) and
missing values. Whole-number columns with at most CATEGORY_MAX_VALUES values are categories (codes,
counts, 0/1 flags: a generator must not invent a code no row has); ISO-8601 text that holds dates
or timestamps is synthesized as time and written back as text of the same format.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from synth_pipelines.core.arithmetic import Relation, apply_relations, fit_relations
from synth_pipelines.core.generator_settings import resolve_plugin_kwargs
from synth_pipelines.core.synthcity_plugins import (load_plugin_class, muted_library_warnings, plugin_arguments,
                                                    quiet_synthcity)
from synth_pipelines.core.value_formats import (NumberFormat, apply_format, date_grid_of, learn_format, onto_date_grid,
                                                reflect_into, split_rows)

if TYPE_CHECKING:
    from synth_pipelines.spec import GeneratorSpec

MISSING = "__missing__"
ColumnKind = Literal["integer", "float", "category", "date", "datetime"]
CATEGORY_MAX_VALUES = 20  # whole-number columns with at most this many distinct values are categories
# ISO-8601 text a date or timestamp column may be written as; kept as text of the same format.
TEXT_TIME_FORMATS = ("%Y-%m-%d", "%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S",
                     "%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M")
log = logging.getLogger(__name__)


def missing_flag(column: str) -> str:
    """The 0/1 column placed before a numeric column with missing values (1 = missing; the value is the fill)."""
    return f"{column}__missing"


@dataclass
class ColumnCodec:
    name: str
    kind: ColumnKind
    has_missing: bool = False
    fill: float | None = None
    minimum: float | None = None
    maximum: float | None = None
    categories: list[Any] = field(default_factory=list)  # original values of a category column
    dtype: str = "object"  # pandas dtype the decoded column gets back
    number_format: NumberFormat | None = None  # precision, value set, spikes, grid (value_formats.py)
    text_format: str | None = None  # strftime format of a date/datetime column stored as text
    date_grid: str | None = None  # the calendar grid every real date sits on (date_grid_of), or None

    @property
    def missing_flag(self) -> str:
        return missing_flag(self.name)

    def labels(self) -> list[str]:
        """The generator's label of each category: the value as text, or for numbers its rank
        (zero-padded, so a label encoder's sort keeps the numbers' order)."""
        if self.categories and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in self.categories):
            return [f"{i:06d}" for i in range(len(self.categories))]
        return [str(v) for v in self.categories]

    def describe_format(self) -> dict[str, Any]:
        """The value format the decoded column gets, for the manifest (rules, no real values)."""
        found: dict[str, Any] = {"kind": self.kind, "dtype": self.dtype, "nullable": self.has_missing}
        if self.text_format:
            found["text_format"] = self.text_format
        if self.date_grid:
            found["date_grid"] = self.date_grid
        if self.number_format is not None:
            found.update(self.number_format.describe())
        return found


def _is_whole(numbers: pd.Series) -> bool:
    present = numbers.dropna()
    return bool(len(present)) and bool(np.all(np.mod(present.to_numpy(dtype=float), 1) == 0))


def text_time_format(series: pd.Series) -> str | None:
    """The ISO-8601 format every value of a text column is written in, when there is one."""
    values = series.dropna()
    if values.empty or pd.api.types.infer_dtype(values, skipna=True) != "string":
        return None
    head = values.head(200)
    for fmt in TEXT_TIME_FORMATS:
        parsed = pd.to_datetime(head, format=fmt, errors="coerce")
        if parsed.notna().all() and (parsed.dt.strftime(fmt) == head).all():
            whole = pd.to_datetime(values, format=fmt, errors="coerce")
            if whole.notna().all():
                return fmt
    return None


def _kind_of(series: pd.Series, force_category: bool, learn_formats: bool) -> tuple[ColumnKind, str | None]:
    """The column's kind and, for dates and timestamps written as text, their format."""
    if force_category or pd.api.types.is_bool_dtype(series):
        return "category", None
    if pd.api.types.is_datetime64_any_dtype(series):
        return "datetime", None
    if pd.api.types.is_numeric_dtype(series):
        if learn_formats and _is_whole(series) and series.nunique() <= CATEGORY_MAX_VALUES:
            return "category", None
        return ("integer" if pd.api.types.is_integer_dtype(series) else "float"), None
    sample = series.dropna()
    if len(sample) and all(isinstance(v, dt.date) and not isinstance(v, dt.datetime) for v in sample.head(100)):
        return "date", None
    if len(sample) and all(isinstance(v, dt.datetime) for v in sample.head(100)):
        return "datetime", None
    fmt = text_time_format(series) if learn_formats else None
    if fmt is not None:
        return ("date" if fmt == "%Y-%m-%d" else "datetime"), fmt
    return "category", None


def column_kind(series: pd.Series, force_category: bool = False, learn_formats: bool = True) -> ColumnKind:
    """The kind fit_codecs gives a column (a profile of the view shows what the generator will see);
    without `learn_formats`, the kind its type alone gives (no whole-number codes or text dates read
    from its values)."""
    return _kind_of(series, force_category, learn_formats)[0]


def as_number(series: pd.Series, kind: ColumnKind) -> pd.Series:
    """Numbers of a column: dates as day ordinals, timestamps as seconds since 1970 (UTC for zoned or
    ISO text), other columns as floats."""
    if kind in ("date", "datetime"):
        # ISO8601 parses the text dates (text_time_format's are all ISO); dates, datetimes and
        # datetime64 values pass through it as they are.
        stamps = pd.to_datetime(series, utc=True, format="ISO8601")
        if kind == "date":
            return stamps.map(lambda v: np.nan if pd.isna(v) else v.toordinal()).astype(float)
        return (stamps - pd.Timestamp(0, tz="UTC")).dt.total_seconds()
    return pd.to_numeric(series).astype(float)


def fit_codecs(frame: pd.DataFrame, categorical: set[str], *, numeric: set[str] = frozenset()) -> list[ColumnCodec]:
    """How each column is encoded for the generator and written back, learned from the rows: kinds
    (whole-number codes as categories, text dates), ranges, fill values and numeric value formats.
    Under differential privacy nothing is learned from the rows: differential_privacy.codecs_from_domain.

    `categorical` columns are categories, `numeric` ones (a regression label) never become one."""
    codecs = []
    for name in frame.columns:
        series = frame[name]
        kind, text_format = _kind_of(series, name in categorical, name not in numeric)
        codec = ColumnCodec(name=name, kind=kind, has_missing=bool(series.isna().any()), text_format=text_format)
        if kind == "category":
            numbers = pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
            codec.categories = sorted(series.dropna().unique().tolist(), key=float if numbers else str)
            codec.categories = [v.item() if hasattr(v, "item") else v for v in codec.categories]
            codec.dtype = _decoded_dtype(series)
        else:
            numbers = as_number(series, kind)
            codec.fill = float(numbers.median()) if numbers.notna().any() else 0.0
            codec.minimum, codec.maximum = float(numbers.min()), float(numbers.max())
            codec.dtype = _decoded_dtype(series) if kind in ("integer", "float") else str(series.dtype)
            if kind == "date":
                codec.date_grid = date_grid_of(numbers.dropna().to_numpy(dtype=float))
            else:
                codec.number_format = learn_format(numbers.to_numpy(dtype=float), seconds=kind == "datetime")
        codecs.append(codec)
    return codecs


def _decoded_dtype(series: pd.Series) -> str:
    """The real column's pandas dtype, nullable when a numpy integer or bool column has missing values."""
    if pd.api.types.is_bool_dtype(series):
        return "boolean"
    if pd.api.types.is_integer_dtype(series):
        return "Int64" if series.isna().any() or str(series.dtype)[0] == "I" else str(series.dtype)
    return str(series.dtype)


def encode(frame: pd.DataFrame, codecs: list[ColumnCodec]) -> pd.DataFrame:
    """The generator's frame. A missing flag comes before its column, so a sequential generator
    draws whether a value is missing first and the value given that (the share stays the real one)."""
    out = {}
    for codec in codecs:
        series = frame[codec.name]
        if codec.kind == "category":
            to_label = dict(zip(codec.categories, codec.labels(), strict=True))
            out[codec.name] = series.map(lambda v: MISSING if pd.isna(v) else to_label.get(v, str(v))).astype(object)
            continue
        numbers = as_number(series, codec.kind)
        if codec.has_missing:
            out[codec.missing_flag] = numbers.isna().astype(int)
        out[codec.name] = numbers.fillna(codec.fill)
    return pd.DataFrame(out)


def decode(encoded: pd.DataFrame, codecs: list[ColumnCodec], rng: np.random.Generator | None = None) -> pd.DataFrame:
    """Generated rows back in the view's types, range, value formats and missing values.
    `rng` draws the grid steps of value formats (seeded per batch by generate_rows)."""
    rng = rng if rng is not None else np.random.default_rng(0)
    out = {}
    for codec in codecs:
        values = encoded[codec.name]
        if codec.kind == "category":
            lookup = dict(zip(codec.labels(), codec.categories, strict=True))
            decoded = values.astype(str).map(lookup)  # MISSING and unseen labels become missing
            if not codec.has_missing and decoded.isna().any():
                decoded = decoded.fillna(codec.categories[0] if codec.categories else None)
            out[codec.name] = decoded.astype(codec.dtype)
            continue
        numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
        numbers = reflect_into(numbers, codec.minimum, codec.maximum)
        if not codec.has_missing:  # a generator's NaN in a column that has none: the fill value
            numbers[np.isnan(numbers)] = codec.fill
        else:
            numbers[pd.to_numeric(encoded[codec.missing_flag]).to_numpy(dtype=float) >= 0.5] = np.nan
        numbers = np.clip(apply_format(numbers, codec.number_format, rng), codec.minimum, codec.maximum)
        if codec.date_grid:
            numbers = onto_date_grid(numbers, codec.date_grid, codec.minimum, codec.maximum)
        out[codec.name] = _typed(pd.Series(numbers, index=encoded.index), codec)
    return pd.DataFrame(out)


def _typed(numbers: pd.Series, codec: ColumnCodec) -> pd.Series:
    if codec.kind == "integer":
        return numbers.round().astype(codec.dtype)
    if codec.kind == "float":
        return numbers.astype(codec.dtype)
    if codec.kind == "date":
        dates = numbers.map(lambda v: None if pd.isna(v) else dt.date.fromordinal(int(round(v))))
        return dates if codec.text_format is None else dates.map(lambda d: None if d is None else d.strftime(codec.text_format))
    stamps = pd.to_datetime(numbers, unit="s", utc=True)
    if codec.text_format is not None:
        return stamps.dt.strftime(codec.text_format).where(stamps.notna(), None)
    zone = getattr(pd.api.types.pandas_dtype(codec.dtype), "tz", None) if codec.dtype.startswith("datetime") else None
    return stamps.dt.tz_convert(zone) if zone is not None else stamps.dt.tz_localize(None)


@dataclass(frozen=True)
class Synthesizer:
    plugin: str
    settings: dict[str, Any]
    seed: int
    codecs: list[ColumnCodec]
    label: str
    train_rows: int
    training_seconds: float
    model_path: str
    # What the plugin was given: `settings` plus the typed generator settings under the plugin's names.
    plugin_kwargs: dict[str, Any] = field(default_factory=dict)
    # Differentially private plugins: budget, delta, epsilon spent and assumptions (differential_privacy.privacy_record).
    privacy: dict[str, Any] | None = None
    # Columns computed from two others after decode (arithmetic.py), as found in the real rows.
    relations: list[Relation] = field(default_factory=list)

    def save_manifest(self, folder: Path) -> None:
        (folder / "synthesizer.json").write_text(json.dumps(asdict(self), indent=2, default=str))


def train_synthesizer(train: pd.DataFrame, generator: GeneratorSpec, *, label: str, categorical: set[str],
                      out_dir: Path) -> Synthesizer:
    """Fit the spec's plugin on the encoded train rows; save it with its settings, seed and privacy record."""
    log.info("%s: loading torch and synthcity", generator.plugin)  # tens of seconds on a first run: say so
    import psutil
    import torch

    quiet_synthcity()  # before any synthcity import: it keeps library logging set-up out of the root logger
    from synthcity.plugins.core.dataloader import GenericDataLoader
    from synthcity.utils.reproducibility import enable_reproducible_results
    from synthcity.utils.serialization import save_to_file

    from synth_pipelines.core.synthcity_callbacks import build_plugin_objects

    plugin = generator.plugin
    plugin_class = load_plugin_class(plugin)
    out_dir.mkdir(parents=True, exist_ok=True)
    # A label that is not a category is a regression target: it stays a number.
    pipeline_kwargs: dict[str, Any] = {}  # what the pipeline itself tells the plugin (RESERVED_SETTINGS)
    if generator.epsilon is not None:  # domain declared in the spec, nothing learned from the rows
        from synth_pipelines.core.differential_privacy import codecs_from_domain, plugin_domain

        codecs = codecs_from_domain(train, generator.domain, categorical=categorical,
                                    numeric={label} - set(categorical))
        pipeline_kwargs["domain"] = plugin_domain(codecs)
        relations = []  # learned outside the mechanism: none under DP
    else:
        codecs = fit_codecs(train, categorical, numeric={label} - set(categorical))
        relations = fit_relations(train, codecs, label)
    if "label_kind" in plugin_arguments(plugin):  # a plugin modelling the label apart (cart) gets its kind:
        # synthcity's encoding takes a whole-number regression label with few values for a class
        label_codec = next(c for c in codecs if c.name == label)
        pipeline_kwargs["label_kind"] = "category" if label_codec.kind == "category" else "number"
        if label_codec.kind != "category" and label_codec.has_missing:
            pipeline_kwargs["label_missing_flag"] = label_codec.missing_flag
    encoded = encode(train, codecs)
    cuda = torch.cuda.is_available()
    free_memory = torch.cuda.mem_get_info()[0] if cuda and generator.device != "cpu" else psutil.virtual_memory().available
    plugin_kwargs = resolve_plugin_kwargs(generator, train_rows=len(encoded), encoded_columns=encoded.shape[1],
                                          cuda_available=cuda, free_memory_bytes=free_memory)
    workspace = out_dir / "workspace"
    seed = generator.seed
    enable_reproducible_results(seed)
    model = plugin_class(random_state=seed, workspace=workspace, **build_plugin_objects(plugin_kwargs, workspace),
                         **pipeline_kwargs)
    log.info("%s: training with %s", plugin, json.dumps(plugin_kwargs, default=str))
    started = time.perf_counter()
    printed = io.StringIO()  # some plugins print progress (arfpy); keep it out of the terminal, in the log
    with muted_library_warnings(), contextlib.redirect_stdout(printed):
        model.fit(GenericDataLoader(encoded, target_column=label, random_state=seed))
    for line in printed.getvalue().splitlines():
        log.info("%s: %s", plugin, line)
    seconds = time.perf_counter() - started
    if hasattr(model, "resolved_settings"):  # automatic choices (e.g. cart's leaf size), as training used them
        plugin_kwargs = {**plugin_kwargs, **model.resolved_settings()}
    privacy = None
    if generator.epsilon is not None:
        from synth_pipelines.core.differential_privacy import privacy_record

        privacy = privacy_record(plugin, model, generator.epsilon)
    model_path = out_dir / "model.pkl"
    save_to_file(model_path, model)
    synthesizer = Synthesizer(plugin=plugin, settings=dict(generator.settings), seed=seed, codecs=codecs,
                              label=label, train_rows=len(train), training_seconds=round(seconds, 2),
                              model_path=str(model_path), plugin_kwargs=plugin_kwargs, privacy=privacy,
                              relations=relations)
    synthesizer.save_manifest(out_dir)
    return synthesizer


def load_synthesizer(folder: Path) -> Synthesizer:
    data = json.loads((folder / "synthesizer.json").read_text())
    data["codecs"] = [ColumnCodec(**{**c, "number_format": NumberFormat.from_dict(c.get("number_format"))})
                      for c in data["codecs"]]
    data["relations"] = [Relation(**r) for r in data.get("relations", [])]
    return Synthesizer(**data)


@dataclass(frozen=True)
class GeneratedRows:
    path: str
    rows: int
    batches: int
    seconds: float
    rebalance: dict[str, Any] | None = None  # column, target and achieved shares, rows drawn to fill them


class RebalanceError(ValueError):
    """synthetic.rebalance cannot be met: not a category column, unknown values, or a value too rare."""


REBALANCE_MAX_DRAWS = 20  # generator calls per batch before a value counts as too rare to fill its quota


def _split_rows(count: int, weights: dict[str, float]) -> dict[str, int]:
    """Largest-remainder split of `count` rows by `weights` (summing to 1), per value."""
    values = sorted(weights)
    return dict(zip(values, split_rows(count, np.array([weights[v] for v in values])).tolist(), strict=True))


def _rebalance_codec(synthesizer: Synthesizer, column: str, proportions: dict[str, float]) -> ColumnCodec:
    by_name = {c.name: c for c in synthesizer.codecs}
    if column not in by_name:
        raise RebalanceError(f"synthetic.rebalance.column: '{column}' is not a synthesized column "
                             f"({', '.join(by_name)}); name a category column of the view, e.g. the label")
    codec = by_name[column]
    if codec.kind != "category":
        raise RebalanceError(f"synthetic.rebalance.column: '{column}' is synthesized as {codec.kind}, not as a "
                             "category; rebalance the label of a classification, a text column or a lookup key")
    known = [str(v) for v in codec.categories]
    unknown = sorted(set(proportions) - set(known))
    if unknown:
        raise RebalanceError(f"synthetic.rebalance.proportions: {unknown} never occur in '{column}' of the real "
                             f"train rows (values: {known}); use those values")
    return codec


def _rebalanced_batch(model: Any, synthesizer: Synthesizer, column: str, quotas: dict[str, int],
                      batch: int) -> tuple[pd.DataFrame, int]:
    """Draw from the generator until every value's quota is filled (quota sampling); rows in seeded random order."""
    kept: dict[str, list[pd.DataFrame]] = {value: [] for value in quotas}
    have, seen, drawn = dict.fromkeys(quotas, 0), dict.fromkeys(quotas, 0), 0
    size = sum(quotas.values())
    for draw in range(REBALANCE_MAX_DRAWS):
        if all(have[v] >= quotas[v] for v in quotas):
            break
        with muted_library_warnings():
            encoded = model.generate(count=size, random_state=synthesizer.seed + batch * REBALANCE_MAX_DRAWS + draw)
        frame = decode(encoded.dataframe().head(size), synthesizer.codecs,
                       np.random.default_rng([synthesizer.seed, batch, draw]))
        drawn += len(frame)
        values = frame[column].map(lambda v: None if pd.isna(v) else str(v))
        for value in quotas:
            rows = frame[values == value]
            seen[value] += len(rows)
            take = rows.head(quotas[value] - have[value])
            kept[value].append(take)
            have[value] += len(take)
    short = [v for v in quotas if have[v] < quotas[v]]
    if short:
        value = short[0]
        raise RebalanceError(
            f"synthetic.rebalance.proportions.{value}: value '{value}' of '{column}' is too rare for the generator: "
            f"{seen[value]} of {drawn} generated rows had it in batch {batch + 1} ({REBALANCE_MAX_DRAWS} draws), "
            f"{quotas[value]} were needed; lower its proportion towards the share the generator produces "
            f"({seen[value] / max(drawn, 1):.2%})")
    frame = pd.concat([part for parts in kept.values() for part in parts], ignore_index=True)
    order = np.random.default_rng([synthesizer.seed, batch]).permutation(len(frame))
    return frame.iloc[order].reset_index(drop=True), drawn


def _rebalance_quotas(rows: int, batch_rows: int, proportions: dict[str, float], batch: int) -> dict[str, int]:
    """Batch `batch`'s quotas: the remaining target counts after the batches before it, split over its rows
    (a shard starting at `batch` replays the arithmetic, so its quotas equal an unsharded run's)."""
    remaining = _split_rows(rows, proportions)
    for done in range(batch + 1):
        count = min(batch_rows, rows - done * batch_rows)
        total = sum(remaining.values())
        quotas = _split_rows(count, {v: n / total for v, n in remaining.items()})
        remaining = {v: remaining[v] - quotas[v] for v in remaining}
    return quotas


def generate_rows(synthesizer: Synthesizer, *, rows: int, batch_rows: int, id_prefix: str, out_dir: Path,
                  on_batch: Callable[[int, int], None] | None = None,
                  rebalance: Any = None, batches: range | None = None,
                  file_name: str = "synthetic_rows.parquet") -> GeneratedRows:
    """Generate `rows` rows in batches of `batch_rows`, decode them, and stream them to Parquet.

    Batch i uses seed + i, so a rerun with the same model and seed gives the same rows.
    `rebalance` (a spec.RebalanceSpec) sets the shares of one category column: each batch gets
    quotas (largest-remainder split of the remaining target counts, so the totals are exact), and
    the generator is drawn from (seed + i * REBALANCE_MAX_DRAWS + draw) until every quota is
    filled. Works for every plugin; a value the generator rarely makes costs more draws and, past
    REBALANCE_MAX_DRAWS per batch, is an error naming the value.
    `batches`: only these batches of the `rows` (a shard, core/shards.py), written to `file_name`; each
    batch's seed, quotas and row ids depend on its index alone, so shards concatenated in order are the
    rows of one unsharded run.
    """
    quiet_synthcity()  # unpickling the model imports synthcity
    from synthcity.utils.serialization import load_from_file

    if rebalance is not None:
        _rebalance_codec(synthesizer, rebalance.column, rebalance.proportions)
    model = load_from_file(synthesizer.model_path)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / file_name
    batches = batches if batches is not None else range(-(-rows // batch_rows))
    wanted = sum(min(batch_rows, rows - b * batch_rows) for b in batches)
    started = time.perf_counter()
    writer: pq.ParquetWriter | None = None
    schema: pa.Schema | None = None
    written, drawn = 0, 0
    try:
        for batch in batches:
            first_row = batch * batch_rows
            count = min(batch_rows, rows - first_row)
            if rebalance is None:
                with muted_library_warnings():
                    encoded = model.generate(count=count, random_state=synthesizer.seed + batch).dataframe()
                frame = decode(encoded.head(count), synthesizer.codecs, np.random.default_rng([synthesizer.seed, batch]))
            else:
                quotas = _rebalance_quotas(rows, batch_rows, rebalance.proportions, batch)
                frame, draws = _rebalanced_batch(model, synthesizer, rebalance.column, quotas, batch)
                drawn += draws
            frame = apply_relations(frame, synthesizer.relations, synthesizer.codecs)
            frame.insert(0, "synthetic_id", [f"{id_prefix}-{first_row + i + 1:09d}" for i in range(len(frame))])
            table = pa.Table.from_pandas(frame, schema=schema, preserve_index=False)
            if writer is None:
                schema = table.schema
                writer = pq.ParquetWriter(path, schema)
            writer.write_table(table)
            written += len(frame)
            if on_batch:
                on_batch(written, wanted)
            if len(frame) == 0:
                raise RuntimeError(f"{synthesizer.plugin} generated no rows in batch {batch + 1}")
    finally:
        if writer is not None:
            writer.close()
    record = None if rebalance is None else rebalance_record([path], rebalance, drawn)
    return GeneratedRows(path=str(path), rows=written, batches=len(batches),
                         seconds=round(time.perf_counter() - started, 2), rebalance=record)


def rebalance_record(paths: list[Path], rebalance: Any, drawn: int) -> dict[str, Any]:
    """Target and achieved shares of the rebalanced column over `paths` (one file, or every shard's part),
    and the rows drawn to fill the quotas."""
    achieved = pq.read_table([str(p) for p in paths], columns=[rebalance.column]).column(rebalance.column).to_pandas()
    shares = achieved.map(lambda v: None if pd.isna(v) else str(v)).value_counts(normalize=True)
    return {"column": rebalance.column, "target_proportions": dict(rebalance.proportions),
            "achieved_proportions": {v: round(float(shares.get(v, 0.0)), 6) for v in rebalance.proportions},
            "generated_rows": drawn}

"""Multi-table synthesis: a root table and its child tables (spec `tables:`), generated with new keys.

Each synthesized table gets one conditional sequential-tree model (the cart plugin) trained on a frame
of three parts, in this order:
  1. conditioning (children only): the parent row's columns (`parent__<column>`), the family size and,
     for a sequence (`order_by`), the row's position in it;
  2. the table's own columns (its primary key and parent key are never trained: keys are new);
  3. one count per child table (`__n_<child>`): how many children the row has, zero included.
So a table's children-per-row counts are drawn from a tree model of the count given the row's columns
(and given each other), and a child's rows are drawn given the parent row they belong to, in order.
Generation walks the tree root first: the root's rows unconditionally, then each child table's rows
under the synthetic parents, as many as the parent's drawn count. Lookup tables are not synthesized:
their snapshot rows are kept and foreign keys into them hold only their keys.

Roots are split train/holdout with their whole family (a root and its children on one side).

With a categorical root `label`, each label class with at least MIN_CLASS_ROOTS train roots gets models
of its own, trained on its families alone (the rest share one, the label a column in it); generation
draws each class's share of the roots from the real shares. Conditioned on through one set of trees
instead, a class of a few per cent of the roots (Berka's `frequency`: 2% and 5%) fits in no
privacy-sized leaf, so its families looked like everyone's (BENCHMARKS.md: parent-level TSTR/TRTR).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from synth_pipelines.core.arithmetic import Relation, apply_relations, fit_relations
from synth_pipelines.core.sql import run_query
from synth_pipelines.core.synthesis import ColumnCodec, decode, encode, fit_codecs
from synth_pipelines.core.training_view import decimals_as_floats
from synth_pipelines.spec import SynthesizedTableSpec, context_parent

PARENT_PREFIX = "parent__"
# A label class needs this many train roots for models of its own (twice the cart's smallest automatic leaf).
MIN_CLASS_ROOTS = 40
# A label with fewer distinct values (or text) is categorical: its classes are modelled apart.
MAX_LABEL_CLASSES = 15
FAMILY_SIZE, POSITION = "__family_size", "__position"


def count_column(child: str) -> str:
    return f"__n_{child}"


@dataclass(frozen=True)
class TablePlan:
    """One table's place in the tree: its keys, parent, children and lookups."""

    name: str
    primary_key: str
    lookup: bool
    parent: str | None = None
    parent_key: str | None = None  # this table's column referencing the parent's primary key
    order_by: str | None = None
    children: tuple[str, ...] = ()
    lookup_keys: dict[str, str] = field(default_factory=dict)  # column -> lookup table


def plan_tables(tables: Mapping[str, SynthesizedTableSpec]) -> dict[str, TablePlan]:
    """Every table of the spec, synthesized ones root first (each parent before its children)."""
    tables = dict(tables)
    parents = {name: context_parent(t, tables) for name, t in tables.items()}
    plans = {}
    for name, table in tables.items():
        parent = parents[name]
        plans[name] = TablePlan(
            name=name, primary_key=table.primary_key, lookup=table.lookup,
            parent=parent[0] if parent else None, parent_key=parent[1] if parent else None,
            order_by=table.order_by, children=tuple(c for c, p in parents.items() if p and p[0] == name),
            lookup_keys={col: t.split(".")[0] for col, t in table.foreign_keys.items()
                         if tables[t.split(".")[0]].lookup})
    root = next(n for n, p in plans.items() if not p.lookup and p.parent is None)
    ordered, queue = [], [root]
    while queue:
        ordered.append(queue.pop(0))
        queue.extend(plans[ordered[-1]].children)
    return {**{n: plans[n] for n in ordered}, **{n: p for n, p in plans.items() if p.lookup}}


def root_of(plans: Mapping[str, TablePlan]) -> str:
    return next(iter(plans))


def read_tables(tables: Mapping[str, SynthesizedTableSpec], snapshot_tables: Mapping[str, str | Path]) -> dict[str, pd.DataFrame]:
    """Each table's real rows from the snapshot (its `sql`, or the source table of its name). Children
    whose parent key matches no parent row (orphans) are dropped: they have no family to be generated in."""
    frames = {}
    for name, table in tables.items():
        sql = table.sql or f'SELECT * FROM "{name}"'
        frames[name] = decimals_as_floats(run_query(sql, snapshot_tables, field=f"tables.{name}.sql"))
    for name, plan in plan_tables(tables).items():
        if plan.parent is not None:
            parent_keys = frames[plan.parent][tables[plan.parent].primary_key]
            frames[name] = frames[name][frames[name][plan.parent_key].isin(parent_keys)].reset_index(drop=True)
    return frames


def split_families(frames: Mapping[str, pd.DataFrame], plans: Mapping[str, TablePlan], holdout_fraction: float,
                   seed: int) -> tuple[dict[str, pd.DataFrame], dict[str, pd.DataFrame]]:
    """(train, holdout) frames per table: a seeded share of the roots held out with all their descendants."""
    root = root_of(plans)
    held = np.random.default_rng(seed).random(len(frames[root])) < holdout_fraction
    return families_of(frames, plans, ~held), families_of(frames, plans, held)


def own_columns(frame: pd.DataFrame, plan: TablePlan) -> list[str]:
    """The columns a table's model synthesizes: all but its keys."""
    return [c for c in frame.columns if c not in (plan.primary_key, plan.parent_key)]


def family_position(frame: pd.DataFrame, plan: TablePlan) -> pd.Series:
    """0, 1, ... per row within its parent, in `order_by` order (row order for ties and without one)."""
    ordered = frame.sort_values([plan.parent_key, plan.order_by], kind="stable") if plan.order_by else frame
    return ordered.groupby(plan.parent_key, sort=False).cumcount().reindex(frame.index)


def training_frame(name: str, frames: Mapping[str, pd.DataFrame], plans: Mapping[str, TablePlan]) -> pd.DataFrame:
    """Conditioning columns, own columns, child counts (see the module docstring)."""
    plan, frame = plans[name], frames[name]
    parts = []
    if plan.parent is not None:
        parent_plan, parent = plans[plan.parent], frames[plan.parent]
        parent_columns = own_columns(parent, parent_plan)
        by_key = parent.set_index(parent_plan.primary_key)[parent_columns]
        context = by_key.loc[frame[plan.parent_key].to_numpy()].reset_index(drop=True)
        context.columns = [PARENT_PREFIX + c for c in parent_columns]
        context[FAMILY_SIZE] = frame.groupby(plan.parent_key)[plan.parent_key].transform("size").to_numpy()
        if plan.order_by:
            context[POSITION] = family_position(frame, plan).to_numpy()
        parts.append(context)
    parts.append(frame[own_columns(frame, plan)].reset_index(drop=True))
    keys = frame[plan.primary_key]
    for child in plan.children:
        counts = frames[child][plans[child].parent_key].value_counts()
        parts.append(pd.DataFrame({count_column(child): keys.map(counts).fillna(0).astype(int).to_numpy()}))
    return pd.concat(parts, axis=1)


def conditioning_columns(plan: TablePlan, parent_frame_columns: list[str]) -> list[str]:
    columns = [PARENT_PREFIX + c for c in parent_frame_columns] + ([FAMILY_SIZE] if plan.parent else [])
    return columns + ([POSITION] if plan.parent and plan.order_by else [])


@dataclass
class TableModel:
    plan: TablePlan
    codecs: list[ColumnCodec]
    conditioning: list[str]  # training-frame columns given at generation (children)
    model: Any  # the fitted cart plugin
    key_is_number: bool
    train_rows: int
    relations: list[Relation] = field(default_factory=list)  # computed after decode (arithmetic.py)


@dataclass
class MultiTableModel:
    plans: dict[str, TablePlan]
    tables: dict[str, TableModel]
    lookups: dict[str, pd.DataFrame]
    seconds: dict[str, float] = field(default_factory=dict)
    # A categorical label's classes, each with its share of the train roots and its own models (None:
    # the classes pooled together, the label a column of them); `tables` is then empty.
    by_label: dict[Any, tuple[float, MultiTableModel]] | None = None

    def computed(self, table: str) -> dict[str, str]:
        """The table's columns computed from two others (arithmetic.py), over every label class's models."""
        models = [m for _, m in self.by_label.values()] if self.by_label else [self]
        return {r.result: r.describe() for m in models if table in m.tables for r in m.tables[table].relations}


def train_tables(train: Mapping[str, pd.DataFrame], plans: Mapping[str, TablePlan], settings: Mapping[str, Any],
                 seed: int, label: str | None = None) -> MultiTableModel:
    """One cart model per synthesized table (`settings`: the cart plugin's, e.g. min_samples_leaf); with a
    categorical root `label`, one such set per label class (see the module docstring)."""
    root = root_of(plans)
    values = train[root][label] if label is not None else None
    if values is None or (pd.api.types.is_numeric_dtype(values) and values.nunique() >= MAX_LABEL_CLASSES):
        return _train_tables(train, plans, settings, seed)
    counts = values.value_counts(dropna=False)
    own = [value for value, n in counts.items() if n >= MIN_CLASS_ROOTS]
    groups = {value: values == value if not pd.isna(value) else values.isna() for value in own}
    rest = ~np.logical_or.reduce([g.to_numpy() for g in groups.values()]) if groups else np.ones(len(values), bool)
    groups.update({None: pd.Series(rest)} if rest.any() else {})
    by_label = {value: (float(rows.mean()), _train_tables(families_of(train, plans, rows.to_numpy()), plans,
                                                          settings, seed))
                for value, rows in groups.items()}
    seconds = {}
    for _, part in by_label.values():
        for table, spent in part.seconds.items():
            seconds[table] = round(seconds.get(table, 0.0) + spent, 2)
    return MultiTableModel(dict(plans), {}, {n: train[n] for n, p in plans.items() if p.lookup}, seconds, by_label)


def families_of(frames: Mapping[str, pd.DataFrame], plans: Mapping[str, TablePlan], roots: np.ndarray
                ) -> dict[str, pd.DataFrame]:
    """The tables of the roots where `roots` is True, with their descendants; lookups whole."""
    root = root_of(plans)
    out = {root: frames[root][roots].reset_index(drop=True)}
    for name, plan in plans.items():
        if plan.lookup:
            out[name] = frames[name]
        elif plan.parent is not None:
            kept = frames[name][plan.parent_key].isin(out[plan.parent][plans[plan.parent].primary_key])
            out[name] = frames[name][kept.to_numpy()].reset_index(drop=True)
    return out


def _train_tables(train: Mapping[str, pd.DataFrame], plans: Mapping[str, TablePlan], settings: Mapping[str, Any],
                  seed: int) -> MultiTableModel:
    import time

    from synthcity.plugins.core.dataloader import GenericDataLoader

    from synth_pipelines.generators.plugin_cart import CartPlugin

    models, seconds = {}, {}
    for name, plan in plans.items():
        if plan.lookup:
            continue
        started = time.perf_counter()
        frame = training_frame(name, train, plans)
        categorical = set(plan.lookup_keys)
        categorical |= {PARENT_PREFIX + c for c in plans[plan.parent].lookup_keys} if plan.parent else set()
        codecs = fit_codecs(frame, categorical)
        parent_columns = own_columns(train[plan.parent], plans[plan.parent]) if plan.parent else []
        conditioning = conditioning_columns(plan, parent_columns)
        model = CartPlugin(random_state=seed, label_last=False, **dict(settings))
        model.fit(GenericDataLoader(encode(frame, codecs), random_state=seed))
        fixed = frozenset(conditioning) | {c for c in frame.columns if c.startswith((PARENT_PREFIX, count_column("")))}
        models[name] = TableModel(plan, codecs, conditioning, model,
                                  key_is_number=pd.api.types.is_numeric_dtype(train[name][plan.primary_key]),
                                  train_rows=len(frame), relations=fit_relations(frame, codecs, None, fixed))
        seconds[name] = round(time.perf_counter() - started, 2)
    lookups = {n: train[n] for n, p in plans.items() if p.lookup}
    return MultiTableModel(dict(plans), models, lookups, seconds)


def new_keys(table: TableModel, count: int) -> np.ndarray:
    """Synthetic primary keys 1..count (numbers, or text '<table>_<n>' where the real key is text)."""
    return numbered_keys(table.plan.name, count, table.key_is_number)


def numbered_keys(table: str, count: int, as_numbers: bool, start: int = 0) -> np.ndarray:
    """Keys start+1..start+count: numbers, or text '<table>_<n>'."""
    numbers = np.arange(start + 1, start + count + 1)
    return numbers if as_numbers else np.array([f"{table}_{n}" for n in numbers], dtype=object)


def generate_tables(model: MultiTableModel, root_rows: int, seed: int) -> dict[str, pd.DataFrame]:
    """Synthetic tables with new keys: `root_rows` roots, their descendants by drawn counts, the lookups."""
    if model.by_label is None:
        return _generate_tables(model, root_rows, seed)
    shares = np.array([share for share, _ in model.by_label.values()])
    counts = np.random.default_rng([seed, len(model.plans)]).multinomial(root_rows, shares / shares.sum())
    parts = [_generate_tables(part, int(n), seed + i)
             for i, ((_, part), n) in enumerate(zip(model.by_label.values(), counts, strict=True))]
    return _joined(parts, model)


def _joined(parts: list[dict[str, pd.DataFrame]], model: MultiTableModel) -> dict[str, pd.DataFrame]:
    """The label classes' tables as one set, the keys numbered anew across them (each part's run 1..n)."""
    out: dict[str, pd.DataFrame] = {}
    renamed: dict[str, list[dict]] = {}  # per table, per part: old key -> new key
    for name, plan in model.plans.items():
        if plan.lookup:
            out[name] = model.lookups[name].copy()
            continue
        frames, maps, start = [], [], 0
        for index, part in enumerate(parts):
            frame = part[name].copy()
            key = frame[plan.primary_key]  # the kind new_keys gave this part (an empty part: numbers)
            keys = numbered_keys(name, len(frame), pd.api.types.is_numeric_dtype(key) or key.empty, start)
            maps.append(dict(zip(frame[plan.primary_key], keys, strict=True)))
            frame[plan.primary_key] = keys
            if plan.parent is not None:
                frame[plan.parent_key] = frame[plan.parent_key].map(renamed[plan.parent][index])
            frames.append(frame)
            start += len(frame)
        renamed[name] = maps
        out[name] = pd.concat(frames, ignore_index=True)
    return out


def _generate_tables(model: MultiTableModel, root_rows: int, seed: int) -> dict[str, pd.DataFrame]:
    out: dict[str, pd.DataFrame] = {}
    with_counts: dict[str, pd.DataFrame] = {}
    for index, (name, table) in enumerate(model.tables.items()):
        rng = np.random.default_rng([seed, index])
        plan = table.plan
        if plan.parent is None:
            given = pd.DataFrame(index=range(root_rows))
            parent_keys = None
        else:
            parents = with_counts[plan.parent]
            counts = parents.pop(count_column(name)).clip(lower=0).round().astype(int).to_numpy()
            given, parent_keys = _children_given(parents, model.plans[plan.parent], plan, counts)
        sampled = _sample(table, given, rng)
        decoded = apply_relations(decode(sampled, table.codecs, rng), table.relations, table.codecs)
        if plan.order_by and parent_keys is not None:  # a sequence reads in order within its parent
            family = np.repeat(np.arange(len(counts)), counts)
            order = decoded.assign(__family=family).sort_values(["__family", plan.order_by], kind="stable").index
            decoded = decoded.loc[order].reset_index(drop=True)
        decoded.insert(0, plan.primary_key, new_keys(table, len(decoded)))
        if parent_keys is not None:
            decoded.insert(1, plan.parent_key, parent_keys)
        decoded = _lookup_keys_valid(decoded, plan, model.lookups, model.plans, rng)
        with_counts[name] = decoded
        keep = [c for c in decoded.columns if not c.startswith(("__", PARENT_PREFIX))]
        out[name] = decoded[keep]
    return {**out, **{n: frame.copy() for n, frame in model.lookups.items()}}


def _children_given(parents: pd.DataFrame, parent_plan: TablePlan, plan: TablePlan,
                    counts: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
    """The conditioning frame of a child table: each synthetic parent repeated by its count, with the
    family size and the position in it."""
    repeat = np.repeat(np.arange(len(parents)), counts)
    columns = [c for c in own_columns(parents, parent_plan) if not c.startswith(("__", PARENT_PREFIX))]
    given = parents[columns].iloc[repeat].reset_index(drop=True)
    given.columns = [PARENT_PREFIX + c for c in columns]
    given[FAMILY_SIZE] = counts[repeat]
    if plan.order_by:
        starts = np.repeat(np.cumsum(counts) - counts, counts)
        given[POSITION] = np.arange(len(repeat)) - starts
    return given, parents[parent_plan.primary_key].to_numpy()[repeat]


def _sample(table: TableModel, given: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Encoded rows: the conditioning columns as given, the rest drawn by the cart model."""
    if given.shape[1] == 0:
        return table.model.sample_given(pd.DataFrame(index=given.index), rng) if len(given) else _empty(table)
    if len(given) == 0:
        return _empty(table)
    condition_codecs = [c for c in table.codecs if c.name in table.conditioning]
    encoded = encode(given[[c.name for c in condition_codecs]], condition_codecs)
    return table.model.sample_given(encoded, rng)


def _empty(table: TableModel) -> pd.DataFrame:
    names = [c.name for c in table.model.columns_]
    return pd.DataFrame({n: pd.Series([], dtype=float) for n in names})


def _lookup_keys_valid(frame: pd.DataFrame, plan: TablePlan, lookups: Mapping[str, pd.DataFrame],
                       plans: Mapping[str, TablePlan], rng: np.random.Generator) -> pd.DataFrame:
    """A foreign key into a lookup holds only that lookup's keys: a value outside them (a real row's
    dangling key) is redrawn from the column's valid values, so their shares stay."""
    for column, lookup in plan.lookup_keys.items():
        keys = lookups[lookup][plans[lookup].primary_key].dropna()
        bad = (frame[column].notna() & ~frame[column].isin(keys)).to_numpy()
        valid = frame[column][~bad].dropna().to_numpy()
        pool = valid if len(valid) else keys.to_numpy()
        if bad.any() and len(pool):
            frame.loc[bad, column] = pool[rng.integers(0, len(pool), int(bad.sum()))]
    return frame

"""QA of a multi-table synthesis: every per-table check, plus checks across tables.

Per table: run_quality on the table's own columns (keys left out) against its real counterpart
(train: the tables the models learned from; holdout: the families of the held-out roots).
Across tables (one report, `cross_tables`):
  referential_integrity     share of foreign-key values that resolve (parents and lookups): must be 1
  children_per_parent       total variation distance of the children-per-parent distribution, per child table
  parent_child_association  PhiK between parent columns and child columns, real vs synthetic
Families (`families`): one row per root, its columns plus child aggregates (family_view), judged by
run_quality's utility (the parent-level TSTR/TRTR, on the root's `label`) and privacy checks: a
memorised family is a leak even when each of its rows alone looks new.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from synth_pipelines.core.multitable import PARENT_PREFIX, TablePlan, own_columns, root_of
from synth_pipelines.core.quality import fidelity
from synth_pipelines.core.quality.results import Metric, QualityCheck, QualityReport
from synth_pipelines.core.quality.runner import run_quality
from synth_pipelines.core.quality.thresholds import QAThresholds
from synth_pipelines.core.synthesis import ColumnCodec, fit_codecs

# Cross-table gates (issue 17's targets): every key resolves; the children-per-parent distribution within
# this total variation distance of the real one. Counts are compared in at most COUNT_BINS bins (exact
# values when there are fewer), so a long tail of single counts does not dominate.
MIN_REFERENTIAL_INTEGRITY, MAX_CHILDREN_TVD, COUNT_BINS = 1.0, 0.05, 20
FAMILY_CHECKS = ("utility", "privacy_dcr", "privacy_exact_copies", "privacy_membership_inference")
TABLE_CHECKS_WITHOUT_LABEL = ("great_expectations", "fidelity", "privacy_dcr", "privacy_exact_copies",
                              "privacy_membership_inference", "privacy_rare_combinations", "diversity")


@dataclass
class MultiTableQuality:
    tables: dict[str, QualityReport]
    cross_tables: QualityReport
    families: QualityReport | None  # None when the root declares no label

    @property
    def passed(self) -> bool:
        reports = [*self.tables.values(), self.cross_tables, *([self.families] if self.families else [])]
        return all(r.passed for r in reports)

    def to_dict(self) -> dict:
        return {"passed": self.passed, "tables": {n: r.to_dict() for n, r in self.tables.items()},
                "cross_tables": self.cross_tables.to_dict(),
                "families": self.families.to_dict() if self.families else None}


def table_codecs(frame: pd.DataFrame, plan: TablePlan) -> list[ColumnCodec]:
    return fit_codecs(frame[own_columns(frame, plan)], set(plan.lookup_keys))


def run_multitable_quality(train: Mapping[str, pd.DataFrame], holdout: Mapping[str, pd.DataFrame],
                           synthetic: Mapping[str, pd.DataFrame], plans: Mapping[str, TablePlan],
                           label: str | None, thresholds: QAThresholds | None = None) -> MultiTableQuality:
    t = thresholds or QAThresholds()
    root = root_of(plans)
    tables = {}
    for name, plan in plans.items():
        if plan.lookup:
            continue
        codecs = table_codecs(train[name], plan)
        table_t = for_columns(t, {c.name for c in codecs})
        keys = dict(key_columns=(plan.primary_key,), extra_columns=(plan.parent_key,) if plan.parent else ())
        if name == root and label is not None:
            tables[name] = run_quality(train[name], holdout[name], synthetic[name], codecs, label,
                                       task_of(codecs, label), table_t, **keys)
            continue
        # No label of its own: every check but the label's (utility, bias); rare combinations need two columns.
        checks = [c for c in TABLE_CHECKS_WITHOUT_LABEL if len(codecs) > 1 or c != "privacy_rare_combinations"]
        tables[name] = run_quality(train[name], holdout[name], synthetic[name], codecs, codecs[-1].name,
                                   "classification", table_t, checks=checks, **keys)
    cross = QualityReport(checks=[
        QualityCheck("referential_integrity", [referential_integrity(synthetic, plans)]),
        QualityCheck("children_per_parent", [children_per_parent_tvd(train, synthetic, plans, child, holdout)
                                             for child, p in plans.items() if p.parent]),
        QualityCheck("parent_child_association", [parent_child_association(train, synthetic, plans, child, t)
                                                  for child, p in plans.items() if p.parent])])
    families = None
    if label is not None:
        real_view, holdout_view = family_view(train, plans), family_view(holdout, plans)
        codecs = fit_codecs(real_view.drop(columns=[plans[root].primary_key]), set(plans[root].lookup_keys))
        families = run_quality(real_view, holdout_view, family_view(synthetic, plans), codecs, label,
                               task_of(codecs, label), for_columns(t, {c.name for c in codecs}),
                               key_columns=(plans[root].primary_key,),
                               checks=FAMILY_CHECKS)
    return MultiTableQuality(tables, cross, families)


def for_columns(t: QAThresholds, columns: set[str]) -> QAThresholds:
    """The spec's QA settings for one table: protected columns and quasi-identifiers it has (the spec
    names them for its training view)."""
    identifiers = t.quasi_identifiers
    return t.model_copy(update={"protected_columns": [c for c in t.protected_columns if c in columns],
                                "quasi_identifiers": None if identifiers is None else
                                [c for c in identifiers if c in columns] or None})


def task_of(codecs: list[ColumnCodec], label: str) -> str:
    return "classification" if next(c for c in codecs if c.name == label).kind == "category" else "regression"


def referential_integrity(tables: Mapping[str, pd.DataFrame], plans: Mapping[str, TablePlan]) -> Metric:
    """Share of non-missing foreign-key values (to parents and lookups) found among the referenced keys."""
    found, total, broken = 0, 0, {}
    for name, plan in plans.items():
        if plan.lookup:
            continue
        references = {**plan.lookup_keys, **({plan.parent_key: plan.parent} if plan.parent else {})}
        for column, target in references.items():
            values = tables[name][column].dropna()
            resolved = int(values.isin(tables[target][plans[target].primary_key]).sum())
            found, total = found + resolved, total + len(values)
            if resolved < len(values):
                broken[f"{name}.{column}"] = len(values) - resolved
    return Metric("referential_integrity", found / total if total else 1.0, "pandas Series.isin",
                  {"foreign_key_values": total, "unresolved": broken}).gate(MIN_REFERENTIAL_INTEGRITY, "min")


def children_counts(tables: Mapping[str, pd.DataFrame], plans: Mapping[str, TablePlan], child: str) -> pd.Series:
    """Children of each parent row, zero included."""
    plan = plans[child]
    counts = tables[child][plan.parent_key].value_counts()
    return tables[plan.parent][plans[plan.parent].primary_key].map(counts).fillna(0).astype(int)


def count_tvd(real: pd.Series, other: pd.Series) -> float:
    """Total variation distance of two count distributions, in the real counts' quantile bins."""
    values = np.unique(real)
    if len(values) > COUNT_BINS:
        values = np.unique(np.quantile(real, np.linspace(0, 1, COUNT_BINS + 1))[:-1])
    bins = [np.searchsorted(values, s.to_numpy(), side="right") for s in (real, other)]
    shares = [np.bincount(b, minlength=len(values) + 1) / max(len(b), 1) for b in bins]
    return float(0.5 * np.abs(shares[0] - shares[1]).sum())


def children_per_parent_tvd(real: Mapping[str, pd.DataFrame], synthetic: Mapping[str, pd.DataFrame],
                            plans: Mapping[str, TablePlan], child: str,
                            holdout: Mapping[str, pd.DataFrame] | None = None) -> Metric:
    real_counts, synthetic_counts = children_counts(real, plans, child), children_counts(synthetic, plans, child)
    details = {"real_mean": round(float(real_counts.mean()), 3), "synthetic_mean": round(float(synthetic_counts.mean()), 3),
               "real_zero_share": round(float((real_counts == 0).mean()), 3),
               "synthetic_zero_share": round(float((synthetic_counts == 0).mean()), 3)}
    if holdout is not None and len(holdout[plans[child].parent]):  # what chance alone gives: real vs real
        details["holdout_tvd"] = round(count_tvd(real_counts, children_counts(holdout, plans, child)), 4)
    return Metric(f"children_per_parent_tvd.{child}", count_tvd(real_counts, synthetic_counts),
                  "numpy histogram TVD", details).gate(MAX_CHILDREN_TVD, "max")


def joined_with_parent(tables: Mapping[str, pd.DataFrame], plans: Mapping[str, TablePlan], child: str) -> pd.DataFrame:
    """Child rows with their parent's columns (`parent__<column>`), keys left out."""
    plan, parent_plan = plans[child], plans[plans[child].parent]
    parent = tables[plan.parent]
    parent_columns = own_columns(parent, parent_plan)
    context = parent.set_index(parent_plan.primary_key)[parent_columns].add_prefix(PARENT_PREFIX)
    # Joined on the key column, then dropped: joined on a Series, pandas adds the key as a column `key_0`,
    # and the association then compared parent columns with the (new, renumbered) parent keys.
    frame = tables[child][[*own_columns(tables[child], plan), plan.parent_key]]
    return frame.join(context, on=plan.parent_key).drop(columns=plan.parent_key)


def parent_child_association(real: Mapping[str, pd.DataFrame], synthetic: Mapping[str, pd.DataFrame],
                             plans: Mapping[str, TablePlan], child: str, t: QAThresholds) -> Metric:
    """1 - mean |PhiK real - PhiK synthetic| over (parent column, child column) pairs."""
    real_joined = joined_with_parent(real, plans, child)
    categorical = set(plans[child].lookup_keys) | {PARENT_PREFIX + c for c in plans[plans[child].parent].lookup_keys}
    codecs = fit_codecs(real_joined, categorical)
    real_phik, synthetic_phik = fidelity.phik_matrices(real_joined, joined_with_parent(synthetic, plans, child),
                                                       codecs, rows=t.phik_rows, seed=t.seed)
    parents = [c for c in real_phik.columns if c.startswith(PARENT_PREFIX)]
    children = [c for c in real_phik.columns if not c.startswith(PARENT_PREFIX)]
    diff = (real_phik.loc[parents, children] - synthetic_phik.loc[parents, children]).abs()
    worst = diff.stack().sort_values(ascending=False).head(5)
    return Metric(f"parent_child_association.{child}", float(1 - diff.to_numpy().mean()) if diff.size else 1.0,
                  "phik.phik_matrix", {"largest_differences": {f"{p} ~ {c}": round(float(v), 3)
                                                               for (p, c), v in worst.items()}}
                  ).gate(t.min_association_similarity, "min")


def family_view(tables: Mapping[str, pd.DataFrame], plans: Mapping[str, TablePlan]) -> pd.DataFrame:
    """One row per root: its columns, and per descendant table the family's row count and the mean of
    each numeric column (descendants reached through their parents)."""
    root = root_of(plans)
    root_key = plans[root].primary_key
    view = tables[root].copy()
    owner = {root: tables[root][root_key]}  # per table: the root key of each row
    for name, plan in plans.items():
        if plan.lookup or plan.parent is None:
            continue
        parent_root = pd.Series(owner[plan.parent].to_numpy(), index=tables[plan.parent][plans[plan.parent].primary_key])
        owner[name] = tables[name][plan.parent_key].map(parent_root)
        frame = tables[name][own_columns(tables[name], plan)]
        numeric = [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c]) and c not in plan.lookup_keys]
        grouped = frame[numeric].groupby(owner[name].to_numpy())
        aggregates = grouped.mean().add_prefix(f"{name}__mean_")
        aggregates[f"{name}__rows"] = owner[name].value_counts()
        view = view.join(aggregates, on=root_key)
        view[f"{name}__rows"] = view[f"{name}__rows"].fillna(0).astype(int)
    return view.reset_index(drop=True)

"""Release regression: how a synthetic release differs from an earlier one of the same dataset.

Both sides are synthetic rows, so the comparison shows nothing about real rows. Per column: the
distance between the two releases' distributions (KS statistic for numbers and dates, with the gap in
missing share; total variation distance for categories, missing included), next to the distance two
draws of the same distribution would show by chance (`allowance`, at DRIFT_Z standard errors). A
column *moved* when its distance exceeds the allowance by more than `max_release_drift`. Associations
are compared as PhiK matrices; the QA figures of both manifests are listed side by side.

A new snapshot of a moving source legitimately shifts some columns, so the check is advisory by
default; a spec makes it blocking (qa.release_regression_blocking) to guard a change of generation logic.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from synth_pipelines.core.quality.fidelity import ks_similarity, phik_matrices, tvd_similarity
from synth_pipelines.core.quality.results import Metric
from synth_pipelines.core.quality.tabular import category_labels, sample
from synth_pipelines.core.synthesis import ColumnCodec, as_number, fit_codecs

DRIFT_Z = 3.3  # standard errors of chance difference allowed per column (two-sided p ~ 0.001)
KS_CRITICAL = 1.95  # the two-sample KS statistic's critical coefficient at alpha 0.001
DIFF_ROWS = 20_000  # rows per release compared (uniform sample): the allowance shrinks as 1/sqrt(rows)
ROW_ID_SHARE = 0.5  # a text column with more distinct values than this share of rows is an id, not a category
IMPLEMENTATION = ("scipy.stats.ks_2samp (numbers, dates) / total variation distance (categories); "
                  "phik.phik_matrix (associations)")


@dataclass(frozen=True)
class ColumnDrift:
    name: str
    kind: str
    distance: float  # 0 = same distribution, 1 = disjoint
    allowance: float  # what chance alone would give for these row counts

    @property
    def excess(self) -> float:
        return max(0.0, self.distance - self.allowance)


@dataclass
class ReleaseDiff:
    before: str
    after: str
    rows: tuple[int, int]
    columns: list[ColumnDrift]  # most moved first
    added_columns: list[str] = field(default_factory=list)
    removed_columns: list[str] = field(default_factory=list)
    type_changes: dict[str, tuple[str, str]] = field(default_factory=dict)
    association_change: float | None = None  # mean |PhiK(before) - PhiK(after)| over column pairs
    largest_association_changes: dict[str, float] = field(default_factory=dict)
    qa: list[dict[str, Any]] = field(default_factory=list)  # gated QA metrics of both releases

    def moved(self, max_release_drift: float) -> list[ColumnDrift]:
        return [c for c in self.columns if c.excess > max_release_drift]

    def metric(self, max_release_drift: float) -> Metric:
        """Largest per-column excess over chance, gated at max_release_drift."""
        value = max((c.excess for c in self.columns), default=0.0)
        moved = self.moved(max_release_drift)
        hint = ("moved most: " + ", ".join(f"{c.name} ({c.distance:.3f}, chance {c.allowance:.3f})" for c in moved[:5])
                if moved else "")
        return Metric("max_column_drift", round(value, 4), IMPLEMENTATION,
                      {"compared_with": self.before, "moved_columns": [c.name for c in moved]},
                      threshold=max_release_drift, bound="max", hint=hint)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["columns"] = [{**asdict(c), "excess": round(c.excess, 4)} for c in self.columns]
        return data


def _allowance(kind: str, before: pd.Series, after: pd.Series) -> float:
    n, m = len(before), len(after)
    if n == 0 or m == 0:
        return 1.0
    if kind != "category":
        return KS_CRITICAL * math.sqrt((n + m) / (n * m))
    # Total variation distance: half the sum of the category shares' chance differences.
    shares = pd.concat([category_labels(before), category_labels(after)]).value_counts(normalize=True).to_numpy()
    return float(min(1.0, 0.5 * DRIFT_Z * np.sum(np.sqrt(shares * (1 - shares) * (1 / n + 1 / m)))))


def _distance(codec: ColumnCodec, before: pd.Series, after: pd.Series) -> float:
    if codec.kind == "category":
        return 1 - tvd_similarity(before, after)
    return 1 - ks_similarity(as_number(before, codec.kind), as_number(after, codec.kind))


def _comparable_codecs(before: pd.DataFrame, shared: list[str]) -> list[ColumnCodec]:
    """Codecs of the shared columns, learned from the earlier release; row ids left out (mostly distinct
    text, or whole numbers all distinct): a key's values say nothing about the data."""
    codecs = fit_codecs(before[shared], categorical=set())
    rows = max(len(before), 1)

    def is_id(codec: ColumnCodec) -> bool:
        distinct = before[codec.name].nunique()
        return ((codec.kind == "category" and distinct > ROW_ID_SHARE * rows)
                or (codec.kind == "integer" and distinct == rows))

    return [c for c in codecs if not is_id(c)]


def qa_side_by_side(before: dict[str, Any], after: dict[str, Any]) -> list[dict[str, Any]]:
    """The gated QA metrics of two manifests (or QA reports), one row per check and metric."""
    def gated(manifest: dict[str, Any]) -> dict[tuple[str, str], Any]:
        checks = (manifest.get("qa") or manifest).get("checks") or []
        return {(c["name"], m["name"]): m.get("value") for c in checks for m in c.get("metrics", [])
                if m.get("bound") in ("min", "max")}

    a, b = gated(before), gated(after)
    rows = []
    for check, metric in sorted(set(a) | set(b)):
        x, y = a.get((check, metric)), b.get((check, metric))
        change = round(y - x, 4) if isinstance(x, (int, float)) and isinstance(y, (int, float)) else None
        rows.append({"check": check, "metric": metric, "before": x, "after": y, "change": change})
    return rows


@dataclass
class PreviousRelease:
    """What a QA report says about its synthetic features against the dataset's latest earlier release."""

    note: str  # why nothing was compared ("" when `diff` is set)
    diff: ReleaseDiff | None = None
    qa: dict[str, Any] | None = None  # the earlier release's published QA (its manifest's `qa`)
    max_release_drift: float = 0.05

    def to_dict(self) -> dict[str, Any]:
        moved = [c.name for c in self.diff.moved(self.max_release_drift)] if self.diff else []
        return {"note": self.note, "max_release_drift": self.max_release_drift, "moved_columns": moved,
                "diff": self.diff.to_dict() if self.diff else None}


TOP_COLUMNS = 15  # columns listed in the report, most moved first


def previous_release_tables(previous: PreviousRelease | None,
                            this_qa: dict[str, Any] | None) -> list[tuple[str, str, pd.DataFrame]]:
    """The report's tables against the previous release: the columns that moved most and, given this
    report's QA (`this_qa`, None where its figures are not shown), both releases' QA figures side by side."""
    if previous is None:
        return []
    title = "Against the previous release"
    diff = previous.diff
    if diff is None:
        return [(title, previous.note, pd.DataFrame())]
    moved = diff.moved(previous.max_release_drift)
    note = (f"Compared with {diff.before} ({diff.rows[0]} rows) and these features ({diff.rows[1]} rows), both "
            f"synthetic. {len(moved)} of {len(diff.columns)} columns moved: distance above what chance gives by more "
            f"than {previous.max_release_drift:g} (qa.max_release_drift).")
    if diff.association_change is not None:
        note += f" Mean PhiK association change {diff.association_change:.3f}."
    for label, names in (("Added columns", diff.added_columns), ("Removed columns", diff.removed_columns)):
        note += f" {label}: {', '.join(names)}." if names else ""
    columns = pd.DataFrame([{"column": c.name, "kind": c.kind, "distance": c.distance, "chance": c.allowance,
                             "excess": round(c.excess, 4), "moved": "MOVED" if c in moved else ""}
                            for c in diff.columns[:TOP_COLUMNS]])
    tables = [(f"{title}: columns, most moved first", note, columns)]
    if this_qa is not None and previous.qa:
        tables.append((f"{title}: QA figures", f"{diff.before} -> this report",
                       pd.DataFrame(qa_side_by_side(previous.qa, this_qa))))
    return tables


def compare_releases(before: pd.DataFrame, after: pd.DataFrame, *, before_name: str, after_name: str,
                     before_manifest: dict[str, Any] | None = None, after_manifest: dict[str, Any] | None = None,
                     rows: int = DIFF_ROWS, seed: int = 0, association_rows: int = 5_000) -> ReleaseDiff:
    """Compare two releases' rows (samples of `rows` each) and, when given, their manifests' QA figures."""
    before, after = sample(before, rows, seed), sample(after, rows, seed)
    shared = [c for c in before.columns if c in after.columns]
    codecs = _comparable_codecs(before, shared)
    drifts = [ColumnDrift(c.name, c.kind, round(_distance(c, before[c.name], after[c.name]), 4),
                          round(_allowance(c.kind, before[c.name], after[c.name]), 4)) for c in codecs]
    drifts.sort(key=lambda d: (-d.excess, -d.distance, d.name))
    diff = ReleaseDiff(
        before=before_name, after=after_name, rows=(len(before), len(after)), columns=drifts,
        added_columns=[c for c in after.columns if c not in before.columns],
        removed_columns=[c for c in before.columns if c not in after.columns],
        type_changes={c: (str(before[c].dtype), str(after[c].dtype)) for c in shared
                      if str(before[c].dtype) != str(after[c].dtype)},
        qa=qa_side_by_side(before_manifest or {}, after_manifest or {}))
    if len(codecs) >= 2:
        first, second = phik_matrices(before, after, codecs, rows=association_rows, seed=seed)
        names = list(first.columns)
        upper = np.triu_indices(len(names), k=1)
        change = np.abs(first.to_numpy() - second.to_numpy())[upper]
        diff.association_change = round(float(change.mean()), 4)
        order = np.argsort(-change)[:5]
        diff.largest_association_changes = {f"{names[upper[0][i]]} ~ {names[upper[1][i]]}": round(float(change[i]), 3)
                                            for i in order}
    return diff

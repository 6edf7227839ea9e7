"""Regression between two releases of a dataset: did the synthetic distributions move, and the QA figures?

Compares the published synthetic rows of release A (usually the previous one) with release B: per
column a distance (KS statistic for numbers and dates, total variation distance for categories, from
fidelity.column_similarity), the PhiK association matrices (pairs whose association moved most), and
each QA metric of the two manifests side by side. Only synthetic rows and published QA aggregates are
read, so the result may be shown anywhere. Columns whose values are all distinct text (row keys) are
not compared.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from synth_pipelines.core.quality import fidelity
from synth_pipelines.core.quality.tabular import sample
from synth_pipelines.core.synthesis import fit_codecs

DIFF_ROWS = 50_000  # rows of each release compared (a sample when more)
MAX_COLUMN_DISTANCE = 0.1  # a column further than this "moved"
MAX_ASSOCIATION_CHANGE = 0.1  # a pair whose PhiK moved more than this "moved"


def _is_key(series: pd.Series) -> bool:
    return not pd.api.types.is_numeric_dtype(series) and series.notna().all() and series.is_unique


def compared_columns(a: pd.DataFrame, b: pd.DataFrame) -> list[str]:
    return [c for c in a.columns if c in b.columns and not (_is_key(a[c]) and _is_key(b[c]))]


def column_distances(a: pd.DataFrame, b: pd.DataFrame, columns: list[str]) -> dict[str, float]:
    """1 - fidelity's per-column similarity of B to A, each column's kind learned from A."""
    codecs = fit_codecs(a[columns], categorical=set())
    scores = fidelity.column_similarity(a, b, codecs).details["per_column"]
    return {name: round(1 - score, 4) for name, score in scores.items()}


def association_changes(a: pd.DataFrame, b: pd.DataFrame, columns: list[str], *, rows: int,
                        seed: int) -> dict[tuple[str, str], float]:
    """|PhiK(B) - PhiK(A)| per column pair (each pair once)."""
    if len(columns) < 2:
        return {}
    codecs = fit_codecs(a[columns], categorical=set())
    phik_a, phik_b = fidelity.phik_matrices(a, b, codecs, rows=rows, seed=seed)
    diff = (phik_b - phik_a).abs()
    names = list(diff.columns)
    return {(x, y): round(float(diff.loc[x, y]), 4) for i, x in enumerate(names) for y in names[i + 1:]
            if np.isfinite(diff.loc[x, y])}


def qa_side_by_side(qa_a: dict[str, Any] | None, qa_b: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Every QA metric either manifest carries: check, metric, value in A, in B, and B - A."""
    def values(qa: dict[str, Any] | None) -> dict[tuple[str, str], Any]:
        return {(c["name"], m["name"]): m.get("value") for c in (qa or {}).get("checks", [])
                for m in c.get("metrics", [])}

    va, vb = values(qa_a), values(qa_b)
    rows = []
    for key in dict.fromkeys([*va, *vb]):
        x, y = va.get(key), vb.get(key)
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (x, y))
        rows.append({"check": key[0], "metric": key[1], "a": x, "b": y,
                     "change": round(y - x, 4) if numeric else None})
    return rows


def release_diff(frame_a: pd.DataFrame, frame_b: pd.DataFrame, manifest_a: dict[str, Any],
                 manifest_b: dict[str, Any], *, top: int = 10, rows: int = DIFF_ROWS, seed: int = 0) -> dict[str, Any]:
    """The comparison as a JSON-ready dict; `moved` lists the columns and pairs past the thresholds."""
    a, b = sample(frame_a, rows, seed), sample(frame_b, rows, seed)
    columns = compared_columns(a, b)
    distances = column_distances(a, b, columns)
    pairs = association_changes(a, b, columns, rows=rows, seed=seed)
    ranked = sorted(distances.items(), key=lambda item: -item[1])
    ranked_pairs = sorted(pairs.items(), key=lambda item: -item[1])
    return {
        "rows": {"a": len(frame_a), "b": len(frame_b), "compared": {"a": len(a), "b": len(b)}},
        "columns_only_in_a": [c for c in frame_a.columns if c not in frame_b.columns],
        "columns_only_in_b": [c for c in frame_b.columns if c not in frame_a.columns],
        "column_distance": dict(ranked),
        "mean_column_distance": round(float(np.mean(list(distances.values()))), 4) if distances else None,
        "association_change": [{"columns": list(pair), "change": change} for pair, change in ranked_pairs[:top]],
        "mean_association_change": round(float(np.mean(list(pairs.values()))), 4) if pairs else None,
        "moved_most": [name for name, _ in ranked[:top]],
        "moved": {"columns": [n for n, d in ranked if d > MAX_COLUMN_DISTANCE],
                  "pairs": [list(p) for p, c in ranked_pairs if c > MAX_ASSOCIATION_CHANGE]},
        "thresholds": {"column_distance": MAX_COLUMN_DISTANCE, "association_change": MAX_ASSOCIATION_CHANGE},
        "qa": qa_side_by_side(manifest_a.get("qa"), manifest_b.get("qa")),
        "implementation": "scipy.stats.ks_2samp / total variation distance (fidelity.column_similarity); "
                          "phik.phik_matrix",
    }


def read_release_rows(folder: Path) -> pd.DataFrame:
    """The synthetic rows of a local release folder (its data/ Parquet files)."""
    return pd.read_parquet(folder / "data")

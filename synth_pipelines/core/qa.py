"""Stage 6 (first cut): the checks that gate publication.

- schema: the synthetic rows have the training view's feature columns with compatible types;
- marginal similarity: per column 1 - KS statistic (numbers, dates) or 1 - total variation
  distance (categories, with missing as its own category), averaged;
- exact copies: share of synthetic rows identical to a train row, against the same share for the
  holdout rows (real rows the generator never saw), so that datasets with few distinct rows are
  judged fairly.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import ks_2samp

from synth_pipelines.core.synthesis import ColumnCodec, as_number


@dataclass
class CheckResult:
    name: str
    passed: bool
    summary: str
    value: float | None = None
    threshold: float | None = None
    details: dict[str, Any] = field(default_factory=dict)


def schema_check(codecs: list[ColumnCodec], synthetic: pd.DataFrame) -> CheckResult:
    expected = {c.name for c in codecs}
    missing = sorted(expected - set(synthetic.columns))
    problems = {name: "missing" for name in missing}
    for codec in codecs:
        if codec.name in synthetic.columns and codec.kind in ("integer", "float"):
            if not pd.api.types.is_numeric_dtype(synthetic[codec.name]):
                problems[codec.name] = f"expected numbers, got {synthetic[codec.name].dtype}"
    return CheckResult(
        name="schema_matches_training_view", passed=not problems,
        summary="all training-view columns present with their types" if not problems
        else f"{len(problems)} column problem(s): {problems}", details={"problems": problems})


def column_similarity(real: pd.Series, synthetic: pd.Series, codec: ColumnCodec) -> float:
    if codec.kind == "category":
        def shares(s: pd.Series) -> pd.Series:
            return s.astype(object).where(s.notna(), "__missing__").astype(str).value_counts(normalize=True)
        r, s = shares(real), shares(synthetic)
        tvd = 0.5 * r.subtract(s, fill_value=0).abs().sum()
        return float(1 - tvd)
    r, s = as_number(real, codec.kind), as_number(synthetic, codec.kind)
    missing_gap = abs(r.isna().mean() - s.isna().mean())
    r, s = r.dropna(), s.dropna()
    if len(r) == 0 or len(s) == 0:
        return float(1 - missing_gap) if len(r) == len(s) == 0 else 0.0
    return float((1 - ks_2samp(r, s).statistic) * (1 - missing_gap))


def marginal_similarity_check(train: pd.DataFrame, synthetic: pd.DataFrame, codecs: list[ColumnCodec],
                              threshold: float) -> CheckResult:
    scores = {c.name: round(column_similarity(train[c.name], synthetic[c.name], c), 4)
              for c in codecs if c.name in synthetic.columns}
    overall = float(np.mean(list(scores.values()))) if scores else 0.0
    worst = sorted(scores.items(), key=lambda kv: kv[1])[:3]
    return CheckResult(
        name="marginal_similarity", passed=overall >= threshold, value=round(overall, 4), threshold=threshold,
        summary=f"mean column similarity {overall:.3f} (threshold {threshold}); lowest: "
                + ", ".join(f"{k}={v:.3f}" for k, v in worst),
        details={"per_column": scores})


def _row_keys(frame: pd.DataFrame, columns: list[str]) -> pd.Series:
    normalized = frame[columns].astype(object).where(frame[columns].notna(), None)
    for column in columns:
        normalized[column] = normalized[column].map(_normalize_value)
    return pd.util.hash_pandas_object(normalized.astype(str), index=False)


def _normalize_value(value: Any) -> Any:
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, (float, np.floating)):
        return round(float(value), 6)
    return value


def exact_copy_check(train: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame, columns: list[str],
                     max_excess: float) -> CheckResult:
    train_keys = set(_row_keys(train, columns))
    synthetic_share = float(_row_keys(synthetic, columns).isin(train_keys).mean())
    holdout_share = float(_row_keys(holdout, columns).isin(train_keys).mean())
    excess = synthetic_share - holdout_share
    return CheckResult(
        name="no_copied_train_rows", passed=excess <= max_excess, value=round(synthetic_share, 4),
        threshold=round(holdout_share + max_excess, 4),
        summary=f"{synthetic_share:.2%} of synthetic rows are verbatim train rows; holdout baseline "
                f"{holdout_share:.2%} (allowed excess {max_excess:.2%})",
        details={"synthetic_copy_share": synthetic_share, "holdout_copy_share": holdout_share})


@dataclass
class QAReport:
    checks: list[CheckResult]

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "checks": [asdict(c) for c in self.checks]}

    def write(self, folder: Path) -> dict[str, Path]:
        folder.mkdir(parents=True, exist_ok=True)
        json_path = folder / "qa_report.json"
        json_path.write_text(json.dumps(self.to_dict(), indent=2, default=float))
        html_path = folder / "qa_report.html"
        rows = "".join(
            f"<tr><td>{c.name}</td><td style='color:{'green' if c.passed else 'crimson'}'>"
            f"{'PASS' if c.passed else 'FAIL'}</td><td>{c.summary}</td></tr>" for c in self.checks)
        html_path.write_text(
            "<!doctype html><meta charset='utf-8'><title>QA report</title>"
            "<h1>Synthetic data QA</h1><table border=1 cellpadding=4>"
            f"<tr><th>check</th><th>result</th><th>detail</th></tr>{rows}</table>")
        return {"json": json_path, "html": html_path}


def run_qa(train: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame, codecs: list[ColumnCodec],
           *, min_marginal_similarity: float, max_exact_copy_excess: float) -> QAReport:
    columns = [c.name for c in codecs if c.name in synthetic.columns]
    return QAReport(checks=[
        schema_check(codecs, synthetic),
        marginal_similarity_check(train, synthetic, codecs, min_marginal_similarity),
        exact_copy_check(train, holdout, synthetic, columns, max_exact_copy_excess),
    ])

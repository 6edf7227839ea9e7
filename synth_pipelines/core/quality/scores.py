"""The QA report's headline scores, 0..1 (1 = ideal), per area and per column.

- fidelity: the fidelity check's `fidelity_score` (fidelity.py: 0.4 column similarity + 0.3 association
  similarity + 0.3 discriminator score);
- utility: the TSTR / TRTR ratio on the real holdout, clipped to 0..1 (1: a model trained on synthetic
  rows predicts the holdout as well as one trained on the real train rows);
- privacy: the mean over the privacy_* checks of each check's worst gated metric, scored by its
  distance from the ideal value relative to the distance its gate allows: 1 at the ideal, 0.5 at the
  threshold, 0 at twice the allowed distance (ideal: 0.5 for the DCR share and the attack AUCs, the
  holdout baseline share for copies and rare combinations, `details["ideal"]` where a check names one).
  A privacy check without a known ideal counts 1 when it passes, 0 when it fails.
Per column: the column similarity (1 - KS statistic or 1 - total variation distance), the
discriminator's held-out ROC AUC drop when the column is shuffled (how much it gives the synthetic
rows away), and the Great Expectations expectations that failed on it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from synth_pipelines.core.quality.results import Metric, QualityReport

AREAS = ("fidelity", "utility", "privacy")
_IDEALS = {"dcr_share": 0.5, "dcr_share_holdout_leak": 0.5, "mia_auc": 0.5}


def _metric(report: QualityReport, check: str, name: str) -> Metric | None:
    found = [m for c in report.checks if c.name == check for m in c.metrics if m.name == name]
    return found[0] if found else None


def metric_score(metric: Metric) -> float | None:
    """1 at the ideal value, 0.5 at the gate's threshold, 0 at twice the allowed distance; None when
    the metric has no known ideal or no gate."""
    ideal = metric.details.get("ideal", metric.details.get("baseline_share", _IDEALS.get(metric.name)))
    if ideal is None or metric.bound == "info" or metric.threshold is None or metric.value is None:
        return None
    allowed = abs(metric.threshold - ideal)
    excess = max(0.0, metric.value - ideal) if metric.bound == "max" else max(0.0, ideal - metric.value)
    if allowed == 0:
        return 1.0 if excess == 0 else 0.0
    return float(np.clip(1 - 0.5 * excess / allowed, 0.0, 1.0))


def _privacy_score(report: QualityReport) -> float | None:
    scores = []
    for check in (c for c in report.checks if c.name.startswith("privacy_")):
        found = [s for s in map(metric_score, check.metrics) if s is not None]
        scores.append(min(found) if found else float(check.passed))
    return float(np.mean(scores)) if scores else None


def area_scores(report: QualityReport) -> dict[str, float | None]:
    """{fidelity, utility, privacy}: 0..1, None where the check did not run or could not measure."""
    fidelity = _metric(report, "fidelity", "fidelity_score")
    utility = _metric(report, "utility", "tstr_trtr_ratio")
    return {"fidelity": fidelity.value if fidelity else None,
            "utility": None if utility is None or utility.value is None else float(np.clip(utility.value, 0, 1)),
            "privacy": _privacy_score(report)}


def column_importance(report: QualityReport) -> dict[str, float]:
    """The discriminator's AUC drop per column, largest first (empty when it did not run)."""
    disc = _metric(report, "fidelity", "discriminator_auc")
    return dict(disc.details.get("column_importance", {})) if disc else {}


def column_scores(report: QualityReport) -> pd.DataFrame:
    """One row per compared column: similarity, discriminator AUC drop, failed expectations."""
    similarity = _metric(report, "fidelity", "column_similarity")
    per_column: dict[str, Any] = similarity.details.get("per_column", {}) if similarity else {}
    importance = column_importance(report)
    ge = _metric(report, "great_expectations", "failed_expectations")
    failed = pd.Series([f.get("column") for f in (ge.details.get("failures", []) if ge else [])],
                       dtype=object).value_counts()
    names = list(dict.fromkeys([*per_column, *importance]))
    return pd.DataFrame([{"column": name, "similarity (0..1)": per_column.get(name),
                          "discriminator AUC drop": importance.get(name),
                          "failed expectations": int(failed.get(name, 0))} for name in names])

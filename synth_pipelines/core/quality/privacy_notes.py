"""The privacy figures in words a data steward reads: one sentence per figure, and what the checks cannot show.

Data, not layout: `explained` (rows for the report JSON), `cannot_show` (statements), and `tables`,
the report's hook (title, note, rows). Values are aggregates of the QA run (shares, risks, AUCs),
never real rows, so the published edition carries them as they are.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from synth_pipelines.core.quality.results import QualityReport

# Metric name -> what it means. Inference metrics carry the secret column in their name: matched by suffix.
MEANINGS = {
    "dcr_share": "Share of synthetic rows that lie closer to a person the generator learned from than to a "
                 "comparable person it never saw; 0.5 means the synthetic rows favour no one, near 1 means they "
                 "sit on top of real people's records.",
    "dcr_share_holdout_leak": "The same share seen from the other side: far below 0.5, the synthetic rows resemble "
                              "the people set aside for testing, so their records reached the generator.",
    "nndr_median": "How uniquely each synthetic row matches one real record (nearest over second-nearest distance); "
                   "near 0 a synthetic row points at one particular person, so it should stay close to the figure "
                   "for real rows never seen (holdout_median).",
    "train_copy_share": "Share of synthetic rows that are exact copies of a real record used for training, compared "
                        "with how often an unseen real record happens to equal one (baseline).",
    "holdout_copy_share": "Share of synthetic rows that are exact copies of a record set aside for testing, which "
                          "the generator should never have seen.",
    "mia_auc": "How well an attacker can tell whether a person was in the training data from how close the "
               "synthetic rows come to their record; 0.5 is a coin flip, 1 is certainty.",
    "rare_combination_share": "Share of synthetic rows that repeat a combination of traits held by only a few real "
                              "people, compared with unseen real rows (baseline).",
    "singling_out_risk": "How much more often a rule read off the synthetic rows (e.g. 'born 1961, lives in X, "
                         "works as Y') isolates exactly one trained-on person than one person never seen "
                         "(0 = no more than chance, 1 = always).",
    "linkability_risk": "How much more often the synthetic rows let an attacker join two partial records of the "
                        "same trained-on person (two halves of their columns) than of a person never seen.",
    "inference_risk": "How much more often the synthetic rows let an attacker who knows a person's other columns "
                      "guess their sensitive value correctly when that person was trained on than when not.",
    "holdout_leak_risk": "The same attack compared the other way round: it works better on people set aside for "
                         "testing, so their records reached the generator.",
    "error": "The check could not be computed; the error is in the internal report.",
}

CANNOT_SHOW = (
    "Attribute inference is tested only for the sensitive columns (qa.sensitive_columns, default the label); "
    "a sensitive value in any other column may still be guessable.",
    "The attacks model an attacker who knows a person's columns as stored in the training view; knowledge from "
    "outside it (other releases, public registers, the same people in another dataset) is not modelled.",
    "Risks are estimated on samples (qa.attack_rows targets per side) with 95% confidence intervals: a small risk "
    "inside the interval cannot be ruled out, and rare individuals may not be among the sampled targets.",
    "Passing these checks is evidence, not a guarantee: only differential privacy (the privbayes generator) "
    "bounds what any attacker can learn, whatever they know.",
    "Distances treat all columns alike; a generator that copies only a few identifying columns of real people "
    "may stay below the distance thresholds.",
)


def meaning(metric: str) -> str:
    if metric.endswith("holdout_leak_risk"):
        return MEANINGS["holdout_leak_risk"]
    if metric.startswith("inference_"):  # inference_<secret column>_risk
        return MEANINGS["inference_risk"]
    return MEANINGS.get(metric, "")


def explained(report: QualityReport, *, values: bool = True) -> list[dict[str, Any]]:
    """Every metric of the privacy checks with its one-sentence meaning; with `values`, its value, 95%
    interval (anonymeter risks), reference (baseline, holdout or control figure) and verdict."""
    rows = []
    for check in report.checks:
        if not check.name.startswith("privacy_"):
            continue
        for m in check.metrics:
            row = {"check": check.name, "figure": m.name, "meaning": meaning(m.name)}
            if values:
                row |= {"value": m.value, "threshold": m.threshold if m.bound != "info" else None,
                        "passed": m.passed, "ci_95": _interval(m.details), "reference": _reference(m.details)}
            rows.append(row)
    return rows


def _interval(details: dict[str, Any]) -> list[float] | None:
    return [details["ci_low"], details["ci_high"]] if "ci_low" in details else None


def _reference(details: dict[str, Any]) -> str:
    """What the value is compared with, in words (empty when the figure has an absolute ideal)."""
    if "control_success_rate" in details:
        return (f"attack success {details['train_success_rate']:.3g} on trained-on rows vs "
                f"{details['control_success_rate']:.3g} on unseen rows")
    if "holdout_median" in details:
        return f"unseen real rows: {details['holdout_median']:.3g}"
    if "baseline_share" in details:
        return f"unseen real rows: {details['baseline_share']:.3g}"
    return ""


def cannot_show(report: QualityReport) -> list[str]:
    """CANNOT_SHOW, with the columns no inference attack covered named (column names only)."""
    compared = report.settings.get("columns_compared", [])
    sensitive = report.settings.get("thresholds", {}).get("sensitive_columns")
    sensitive = sensitive if sensitive is not None else [report.settings.get("label")]
    others = [c for c in compared if c not in sensitive]
    statements = list(CANNOT_SHOW)
    if others:
        statements.insert(1, f"Not tested for attribute inference: {len(others)} column(s) not declared sensitive "
                             f"({', '.join(map(str, others[:12]))}{', ...' if len(others) > 12 else ''}).")
    return statements


def json_block(report: QualityReport, *, values: bool = True) -> dict[str, Any]:
    """The keys the report JSON carries: `privacy_explained` and `privacy_cannot_show`."""
    return {"privacy_explained": explained(report, values=values), "privacy_cannot_show": cannot_show(report)}


def tables(report: QualityReport) -> list[tuple[str, str, pd.DataFrame]]:
    """The report's two privacy tables (title, note, rows); none when no privacy check ran."""
    rows = explained(report)
    if not rows:
        return []
    frame = pd.DataFrame(rows)
    for column in ("value", "threshold"):
        frame[column] = frame[column].map(lambda v: "" if v is None or pd.isna(v) else f"{v:.4g}")
    frame["ci_95"] = frame["ci_95"].map(lambda ci: "" if ci is None else f"[{ci[0]:.3g}, {ci[1]:.3g}]")
    frame["passed"] = [("ok" if p else "FAILED") if t is not None else "" for p, t in zip(frame["passed"],
                                                                                            frame["threshold"])]
    frame = frame.drop(columns=["check"])
    note = "risk 0 = no more exposure than for people never seen; ci_95: anonymeter's interval"
    return [("Privacy figures explained", note, frame),
            ("What the privacy checks cannot show", "", pd.DataFrame({"limitation": cannot_show(report)}))]

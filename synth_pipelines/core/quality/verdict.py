"""The QA verdict in a few lines: one row per check (the metric that decided it, its value and the
threshold) and, for a failed check, what usually fixes it.

Works on the dict form of a check (`QualityCheck.to_dict()`, or the same fields read back from a
Dagster asset check's metadata), so the CLI can print it without importing the QA runner.
"""

from __future__ import annotations

from typing import Any

# What usually fixes a failed check; keyed by check, or by (check, metric) where one check fails for
# opposite reasons. Setting names are the spec's (generator.settings, qa.*).
_MEMORIZES = ("raise generator.settings.min_samples_leaf (cart), train fewer epochs (generator.epochs), "
              "or give the generator more train rows")
FIXES: dict[str | tuple[str, str], str] = {
    "great_expectations": "see the failed expectations in the QA report: a calculated or masked column outside "
                          "the real column's domain, or a view column whose type changed, is the usual cause",
    "fidelity": "train longer (generator.epochs) or use the default generator cart; columns the summary names as "
                "giving the synthetic rows away: check their type and format in the view",
    ("fidelity", "association_vs_holdout"): "relations between columns were lost (the summary names the pairs): "
                                            "train longer or use the default generator cart; a column whose type "
                                            "or format changed in the view loses its relations too",
    ("fidelity", "dependence_kept"): "the columns came out (nearly) independent of each other (details name the "
                                     "pairs kept least): a generator that draws each column on its own does "
                                     "this; use the default generator cart or train longer",
    "utility": "the label's link to the other columns was lost: train longer or on more rows, or use cart "
               "(it draws the label last, from the other columns)",
    "privacy_dcr": f"synthetic rows sit on real train rows: {_MEMORIZES}",
    ("privacy_dcr", "dcr_share_holdout_leak"): "synthetic rows are closer to the holdout than to the train rows: "
                                               "check that training_view.holdout_sql and the view share no entity "
                                               "and that entity_key is unique per person",
    "privacy_exact_copies": f"the generator copies real rows: {_MEMORIZES}; drop identifier-like columns from the view",
    "privacy_membership_inference": f"train rows can be told from unseen rows by the output: {_MEMORIZES}, or use "
                                    "privbayes (differential privacy)",
    "privacy_rare_combinations": "rare real combinations reappear: coarsen quasi-identifiers in training_view.sql "
                                 "(bin ages, truncate dates) or list the columns an attacker knows in "
                                 "qa.quasi_identifiers; raise generator.settings.min_samples_leaf (cart)",
    "privacy_singling_out": f"synthetic rows isolate real train rows: {_MEMORIZES}; coarsen rare values in "
                            "training_view.sql (bin ages, truncate dates)",
    "privacy_linkability": f"synthetic rows link what is known about a real person: {_MEMORIZES}",
    "privacy_inference": f"synthetic rows give away a sensitive value of real train rows: {_MEMORIZES}, or use "
                         "privbayes (differential privacy)",
    ("*", "holdout_leak"): "an attack works better on the holdout than on the train rows: check that "
                           "training_view.holdout_sql and the view share no entity and that entity_key is unique "
                           "per person",
    "diversity": "repeated rows or lost categories and ranges (mode collapse): train longer, or try cart or arf",
    "bias": "a protected group's label rate drifted: use cart or more train rows, and keep the protected column "
            "a category in the view",
    "release_regression": "compare the releases (synth-pipelines diff BEFORE AFTER): a moved column after a change "
                          "of spec or generator is a regression to fix or a change to confirm; after a new snapshot "
                          "it may be the source moving",
    ("*", "error"): "the check could not run: the QA report (qa_report.json) has the error; please report it",
}


def fix_for(check: str, metric: str | None) -> str:
    if ": " in check and "." in (metric or ""):  # a synthesized table's check: its metric is "<check>.<metric>"
        inner_check, inner_metric = metric.split(".", 1)
        if inner_check in FIXES:
            return fix_for(inner_check, inner_metric)
    if check.startswith("privacy_") and (metric or "").endswith("holdout_leak_risk"):  # the anonymeter mirrors
        return FIXES[("*", "holdout_leak")]
    return FIXES.get(("*", metric)) or FIXES.get((check, metric)) or FIXES.get(check, "see the QA report")


def _deciding_metric(check: dict[str, Any]) -> dict[str, Any] | None:
    """The first failed gated metric of a failed check, else the check's headline (first) metric."""
    metrics = check.get("metrics") or []
    failed = [m for m in metrics if not m.get("passed", True)]
    return (failed or metrics or [None])[0]


def verdict_rows(checks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per check: check, metric, value, bound ("min"/"max"/"info"), threshold, verdict
    ("pass", "fail", or "warn" for a failed advisory check) and, when not passed, fix."""
    rows = []
    for check in checks:
        metric = _deciding_metric(check) or {}
        verdict = "pass" if check["passed"] else ("fail" if check.get("blocking", True) else "warn")
        row = {"check": check["name"], "metric": metric.get("name"), "value": metric.get("value"),
               "bound": metric.get("bound", "info"), "threshold": metric.get("threshold"), "verdict": verdict,
               "summary": check.get("summary", "")}
        if verdict != "pass":
            row["fix"] = fix_for(check["name"], metric.get("name"))
        rows.append(row)
    return rows


def _number(value: Any) -> str:
    if value is None:
        return "n/a"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def verdict_table(rows: list[dict[str, Any]]) -> list[str]:
    """The rows as an aligned text table, then for each check that did not pass its summary (every
    failed metric, and what gave it away) and a "fix" line."""
    cells = [("check", "metric", "value", "threshold", "verdict")]
    for row in rows:
        bound = {"min": ">= ", "max": "<= "}.get(row["bound"])
        threshold = bound + _number(row["threshold"]) if bound else "-"
        cells.append((row["check"], row["metric"] or "-", _number(row["value"]), threshold, row["verdict"].upper()))
    widths = [max(len(line[i]) for line in cells) for i in range(len(cells[0]))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip() for line in cells]
    for row in rows:
        if row.get("fix"):
            lines += [f"{row['verdict'].upper()} {row['check']}: {row['summary']}", f"  fix: {row['fix']}"]
    return lines


def verdict_markdown(check: dict[str, Any]) -> str:
    """One check's verdict as a short Markdown table (a check result's metadata in the UI): its gated
    metrics (the headline when none is gated), and for a failed check what usually fixes it."""
    verdict = verdict_rows([check])[0]
    metrics = check.get("metrics") or []
    shown = [m for m in metrics if m.get("bound", "info") != "info"] or metrics[:1]
    label = {"pass": "passed", "fail": "FAILED", "warn": "failed (advisory, does not block)"}[verdict["verdict"]]
    lines = [f"**{check['name']}: {label}**" + (f" ({check['note']})" if check.get("note") else "")]
    if shown:
        lines += ["", "| metric | value | threshold | verdict |", "|---|---|---|---|"]
    for metric in shown:
        bound = {"min": ">= ", "max": "<= "}.get(metric.get("bound", "info"))
        threshold = bound + _number(metric.get("threshold")) if bound else ""
        lines.append(f"| {metric['name']} | {_number(metric.get('value'))} | {threshold} | "
                     f"{'pass' if metric.get('passed', True) else 'FAIL'} |")
    if verdict.get("fix"):
        lines += ["", f"Fix: {verdict['fix']}"]
    return "\n".join(lines)

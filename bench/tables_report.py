"""Markdown tables for BENCHMARKS.md from bench/bench_tables.py's results (medians over seeds).

    python bench/tables_report.py .bench/tables/results.jsonl

The last line per (table, seed) in results.jsonl counts (a rerun replaces an earlier one).
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from referees import CANDIDATES  # noqa: E402


def _get(row: dict[str, Any], *path: str) -> Any:
    for key in path:
        if not isinstance(row, dict) or key not in row:
            return None
        row = row[key]
    return row


def _median(values: list[Any]) -> float | None:
    values = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    return statistics.median(values) if values else None


def _fmt(value: float | None, digits: int = 3) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.{digits}f}"


def latest(results: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    by_key: dict[tuple[str, int], dict[str, Any]] = {}
    for row in results:
        by_key[(row["table"], row["seed"])] = row
    tables: dict[str, list[dict[str, Any]]] = {}
    for (table, _), row in sorted(by_key.items(), key=lambda item: item[0][1]):
        tables.setdefault(table, []).append(row)
    return tables


def _verdict(rows: list[dict[str, Any]]) -> str:
    parts = []
    for row in rows:
        ours = row.get("ours") or {}
        if "published" not in ours:  # the child process itself failed
            parts.append(f"error: {ours.get('error')}")
        elif ours.get("published"):
            parts.append("pass")
        else:
            failed = sorted(ours.get("failed_checks") or {})
            parts.append(("failed " + ", ".join(failed)) if failed else f"no release: {ours.get('error')}")
    published = sum(1 for row in rows if (row.get("ours") or {}).get("published"))
    return f"{published}/{len(rows)} published" + ("" if published == len(rows) else " (" + "; ".join(parts) + ")")


def _bootstrap(rows: list[dict[str, Any]], other: str) -> str:
    calls = [_get(row, "referees", "bootstrap", other, "verdict") for row in rows]
    calls = [c for c in calls if c]
    return "/".join(calls) if calls else "-"


def markdown(results: list[dict[str, Any]]) -> str:
    tables = latest(results)
    out = []
    out.append("| table | task | seeds | our gate | TSTR/TRTR ours | TabularARGN | GaussianCopula | perfect | "
               "ours vs ARGN (bootstrap) | TRTR |")
    out.append("|---|---|---|---|---|---|---|---|---|---|")
    for table, rows in tables.items():
        ratios = {c: _median([_get(r, "referees", "candidates", c, "tstr_trtr") for r in rows]) for c in CANDIDATES}
        out.append(f"| {table} | {rows[0]['task']} | {len(rows)} | {_verdict(rows)} | "
                   + " | ".join(_fmt(ratios[c]) for c in CANDIDATES)
                   + f" | {_bootstrap(rows, 'argn')} | {_fmt(_median([_get(r, 'referees', 'trtr') for r in rows]))} |")
    out.append("")
    out.append("| table | mostlyai-qa accuracy ours / ARGN / GC / perfect | QA discriminator AUC ours / ARGN / GC / perfect | "
               "QA DCR share ours / ARGN / GC / perfect | SDMetrics quality ours / ARGN / GC / perfect |")
    out.append("|---|---|---|---|---|")
    for table, rows in tables.items():
        cells = []
        for metric in ("accuracy", "discriminator_auc", "dcr_share", "sdmetrics_quality"):
            cells.append(" / ".join(_fmt(_median([_get(r, "referees", "candidates", c, metric) for r in rows]))
                                    for c in CANDIDATES))
        out.append(f"| {table} | " + " | ".join(cells) + " |")
    out.append("")
    out.append("| table | train rows | our QA TSTR/TRTR | our fidelity | our disc. AUC | our DCR share | our exact copies (holdout's) | "
               "our train s | ARGN train s | GC train s | ARGN/ours train time | our e2e s | ARGN e2e s | our peak GB | ARGN peak GB |")
    out.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for table, rows in tables.items():
        def m(*path: str) -> float | None:
            return _median([_get(r, *path) for r in rows])
        ours_train, argn_train = m("ours", "training_seconds"), m("peers", "argn", "training_seconds")
        ratio = argn_train / ours_train if ours_train and argn_train else None
        out.append(f"| {table} | {_fmt(m('train_rows'))} | {_fmt(m('ours', 'qa', 'utility_ratio'))} | {_fmt(m('ours', 'qa', 'fidelity'))} | "
                   f"{_fmt(m('ours', 'qa', 'discriminator_auc'))} | {_fmt(m('ours', 'qa', 'dcr_share'))} | "
                   f"{_fmt(m('ours', 'qa', 'exact_copy_share'), 4)} ({_fmt(m('ours', 'qa', 'holdout_exact_copy_share'), 4)}) | "
                   f"{_fmt(ours_train, 1)} | {_fmt(argn_train, 0)} ({_fmt(m('peers', 'argn', 'epochs'), 0)} epochs) | {_fmt(m('peers', 'gaussian_copula', 'training_seconds'), 1)} | "
                   f"{_fmt(ratio, 0)}x | {_fmt(m('ours', 'end_to_end_seconds'), 0)} | {_fmt(m('peers', 'argn', 'total_seconds'), 0)} | "
                   f"{_fmt(m('ours', 'peak_memory_gb'), 2)} | {_fmt(m('peers', 'argn', 'peak_memory_gb'), 2)} |")
    return "\n".join(out)


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1] / ".bench" / "tables" / "results.jsonl"
    print(markdown([json.loads(line) for line in path.read_text().splitlines() if line.strip()]))


if __name__ == "__main__":
    main()

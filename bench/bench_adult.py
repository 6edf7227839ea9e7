"""UCI Adult benchmark: each generator through the real pipeline, medians over seeds.

    .venv/bin/python bench/bench_adult.py                      # every generator, 3 seeds
    .venv/bin/python bench/bench_adult.py --generators arf --seeds 5

The source is a SQLite database built from ../shared/data/adult (one table, `split` = train or
test) in the work folder; bench/adult.yaml trains on the train split and holds out the
official test split. Raw results per run go to <work>/results.jsonl; the medians table is printed
as Markdown for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import sys
from pathlib import Path
from typing import Any

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import ROOT, SHARED_DATA, machine, run_child, write_run_spec  # noqa: E402

# Epoch budgets for the neural plugins, named in the table: on 2 cores a tvae epoch over Adult took
# ~15 s (100 epochs: ~25 min), so ctgan and ddpm get budgets that fit a 30-minute run.
GENERATORS: dict[str, dict[str, Any]] = {
    "cart": {"plugin": "cart"},
    "arf": {"plugin": "arf", "settings": {"min_node_size": 20}},
    "bayesian_network": {"plugin": "bayesian_network"},
    "tvae": {"plugin": "tvae", "settings": {"n_iter": 100}},
    "ctgan": {"plugin": "ctgan", "settings": {"n_iter": 30}},
    "ddpm": {"plugin": "ddpm", "settings": {"n_iter": 200}},
    "privbayes_eps1": {"plugin": "privbayes", "epsilon": 1.0},
    "privbayes_eps10": {"plugin": "privbayes", "epsilon": 10.0},
}
COLUMNS = [("tstr", "TSTR AUC"), ("trtr", "TRTR AUC"), ("utility_ratio", "ratio"), ("fidelity", "fidelity"),
           ("discriminator_auc", "disc. AUC"), ("dcr_share", "DCR share"), ("exact_copy_share", "exact copies"),
           ("holdout_exact_copy_share", "holdout copies"), ("training_seconds", "train s"),
           ("generation_rows_per_second", "gen rows/s"), ("qa_seconds", "QA s"), ("end_to_end_seconds", "e2e s"),
           ("peak_memory_gb", "peak GB")]


def build_source(path: Path, rows: int | None = None) -> Path:
    """Table `adult`: both official splits with a row_id and `split` ('train' or 'test')."""
    path.unlink(missing_ok=True)
    parts = []
    for split in ("train", "test"):
        frame = pd.read_csv(SHARED_DATA / "adult" / f"adult_{split}.csv.gz", skipinitialspace=True)
        if rows:
            frame = frame.sample(n=min(rows, len(frame)), random_state=0)
        parts.append(frame.assign(split=split))
    table = pd.concat(parts, ignore_index=True)
    table.insert(0, "row_id", range(1, len(table) + 1))
    with sqlite3.connect(path) as con:
        table.to_sql("adult", con, index=False)
    return path


def medians(results: list[dict[str, Any]]) -> dict[str, Any]:
    ok = [r for r in results if "error" not in r]
    out: dict[str, Any] = {"runs": len(ok), "errors": [r["error"] for r in results if "error" in r]}
    for key, _ in COLUMNS:
        values = [r[key] for r in ok if r.get(key) is not None]
        out[key] = statistics.median(values) if values else None
    return out


def markdown(table: dict[str, dict[str, Any]]) -> str:
    head = "| generator | settings | runs | " + " | ".join(title for _, title in COLUMNS) + " |"
    lines = [head, "|" + "---|" * (len(COLUMNS) + 3)]
    for name, row in table.items():
        generator = {k: v for k, v in GENERATORS.get(name, {}).items() if k != "plugin"}
        settings = json.dumps(generator).replace("|", "/")
        cells = [f"{row[k]:.3f}" if isinstance(row[k], float) and row[k] < 10 else
                 (f"{row[k]:,.0f}" if isinstance(row[k], (int, float)) else "-") for k, _ in COLUMNS]
        lines.append(f"| {name} | `{settings}` | {row['runs']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--generators", default=",".join(GENERATORS), help="comma-separated names from GENERATORS")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--first-seed", type=int, default=0, help="seeds run from here (to add seeds to a table)")
    parser.add_argument("--rows", type=int, default=None, help="sample this many rows per split (smoke runs)")
    parser.add_argument("--work", type=Path, default=ROOT / ".bench" / "adult")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per run")
    args = parser.parse_args()

    args.work.mkdir(parents=True, exist_ok=True)
    source = build_source(args.work / "adult.sqlite", args.rows)
    synthetic_rows = args.rows or 32_561
    print(f"machine: {json.dumps(machine())}", flush=True)
    table: dict[str, dict[str, Any]] = {}
    for name in args.generators.split(","):
        runs = []
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            run_dir = args.work / "runs" / f"{name}-seed{seed}"
            run_dir.mkdir(parents=True, exist_ok=True)
            generator = {"seed": seed, **GENERATORS[name]}
            spec = write_run_spec(ROOT / "bench" / "adult.yaml", run_dir / "spec.yaml", generator,
                                  {"synthetic": {"rows": synthetic_rows}})
            result = run_child(run_dir, spec, {"BENCH_SOURCE_DB": str(source),
                                               "BENCH_RELEASES": str(run_dir / "releases")}, args.timeout)
            result.update(generator=name, seed=seed)
            runs.append(result)
            with open(args.work / "results.jsonl", "a") as out:
                out.write(json.dumps(result) + "\n")
            print(json.dumps(result), flush=True)
        table[name] = medians(runs)
    print(markdown(table))


if __name__ == "__main__":
    main()

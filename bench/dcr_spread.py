"""The DCR share's spread under the gate's hypothesis, against the standard errors the gate could use.

Splits a table as bench_tables.py does (train / perfect / holdout), trains cart on the *perfect* part (real
rows neither train nor holdout holds), generates `--rows-per-train-row` x train rows, and scores the DCR
share against train and holdout, per seed. The generator never saw either side, so the share's spread over
seeds is the chance the gate must allow; the script prints it beside the mean of the gate's standard error
(privacy._split_se: a random deal of the real rows, given where the synthetic rows landed) and of the
binomial one over synthetic rows. `--trained-on train` scores the usual generator instead.

  PYTHONPATH=. .venv/bin/python bench/dcr_spread.py berka_loans --seeds 30 --rows-per-train-row 1
  PYTHONPATH=. .venv/bin/python bench/dcr_spread.py berka_loans --seeds 30 --rows-per-train-row 10
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from cart_checks import parts, synthesize  # noqa: E402

from synth_pipelines.core.quality.privacy import dcr_share, neighbour_samples  # noqa: E402
from synth_pipelines_tests.real_tables import load_table  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("table")
    parser.add_argument("--seeds", type=int, default=30)
    parser.add_argument("--rows-per-train-row", type=float, default=1.0)
    parser.add_argument("--trained-on", choices=("perfect", "train"), default="perfect")
    args = parser.parse_args()
    table = load_table(args.table)
    shares, errors, binomial = [], [], []
    for seed in range(args.seeds):
        part = parts(table, seed)
        model, synthetic, _ = synthesize(part[args.trained_on], table.label, table.task, seed, {},
                                         rows=int(len(part["train"]) * args.rows_per_train_row))
        share = dcr_share(neighbour_samples(part["train"], part["holdout"], synthetic, model.codecs,
                                            index_rows=50_000, query_rows=10_000, seed=seed))[0]
        shares.append(share.value)
        errors.append(share.details["standard_error"])
        binomial.append(share.details["binomial_standard_error"])
        print(f"seed {seed}: DCR share {share.value:.3f}, standard error {errors[-1]:.4f} (binomial {binomial[-1]:.4f}), "
              f"real rows landed on {share.details['real_rows_landed_on']}", flush=True)
    print(f"{args.table}, trained on {args.trained_on}, {args.rows_per_train_row:g} x train rows, {args.seeds} seeds: "
          f"mean {np.mean(shares):.3f}, spread (SD) {np.std(shares, ddof=1):.4f}; mean standard error "
          f"{np.mean(errors):.4f}, binomial {np.mean(binomial):.4f}")


if __name__ == "__main__":
    main()

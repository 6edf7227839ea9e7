"""Why scikit-learn's models run on one OpenMP thread here (synth_pipelines/core/openmp.py).

Times one HistGradientBoostingRegressor fit (200 trees, no early stopping) on 2,000 to 200,000 random
rows, on one and on two OpenMP threads, under OMP_WAIT_POLICY unset (threads spin while they wait)
and PASSIVE (they sleep; what the package sets), on an idle machine and with `--busy N` processes
spinning beside it (a shared runner, Dagster steps side by side). Each cell is the median of
`--repeats` fits, each policy in its own process (the policy is read when OpenMP loads).

  .venv/bin/python bench/openmp_threads.py                 # idle
  .venv/bin/python bench/openmp_threads.py --busy 2        # two busy processes on the cores
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ROWS = (2_000, 10_000, 50_000, 200_000)


def time_fits(repeats: int) -> dict[str, dict[int, float]]:
    import numpy as np
    from sklearn.ensemble import HistGradientBoostingRegressor
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(0)
    seconds: dict[str, dict[int, float]] = {"1": {}, "2": {}}
    for rows in ROWS:
        x = rng.normal(size=(rows, 12))
        y = 3 * x[:, 0] + np.sin(x[:, 1]) + rng.normal(size=rows)
        for threads in ("1", "2"):
            runs = []
            for _ in range(repeats):
                with threadpool_limits(int(threads), user_api="openmp"):
                    start = time.perf_counter()
                    HistGradientBoostingRegressor(max_iter=200, early_stopping=False, random_state=0).fit(x, y)
                    runs.append(time.perf_counter() - start)
            seconds[threads][rows] = statistics.median(runs)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--busy", type=int, default=0, help="busy-looping processes beside the fits")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(time_fits(args.repeats)))
        return
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.busy)]
    try:
        results = {}
        for policy in ("", "PASSIVE"):
            env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
            if policy:
                env["OMP_WAIT_POLICY"] = policy
            out = subprocess.run([sys.executable, __file__, "--child", "--repeats", str(args.repeats)], env=env,
                                 check=True, capture_output=True, text=True).stdout
            results[policy or "unset"] = json.loads(out.strip().splitlines()[-1])
    finally:
        for process in busy:
            process.kill()
    print(f"busy processes: {args.busy}; seconds per fit (median of {args.repeats})")
    print("| rows | 1 thread, unset | 2 threads, unset | 1 thread, PASSIVE | 2 threads, PASSIVE |")
    print("|---|---|---|---|---|")
    for rows in ROWS:
        cells = [results[p][t][str(rows)] for p in ("unset", "PASSIVE") for t in ("1", "2")]
        print(f"| {rows:,} | " + " | ".join(f"{c:.2f}" for c in cells) + " |")


if __name__ == "__main__":
    main()

"""Bench only (bench/harness.py puts this folder on PYTHONPATH): every Python process of a run writes its
own peak resident set (ru_maxrss) at exit to $SYNTH_BENCH_RSS_DIR/<pid>.json, so a run whose steps each
run in their own process (Dagster's multiprocess executor) reports every step's peak, not only the largest."""

import atexit
import json
import os
import resource
import sys

_folder = os.environ.get("SYNTH_BENCH_RSS_DIR")


def _record() -> None:
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    path = os.path.join(_folder, f"{os.getpid()}.json")
    with open(path, "w") as out:
        json.dump({"pid": os.getpid(), "peak_kb": peak_kb, "argv": sys.argv[:3],
                   "torch": "torch" in sys.modules, "synthcity": "synthcity" in sys.modules}, out)


if _folder:
    atexit.register(_record)

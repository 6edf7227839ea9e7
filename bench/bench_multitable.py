"""Multi-table benchmark: Berka (account -> loan, order, disp -> card; district lookup) and nycflights13
(planes -> flights; airlines, airports lookups) through core/multitable.py and its QA.

    PYTHONPATH=. .venv/bin/python bench/bench_multitable.py                 # both, seed 0
    PYTHONPATH=. .venv/bin/python bench/bench_multitable.py --datasets berka --seeds 3

Reads ../shared/data/<dataset>/*.csv.gz into Parquet (the snapshot's format), takes the `tables:` of
bench/<dataset>_multitable.yaml (SQL views run over those files as over a snapshot), splits roots with
their families (holdout 0.2), trains, generates as many roots as the train split holds, and runs the
multi-table QA. Prints one JSON line per run and a Markdown table of the referees.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import ROOT, machine  # noqa: E402

from synth_pipelines.core.multitable import generate_tables, plan_tables, read_tables, split_families, train_tables
from synth_pipelines.core.quality.multitable import run_multitable_quality
from synth_pipelines.spec import load_spec
from synth_pipelines_tests.real_tables import csv_tables_as_parquet

DATASETS = {"berka": ("berka", ROOT / "bench" / "berka_multitable.yaml"),
            "flights": ("nycflights13", ROOT / "bench" / "flights_multitable.yaml")}


def run(dataset: str, seed: int) -> dict[str, Any]:
    folder, spec_path = DATASETS[dataset]
    os.environ.setdefault("BENCH_SOURCE_URL", "sqlite:///unused.sqlite")
    spec = load_spec(spec_path).spec
    plans = plan_tables(spec.tables)
    root = next(iter(plans))
    with tempfile.TemporaryDirectory() as tmp:
        frames = read_tables(spec.tables, csv_tables_as_parquet(folder, Path(tmp)))
    train, holdout = split_families(frames, plans, spec.training_view.holdout_fraction, seed)
    started, cpu_started = time.perf_counter(), time.process_time()
    model = train_tables(train, plans, spec.generator.settings, seed, label=spec.tables[root].label)
    trained = time.perf_counter()
    synthetic = generate_tables(model, len(train[root]), seed)
    generated, cpu_generated = time.perf_counter(), time.process_time()
    quality = run_multitable_quality(train, holdout, synthetic, plans, spec.tables[root].label, spec.qa)
    cross = {m.name: round(m.value, 4) for c in quality.cross_tables.checks for m in c.metrics}
    holdout_tvd = {m.name: m.details.get("holdout_tvd") for m in quality.cross_tables.check("children_per_parent").metrics}
    families = quality.families
    return {
        "dataset": dataset, "seed": seed,
        "rows": {n: len(f) for n, f in train.items()}, "synthetic_rows": {n: len(f) for n, f in synthetic.items()},
        "train_seconds": round(trained - started, 1), "generate_seconds": round(generated - trained, 1),
        "train_generate_cpu_seconds": round(cpu_generated - cpu_started, 1),
        "train_seconds_per_table": model.seconds, "qa_seconds": round(time.perf_counter() - generated, 1),
        **cross, "holdout_tvd": holdout_tvd,
        "family_tstr_trtr_ratio": families.check("utility").value if families else None,
        "family_utility": families.check("utility").summary if families else None,
        "family_privacy": {c.name: c.passed for c in families.checks if c.name != "utility"} if families else None,
        "tables_failed": {n: r.failed for n, r in quality.tables.items()},
        "passed": quality.passed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", default="berka,flights")
    parser.add_argument("--seeds", type=int, default=1)
    args = parser.parse_args()
    print(json.dumps({"machine": machine()}))
    for dataset in args.datasets.split(","):
        for seed in range(args.seeds):
            print(json.dumps(run(dataset, seed), default=str), flush=True)


if __name__ == "__main__":
    main()

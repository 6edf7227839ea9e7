"""Multi-table benchmark: Berka (account -> loan, order, disp -> card; district lookup) and nycflights13
(planes -> flights; airlines, airports lookups) through core/multitable.py and its QA.

    PYTHONPATH=. .venv/bin/python bench/bench_multitable.py                 # both, seed 0
    PYTHONPATH=. .venv/bin/python bench/bench_multitable.py --datasets berka --seeds 3
    PYTHONPATH=. .venv/bin/python bench/bench_multitable.py --datasets berka --seeds 10 --first-seed 10  # 10-19
    PYTHONPATH=. .venv/bin/python bench/bench_multitable.py --datasets berka --peers  # + TabularARGN

Reads ../shared/data/<dataset>/*.csv.gz into Parquet (the snapshot's format), takes the `tables:` of
bench/<dataset>_multitable.yaml (SQL views run over those files as over a snapshot), splits roots with
their families (holdout 0.2), trains, generates as many roots as the train split holds, and runs the
multi-table QA. Prints one JSON line per run and a Markdown table of the referees.
With --peers, MOSTLY AI's TabularARGN (bench/peers_multitable.py, in bench/.peers-venv: by default through
the mostlyai SDK's local mode, one generator whose children have their parent as a context foreign key;
--peer-api engine runs mostlyai-engine per table) runs on the same train tables and the same QA scores it:
a second JSON line, generator "tabular_argn".
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import ROOT, machine  # noqa: E402

from synth_pipelines.core.multitable import (TablePlan, generate_tables, plan_tables, read_tables, split_families,
                                             train_tables)
from synth_pipelines.core.quality.multitable import run_multitable_quality
from synth_pipelines.spec import load_spec
from synth_pipelines_tests.real_tables import csv_tables_as_parquet

DATASETS = {"berka": ("berka", ROOT / "bench" / "berka_multitable.yaml"),
            "flights": ("nycflights13", ROOT / "bench" / "flights_multitable.yaml")}
PEERS_PYTHON = ROOT / "bench" / ".peers-venv" / "bin" / "python"


def split(dataset: str, seed: int) -> tuple[Any, dict, dict, dict]:
    """(spec, plans, train, holdout): the tables of `dataset` split by root with their families."""
    folder, spec_path = DATASETS[dataset]
    os.environ.setdefault("BENCH_SOURCE_URL", "sqlite:///unused.sqlite")
    spec = load_spec(spec_path).spec
    plans = plan_tables(spec.tables)
    with tempfile.TemporaryDirectory() as tmp:
        frames = read_tables(spec.tables, csv_tables_as_parquet(folder, Path(tmp)))
    train, holdout = split_families(frames, plans, spec.training_view.holdout_fraction, seed)
    return spec, plans, train, holdout


def run(dataset: str, seed: int, peers: bool = False, peer_args: argparse.Namespace | None = None
        ) -> Iterator[dict[str, Any]]:
    """Our run's JSON line, and with `peers` the TabularARGN anchor's on the same split."""
    spec, plans, train, holdout = split(dataset, seed)
    root = next(iter(plans))
    started, cpu_started = time.perf_counter(), time.process_time()
    model = train_tables(train, plans, spec.generator.settings, seed, label=spec.tables[root].label)
    trained = time.perf_counter()
    synthetic = generate_tables(model, len(train[root]), seed)
    generated, cpu_generated = time.perf_counter(), time.process_time()
    quality = run_multitable_quality(train, holdout, synthetic, plans, spec.tables[root].label, spec.qa)
    ours = {
        "dataset": dataset, "seed": seed, "generator": "cart",
        "rows": {n: len(f) for n, f in train.items()}, "synthetic_rows": {n: len(f) for n, f in synthetic.items()},
        "train_seconds": round(trained - started, 1), "generate_seconds": round(generated - trained, 1),
        "train_generate_cpu_seconds": round(cpu_generated - cpu_started, 1),
        "train_seconds_per_table": model.seconds, "qa_seconds": round(time.perf_counter() - generated, 1),
        **scores(quality),
    }
    yield ours
    if peers:
        yield peer_run(dataset, seed, spec, plans, train, holdout, peer_args)


def scores(quality: Any) -> dict[str, Any]:
    """The referees' numbers of one multi-table QA."""
    cross = {m.name: round(m.value, 4) for c in quality.cross_tables.checks for m in c.metrics}
    holdout_tvd = {m.name: m.details.get("holdout_tvd") for m in quality.cross_tables.check("children_per_parent").metrics}
    families = quality.families
    return {
        **cross, "holdout_tvd": holdout_tvd,
        "association_largest_differences": {m.name: m.details["largest_differences"]
                                            for m in quality.cross_tables.check("parent_child_association").metrics},
        "family_tstr_trtr_ratio": families.check("utility").value if families else None,
        "family_utility": families.check("utility").summary if families else None,
        "family_privacy": {c.name: c.passed for c in families.checks if c.name != "utility"} if families else None,
        "tables_failed": {n: r.failed for n, r in quality.tables.items()},
        "dcr_share": {n: _dcr(r) for n, r in quality.tables.items()},
        "passed": quality.passed,
    }


def _dcr(report: Any) -> list[float] | None:
    """A table's DCR share and the threshold it was held to (widened on small tables)."""
    if "privacy_dcr" not in [c.name for c in report.checks]:
        return None
    share = report.check("privacy_dcr").headline
    return [round(share.value, 4), round(share.threshold, 4)]


def peer_plan(plans: dict[str, TablePlan], train: dict[str, pd.DataFrame], root_rows: int) -> dict[str, Any]:
    """bench/peers_multitable.py's plan.json: the tree, parents first, and the lookups left alone."""
    tables = {name: {"primary_key": p.primary_key, "parent": p.parent, "parent_key": p.parent_key,
                     "order_by": p.order_by, "lookup_keys": sorted(p.lookup_keys),
                     "key_is_number": bool(pd.api.types.is_numeric_dtype(train[name][p.primary_key]))}
              for name, p in plans.items() if not p.lookup}
    return {"root": next(iter(plans)), "root_rows": root_rows, "tables": tables,
            "lookups": [n for n, p in plans.items() if p.lookup]}


def peer_run(dataset: str, seed: int, spec: Any, plans: dict[str, TablePlan], train: dict[str, pd.DataFrame],
             holdout: dict[str, pd.DataFrame], args: argparse.Namespace) -> dict[str, Any]:
    """TabularARGN (bench/peers_multitable.py in the peers venv) on the same train tables, scored by the same QA."""
    root = next(iter(plans))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "train").mkdir()
        for name, frame in train.items():
            frame.to_parquet(folder / "train" / f"{name}.parquet", index=False)
        (folder / "plan.json").write_text(json.dumps(peer_plan(plans, train, len(train[root]))))
        started = time.perf_counter()
        subprocess.run(["nice", "-n", "15", str(args.peers_python), str(ROOT / "bench" / "peers_multitable.py"),
                        str(folder), "--seed", str(seed), "--minutes", str(args.argn_minutes),
                        "--minutes-for", args.argn_minutes_for, "--api", args.peer_api], check=True, stdout=sys.stderr)
        wall = time.perf_counter() - started
        info = json.loads((folder / "peers_multitable.json").read_text())
        synthetic = {name: pd.read_parquet(folder / "synthetic" / f"{name}.parquet") for name in plans}
    started = time.perf_counter()
    quality = run_multitable_quality(train, holdout, synthetic, plans, spec.tables[root].label, spec.qa)
    tables = info["tables"]
    return {
        "dataset": dataset, "seed": seed, "generator": "tabular_argn", "api": info.get("api", "engine"),
        "rows": {n: len(f) for n, f in train.items()}, "synthetic_rows": {n: len(f) for n, f in synthetic.items()},
        "train_seconds": info["training_seconds"], "generate_seconds": info["generation_seconds"],
        "peer_wall_seconds": round(wall, 1),
        "train_seconds_per_table": {n: t.get("training_seconds") for n, t in tables.items()},
        "epochs_per_table": {n: t["epochs"] for n, t in tables.items()},
        "max_training_minutes": {n: t["max_training_minutes"] for n, t in tables.items()},
        "qa_seconds": round(time.perf_counter() - started, 1),
        **scores(quality),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", default="berka,flights")
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--first-seed", type=int, default=0, help="seeds first-seed .. first-seed + seeds - 1")
    parser.add_argument("--peers", action="store_true", help="also MOSTLY AI's TabularARGN on the same split")
    parser.add_argument("--peers-python", type=Path, default=PEERS_PYTHON)
    parser.add_argument("--argn-minutes", type=float, default=2.0, help="max_training_time of each ARGN model")
    parser.add_argument("--argn-minutes-for", default="flights=8", help="per-table caps: table=minutes,...")
    parser.add_argument("--peer-api", choices=("sdk", "engine"), default="sdk",
                        help="the mostlyai SDK's local mode (one generator) or mostlyai-engine per table")
    args = parser.parse_args()
    if args.peers and not args.peers_python.exists():
        raise SystemExit(f"{args.peers_python} is missing: run `make bench-peers-venv` first")
    print(json.dumps({"machine": machine()}))
    for dataset in args.datasets.split(","):
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            for line in run(dataset, seed, args.peers, args):
                print(json.dumps(line, default=str), flush=True)


if __name__ == "__main__":
    main()

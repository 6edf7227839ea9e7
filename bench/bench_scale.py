"""Scale benchmark: the demo dataset generated, QA'd and published at 10k to 1M synthetic rows.

    .venv/bin/python bench/bench_scale.py                      # 10k, 100k, 1M rows
    .venv/bin/python bench/bench_scale.py --rows 10000,1000000
    .venv/bin/python bench/bench_scale.py --rows 1000000 --rows-per-shard 250000 --step-processes

Each size is one real materialization of the demo spec (synth_pipelines/defs/datasets/demo_loans) (its generator, calculated
and masked columns, full QA on the documented samples, local publication) in a child process;
peak memory is the child's (and its workers') maximum resident set. With --step-processes every step runs
in its own process, as a deployment runs them (Dagster's multiprocess executor): the peak of each step's
process is listed (bench/harness.py) and the table's peak is the largest process's; --rows-per-shard sets
synthetic.rows_per_shard.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import ROOT, machine, run_child, write_run_spec  # noqa: E402

from synth_pipelines.core.demo_source import build_demo_database  # noqa: E402
from synth_pipelines.paths import demo_spec  # noqa: E402
from synth_pipelines.spec import spec_fields  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", default="10000,100000,1000000")
    parser.add_argument("--batch-rows", type=int, default=50_000)
    parser.add_argument("--work", type=Path, default=ROOT / ".bench" / "scale")
    parser.add_argument("--timeout", type=int, default=3600)
    parser.add_argument("--rows-per-shard", type=int, default=None)
    parser.add_argument("--step-processes", action="store_true",
                        help="every step in its own process; report each step process's peak")
    args = parser.parse_args()

    args.work.mkdir(parents=True, exist_ok=True)
    source = args.work / "demo_bank.sqlite"
    if not source.exists():
        build_demo_database(source)
    template = demo_spec()
    generator = spec_fields(template)["generator"]
    print(f"machine: {json.dumps(machine())}", flush=True)
    lines = ["| synthetic rows | train s | generation s | gen rows/s | QA s | end-to-end s | peak GB |",
             "|---|---|---|---|---|---|---|"]
    for rows in (int(r) for r in args.rows.split(",")):
        run_dir = args.work / f"rows-{rows}"
        run_dir.mkdir(parents=True, exist_ok=True)
        spec = write_run_spec(template, run_dir / "spec.yaml", generator, {
            "source": {"url": f"sqlite:///{source}"},
            "synthetic": {"rows": rows, "batch_rows": args.batch_rows,
                          **({"rows_per_shard": args.rows_per_shard} if args.rows_per_shard else {})},
            "destination": {"kind": "local", "path": str(run_dir / "releases")}})
        result = run_child(run_dir, spec, {}, args.timeout, step_processes=args.step_processes)
        print(json.dumps({"rows": rows, **result, "load_average_after": [round(x, 2) for x in os.getloadavg()]}),
              flush=True)
        if "error" in result:
            lines.append(f"| {rows:,} | error: {result['error'][:80]} |")
            continue
        lines.append(f"| {rows:,} | {result['training_seconds']:.1f} | {result['generation_seconds']:.1f} | "
                     f"{result['generation_rows_per_second']:,} | {result['qa_seconds']:.0f} | "
                     f"{result['end_to_end_seconds']:.0f} | {result['peak_memory_gb']:.2f} |")
        if "step_peak_memory_gb" in result:  # peak GB by step process, largest first
            print("\n".join(f"  {gb:.2f} GB  {step}" for step, gb in
                            sorted(result["step_peak_memory_gb"].items(), key=lambda item: -item[1])), flush=True)
    print("\n".join(lines))


if __name__ == "__main__":
    main()

"""Where a step process's peak memory comes from: its phases one after another, each phase's peak resident set.

    .venv/bin/python bench/step_memory.py .bench/scale/rows-1000000            # after bench_scale.py ran that size
    .venv/bin/python bench/step_memory.py .bench/scale/rows-1000000 --steps qa

Reads the files of a finished bench_scale.py run (its spec and SYNTH_PIPELINES_HOME) and replays, in a fresh
process per step (generation of shard 0, the features of part 0, QA, publish), what that step does, phase by
phase: importing the code location, loading the model, reading the inputs, each QA check alone, the reports.
Before each phase the process's peak resident set is reset (Linux: 5 > /proc/self/clear_refs), so a phase's
peak is what the process held at its highest during that phase (including what earlier phases left held).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
STEPS = ("generation", "features", "qa", "publish")


def _kb(field: str) -> int:
    return int(re.search(rf"{field}:\s+(\d+)", Path("/proc/self/status").read_text()).group(1))


class Phases:
    """Runs phases in order, recording the resident set held before each and its peak during it."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def __call__(self, name: str, work: Callable[[], Any]) -> Any:
        held = _kb("VmRSS")
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current resident set
        value = work()
        self.rows.append({"phase": name, "held_before_gb": round(held / 2**20, 3),
                          "peak_gb": round(_kb("VmHWM") / 2**20, 3), "torch_loaded": "torch" in sys.modules})
        return value


def _step(step: str, run_dir: Path) -> list[dict[str, Any]]:
    """Inside the child: replay one step of the run in `run_dir`."""
    phases = Phases()
    os.environ["SYNTH_PIPELINES_DATASETS"] = str(run_dir)  # the code location serves the run's spec, as a step's does
    phases("import the code location (synth_pipelines.definitions)", lambda: __import__("synth_pipelines.definitions"))
    import pandas as pd

    from synth_pipelines.core.shards import part_files, plan_shards
    from synth_pipelines.core.synthesis import load_synthesizer
    from synth_pipelines.core.training_view import decimals_as_floats
    from synth_pipelines.spec import load_spec

    spec = load_spec(run_dir / "spec.yaml").spec
    work = next((run_dir / "home" / "work" / spec.dataset).iterdir())
    model = load_synthesizer(work / "synthesizer")
    rows_parts = part_files(work / "synthetic_rows")
    feature_parts = part_files(work / "synthetic_features")
    out = Path(tempfile.mkdtemp(prefix="step-memory-"))
    if step == "generation":
        from synth_pipelines.core.synthesis import generate_rows

        def unpickle() -> Any:
            from synthcity.utils.serialization import load_from_file
            return load_from_file(model.model_path)

        phases("unpickle the model (imports synthcity and torch)", unpickle)
        shard = plan_shards(spec.synthetic.rows, spec.synthetic.batch_rows, spec.synthetic.shard_count)[0]
        phases(f"generate shard 0 ({len(shard.batches)} batches of {spec.synthetic.batch_rows})",
               lambda: generate_rows(model, rows=spec.synthetic.rows, batch_rows=spec.synthetic.batch_rows,
                                     id_prefix="x", out_dir=out, batches=shard.batches))
    elif step == "features":
        from synth_pipelines.core.features import apply_features
        phases(f"features of part 0 ({rows_parts[0].name})",
               lambda: apply_features(rows_parts[0], spec.features, out / "part.parquet", seed=spec.generator.seed,
                                      seed_block_rows=spec.synthetic.batch_rows))
    elif step == "qa":
        from synth_pipelines.core.quality.parts import SyntheticParts
        from synth_pipelines.core.quality.report import write_reports
        from synth_pipelines.core.quality.runner import run_quality
        from synth_pipelines.core.quality.thresholds import CHECK_NAMES

        every_row = SyntheticParts(tuple(feature_parts), to_frame=decimals_as_floats)

        def inputs() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
            import pyarrow.parquet as pq

            def read(name: str) -> pd.DataFrame:
                return decimals_as_floats(pq.read_table(work / "split" / f"{name}.parquet"))

            return read("train_rows"), read("holdout_rows"), every_row.sample(spec.qa.sample_rows, spec.qa.seed)

        train, holdout, synthetic = phases(f"read train, holdout and a {spec.qa.sample_rows:,}-row sample", inputs)
        view = spec.training_view
        extra = [c for c in synthetic.columns if c not in {c.name for c in model.codecs} | {"synthetic_id"}]

        def quality(checks: Any) -> Any:
            return run_quality(train, holdout, synthetic, model.codecs, view.label, view.task, spec.qa,
                               extra_columns=extra, rebalance=spec.synthetic.rebalance, checks=checks,
                               all_rows=every_row)

        for check in CHECK_NAMES:
            phases(f"check {check}", lambda: quality({check}))
        report = phases("all checks together", lambda: quality(None))
        phases("write the reports (HTML, PDF, Data Docs, both editions)",
               lambda: write_reports(report, out, train, synthetic, model.codecs, spec.qa))
    elif step == "publish":
        from synth_pipelines.core.publish import publish_local
        phases(f"copy {len(feature_parts)} part(s) into a release",
               lambda: publish_local(features_path=work / "synthetic_features", manifest={"spec_hash": "x"},
                                     dataset=spec.dataset, attachments=[], release_name="bench", snapshot_id=work.name,
                                     rows=table_rows(feature_parts), lookups={}, root=out / "releases"))
    return phases.rows


def table_rows(parts: list[Path]) -> int:
    import pyarrow.parquet as pq
    return sum(pq.ParquetFile(p).metadata.num_rows for p in parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", type=Path, help="a bench_scale.py run folder, e.g. .bench/scale/rows-1000000")
    parser.add_argument("--steps", default=",".join(STEPS))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    run_dir = args.run_dir.resolve()
    if args.child:
        print(json.dumps(_step(args.child, run_dir)))
        return
    env = {**os.environ, "SYNTH_PIPELINES_HOME": str(run_dir / "home"),
           "PYTHONPATH": os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
    print("| step | phase | held before GB | peak GB |\n|---|---|---|---|")
    for step in args.steps.split(","):
        proc = subprocess.run([sys.executable, __file__, str(run_dir), "--child", step], env=env, cwd=ROOT,
                              capture_output=True, text=True)
        if proc.returncode != 0:
            print(f"| {step} | failed: {proc.stderr.strip().splitlines()[-1:]} | | |", flush=True)
            continue
        for row in json.loads(proc.stdout.strip().splitlines()[-1]):
            print(f"| {step} | {row['phase']} | {row['held_before_gb']:.2f} | {row['peak_gb']:.2f} |", flush=True)


if __name__ == "__main__":
    main()

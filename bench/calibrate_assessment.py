"""Measure training time and peak memory of a few generators on the demo view, to calibrate the cost
models in synth_pipelines/core/assessment.py (COST_MODELS).

Each (plugin, size) trains in a fresh process, so peak RSS includes the imports a real run pays for.
Prints, per run, the measured seconds and MB next to the model's work units and current estimate.

    .venv/bin/python bench/calibrate_assessment.py            # about 4 minutes on 2 cores
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNS = [  # (plugin, settings) on the demo view with 2000 and 4000 customers
    ("arf", {"min_node_size": 10}),
    ("bayesian_network", {"struct_learning_search_method": "hillclimb", "struct_learning_score": "bic",
                          "encoder_noise_scale": 0}),
    ("tvae", {"n_iter": 30}),
    ("ctgan", {"n_iter": 30}),
    ("marginal_distributions", {}),
]
SIZES = [2000, 4000]


def train_rows(customers: int, folder: Path) -> Path:
    from synth_pipelines.core.demo_source import build_demo_database
    from synth_pipelines.core.snapshot import take_snapshot
    from synth_pipelines.core.training_view import build_training_view, split_holdout
    from synth_pipelines.paths import demo_spec
    from synth_pipelines.spec import DatasetSpec, spec_fields

    data = spec_fields(demo_spec())
    data["source"]["url"] = f"sqlite:///{build_demo_database(folder / f'demo_{customers}.sqlite', customers)}"
    spec = DatasetSpec.model_validate(data)
    snapshot = take_snapshot(spec, folder / f"snapshots_{customers}", "calibration")
    view = build_training_view(spec.training_view, {t: s.path for t, s in snapshot.tables.items()})
    path = folder / f"train_{customers}.parquet"
    split_holdout(view, spec.training_view, seed=7).train.to_parquet(path)
    return path


def measure(path: str, plugin: str, settings: dict) -> None:
    """Child process: train once, print seconds and peak RSS as JSON."""
    import pandas as pd

    from synth_pipelines.core.synthesis import train_synthesizer
    from synth_pipelines.spec import GeneratorSpec

    frame = pd.read_parquet(path).drop(columns=["loan_id"])
    with tempfile.TemporaryDirectory() as out:
        model = train_synthesizer(frame, GeneratorSpec(plugin=plugin, settings=settings, seed=7), label="defaulted",
                                  categorical={"defaulted"}, out_dir=Path(out))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": model.training_seconds, "peak_mb": round(peak_mb)}))


def main() -> None:
    import pandas as pd

    from synth_pipelines.core.assessment import assess_training_rows, cost_family, encoded_width
    from synth_pipelines.spec import GeneratorSpec, TrainingViewSpec

    view_spec = TrainingViewSpec(sql="-", entity_key="loan_id", label="defaulted")
    with tempfile.TemporaryDirectory() as tmp:
        paths = {n: train_rows(n, Path(tmp)) for n in SIZES}
        print("| plugin | family | rows | columns | encoded width | measured s | estimated s | measured MB | estimated MB |")
        print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
        for plugin, settings in RUNS:
            generator = GeneratorSpec(plugin=plugin, seed=7, settings=settings)
            for n, path in paths.items():
                assessment = assess_training_rows(pd.read_parquet(path), view_spec, generator)
                child = subprocess.run([sys.executable, __file__, "--measure", str(path), plugin, json.dumps(settings)],
                                       capture_output=True, text=True, check=True)
                got = json.loads(child.stdout.strip().splitlines()[-1])
                print(f"| {plugin} {settings} | {cost_family(plugin)} | {assessment.rows} | {assessment.columns} | "
                      f"{encoded_width(assessment.profiles)} | {got['seconds']} | "
                      f"{assessment.estimated_training_seconds} | {got['peak_mb']} | "
                      f"{assessment.estimated_peak_memory_mb} |", flush=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--measure"]:
        from synth_pipelines.core.synthcity_plugins import quiet_synthcity_env

        quiet_synthcity_env()
        measure(sys.argv[2], sys.argv[3], json.loads(sys.argv[4]))
    else:
        main()

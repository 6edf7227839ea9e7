"""The peers on one benchmark split (runs in bench/.peers-venv, never in the project's venv).

    bench/.peers-venv/bin/python bench/peers.py <split_dir> --seed 0 --argn-minutes 2

Reads <split_dir>/train.parquet, trains MOSTLY AI's TabularARGN (mostlyai-engine, its functional
API with default settings except max_training_time) and SDV's GaussianCopulaSynthesizer (metadata
detected from the frame, no key inference), each samples as many rows as the train rows, and writes
argn.parquet, gaussian_copula.parquet and peers.json (training, generation and total seconds, peak
memory of this process) into <split_dir>.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import time
import warnings
from pathlib import Path

import pandas as pd


def peak_gb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2)


def tabular_argn(train: pd.DataFrame, seed: int, minutes: float, workspace: Path) -> tuple[pd.DataFrame, dict]:
    from mostlyai import engine

    shutil.rmtree(workspace, ignore_errors=True)
    engine.set_random_state(seed)
    started = time.perf_counter()
    engine.split(tgt_data=train, model_type="TABULAR", workspace_dir=workspace)
    engine.analyze(workspace_dir=workspace)
    engine.encode(workspace_dir=workspace)
    prepared = time.perf_counter()
    engine.train(max_training_time=minutes, workspace_dir=workspace, device="cpu")
    trained = time.perf_counter()
    engine.generate(sample_size=len(train), workspace_dir=workspace, device="cpu")
    done = time.perf_counter()
    synthetic = pd.read_parquet(workspace / "SyntheticData")
    progress = workspace / "ModelStore" / "model-data" / "progress-messages.csv"
    epochs = float(pd.read_csv(progress)["epoch"].max()) if progress.is_file() else None
    return synthetic, {"epochs": epochs, "training_seconds": round(trained - prepared, 1),
                       "preparation_seconds": round(prepared - started, 1),
                       "generation_seconds": round(done - trained, 1), "total_seconds": round(done - started, 1),
                       "max_training_minutes": minutes}


def gaussian_copula(train: pd.DataFrame, seed: int) -> tuple[pd.DataFrame, dict]:
    from sdv.metadata import Metadata
    from sdv.single_table import GaussianCopulaSynthesizer

    started = time.perf_counter()
    metadata = Metadata.detect_from_dataframes({"table": train}, infer_keys=None)
    synthesizer = GaussianCopulaSynthesizer(metadata)
    synthesizer.set_random_state(seed) if hasattr(synthesizer, "set_random_state") else None
    synthesizer.fit({"table": train})  # SDV 2.x: single-table data also goes in as {name: frame}
    trained = time.perf_counter()
    synthetic = synthesizer.sample(num_rows=len(train))
    synthetic = synthetic["table"] if isinstance(synthetic, dict) else synthetic
    done = time.perf_counter()
    return synthetic, {"training_seconds": round(trained - started, 1), "generation_seconds": round(done - trained, 1),
                       "total_seconds": round(done - started, 1)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("split_dir", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--argn-minutes", type=float, default=2.0)
    parser.add_argument("--only", default="argn,gaussian_copula")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    folder: Path = args.split_dir
    train = pd.read_parquet(folder / "train.parquet")
    out_file = folder / "peers.json"
    results = json.loads(out_file.read_text()) if out_file.exists() else {}
    results.pop("error", None)
    only = args.only.split(",")
    if "gaussian_copula" in only:
        try:
            synthetic, info = gaussian_copula(train, args.seed)
            synthetic.to_parquet(folder / "gaussian_copula.parquet")
            results["gaussian_copula"] = {**info, "peak_memory_gb": peak_gb()}
        except Exception as error:  # one peer's failure is a result; the other still runs
            results["gaussian_copula"] = {"error": repr(error)[:500]}
        out_file.write_text(json.dumps(results, indent=2))
    if "argn" in only:
        try:
            synthetic, info = tabular_argn(train, args.seed, args.argn_minutes, folder / "argn-workspace")
            synthetic.to_parquet(folder / "argn.parquet")
            results["argn"] = {**info, "peak_memory_gb": peak_gb()}
        except Exception as error:
            results["argn"] = {"error": repr(error)[:500]}
        shutil.rmtree(folder / "argn-workspace", ignore_errors=True)
        out_file.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

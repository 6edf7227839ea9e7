"""Runs one dataset spec through the real pipeline in a child process and collects its numbers.

The child (`python bench/harness.py <run.json>`) is a user's run: `materialize_dataset` on the spec
file (refresh job, QA, gate, publish job) with its own SYNTH_PIPELINES_HOME. It writes what it
measured next to the run file: training time, generation rows/s, QA values, the end-to-end wall time
of the materialization, and its peak memory (own process and joined workers, ru_maxrss).
"""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


def machine() -> dict[str, Any]:
    """What the numbers were taken on."""
    memory_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    try:
        import torch
        gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    except ImportError:
        gpu = "none"
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gb": round(memory_gb, 1), "gpu": gpu,
            "python": platform.python_version()}


def write_run_spec(template: Path, out: Path, generator: dict[str, Any], overrides: dict[str, Any]) -> Path:
    """The template spec with this run's generator (and any top-level overrides, e.g. synthetic rows)."""
    from synth_pipelines.spec import spec_fields

    data = spec_fields(template)  # a plain spec or a defs.yaml
    data["generator"] = generator
    for key, value in overrides.items():
        data[key] = {**data.get(key, {}), **value} if isinstance(value, dict) else value
    out.write_text(yaml.safe_dump(data, sort_keys=False))
    return out


def run_child(run_dir: Path, spec_path: Path, env: dict[str, str], timeout_s: int) -> dict[str, Any]:
    """Run the pipeline for one spec in a fresh process; return its numbers (or the failure)."""
    run_file = run_dir / "run.json"
    run_file.write_text(json.dumps({"spec": str(spec_path)}))
    started = time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), str(run_file)], cwd=ROOT,
                              env={**os.environ, **env, "SYNTH_PIPELINES_HOME": str(run_dir / "home")},
                              capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout_s} s"}
    (run_dir / "log.txt").write_text(proc.stdout + proc.stderr)
    result_file = run_dir / "result.json"
    if proc.returncode != 0 or not result_file.exists():
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-5:]
        return {"error": f"exit {proc.returncode}: " + " | ".join(tail)}
    result = json.loads(result_file.read_text())
    result["process_wall_seconds"] = round(time.perf_counter() - started, 1)
    return result


def _metric(qa: dict[str, Any], check: str, metric: str) -> dict[str, Any]:
    for item in qa["checks"]:
        if item["name"] == check:
            for found in item["metrics"]:
                if found["name"] == metric:
                    return found
    raise KeyError(f"{check}.{metric} not in the QA report")


def summarize_qa(qa: dict[str, Any]) -> dict[str, Any]:
    utility = _metric(qa, "utility", "tstr_trtr_ratio")
    dcr = _metric(qa, "privacy_dcr", "dcr_share")
    copies = _metric(qa, "privacy_exact_copies", "train_copy_share")
    return {
        "tstr": utility["details"]["tstr"], "trtr": utility["details"]["trtr"], "utility_ratio": utility["value"],
        "utility_ratio_se": utility["details"].get("standard_error"),
        "fidelity": _metric(qa, "fidelity", "fidelity_score")["value"],
        "discriminator_auc": _metric(qa, "fidelity", "discriminator_auc")["value"],
        "dcr_share": dcr["value"], "dcr_share_se": dcr["details"]["standard_error"],
        "exact_copy_share": copies["value"], "holdout_exact_copy_share": copies["details"]["baseline_share"],
        "exact_copy_share_se": copies["details"].get("standard_error"),
        "mia_auc": _metric(qa, "privacy_membership_inference", "mia_auc")["value"],
        "failed_checks": qa.get("failed", []), "qa_seconds": round(sum(qa.get("seconds", {}).values()), 1),
    }


def _child(run_file: Path) -> None:
    """Inside the child: one materialization, as `synth-pipelines run` does it."""
    import dagster as dg

    from synth_pipelines.orchestration.runner import materialize_dataset
    from synth_pipelines.orchestration.resources import SynthStorage
    from synth_pipelines.spec import load_spec

    loaded = load_spec(json.loads(run_file.read_text())["spec"])
    storage = SynthStorage()
    instance = dg.DagsterInstance.ephemeral()
    started = time.perf_counter()
    outcome = materialize_dataset(loaded, instance, storage, log_level="WARNING")
    wall = time.perf_counter() - started
    if not outcome.success:
        raise SystemExit(f"run failed: {outcome.error or outcome.gate or outcome.failed_checks}")
    name = loaded.spec.dataset
    work = next((storage.base() / "work" / name).iterdir())
    synthesizer = json.loads((work / "synthesizer" / "synthesizer.json").read_text())
    qa = json.loads((work / "qa" / "qa_report.json").read_text())
    rows_event = instance.get_latest_materialization_event(dg.AssetKey([name, "synthetic_rows"]))
    rows_meta = rows_event.asset_materialization.metadata
    peak_kb = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    result = {
        "plugin": synthesizer["plugin"], "seed": synthesizer["seed"], "settings": synthesizer["settings"],
        "train_rows": synthesizer["train_rows"], "training_seconds": synthesizer["training_seconds"],
        "synthetic_rows": outcome.release["rows"], "generation_seconds": rows_meta["seconds"].value,
        "generation_rows_per_second": rows_meta["rows_per_second"].value,
        "end_to_end_seconds": round(wall, 1), "peak_memory_gb": round(peak_kb / 2**20, 2),
        **summarize_qa(qa),
    }
    (run_file.parent / "result.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    _child(Path(sys.argv[1]))

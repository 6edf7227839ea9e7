"""Runs one dataset spec through the real pipeline in a child process and collects its numbers.

The child (`python bench/harness.py <run.json>`) is a user's run: `materialize_dataset` on the spec
file (refresh job, QA, gate, publish job) with its own SYNTH_PIPELINES_HOME. It writes what it
measured next to the run file: training time, generation rows/s, QA values, the end-to-end wall time
of the materialization, and its peak memory (own process and joined workers, ru_maxrss).

With `step_processes` (run_child's argument) the child runs the same jobs as a deployment does instead:
from the code location module (synth_pipelines.definitions serving the spec's folder) on Dagster's
multiprocess executor, every step in a process of its own, and reports each step process's peak
(rss_hook/sitecustomize.py records it at the process's exit) next to the orchestrating process's.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import shutil
import statistics
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
            "python": platform.python_version(), "load_average": [round(x, 2) for x in os.getloadavg()]}


def seed_list(text: str) -> list[int]:
    """"0,1,2" or "0-63" (inclusive) or both mixed: "7,100-163"."""
    seeds = []
    for part in text.split(","):
        first, _, last = part.partition("-")
        seeds.extend(range(int(first), int(last or first) + 1))
    return seeds


def mean_and_error(values: list[float]) -> str:
    """"mean (standard error over N)": a seed's chance spread is what a comparison must beat (the demo
    view's DCR share: 0.02 a seed, so 6 seeds tell 0.008 apart at best, 64 seeds 0.0025)."""
    se = statistics.stdev(values) / len(values) ** 0.5 if len(values) > 1 else float("nan")
    return f"{statistics.fmean(values):.4f} (standard error {se:.4f} over {len(values)})"


def write_run_spec(template: Path, out: Path, generator: dict[str, Any], overrides: dict[str, Any]) -> Path:
    """The template spec with this run's generator (and any top-level overrides, e.g. synthetic rows)."""
    from synth_pipelines.spec import spec_fields

    data = spec_fields(template)  # a plain spec or a defs.yaml
    data["generator"] = generator
    for key, value in overrides.items():
        data[key] = {**data.get(key, {}), **value} if isinstance(value, dict) else value
    out.write_text(yaml.safe_dump(data, sort_keys=False))
    return out


def run_child(run_dir: Path, spec_path: Path, env: dict[str, str], timeout_s: int,
              step_processes: bool = False) -> dict[str, Any]:
    """Run the pipeline for one spec in a fresh process; return its numbers (or the failure).
    `step_processes`: every step in its own process (see the module's docstring)."""
    run_file = run_dir / "run.json"
    run_file.write_text(json.dumps({"spec": str(spec_path), "step_processes": step_processes}))
    env = {**os.environ, **env, "SYNTH_PIPELINES_HOME": str(run_dir / "home")}
    if step_processes:
        rss = run_dir / "rss"
        shutil.rmtree(rss, ignore_errors=True)
        rss.mkdir()
        env.update(SYNTH_BENCH_RSS_DIR=str(rss), PYTHONPATH=os.pathsep.join(
            [str(ROOT / "bench" / "rss_hook"), str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]))
    started = time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), str(run_file)], cwd=ROOT,
                              env=env, capture_output=True, text=True, timeout=timeout_s)
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


def _in_step_processes(loaded: Any, instance: Any, storage: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The refresh job, the gate and the publish job as a deployment runs them: jobs reconstructed from the
    code location module in every step's own process (Dagster's multiprocess executor). Returns the
    release and each step's peak resident set in GB (by step key; a retried step: its largest)."""
    import dagster as dg
    from dagster._core.definitions.reconstruct import ReconstructableRepository

    from synth_pipelines.orchestration.factory import add_snapshot_partitions, release_gate, today_partition
    from synth_pipelines.orchestration.runner import release_from_metadata

    os.environ["SYNTH_PIPELINES_DATASETS"] = str(Path(loaded.path).parent)  # the code location serves this spec
    repository = ReconstructableRepository.for_module("synth_pipelines.definitions", "defs", str(ROOT))
    name, partition = loaded.spec.dataset, today_partition(loaded)
    add_snapshot_partitions(instance, loaded, [partition])
    run_ids = []
    for job in (f"{name}_refresh", f"{name}_publish"):
        if job.endswith("_publish"):
            decision, _ = release_gate(loaded, storage, partition)
            if not decision.open:
                raise SystemExit(f"gate closed: {decision.reason}")
        with dg.execute_job(repository.get_reconstructable_job(job), instance, raise_on_error=False,
                            tags={"dagster/partition": partition}) as result:
            if not result.success:
                raise SystemExit(f"{job} failed: {[e.message for e in result.all_events if e.is_failure][:3]}")
            run_ids.append(result.run_id)
    event = instance.get_latest_materialization_event(dg.AssetKey([name, "published_features"]))
    release = release_from_metadata(event.asset_materialization.metadata)
    records = Path(os.environ["SYNTH_BENCH_RSS_DIR"]).glob("*.json")  # one per process, by pid
    peaks_kb = {int(p.stem): json.loads(p.read_text())["peak_kb"] for p in records}
    steps: dict[str, float] = {}
    for run_id in run_ids:
        for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_START):
            pid = record.dagster_event.pid
            if pid in peaks_kb:
                steps[record.step_key] = max(steps.get(record.step_key, 0.0), round(peaks_kb[pid] / 2**20, 2))
    return release, steps


def _child(run_file: Path) -> None:
    """Inside the child: one materialization, as `synth-pipelines run` does it (or as a deployment runs
    it, every step in its own process: `step_processes`)."""
    import tempfile

    import dagster as dg

    from synth_pipelines.orchestration.runner import materialize_dataset
    from synth_pipelines.orchestration.resources import SynthStorage
    from synth_pipelines.spec import load_spec

    run = json.loads(run_file.read_text())
    loaded = load_spec(run["spec"])
    storage = SynthStorage()
    step_peaks: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as home:
        # The multiprocess executor needs an instance its step processes can reach: a temporary one on disk.
        instance = dg.DagsterInstance.local_temp(home) if run.get("step_processes") else dg.DagsterInstance.ephemeral()
        started = time.perf_counter()
        if run.get("step_processes"):
            release, step_peaks = _in_step_processes(loaded, instance, storage)
        else:
            outcome = materialize_dataset(loaded, instance, storage, log_level="WARNING")
            if not outcome.success:
                raise SystemExit(f"run failed: {outcome.error or outcome.gate or outcome.failed_checks}")
            release = outcome.release
        wall = time.perf_counter() - started
        _write_result(run_file, loaded, storage, instance, release, wall, step_peaks)


def _write_result(run_file: Path, loaded: Any, storage: Any, instance: Any, release: dict[str, Any], wall: float,
                  step_peaks: dict[str, float]) -> None:
    import dagster as dg

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
        "synthetic_rows": release["rows"], "generation_seconds": rows_meta["seconds"].value,
        "generation_rows_per_second": rows_meta["rows_per_second"].value,
        "end_to_end_seconds": round(wall, 1), "peak_memory_gb": round(peak_kb / 2**20, 2),
        **summarize_qa(qa),
    }
    if step_peaks:  # peak_memory_gb: the largest of the orchestrating process's and every step process's peaks
        orchestrator = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2)
        result.update(step_peak_memory_gb=step_peaks, orchestrator_peak_memory_gb=orchestrator,
                      peak_memory_gb=max(orchestrator, *step_peaks.values()))
    (run_file.parent / "result.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    _child(Path(sys.argv[1]))

"""One default-spec run of the real pipeline on one benchmark split, in a child process.

`python bench/table_run.py <run_dir>` materializes <run_dir>/spec.yaml as `synth-pipelines run` does
(refresh job, QA, gate, publish when the gate opens) with its own SYNTH_PIPELINES_HOME, and writes
<run_dir>/result.json (gate verdict, the failed blocking checks with their summaries, the project's own
QA numbers, training and end-to-end seconds, peak memory) and <run_dir>/ours.parquet (the synthetic
features the QA judged, whether or not the gate published them). Unlike bench/harness.py's child, a
closed gate is a result here, not an error.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import summarize_qa  # noqa: E402


def main(run_dir: Path) -> None:
    import dagster as dg
    import pyarrow.parquet as pq

    from synth_pipelines.core.shards import part_files
    from synth_pipelines.orchestration.factory import today_partition
    from synth_pipelines.orchestration.resources import SynthStorage
    from synth_pipelines.orchestration.runner import materialize_dataset
    from synth_pipelines.spec import load_spec

    loaded = load_spec(run_dir / "spec.yaml")
    storage = SynthStorage()
    instance = dg.DagsterInstance.ephemeral()
    started = time.perf_counter()
    outcome = materialize_dataset(loaded, instance, storage, log_level="WARNING")
    wall = time.perf_counter() - started
    name, partition = loaded.spec.dataset, today_partition(loaded)
    synthesizer_file = storage.work(name, partition, "synthesizer") / "synthesizer.json"
    qa_file = storage.work(name, partition, "qa") / "qa_report.json"
    features = storage.work(name, partition, "synthetic_features")  # its part-*.parquet
    peak_kb = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    result: dict = {
        "published": outcome.success, "failed_checks": outcome.failed_checks,
        "advisory_failures": outcome.advisory_failures, "error": outcome.error, "gate": outcome.gate,
        "end_to_end_seconds": round(wall, 1), "peak_memory_gb": round(peak_kb / 2**20, 2),
    }
    if synthesizer_file.is_file():
        synthesizer = json.loads(synthesizer_file.read_text())
        result.update(plugin=synthesizer["plugin"], settings=synthesizer.get("settings"),
                      train_rows=synthesizer["train_rows"], training_seconds=synthesizer["training_seconds"])
    if qa_file.is_file():
        qa = summarize_qa(json.loads(qa_file.read_text()))
        qa.pop("failed_checks", None)
        result["qa"] = qa
    if part_files(features):  # the shards' parts as one file
        pq.write_table(pq.read_table([str(p) for p in part_files(features)]), run_dir / "ours.parquet")
    (run_dir / "result.json").write_text(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main(Path(sys.argv[1]))

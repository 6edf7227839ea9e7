"""Issue 16: a step process holds only what its step needs. Importing torch and synthcity costs a process
about 0.6 GB (BENCHMARKS.md, "Scale"); only the synthesizer and the generation shards need them. Here the
steps after generation (the feature shards, every QA check, the release) run in a fresh process, as a
distributed executor runs them, and must not import either. Checked by what is imported (deterministic),
not by measuring memory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from synth_pipelines.orchestration.code_location import build_definitions
from synth_pipelines.orchestration.factory import add_snapshot_partitions
from synth_pipelines.orchestration.resources import SynthStorage
from synth_pipelines.paths import project_root
from synth_pipelines.spec import load_spec

pytestmark = pytest.mark.slow
PARTITION = "2026-11-24"

# The step process: the code location as a worker loads it, then the feature shards and QA checks of the
# synthetic features (one run), then the gate and the release (the publish job), on the rows generated before.
AFTER_GENERATION = """
import json, sys
import dagster as dg
import synth_pipelines.definitions  # what a step process loads first: the code location
from synth_pipelines.orchestration.code_location import build_definitions
from synth_pipelines.orchestration.factory import add_snapshot_partitions
from synth_pipelines.orchestration.resources import SynthStorage
from synth_pipelines.orchestration.runner import publish_partition
from synth_pipelines.spec import load_spec

loaded, storage, partition = load_spec(sys.argv[1]), SynthStorage(), sys.argv[2]
features = dg.AssetKey([loaded.spec.dataset, "synthetic_features"])
job = dg.define_asset_job("features_and_qa", selection=dg.AssetSelection.assets(features))  # with its checks
defs = dg.Definitions.merge(build_definitions([loaded], storage), dg.Definitions(jobs=[job]))
instance = dg.DagsterInstance.ephemeral()
add_snapshot_partitions(instance, loaded, [partition])
checked = defs.resolve_job_def("features_and_qa").execute_in_process(instance=instance, partition_key=partition)
published = publish_partition(loaded, instance, storage, partition, log_level="WARNING")
print(json.dumps({"checks": len(checked.get_asset_check_evaluations()), "features": checked.success,
                  "release": (published.release or {}).get("rows"), "gate": published.gate,
                  "imported": sorted({m.split(".")[0] for m in sys.modules} & {"torch", "synthcity"})}))
"""


def test_feature_qa_and_publish_steps_import_no_generator_library(demo_spec_data, write_spec, storage_home):
    # Two shards and a QA sample smaller than the rows: the sharded, sampled path of a large dataset.
    demo_spec_data["synthetic"].update(shards=2)
    demo_spec_data["qa"]["sample_rows"] = 1000
    spec = write_spec(demo_spec_data)
    loaded = load_spec(spec)
    rows = dg.AssetKey(["demo_loans", "synthetic_rows"])
    job = dg.define_asset_job("upto_rows", selection=dg.AssetSelection.assets(rows).upstream()
                              .required_multi_asset_neighbors().without_checks())
    instance = dg.DagsterInstance.ephemeral()
    add_snapshot_partitions(instance, loaded, [PARTITION])
    defs = dg.Definitions.merge(build_definitions([loaded], SynthStorage(root=str(storage_home))),
                                dg.Definitions(jobs=[job]))
    assert defs.resolve_job_def("upto_rows").execute_in_process(instance=instance, partition_key=PARTITION).success

    env = {**os.environ, "SYNTH_PIPELINES_HOME": str(storage_home), "PYTHONPATH": str(project_root()),
           "SYNTH_PIPELINES_DATASETS": str(Path(spec).parent)}  # the code location serves this spec
    done = subprocess.run([sys.executable, "-c", AFTER_GENERATION, str(spec), PARTITION], capture_output=True,
                          text=True, env=env, cwd=project_root(), timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    outcome = json.loads(done.stdout.strip().splitlines()[-1])
    assert outcome["features"] and outcome["checks"] >= 12, outcome
    assert outcome["release"] == 1500, outcome  # the steps ran to a whole release...
    assert outcome["imported"] == [], outcome  # ...without the generator's libraries

"""The synthesizer asset forwards the plugin's epoch/loss lines to the Dagster run's event log."""

import dagster as dg
import pytest
import torch

from synth_pipelines.orchestration.code_location import build_definitions
from synth_pipelines.orchestration.factory import add_snapshot_partitions, today_partition
from synth_pipelines.orchestration.resources import SynthStorage
from synth_pipelines.spec import load_spec


def _train(demo_spec_data, write_spec, storage_home, **generator):
    demo_spec_data["generator"] = {"plugin": "tvae", "seed": 3, **generator}
    loaded = load_spec(write_spec(demo_spec_data))
    defs = build_definitions([loaded], SynthStorage(root=str(storage_home)))
    instance = dg.DagsterInstance.ephemeral()
    add_snapshot_partitions(instance, loaded, [today_partition(loaded)])
    stages = ["source_snapshot", "training_view", "train_rows", "holdout_rows", "synthesizer"]
    result = defs.resolve_implicit_global_asset_job_def().execute_in_process(
        instance=instance, partition_key=today_partition(loaded), raise_on_error=False,
        asset_selection=[dg.AssetKey(["demo_loans", stage]) for stage in stages])
    return loaded, result, [entry.user_message for entry in instance.all_logs(result.run_id)]


@pytest.mark.slow
def test_epoch_and_loss_lines_reach_the_run_log(demo_spec_data, write_spec, storage_home):
    loaded, result, messages = _train(demo_spec_data, write_spec, storage_home, epochs=2, progress_every=1,
                                      batch_size="auto")
    assert result.success
    assert [m.split("]")[0] for m in messages if "Loss:" in m] == ["[0/2", "[1/2"]
    metadata = result.asset_materializations_for_node("demo_loans__synthesizer")[0].metadata
    assert metadata["plugin_kwargs"].value["n_iter"] == 2 and "batch_size" in metadata["plugin_kwargs"].value


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_on_a_machine_without_one_fails_naming_the_spec_field(demo_spec_data, write_spec, storage_home):
    loaded, result, messages = _train(demo_spec_data, write_spec, storage_home, epochs=1, device="cuda")
    assert not result.success
    error = next(e for e in result.all_events if e.is_step_failure).step_failure_data.error
    assert error.cause.cls_name == "SpecError"
    assert f"{loaded.path}: generator.device: cuda was asked for" in error.cause.message

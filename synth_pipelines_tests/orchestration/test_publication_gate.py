"""The publication gate end to end: QA failure and missing approval keep a release unpublished,
with the reason on the gate sensor's tick; an approval opens it and lands in the manifest."""

import json
from datetime import datetime, timedelta

import dagster as dg
import pytest
from click.testing import CliRunner

from synth_pipelines.cli import main
from synth_pipelines.console import ExitCode
from synth_pipelines.core.releases import list_releases
from synth_pipelines.orchestration.code_location import build_definitions
from synth_pipelines.orchestration.resources import SynthStorage
from synth_pipelines.orchestration.runner import materialize_dataset
from synth_pipelines.spec import load_spec

pytestmark = pytest.mark.slow
DAY = "2026-11-21"


def gate_tick(defs, instance):
    sensor = defs.resolve_sensor_def("demo_loans_publication_gate")
    context = dg.build_sensor_context(instance=instance, repository_def=defs.get_repository_def(),
                                     instance_ref=instance.get_ref())  # as the daemon: partitions load through it
    return sensor.evaluate_tick(context)


def test_release_waits_for_approval_then_publishes_with_it(demo_spec_data, write_spec, storage_home):
    demo_spec_data["qa"]["require_approval"] = True
    demo_spec_data["refresh"] = {**demo_spec_data.get("refresh", {}), "release_ttl_days": 7}  # not the default 90
    spec_path = write_spec(demo_spec_data)
    loaded = load_spec(spec_path)
    storage = SynthStorage(root=str(storage_home))
    defs = build_definitions([loaded], storage)
    with dg.instance_for_test() as instance:
        outcome = materialize_dataset(loaded, instance, storage, partition_key=DAY)
        assert not outcome.success and outcome.release is None and not outcome.failed_checks
        assert set(outcome.advisory_failures) <= {"fidelity", "utility"}  # advisory for the fast generator
        assert "waiting for a recorded approval" in outcome.gate
        assert not (storage_home / "releases").exists()

        waiting = gate_tick(defs, instance)
        assert not waiting.run_requests and f"{DAY}: QA passed; waiting for a recorded approval" in waiting.skip_message

        # A publish started by hand is refused by the asset itself.
        refused = CliRunner().invoke(main, ["publish", str(spec_path), "--snapshot", DAY])
        assert refused.exit_code == ExitCode.AWAITING_APPROVAL and "waiting for a recorded approval" in refused.output
        assert "Traceback" not in refused.output

        approved = CliRunner().invoke(main, ["approve", str(spec_path), "--snapshot", DAY, "--approver",
                                             "Dana Steward", "--comment", "review sample looks right"])
        assert approved.exit_code == 0, approved.output

        ready = gate_tick(defs, instance)
        assert [r.partition_key for r in ready.run_requests] == [DAY]
        published = defs.resolve_job_def("demo_loans_publish").execute_in_process(
            instance=instance, partition_key=DAY, tags=ready.run_requests[0].tags)
        assert published.success
        assert not gate_tick(defs, instance).run_requests  # published once, not again

    manifest = json.loads((storage_home / "releases" / "demo_loans" / "features_v1" / f"snapshot={DAY}"
                           / "manifest.json").read_text())
    assert manifest["approvals"][0]["approver"] == "Dana Steward"
    assert manifest["approvals"][0]["comment"] == "review sample looks right"
    assert "approved by Dana Steward" in manifest["gate"]

    # The release expires release_ttl_days after publication, as computed by the publish asset.
    created = datetime.fromisoformat(manifest["created_at"])
    assert datetime.fromisoformat(manifest["expires_at"]) == created + timedelta(days=7)
    [release] = list_releases(storage_home / "releases")
    assert not release.expired(now=created + timedelta(days=6, hours=23))
    assert release.expired(now=created + timedelta(days=7))


def test_failed_check_keeps_the_gate_closed_and_a_direct_publish_job_publishes_nothing(demo_spec_data, write_spec, storage_home):
    demo_spec_data["qa"].update(min_fidelity=1.0, advisory_checks=["utility"])  # unreachable: see test_e2e_demo
    loaded = load_spec(write_spec(demo_spec_data))
    storage = SynthStorage(root=str(storage_home))
    defs = build_definitions([loaded], storage)
    with dg.instance_for_test() as instance:
        outcome = materialize_dataset(loaded, instance, storage, partition_key=DAY)
        assert outcome.failed_checks and outcome.release is None
        tick = gate_tick(defs, instance)
        assert not tick.run_requests
        assert tick.skip_message.startswith(f"{DAY}: blocking QA checks failed: ")
        assert "fidelity" in tick.skip_message

        # The publish job started directly (as from the UI or a script, no CLI, no sensor): the
        # published_features asset re-checks the gate itself, fails, and publishes nothing.
        result = defs.resolve_job_def("demo_loans_publish").execute_in_process(
            instance=instance, partition_key=DAY, raise_on_error=False)
        assert not result.success
        failures = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
        assert [e.step_key for e in failures] == ["demo_loans__published_features"]
        assert "publication gate closed" in failures[0].event_specific_data.error.message
        assert "fidelity" in failures[0].event_specific_data.error.message
        assert not instance.get_latest_materialization_event(dg.AssetKey(["demo_loans", "published_features"]))
    assert not (storage_home / "releases").exists()

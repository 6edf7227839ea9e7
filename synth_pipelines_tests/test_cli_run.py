"""`synth-pipelines run` end to end (issue 15): a verdict table whether the gate opens or closes, the
report's path and a fix per failed check, no Dagster stack trace, progress only on a terminal, and
each log line once."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from click.testing import CliRunner

from synth_pipelines.cli import main
from synth_pipelines.console import ExitCode
from synth_pipelines.core.quality.thresholds import ASSET_CHECK_NAMES
from synth_pipelines.core.quality.verdict import FIXES
from synth_pipelines.orchestration.code_location import build_definitions
from synth_pipelines.spec import load_spec

pytestmark = pytest.mark.slow
WriteSpec = Callable[[dict[str, Any], str], Path]
DAY = "2026-11-21"
PROGRESS_LINE = re.compile(r"^\[\s*\d+ s\] ")


def assert_partitions_are_the_snapshots(spec: Path, snapshots: list[str]) -> None:
    """The dataset's partitions in the instance, as the UI lists them, are the snapshots taken (issue 14:
    not a calendar of every day since refresh.start_date), each one materialized."""
    loaded = load_spec(spec)
    snapshot_asset = build_definitions([loaded]).resolve_asset_graph().get(dg.AssetKey(["demo_loans", "source_snapshot"]))
    with dg.DagsterInstance.get() as instance:
        assert snapshot_asset.partitions_def.get_partition_keys(dynamic_partitions_store=instance) == snapshots
        assert instance.get_materialized_partitions(snapshot_asset.key) == set(snapshots)


def test_closed_gate_json_verdict_fix_and_progress(demo_spec_data: dict[str, Any], write_spec: WriteSpec) -> None:
    demo_spec_data["qa"].update(min_fidelity=1.0, advisory_checks=["utility"])  # unreachable: see test_e2e_demo
    spec = write_spec(demo_spec_data, "demo.yaml")
    result = CliRunner().invoke(main, ["run", str(spec), "--snapshot", DAY, "--json", "--progress"])
    assert result.exit_code == ExitCode.GATE_CLOSED, result.output

    document = json.loads(result.stdout)  # stdout is the JSON document and nothing else
    assert document["status"] == "gate_closed" and document["snapshot"] == DAY
    rows = {row["check"]: row for row in document["checks"]}
    assert set(rows) == set(ASSET_CHECK_NAMES)
    assert rows["fidelity"]["verdict"] == "fail" and rows["fidelity"]["metric"] == "fidelity_score"
    assert rows["fidelity"]["threshold"] == 1.0 and rows["fidelity"]["fix"] == FIXES["fidelity"]
    assert Path(document["qa_report"]).is_file()

    err = result.stderr
    assert "Traceback" not in err and "Stack Trace" not in err and "DagsterAssetCheckFailedError" not in err
    assert "QA gate closed, nothing published: fidelity failed" in err
    assert f"QA report: {document['qa_report']}" in err
    assert re.search(r"^fidelity\s+fidelity_score\s+[\d.]+\s+>= 1\s+FAIL$", err, re.M)
    assert "FAIL fidelity: FAILED: fidelity_score=" in err and f"  fix: {FIXES['fidelity']}" in err
    progress = [line for line in err.splitlines() if PROGRESS_LINE.match(line)]
    assert any(line.endswith("] synthesizer ...") for line in progress)  # a stage starting
    assert any(line.endswith("] qa: QA: computing fidelity") for line in progress)  # the check being computed
    assert any(re.search(r"synthetic_rows: shard \d+: generated 1500/1500 rows", line) for line in progress)  # rows done
    # Once, as progress: opacus' root handler printed it a second time ("...:INFO:bayesian_network: training with").
    assert len([line for line in err.splitlines() if "training with" in line]) == 1


def test_published_run_prints_the_verdict_and_no_progress_when_not_a_terminal(
        demo_spec_data: dict[str, Any], write_spec: WriteSpec, storage_home: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    dagster_home = tmp_path / "dagster_home"
    dagster_home.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(dagster_home))  # the run lands in a real instance, as the UI reads it
    spec = write_spec(demo_spec_data, "demo.yaml")
    result = CliRunner().invoke(main, ["run", str(spec), "--snapshot", DAY])  # CliRunner: stderr is no terminal
    assert result.exit_code == ExitCode.OK, result.output
    assert_partitions_are_the_snapshots(spec, [DAY])
    lines = result.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split() == ["check", "metric", "value", "threshold",
                                                                          "verdict"])
    verdicts = {line.split()[0]: line.split()[-1] for line in lines[header + 1:header + 1 + len(ASSET_CHECK_NAMES)]}
    assert set(verdicts) == set(ASSET_CHECK_NAMES)
    assert all(verdicts[name] == "PASS" for name in ASSET_CHECK_NAMES if name not in ("fidelity", "utility"))
    assert any(line.startswith("published features_v1: ") for line in lines)
    assert not [line for line in result.stderr.splitlines() if PROGRESS_LINE.match(line)]
    assert "training with" not in result.output  # no progress, and no second copy from a root log handler
    assert "Traceback" not in result.output

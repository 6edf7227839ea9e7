"""Issue 15: one table of exit codes for every command (console.ExitCode), and bad arguments as one
line naming the fix, never a traceback. The outcomes here are cheap to trigger; a closed QA gate is
in test_cli_run.py, a missing approval in orchestration/test_publication_gate.py."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner, Result

from synth_pipelines.cli import main
from synth_pipelines.console import ExitCode
from synth_pipelines.core.publish import publish_local

WriteSpec = Callable[[dict[str, Any], str], Path]
DAY = "2026-11-01"


def invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


def assert_one_line_error(result: Result, code: ExitCode, *fragments: str) -> None:
    assert result.exit_code == code, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert all(fragment in lines[0] for fragment in fragments), lines[0]


@pytest.fixture
def spec(demo_spec_data: dict[str, Any], write_spec: WriteSpec) -> Path:
    return write_spec(demo_spec_data, "demo.yaml")


@pytest.fixture
def invalid_spec(demo_spec_data: dict[str, Any], write_spec: WriteSpec) -> Path:
    demo_spec_data["synthetic"]["rows"] = 0
    return write_spec(demo_spec_data, "invalid.yaml")


@pytest.fixture
def published(spec: Path, tmp_path: Path, storage_home: Path) -> Path:
    features = tmp_path / "features.parquet"
    pd.DataFrame({"x": [1, 2]}).to_parquet(features)
    manifest = {"dataset": "demo_loans", "release_name": "features_v1", "rows": 2,
                "created_at": datetime.now(timezone.utc).isoformat(), "source": {"snapshot_id": DAY}}
    publish_local(features_path=features, attachments=[], manifest=manifest, root=storage_home / "releases",
                  dataset="demo_loans", release_name="features_v1", snapshot_id=DAY, rows=2)
    return spec


def test_an_invalid_spec_is_the_same_code_in_validate_and_run(invalid_spec: Path) -> None:
    for args in (["validate", invalid_spec], ["validate", "--offline", invalid_spec], ["run", invalid_spec],
                 ["run", invalid_spec, "--preview"], ["backfill", invalid_spec, "--from", DAY, "--to", DAY],
                 ["publish", invalid_spec, "--snapshot", DAY]):
        result = invoke(*args)
        assert_one_line_error(result, ExitCode.INVALID_INPUT, f"INVALID {invalid_spec}: synthetic.rows: ")


def test_already_published_is_the_same_code_in_run_and_publish(published: Path, storage_home: Path) -> None:
    before = sorted(p.relative_to(storage_home) for p in storage_home.rglob("*"))
    for args in (["run", published, "--snapshot", DAY], ["publish", published, "--snapshot", DAY],
                 ["backfill", published, "--from", DAY, "--to", DAY]):
        result = invoke(*args)
        expected = ExitCode.OK if args[0] == "backfill" else ExitCode.ALREADY_PUBLISHED  # nothing left to do
        assert result.exit_code == expected, result.output
        assert "Traceback" not in result.output
        assert f"features_v1 for snapshot {DAY} is already published" in result.stderr
    assert "0 of 1 partitions published; 1 already published" in result.stdout
    assert sorted(p.relative_to(storage_home) for p in storage_home.rglob("*")) == before


def test_run_json_says_already_published(published: Path) -> None:
    result = invoke("run", published, "--snapshot", DAY, "--json")
    assert result.exit_code == ExitCode.ALREADY_PUBLISHED
    document = json.loads(result.stdout)
    assert document["status"] == "already_published" and document["exit_code"] == 5
    assert document["snapshot"] == DAY and document["release"]["path"].endswith(f"snapshot={DAY}")


@pytest.mark.parametrize(("args", "fragments"), [
    (["backfill", "{spec}", "--from", "2026-13-01", "--to", "2026-11-02"],
     ["--from: '2026-13-01' is not a snapshot id", "write the partition's date as YYYY-MM-DD"]),
    (["backfill", "{spec}", "--from", "2026-11-05", "--to", "2026-11-02"],
     ["--from 2026-11-05 is after --to 2026-11-02", "Fix: swap them: --from 2026-11-02 --to 2026-11-05"]),
    (["backfill", "{spec}", "--from", "2025-12-30", "--to", "2026-01-02"],
     ["--from 2025-12-30 is before the first snapshot partition 2026-01-01 (refresh.start_date in",
      "Fix: use a date from 2026-01-01 to "]),
    (["run", "{spec}", "--snapshot", "2025-12-31"],
     ["--snapshot 2025-12-31 is before the first snapshot partition 2026-01-01", "or set an earlier refresh.start_date"]),
    (["run", "{spec}", "--snapshot", "2025-01-01", "--preview"], ["--snapshot 2025-01-01 is before the first"]),
    (["run", "{spec}", "--snapshot", "2999-01-01"], ["--snapshot 2999-01-01 is after today's snapshot partition"]),
    (["publish", "{spec}", "--snapshot", "2025-12-31"], ["--snapshot 2025-12-31 is before the first"]),
    (["approve", "{spec}", "--snapshot", DAY, "--approver", "ana"], ["no synthetic features to approve",
                                                                      "run the pipeline first"]),
    (["show", "nothing/features_v1", "--spec", "{spec}"], ["no release 'nothing/features_v1'", "Fix: "]),
])
def test_bad_arguments_are_one_line_errors_with_the_fix(args: list[str], fragments: list[str], spec: Path,
                                                       storage_home: Path) -> None:
    result = invoke(*(a.format(spec=spec) for a in args))
    assert_one_line_error(result, ExitCode.INVALID_INPUT, *fragments)
    assert not (storage_home / "snapshots").exists()  # refused before reading the source


def test_validate_json_is_pure_json(spec: Path, invalid_spec: Path) -> None:
    result = invoke("validate", "--offline", spec, invalid_spec, "--json")
    assert result.exit_code == ExitCode.INVALID_INPUT
    document = json.loads(result.stdout)
    assert document["status"] == "invalid_input"
    good, bad = document["specs"]
    assert good == {"path": str(spec), "valid": True, "offline": True, "dataset": "demo_loans", "version": 1}
    assert not bad["valid"] and "synthetic.rows" in bad["error"]
    assert f"OK {spec}" in result.stderr  # the human lines, on stderr


def test_validate_json_with_the_source_carries_the_assessment(spec: Path) -> None:
    result = invoke("validate", spec, "--json")
    assert result.exit_code == ExitCode.OK, result.output
    [checked] = json.loads(result.stdout)["specs"]
    assert checked["valid"] and checked["source_rows"]["customers"] == 1500
    assert checked["assessment"]["rows"] == 1440 and "debt_to_income" in checked["feature_columns"]

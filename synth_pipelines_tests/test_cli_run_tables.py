"""`synth-pipelines run` and `publish` of a spec with `tables:` (issue 17): the tables release passes its
own gate (the tables' QA, an approval with --tables where the spec asks) and is published beside the
features, never over an existing one; a closed gate is said and is the exit code."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner

from synth_pipelines.cli import main
from synth_pipelines.console import ExitCode
from synth_pipelines.core.releases import list_releases
from synth_pipelines_tests.core.multitable_fixture import DEMO_TABLES

pytestmark = pytest.mark.slow
DAY = "2026-11-21"
TABLE_MISSES = ["privacy_exact_copies", "privacy_dcr"]


@pytest.fixture
def tables_spec_data(shipped_demo_spec_data: dict[str, Any]) -> dict[str, Any]:
    """The shipped demo spec (cart, every check blocking) with `tables:` over its source (1,500 customers)."""
    data = {**shipped_demo_spec_data, "tables": DEMO_TABLES}
    # Loans (amount, term, purpose) repeat real rows by chance (21% of synthetic loans are train rows, 26%
    # allowed) and their DCR share is 0.57 for 0.6: advisory here, so the releases do not hang on those margins.
    data["qa"] = {**data["qa"], "advisory_checks": [*data["qa"].get("advisory_checks", []), *TABLE_MISSES]}
    return data


def cli(*args: str) -> Any:
    return CliRunner().invoke(main, list(args))


def read_release(folder: Path) -> dict[str, pd.DataFrame]:
    manifest = json.loads((folder / "manifest.json").read_text())
    return {table: pd.concat([pd.read_parquet(folder / file) for file in entry["files"]])
            for table, entry in manifest["tables"].items()}


def test_run_publishes_the_tables_release_beside_the_features(tables_spec_data, write_spec, storage_home) -> None:
    spec = write_spec(tables_spec_data, "tables.yaml")
    result = cli("run", str(spec), "--snapshot", DAY, "--json")
    assert result.exit_code == ExitCode.OK, result.output
    document = json.loads(result.stdout)
    release = document["tables_release"]
    assert release["release"] == f"demo_loans_tables/features_v1/snapshot={DAY}"
    assert {r.name for r in list_releases(storage_home / "releases")} == {
        f"demo_loans/features_v1/snapshot={DAY}", release["release"]}

    tables = read_release(Path(release["path"]))  # read back from the release, as a user would
    assert {t: len(f) for t, f in tables.items()} == release["rows"]
    work = storage_home / "work" / "demo_loans" / DAY / "tables"
    for table, frame in tables.items():  # the QA'd synthetic rows, not others
        stored = pd.read_parquet(work / f"synthetic.{table}.parquet")
        pd.testing.assert_frame_equal(frame.reset_index(drop=True), stored, check_dtype=False)
    assert len(tables["customers"]) > 200 and len(tables["loans"]) > 0
    assert tables["loans"]["account_id"].isin(tables["accounts"]["account_id"]).all()
    assert tables["accounts"]["customer_id"].isin(tables["customers"]["customer_id"]).all()
    assert tables["accounts"]["branch_id"].dropna().isin(tables["branches"]["branch_id"]).all()

    again = cli("publish", str(spec), "--snapshot", DAY)  # both exist: left as they were
    assert again.exit_code == ExitCode.ALREADY_PUBLISHED, again.output


def test_failed_tables_qa_publishes_no_tables(tables_spec_data, write_spec, storage_home) -> None:
    # No more duplicate rows than the real rows hold: synthetic loans (amount, term, purpose) repeat 12.7% of
    # rows against 8.6% real, so the tables' QA fails; the features (0 duplicates) pass theirs.
    tables_spec_data["qa"]["max_duplicate_rate_excess"] = 0.0
    spec = write_spec(tables_spec_data, "tables.yaml")
    result = cli("run", str(spec), "--snapshot", DAY)
    assert result.exit_code == ExitCode.GATE_CLOSED, result.output
    assert "tables not published" in result.stderr
    # the verdict names each failed table check with its table, not a bare "quality" four times over
    failed = result.stderr.split("nothing published: ", 1)[1].split(" failed", 1)[0].split(", ")
    assert failed and all(": " in name for name in failed), result.stderr
    for name in failed:  # its row in the verdict table shows the failed metric's value and threshold
        row = next(line for line in result.stdout.splitlines() if line.startswith(f"{name} "))
        assert row.endswith("FAIL") and "n/a" not in row and re.search(r"\d\.\d+\s+[<>]= \d", row), row
    assert "fix: see the QA report" not in result.stdout  # each failed table check gets its own check's fix
    assert re.search(r"accounts: referential_integrity\s+unresolved_foreign_keys.accounts\s+0\s+<= 0\s+PASS",
                     result.stdout), result.stdout
    assert not [r for r in list_releases(storage_home / "releases") if r.name.startswith("demo_loans_tables/")]
    qa = json.loads((storage_home / "work" / "demo_loans" / DAY / "tables" / "qa.json").read_text())
    assert not qa["passed"]

    refused = cli("publish", str(spec), "--snapshot", DAY)  # by hand: the same gate; the features pass theirs
    assert refused.exit_code == ExitCode.GATE_CLOSED, refused.output
    assert "published features_v1: " in refused.stdout
    assert "tables not published: blocking QA checks failed: tables_qa" in refused.stderr
    assert not [r for r in list_releases(storage_home / "releases") if r.name.startswith("demo_loans_tables/")]


def test_tables_wait_for_their_own_approval(tables_spec_data, write_spec, storage_home) -> None:
    tables_spec_data["qa"]["require_approval"] = True
    spec = write_spec(tables_spec_data, "tables.yaml")
    result = cli("run", str(spec), "--snapshot", DAY)
    assert result.exit_code == ExitCode.AWAITING_APPROVAL, result.output
    assert "tables not published: QA passed; waiting for a recorded approval" in result.stderr
    assert not list_releases(storage_home / "releases")

    assert cli("approve", str(spec), "--snapshot", DAY, "--approver", "Dana").exit_code == ExitCode.OK
    features_only = cli("publish", str(spec), "--snapshot", DAY)
    assert features_only.exit_code == ExitCode.AWAITING_APPROVAL, features_only.output  # the tables still wait
    assert [r.name for r in list_releases(storage_home / "releases")] == [f"demo_loans/features_v1/snapshot={DAY}"]

    assert cli("approve", str(spec), "--snapshot", DAY, "--approver", "Dana", "--tables").exit_code == ExitCode.OK
    tables = cli("publish", str(spec), "--snapshot", DAY)
    assert tables.exit_code == ExitCode.OK, tables.output
    assert f"published demo_loans_tables/features_v1/snapshot={DAY}" in tables.stdout
    manifest = json.loads(next((storage_home / "releases" / "demo_loans_tables").rglob("manifest.json")).read_text())
    assert manifest["approvals"][0]["approver"] == "Dana" and "approved by Dana" in manifest["gate"]
    assert cli("publish", str(spec), "--snapshot", DAY).exit_code == ExitCode.ALREADY_PUBLISHED

"""--snapshot, --from and --to name a partition date, never a path (issue 13: `approve --snapshot
../../..` created folders outside SYNTH_PIPELINES_HOME)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from synth_pipelines.cli import main

WriteSpec = Callable[[dict[str, Any], str], Path]
BAD_IDS = ["../../../outside", "2026-11-24/../../x", "/tmp/elsewhere", "2026-13-01", "20261124", "2026-11-24 ", ""]


@pytest.mark.parametrize("bad", BAD_IDS)
@pytest.mark.parametrize("command", [
    ["approve", "{spec}", "--snapshot", "{bad}", "--approver", "ana"],
    ["publish", "{spec}", "--snapshot", "{bad}"],
    ["run", "{spec}", "--snapshot", "{bad}"],
    ["run", "{spec}", "--preview", "--snapshot", "{bad}"],
    ["backfill", "{spec}", "--from", "{bad}", "--to", "2026-11-24"],
    ["backfill", "{spec}", "--from", "2026-11-20", "--to", "{bad}"],
])
def test_snapshot_ids_are_dates(command: list[str], bad: str, demo_spec_data: dict[str, Any],
                                write_spec: WriteSpec, storage_home: Path, tmp_path: Path) -> None:
    spec = write_spec(demo_spec_data, "demo.yaml")
    before = sorted(p for p in tmp_path.rglob("*"))
    result = CliRunner().invoke(main, [part.format(spec=spec, bad=bad) for part in command])
    assert result.exit_code == 2, result.output
    assert "is not a snapshot id; write the partition's date as YYYY-MM-DD" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert sorted(p for p in tmp_path.rglob("*")) == before  # nothing created, inside the home or out
    assert not (tmp_path.parent / "outside").exists()

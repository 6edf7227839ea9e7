"""The dg CLI on this project ([tool.dg] in pyproject.toml): the component type is registered, the defs
folder checks and lists. Each call loads the code location in fresh processes, so this is slow."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from synth_pipelines.core.quality.thresholds import ASSET_CHECK_NAMES
from synth_pipelines.paths import project_root

pytestmark = pytest.mark.slow


def dg(*args: str, home: Path) -> subprocess.CompletedProcess:
    """dg in this interpreter's environment, the active one (the checkout may have no .venv of its own)."""
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "VIRTUAL_ENV": sys.prefix, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
           "DAGSTER_HOME": str(home), "COLUMNS": "200"}
    env.pop("SYNTH_PIPELINES_DATASETS", None)  # the project's own datasets
    return subprocess.run([str(bin_dir / "dg"), *args], cwd=project_root(), env=env,
                          capture_output=True, text=True, timeout=600)


def test_dg_lists_the_component_type(tmp_path):
    done = dg("list", "components", "--json", home=tmp_path)
    assert done.returncode == 0, done.stderr
    found = {entry["key"]: entry for entry in json.loads(done.stdout)["items"]}
    assert "synth_pipelines.SyntheticDataset" in found
    assert found["synth_pipelines.SyntheticDataset"]["summary"].startswith("A synthetic feature dataset")


def test_dg_check_defs_and_list_defs(tmp_path):
    checked = dg("check", "defs", "--use-active-venv", home=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "All definitions loaded successfully" in checked.stdout
    listed = dg("list", "defs", "--json", home=tmp_path)
    assert listed.returncode == 0, listed.stderr
    defs = json.loads(listed.stdout)
    assets = {a["asset_key"]: a for a in defs["assets"]}
    assert len(assets) == 8 and all(key.startswith("demo_loans/") for key in assets)
    assert assets["demo_loans/synthesizer"]["source"].endswith("synth_pipelines/defs/datasets/demo_loans/defs.yaml:3")
    assert {c["key"].split(":")[-1] for c in defs["asset_checks"]} == set(ASSET_CHECK_NAMES)
    assert {j["name"] for j in defs["jobs"]} >= {"demo_loans_refresh", "demo_loans_publish"}

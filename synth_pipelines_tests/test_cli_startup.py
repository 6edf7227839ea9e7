"""Issue 15: every command started in 13-20 s because importing the spec pulled in the QA package
(scikit-learn, scipy). The CLI and the spec import no heavy library at startup; commands import
theirs when they run. Checked by what is imported (deterministic); the time is in BENCHMARKS.md
(bench/bench_cli_startup.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from synth_pipelines.paths import project_root

HEAVY = ("sklearn", "scipy", "torch", "synthcity", "dagster", "great_expectations", "pandas", "pyarrow", "faker")


def modules_after(code: str) -> set[str]:
    """Top-level packages imported by a fresh interpreter after running `code`."""
    script = f"import sys\n{code}\nimport json; print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}})))"
    env = {**os.environ, "PYTHONPATH": str(project_root())}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True,
                          cwd=project_root())
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def test_importing_the_cli_and_the_spec_imports_no_heavy_library() -> None:
    loaded = modules_after("import synth_pipelines.cli, synth_pipelines.spec")
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))


def test_loading_the_demo_spec_imports_no_heavy_library() -> None:
    # What `validate --offline` and `releases` do beyond the import: parse and validate a whole spec.
    loaded = modules_after("from synth_pipelines.cli import DEMO_SPEC\n"
                           "from synth_pipelines.spec import load_spec\nload_spec(DEMO_SPEC)")
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))


def test_the_quality_package_still_exports_its_names_on_use() -> None:
    from synth_pipelines.core import quality

    assert quality.QAThresholds().min_fidelity == 0.75
    assert "fidelity" in quality.CHECK_NAMES

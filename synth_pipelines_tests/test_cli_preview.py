"""`synth-pipelines run --preview`: the whole pipeline on a sample, reported and never published."""

from __future__ import annotations

import copy
import hashlib
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from synth_pipelines.cli import main
from synth_pipelines.console import ExitCode
from synth_pipelines.core.preview import PREVIEW_WORK, preview_limits, preview_spec, reduced_settings
from synth_pipelines.core.quality.thresholds import CHECK_NAMES
from synth_pipelines.core.snapshot import take_snapshot
from synth_pipelines.core.training_view import build_training_view
from synth_pipelines.spec import GeneratorSpec, load_spec

WriteSpec = Callable[[dict[str, Any], str], Path]


def test_preview_spec_samples_cuts_work_and_makes_qa_advisory(shipped_demo_spec_data: dict[str, Any],
                                                              write_spec: WriteSpec, tmp_path: Path) -> None:
    shipped_demo_spec_data["generator"] = {"plugin": "arf", "seed": 7, "settings": {"min_node_size": 10}}
    loaded = load_spec(write_spec(shipped_demo_spec_data, "demo.yaml"))
    preview = preview_spec(loaded, train_rows=300, synthetic_rows=100)
    spec = preview.spec
    assert spec.synthetic.rows == 100 and spec.synthetic.batch_rows == 100
    assert set(spec.qa.advisory_checks) == set(CHECK_NAMES)
    assert spec.generator.settings == {"min_node_size": 10, "num_trees": 10, "max_iters": 3}  # arf
    assert preview.path == loaded.path  # errors still name the user's spec file
    snapshot = take_snapshot(loaded.spec, tmp_path / "snapshots", "s")
    tables = {t: s.path for t, s in snapshot.tables.items()}
    full = build_training_view(loaded.spec.training_view, tables)
    sampled = build_training_view(spec.training_view, tables)
    assert len(sampled) == math.ceil(300 / 0.8) < len(full)
    assert list(sampled.columns) == list(full.columns)
    assert sampled.equals(build_training_view(spec.training_view, tables))  # seeded: the same sample


def test_preview_limits_state_both_sizes(shipped_demo_spec_data: dict[str, Any], write_spec: WriteSpec) -> None:
    loaded = load_spec(write_spec(shipped_demo_spec_data, "demo.yaml"))
    preview = preview_spec(loaded)
    limits = preview_limits(loaded.spec, preview.spec, train_rows=1200, synthetic_rows=500, discriminator_rows=500,
                            full_train_rows=40_000)
    assert limits[0].startswith("QA verdicts: the preview judged 500 synthetic rows against 1200 train rows (the "
                                "discriminator saw 500 rows per side); the full run judges 1500 against 40000 (the "
                                "discriminator sees 1500 per side)")
    assert "can fail in the full run" in limits[0]
    assert any(line.startswith("QA time: not estimated") for line in limits)


def test_reduced_settings_for_any_plugin() -> None:
    assert reduced_settings(GeneratorSpec(plugin="tvae"))["n_iter"] == PREVIEW_WORK["n_iter"]
    ctgan = reduced_settings(GeneratorSpec(plugin="ctgan", settings={"n_iter": 20, "batch_size": 100}))
    assert ctgan == {"n_iter": 20, "batch_size": 100, "n_iter_min": 20}  # smaller values are kept
    assert reduced_settings(GeneratorSpec(plugin="marginal_distributions")) == {}


@pytest.mark.slow
def test_preview_run_publishes_nothing_and_reports(demo_spec_data: dict[str, Any], write_spec: WriteSpec,
                                                   storage_home: Path, demo_db: Path) -> None:
    source_before = hashlib.sha256(demo_db.read_bytes()).hexdigest()
    path = write_spec(demo_spec_data, "demo.yaml")
    result = CliRunner().invoke(main, ["run", str(path), "--preview"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    output = result.output
    assert "nothing is published" in output
    assert "'struct_learning_n_iter': 100}, 500 synthetic rows" in output  # reduced work (default 1000), few rows
    assert "assessment: 1440 train rows x 19 columns" in output  # the full train rows, not the sample
    assert "timings: " in output and "synthesizer" in output and "qa" in output
    verdicts = {line.split()[0]: line.split()[-1] for line in result.stdout.splitlines() if line.strip()}
    assert all(verdicts[name] in ("PASS", "WARN") for name in CHECK_NAMES)  # the verdict table, every check advisory
    assert "estimate for the full run: training ~" in output and "generation ~" in output
    # The sizes it states are the sizes it ran (issue 15), and it says what it cannot predict.
    work = storage_home / "preview" / "demo_loans" / "work" / "demo_loans"
    model = json.loads(next(work.glob("*/synthesizer/synthesizer.json")).read_text())
    qa = json.loads(next(work.glob("*/qa/qa_report.json")).read_text())
    ran_rows, synthetic_rows = model["train_rows"], qa["settings"]["rows"]["synthetic"]
    assert synthetic_rows == 500
    assert (f"preview ran: {ran_rows} train rows (full run: 1440), {synthetic_rows} synthetic rows (full run: 1500), "
            f"training {model['training_seconds']:.1f} s") in output
    disc = next(m for c in qa["checks"] for m in c["metrics"] if m["name"] == "discriminator_auc")
    assert "what the preview cannot predict:" in output
    assert (f"QA verdicts: the preview judged {synthetic_rows} synthetic rows against {ran_rows} train rows (the "
            f"discriminator saw {disc['details']['rows_per_side']} rows per side); the full run judges 1500 against "
            "1440") in output
    # Only the preview folder exists: no release, no snapshot, work file or run of the real storage.
    assert sorted(p.name for p in storage_home.iterdir()) == ["preview"]
    assert (storage_home / "preview" / "demo_loans" / "work").is_dir()
    assert hashlib.sha256(demo_db.read_bytes()).hexdigest() == source_before


def test_preview_stops_on_assessment_errors(demo_spec_data: dict[str, Any], write_spec: WriteSpec,
                                            storage_home: Path) -> None:
    data = copy.deepcopy(demo_spec_data)
    data["training_view"]["sql"] = data["training_view"]["sql"].replace(
        "l.loan_id,", "l.loan_id, 'ref-' || CAST(l.loan_id AS VARCHAR) AS reference,", 1)
    path = write_spec(data, "demo.yaml")
    result = CliRunner().invoke(main, ["run", str(path), "--preview"], catch_exceptions=False)
    assert result.exit_code == ExitCode.INVALID_INPUT
    assert f"INVALID {path}: training_view.sql: column 'reference' is identifier-like" in result.stderr
    assert not (storage_home / "preview" / "demo_loans" / "work").exists()  # nothing trained

"""`synth-pipelines qa` judges a synthetic table made anywhere with the pipeline's own checks, given a
spec or only the label and task."""

import json

import pandas as pd
import pytest
from click.testing import CliRunner

from synth_pipelines.cli import main
from synth_pipelines.console import ExitCode
from synth_pipelines.core.snapshot import take_snapshot
from synth_pipelines.core.training_view import build_training_view, split_holdout
from synth_pipelines.spec import load_spec


@pytest.fixture
def real_files(tmp_path, shipped_demo_spec_data, write_spec):
    spec_path = write_spec(shipped_demo_spec_data)
    spec = load_spec(spec_path).spec
    snapshot = take_snapshot(spec, tmp_path / "snapshots", snapshot_id="2026-11-24")
    view = build_training_view(spec.training_view, {t: s.path for t, s in snapshot.tables.items()})
    split = split_holdout(view, spec.training_view, seed=7)
    train, holdout = tmp_path / "train.parquet", tmp_path / "holdout.csv"
    split.train.to_parquet(train)
    split.holdout.to_csv(holdout, index=False)
    return spec_path, train, holdout, split


def test_a_verbatim_copy_of_the_train_rows_is_rejected_with_the_failing_checks(real_files, tmp_path):
    spec_path, train, holdout, split = real_files
    copied = tmp_path / "copied.parquet"
    split.train.drop(columns=["loan_id"]).to_parquet(copied)

    result = CliRunner().invoke(main, ["qa", "--spec", str(spec_path), "--real", str(train), "--holdout",
                                       str(holdout), "--synthetic", str(copied), "--out", str(tmp_path / "report")])

    assert result.exit_code == ExitCode.GATE_CLOSED, result.output
    lines = result.stdout.splitlines()
    verdicts = {line.split()[0]: line.split()[-1] for line in lines}  # the verdict table: check ... verdict
    assert verdicts["privacy_exact_copies"] == "FAIL" and verdicts["privacy_dcr"] == "FAIL"
    at = lines.index(next(line for line in lines if line.startswith("FAIL privacy_exact_copies: FAILED: ")))
    assert lines[at + 1].startswith("  fix: the generator copies real rows")
    assert (tmp_path / "report" / "qa_report.html").is_file()
    assert (tmp_path / "report" / "qa_report.pdf").read_bytes()[:5] == b"%PDF-"


def test_missing_label_is_a_clear_error(real_files, tmp_path):
    spec_path, train, holdout, split = real_files
    unlabelled = tmp_path / "unlabelled.parquet"
    split.train.drop(columns=["defaulted"]).to_parquet(unlabelled)
    result = CliRunner().invoke(main, ["qa", "--spec", str(spec_path), "--real", str(unlabelled), "--holdout",
                                       str(holdout), "--synthetic", str(unlabelled)])
    assert result.exit_code == ExitCode.INVALID_INPUT and "has no label column 'defaulted'" in result.stderr
    assert "Traceback" not in result.output


def test_label_and_task_without_a_spec_with_json(real_files, tmp_path):
    _, train, holdout, split = real_files
    copied = tmp_path / "copied.parquet"
    split.train.drop(columns=["loan_id"]).to_parquet(copied)
    result = CliRunner().invoke(main, ["qa", "--label", "defaulted", "--task", "classification", "--entity-key",
                                       "loan_id", "--threshold", "max_mia_auc=0.7", "--threshold",
                                       "protected_columns=[gender]", "--real", str(train), "--holdout",
                                       str(holdout), "--synthetic", str(copied), "--out", str(tmp_path / "r"),
                                       "--json"])
    assert result.exit_code == ExitCode.GATE_CLOSED, result.output
    document = json.loads(result.stdout)  # pure JSON on stdout; the table went to stderr
    assert document["status"] == "gate_closed" and not document["passed"]
    rows = {row["check"]: row for row in document["checks"]}
    assert rows["privacy_exact_copies"]["verdict"] == "fail" and "fix" in rows["privacy_exact_copies"]
    assert rows["privacy_membership_inference"]["threshold"] >= 0.7  # the option's threshold (or wider)
    assert rows["bias"]["metric"] == "max_label_rate_gap"  # protected_columns from the option
    assert document["report"]["html"].endswith("qa_report.html")
    assert "privacy_exact_copies" in result.stderr


@pytest.mark.parametrize(("args", "message"), [
    (["--label", "defaulted"], "qa needs the label column and the task. Fix: pass --label COLUMN --task"),
    (["--label", "defaulted", "--task", "classification", "--threshold", "min_fidelity=2"],
     "--threshold: min_fidelity: Input should be less than or equal to 1"),
    (["--label", "defaulted", "--task", "classification", "--threshold", "no_such=1"], "no_such: Extra inputs"),
    (["--label", "defaulted", "--task", "classification", "--threshold", "min_fidelity"], "write NAME=VALUE"),
])
def test_bad_qa_options_are_one_line_errors(real_files, args, message):
    _, train, holdout, _ = real_files
    result = CliRunner().invoke(main, ["qa", *args, "--real", str(train), "--holdout", str(holdout),
                                       "--synthetic", str(train)])
    assert result.exit_code == ExitCode.INVALID_INPUT, result.output
    assert len(result.stderr.strip().splitlines()) == 1 and message in result.stderr, result.stderr
    assert "Traceback" not in result.output

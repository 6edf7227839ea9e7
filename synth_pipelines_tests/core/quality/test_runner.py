"""run_quality's contract: named checks, implementations, blocking, errors as failed checks; thresholds; report files."""

import json

import pytest
from pydantic import ValidationError

from synth_pipelines.core.quality import CHECK_NAMES, QAThresholds, run_quality
from synth_pipelines.core.quality import runner as runner_module
from synth_pipelines.core.quality.report import write_reports
from synth_pipelines.core.quality.tabular import sample


@pytest.fixture(scope="module")
def fresh_report(mixed, with_ids):
    """Real rows of the same population that the 'generator' never saw: the ideal synthetic rows."""
    return run_quality(mixed.train, mixed.holdout, with_ids(mixed.pool), mixed.codecs, "flag", "classification")


def test_every_check_is_named_with_its_implementation_and_serializable(fresh_report):
    assert [c.name for c in fresh_report.checks] == list(CHECK_NAMES)
    for check in fresh_report.checks:
        assert check.implementation and check.summary and check.blocking
    payload = json.loads(json.dumps(fresh_report.to_dict(), default=float))
    assert payload["checks"][0]["name"] == "great_expectations"
    assert fresh_report.settings["thresholds"]["max_dcr_share"] == 0.6
    bias_check = fresh_report.check("bias")
    assert bias_check.passed and bias_check.metrics == [] and "no protected columns" in bias_check.summary


def test_fresh_real_rows_pass_the_statistical_and_privacy_checks(fresh_report):
    # GE may flag fresh real values just outside the train range; every other check must pass.
    failed = [name for name in fresh_report.failed if not name.startswith("great_expectations")]
    assert failed == []


def test_a_copy_fails_named_privacy_checks_and_advisory_checks_do_not_block(mixed, with_ids):
    copy = with_ids(mixed.train)
    report = run_quality(mixed.train, mixed.holdout, copy, mixed.codecs, "flag", "classification")
    assert not report.passed
    assert {"privacy_exact_copies: train_copy_share", "privacy_dcr: dcr_share",
            "privacy_membership_inference: mia_auc"} <= set(report.failed)
    lenient = QAThresholds(advisory_checks=list(CHECK_NAMES))
    advisory = run_quality(mixed.train, mixed.holdout, copy, mixed.codecs, "flag", "classification", lenient)
    assert advisory.passed and advisory.failed and not any(c.blocking for c in advisory.checks)


def test_a_metric_that_raises_becomes_a_failed_check_naming_the_error(mixed, monkeypatch, with_ids):
    def broken(*args, **kwargs):
        raise RuntimeError("phik exploded")

    monkeypatch.setattr(runner_module.fidelity, "phik_matrices", broken)
    report = run_quality(mixed.train, mixed.holdout, with_ids(mixed.pool), mixed.codecs, "flag", "classification")
    check = report.check("fidelity")
    assert not check.passed and "RuntimeError: phik exploded" in json.dumps(check.details)
    assert "fidelity: error" in report.failed and report.check("utility").passed


def test_settings_that_name_unknown_columns_are_errors(mixed):
    with pytest.raises(ValueError, match="protected_columns.*nope"):
        run_quality(mixed.train, mixed.holdout, mixed.pool, mixed.codecs, "flag", "classification",
                    QAThresholds(protected_columns=["nope"]))
    with pytest.raises(ValueError, match="label"):
        run_quality(mixed.train, mixed.holdout, mixed.pool, mixed.codecs, "missing", "classification")


def test_thresholds_forbid_unknown_fields_and_describe_every_field():
    with pytest.raises(ValidationError, match="extra"):
        QAThresholds(min_fidelty=0.5)
    with pytest.raises(ValidationError, match="unknown check"):
        QAThresholds(advisory_checks=["privacy"])
    with pytest.raises(ValidationError, match="below"):
        QAThresholds(min_dcr_share=0.7)
    assert all(field.description for field in QAThresholds.model_fields.values())


def test_reports_are_written_as_json_html_and_pdf(mixed, fresh_report, tmp_path, with_ids):
    synthetic = with_ids(mixed.pool)
    paths = write_reports(fresh_report, tmp_path / "qa", mixed.train, synthetic, mixed.codecs,
                          QAThresholds(report_max_columns=3, report_max_pairs=2, report_sample_rows=5))
    page = paths["html"].read_text()
    for section in ("Summary", "Univariate", "Bivariate", "PhiK association matrices", "Distance to closest record",
                    "Utility (TSTR vs TRTR)", "Random synthetic rows for review"):
        assert section in page
    # telling columns, columns, pairs, PhiK (real and synthetic, difference), DCR
    assert page.count("data:image/png;base64,") == 1 + 3 + 2 + 2 + 1
    assert all(f">{i}<" in page for i in sample(synthetic, 5, 0)["synthetic_id"])  # the review sample
    assert paths["pdf"].read_bytes().startswith(b"%PDF")
    assert json.loads(paths["json"].read_text())["checks"][1]["name"] == "fidelity"

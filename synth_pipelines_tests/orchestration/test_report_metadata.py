"""Where a QA check result points: links a browser opens from the Dagster UI (never file://), or the
paths alone when the storage has no http(s) address."""

from pathlib import Path

import dagster as dg
import pytest

from synth_pipelines.orchestration.factory import report_metadata
from synth_pipelines.orchestration.resources import SynthStorage


@pytest.fixture
def paths(tmp_path: Path) -> dict[str, Path]:
    run = tmp_path / "work" / "demo_loans" / "2026-11-24" / "qa_runs" / "run 1"
    return {"html": run / "qa_report.html", "pdf": run / "qa_report.pdf", "json": run / "qa_report.json",
            "data_docs": run / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"}


def test_without_an_address_there_is_no_link_only_paths(tmp_path, paths):
    metadata = report_metadata(SynthStorage(root=str(tmp_path)), paths)
    assert set(metadata) == {"report_html", "report_pdf", "report_json", "data_docs"}
    assert all(isinstance(value, dg.PathMetadataValue) for value in metadata.values())
    assert metadata["report_html"].value == str(paths["html"])


def test_with_an_address_the_links_are_under_it(tmp_path, paths):
    metadata = report_metadata(SynthStorage(root=str(tmp_path), reports_url="http://127.0.0.1:3001"), paths)
    run = "http://127.0.0.1:3001/work/demo_loans/2026-11-24/qa_runs/run%201"
    assert metadata["qa_report"] == dg.MetadataValue.url(f"{run}/qa_report.html")
    assert metadata["data_docs"] == dg.MetadataValue.url(f"{run}/gx/uncommitted/data_docs/local_site/index.html")
    assert isinstance(metadata["report_html"], dg.PathMetadataValue)


def test_the_address_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv("SYNTH_PIPELINES_STORAGE", raising=False)
    monkeypatch.delenv("SYNTH_PIPELINES_REPORTS_URL", raising=False)
    assert SynthStorage.from_env().reports_url is None
    monkeypatch.setenv("SYNTH_PIPELINES_REPORTS_URL", "https://reports.example.org/synth/")
    assert SynthStorage.from_env().reports_url == "https://reports.example.org/synth"
    monkeypatch.setenv("SYNTH_PIPELINES_STORAGE", "s3://bucket/prefix")
    assert SynthStorage.from_env().reports_url == "https://reports.example.org/synth"
    monkeypatch.setenv("SYNTH_PIPELINES_REPORTS_URL", "/srv/reports")
    with pytest.raises(ValueError, match="SYNTH_PIPELINES_REPORTS_URL='/srv/reports': write the http"):
        SynthStorage.from_env()

"""A source password never leaves the spec's environment (README: "put credentials there"): the demo
runs from PostgreSQL through `synth-pipelines run` with a password from ${ENV} in the source URL
(trust auth accepts any password), then every place the run wrote is scanned for it, in clear and
percent-encoded: what it printed and logged, the Dagster instance (event log, run storage), the
snapshot, the working files, the QA reports, the manifest and the published files."""

from __future__ import annotations

import logging
import shutil
from urllib.parse import quote

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from synth_pipelines.cli import main
from synth_pipelines.core.demo_source import demo_tables
from synth_pipelines.core.quality.thresholds import CHECK_NAMES
from synth_pipelines.paths import project_root

pytestmark = pytest.mark.slow

# '/' and '@' are percent-encoded in the URL's userinfo, so the encoded form is looked for too.
PASSWORD = "Pw/7Xq@2-must-never-show"
DATES = {"date_of_birth": sa.Date(), "opened_date": sa.Date(), "application_date": sa.Date(),
         "collection_date": sa.Date(), "created_at": sa.DateTime()}


def load_demo_into(url: str) -> None:
    engine = sa.create_engine(url)
    try:
        for name, frame in demo_tables(n_customers=600).items():  # small: the run is scanned, not judged
            dtype = {c: t for c, t in DATES.items() if c in frame.columns}
            frame.to_sql(name, engine, index=False, dtype=dtype)
    finally:
        engine.dispose()


def test_source_password_appears_nowhere_the_run_writes(postgres_url, demo_spec_data, write_spec, storage_home,
                                                       tmp_path, monkeypatch, caplog, capfd):
    load_demo_into(postgres_url)
    server = sa.engine.make_url(postgres_url)
    monkeypatch.setenv("SYNTH_TEST_SOURCE_PASSWORD", PASSWORD)
    demo_spec_data["source"]["url"] = (f"postgresql+psycopg2://{server.username}:${{SYNTH_TEST_SOURCE_PASSWORD}}"
                                       f"@{server.host}:{server.port}/{server.database}")
    demo_spec_data["generator"] = {"plugin": "cart", "seed": 7}  # the default generator, trains in seconds
    demo_spec_data["synthetic"].update(rows=600, batch_rows=300)
    # Every check runs and writes its reports; none blocks, so the release is published whatever the
    # scores of this small source (this test is about where the password goes, not about quality).
    demo_spec_data["qa"]["advisory_checks"] = list(CHECK_NAMES)
    spec_path = write_spec(demo_spec_data)
    dagster_home = tmp_path / "dagster_home"  # a persistent instance, as `make demo` sets up
    dagster_home.mkdir()
    shutil.copy(project_root() / "dagster.yaml", dagster_home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(dagster_home))
    caplog.set_level(logging.DEBUG, logger="synth_pipelines")
    caplog.set_level(logging.INFO)

    result = CliRunner().invoke(main, ["run", str(spec_path), "--snapshot", "2026-11-20"])

    assert result.exit_code == 0, result.output
    release = storage_home / "releases" / "demo_loans" / "features_v1" / "snapshot=2026-11-20"
    assert (release / "manifest.json").is_file()
    secrets = {PASSWORD, quote(PASSWORD, safe=""), quote(PASSWORD)}
    captured = capfd.readouterr()
    printed = "\n".join([result.output, captured.out, captured.err, caplog.text])
    assert "demo_loans" in printed  # the scan reads the run's output
    assert not {s for s in secrets if s in printed}, "the password was printed or logged"

    files = {path: path.read_bytes() for root in (dagster_home, storage_home) for path in root.rglob("*")
             if path.is_file()}
    # The scan covers every kind of file the run writes.
    names = {path.name for path in files}
    assert {"manifest.json", "snapshot.json", "qa_report.html", "qa_report.json", "synthesizer.json"} <= names
    assert any(path.suffix == ".db" for path in files)  # the instance's SQLite event log and run storage
    assert any(path.is_relative_to(release) and path.suffix == ".parquet" for path in files)
    masked = f"postgresql+psycopg2://***@{server.host}:{server.port}/{server.database}".encode()
    assert masked in files[release / "manifest.json"]  # the source is named, masked
    leaks = sorted(str(path) for path, blob in files.items()
                   if any(secret.encode() in blob for secret in secrets))
    assert not leaks, f"the source password is in {leaks}"

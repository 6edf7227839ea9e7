"""`synth-pipelines reports serve`: the QA reports under SYNTH_PIPELINES_HOME over http on 127.0.0.1, at
the address it prints (the value for SYNTH_PIPELINES_REPORTS_URL)."""

import os
import re
import signal
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from synth_pipelines.paths import project_root


def test_serve_prints_its_address_and_serves_the_reports_there(tmp_path):
    report = tmp_path / "work" / "demo_loans" / "2026-11-24" / "qa_runs" / "run-1" / "qa_report.html"
    report.parent.mkdir(parents=True)
    report.write_text("<html>the report</html>")
    (tmp_path / "snapshots").mkdir()
    (tmp_path / "snapshots" / "rows.parquet").write_text("REAL")
    env = {**os.environ, "PYTHONPATH": str(project_root()), "SYNTH_PIPELINES_HOME": str(tmp_path)}
    # started with SIGTERM ignored, as under a parent that ignores it (seen in the full suite): an ignored signal
    # is inherited, and the server must still stop when terminated
    server = subprocess.Popen([sys.executable, "-m", "synth_pipelines.cli", "reports", "serve", "--port", "0"],
                              stderr=subprocess.PIPE, text=True, env=env,
                              preexec_fn=lambda: signal.signal(signal.SIGTERM, signal.SIG_IGN))
    try:
        line = server.stderr.readline()
        address = re.search(r"SYNTH_PIPELINES_REPORTS_URL=(http://127\.0\.0\.1:\d+)", line)
        assert address, line
        url = f"{address.group(1)}/work/demo_loans/2026-11-24/qa_runs/run-1/qa_report.html"
        with urllib.request.urlopen(url, timeout=10) as response:
            assert response.read() == b"<html>the report</html>"
        with pytest.raises(urllib.error.HTTPError, match="403"):
            urllib.request.urlopen(f"{address.group(1)}/snapshots/rows.parquet", timeout=10)
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
            pytest.fail("reports serve did not stop on SIGTERM")

"""The QA report server: real HTTP requests on loopback. It serves the report folders' files and nothing
else under the storage root, whatever the request path tries."""

import http.client
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from synth_pipelines.core.report_links import report_server, report_url, reports_base_url

RUN = "work/demo_loans/2026-11-24/qa_runs/0f1e2d3c-run"
REPORT = "<html><body>QA report of one run</body></html>"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A storage root as the pipeline leaves it: a run's QA report beside real rows and a snapshot."""
    files = {f"{RUN}/qa_report.html": REPORT, f"{RUN}/gx/uncommitted/data_docs/local_site/index.html": "<html>docs</html>",
             "work/demo_loans/2026-11-24/qa/qa_report.json": "{}",
             "work/demo_loans/2026-11-24/split/train_rows.parquet": "REAL ROWS",
             "work/demo_loans/2026-11-24/qa_runs/.mirror/x.etag": "etag",
             "snapshots/demo_loans/2026-11-24/loans.parquet": "REAL SNAPSHOT"}
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    (tmp_path / RUN / "escape.html").symlink_to(tmp_path / "work/demo_loans/2026-11-24/split/train_rows.parquet")
    return tmp_path


@pytest.fixture
def server(root: Path) -> Iterator[int]:
    httpd = report_server(root, port=0)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_port
    httpd.shutdown()
    httpd.server_close()


def get(port: int, path: str, method: str = "GET") -> tuple[int, str, str]:
    """Status, content type and body of a request sent with `path` exactly as written (no client-side cleanup)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.putrequest(method, path, skip_accept_encoding=True)
    connection.endheaders()
    response = connection.getresponse()
    body = response.read().decode(errors="replace")
    connection.close()
    return response.status, response.getheader("Content-Type", ""), body


def test_a_report_link_opens_the_report(root, server):
    url = report_url(f"http://127.0.0.1:{server}/", root, root / RUN / "qa_report.html")
    assert url == f"http://127.0.0.1:{server}/{RUN}/qa_report.html"
    status, kind, body = get(server, url.removeprefix(f"http://127.0.0.1:{server}"))
    assert (status, kind, body) == (200, "text/html", REPORT)
    assert get(server, f"/{RUN}/gx/uncommitted/data_docs/local_site/index.html")[2] == "<html>docs</html>"
    assert get(server, "/work/demo_loans/2026-11-24/qa/qa_report.json")[0] == 200


@pytest.mark.parametrize("path", [
    f"/{RUN}/../../split/train_rows.parquet",  # out of the report folder with ..
    f"/{RUN}/%2e%2e/%2e%2e/split/train_rows.parquet",  # the same, percent-encoded
    "/snapshots/demo_loans/2026-11-24/loans.parquet",  # the snapshot folder
    "/work/demo_loans/2026-11-24/split/train_rows.parquet",  # training rows
    f"/{RUN}/escape.html",  # a symbolic link out of the report folder
    "//etc/passwd", "/../../../../etc/passwd", "/%2Fetc%2Fpasswd",  # absolute paths
    "/work/demo_loans/2026-11-24/qa_runs/.mirror/x.etag",  # hidden bookkeeping
    "/", "/work/demo_loans/2026-11-24/qa_runs/",  # folder listings
])
def test_nothing_outside_the_report_folders_is_served(server, path):
    status, _, body = get(server, path)
    assert status in (403, 404), (path, status)
    assert "REAL" not in body and "root:" not in body


def test_a_missing_report_is_404_and_the_server_is_read_only(server):
    assert get(server, f"/{RUN}/no_such_report.html")[0] == 404
    assert get(server, f"/{RUN}/qa_report.html", method="PUT")[0] == 501
    assert get(server, f"/{RUN}/qa_report.html", method="DELETE")[0] == 501


def test_the_base_url_must_be_http():
    assert reports_base_url("http://127.0.0.1:3001/") == "http://127.0.0.1:3001"
    assert reports_base_url("") is None
    with pytest.raises(ValueError, match="SYNTH_PIPELINES_REPORTS_URL='file:///srv'"):
        reports_base_url("file:///srv")

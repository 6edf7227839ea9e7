"""Links a browser can open to the QA reports, and the read-only server behind them.

A browser refuses to follow a file:// link from an http page (the Dagster UI), so a report is linked as
`SYNTH_PIPELINES_REPORTS_URL` + its path under the storage root. `synth-pipelines reports serve` serves
that root on 127.0.0.1, but only the QA report folders in it (work/<dataset>/<snapshot>/qa and
qa_runs/<run id>): never a snapshot, a training view or a model, whatever the request's path says.
"""

from __future__ import annotations

import functools
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote, unquote

REPORTS_URL_ENV = "SYNTH_PIPELINES_REPORTS_URL"
REPORT_FOLDERS = ("qa", "qa_runs")  # the stage folders under work/<dataset>/<snapshot>/ that hold QA reports


def reports_base_url(value: str | None) -> str | None:
    """A reports base URL as configured (None when unset); ValueError unless it is http(s)."""
    if not value:
        return None
    if not value.startswith(("http://", "https://")):
        raise ValueError(f"{REPORTS_URL_ENV}={value!r}: write the http(s) address at which the storage folder is "
                         "served, e.g. http://127.0.0.1:3001 (synth-pipelines reports serve), or unset it")
    return value.rstrip("/")


def report_url(base_url: str, root: Path, path: Path) -> str:
    """The address of `path` (a file under the storage `root`) when `root` is served at `base_url`."""
    relative = Path(path).resolve().relative_to(Path(root).resolve()).as_posix()
    return f"{base_url.rstrip('/')}/{quote(relative)}"


def served_path(root: Path, request_path: str) -> Path | None:
    """The file or folder a request for `request_path` may read under `root`, or None when it lies outside
    every QA report folder (after `..`, encoded characters and symbolic links are resolved)."""
    relative = unquote(request_path.split("?", 1)[0].split("#", 1)[0]).lstrip("/")
    root = Path(root).resolve()
    try:
        target = (root / relative).resolve()
    except (OSError, ValueError):  # a NUL byte, a symlink loop
        return None
    if not target.is_relative_to(root):
        return None
    parts = target.relative_to(root).parts
    inside = len(parts) >= 4 and parts[0] == "work" and parts[3] in REPORT_FOLDERS
    return target if inside and not any(part.startswith(".") for part in parts) else None


class ReportRequestHandler(SimpleHTTPRequestHandler):
    """GET and HEAD of files in the QA report folders; 403 for anything else, no folder listings."""

    def translate_path(self, path: str) -> str:
        served = served_path(Path(self.directory), path)
        return str(served) if served is not None else ""

    def send_head(self):  # noqa: ANN201 (the base class's contract: a file object or None)
        if not self.translate_path(self.path):
            self.send_error(HTTPStatus.FORBIDDEN, "only QA reports are served here")
            return None
        return super().send_head()

    def list_directory(self, path):  # noqa: ANN001, ANN201
        self.send_error(HTTPStatus.FORBIDDEN, "no folder listings")
        return None


def report_server(root: Path, port: int = 0, host: str = "127.0.0.1") -> ThreadingHTTPServer:
    """A server of `root`'s QA reports on `host`:`port` (0: a free port; see `server_port`), not yet serving."""
    handler = functools.partial(ReportRequestHandler, directory=str(Path(root).resolve()))
    return ThreadingHTTPServer((host, port), handler)

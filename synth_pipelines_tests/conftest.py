"""Shared fixtures: a small demo source, spec copies pointing at it, and real database servers.

A test that needs PostgreSQL or MariaDB fails with a clear message when the server is missing in
CI (CI=true) and is skipped with the same message elsewhere.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml

from synth_pipelines.core.demo_source import build_demo_database
from synth_pipelines.core.synthcity_plugins import quiet_synthcity_env
from synth_pipelines.paths import demo_spec
from synth_pipelines.spec import spec_fields

quiet_synthcity_env()

DEMO_SPEC = demo_spec()
POSTGRES_ADMIN_URL = os.environ.get("SYNTH_TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")
MARIADB_ADMIN_URL = os.environ.get("SYNTH_TEST_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/")


def require_service(name: str, reason: str) -> None:
    message = f"{name} is needed for this test but is not reachable: {reason}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@pytest.fixture(autouse=True)
def storage_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own SYNTH_PIPELINES_HOME, so nothing lands in the checkout."""
    home = tmp_path / "synth_home"
    home.mkdir()
    monkeypatch.setenv("SYNTH_PIPELINES_HOME", str(home))
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    # The platform key (core/platform_key.py) of the test, not the machine's one in the home directory.
    monkeypatch.setenv("SYNTH_PIPELINES_PLATFORM_KEY_FILE", str(tmp_path / "platform.key"))
    return home


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A smaller demo source (1,500 customers) built once per session; tests must not write to it."""
    return build_demo_database(tmp_path_factory.mktemp("demo_source") / "demo_bank.sqlite", n_customers=1500)


def shipped_demo_data(demo_db: Path) -> dict[str, Any]:
    """The shipped demo spec as a dict (its generator and QA unchanged), pointed at `demo_db`, with a
    small row count."""
    data = spec_fields(DEMO_SPEC)  # the attributes of its defs.yaml
    data["source"]["url"] = f"sqlite:///{demo_db}"
    data["synthetic"]["rows"] = 1500
    data["synthetic"]["batch_rows"] = 600
    return data


def with_fast_generator(data: dict[str, Any]) -> dict[str, Any]:
    """The spec with a generator that trains in seconds, for tests of orchestration behaviour.

    This Bayesian network keeps privacy (DCR share 0.50, attack AUC 0.51 on the demo) but a
    discriminator tells its rows apart (AUC 0.96) and utility sits at the bar, so fidelity and
    utility are advisory here. The e2e test runs the shipped generator with every check blocking."""
    data["generator"] = {"plugin": "bayesian_network", "seed": 7, "settings": {
        "struct_learning_search_method": "hillclimb", "struct_learning_score": "bic", "encoder_noise_scale": 0}}
    data["qa"]["advisory_checks"] = ["fidelity", "utility"]
    return data


@pytest.fixture
def shipped_demo_spec_data(demo_db: Path) -> dict[str, Any]:
    return shipped_demo_data(demo_db)


@pytest.fixture
def demo_spec_data(shipped_demo_spec_data: dict[str, Any]) -> dict[str, Any]:
    """The demo spec with the fast generator (with_fast_generator)."""
    return with_fast_generator(shipped_demo_spec_data)


@pytest.fixture
def write_spec(tmp_path: Path) -> Callable[[dict[str, Any], str], Path]:
    """Write a spec dict to a YAML file under tmp_path and return its path."""

    def write(data: dict[str, Any], name: str = "spec.yaml") -> Path:
        path = tmp_path / "datasets" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        return path

    return write


def _fresh_database(admin_url: str, service: str) -> Iterator[str]:
    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"synth_test_{uuid.uuid4().hex[:10]}"
    try:
        with engine.connect() as conn:
            conn.execute(sa.text(f"CREATE DATABASE {name}"))
    except sa.exc.OperationalError as exc:
        engine.dispose()
        require_service(service, str(exc).splitlines()[0])
    url = sa.engine.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with engine.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name}"))
        engine.dispose()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """URL of a fresh, empty PostgreSQL database on 127.0.0.1:5432, dropped after the test."""
    yield from _fresh_database(POSTGRES_ADMIN_URL, "PostgreSQL (127.0.0.1:5432, trust auth)")


@pytest.fixture
def mariadb_url() -> Iterator[str]:
    """URL of a fresh, empty MariaDB database on 127.0.0.1:3306, dropped after the test."""
    yield from _fresh_database(MARIADB_ADMIN_URL, "MariaDB (127.0.0.1:3306, root, empty password)")


@dataclass
class MotoServer:
    url: str
    process: subprocess.Popen


MOTO_START_SECONDS = 300  # a generous bound: moto's import alone takes seconds, more on a loaded machine


@pytest.fixture
def rabbitmq_url() -> str:
    """The RabbitMQ broker on 127.0.0.1:5672 (guest/guest), as a Celery broker URL."""
    try:
        socket.create_connection(("127.0.0.1", 5672), timeout=5).close()
    except OSError as exc:
        require_service("RabbitMQ (127.0.0.1:5672, guest/guest)", str(exc))
    return "pyamqp://guest:guest@127.0.0.1:5672//"


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoServer]:
    """A real S3 endpoint: moto's server mode in its own process on loopback, one per module. Waits until
    it answers (or exits, or MOTO_START_SECONDS pass: then the test fails with its output)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = tempfile.TemporaryFile()
    process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                               stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + MOTO_START_SECONDS
    while True:
        try:
            urllib.request.urlopen(url + "/moto-api/", timeout=30)
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                log.seek(0)
                pytest.fail(f"moto server did not start on {url}: {log.read().decode(errors='replace')[-2000:]}")
            time.sleep(0.1)
    try:
        yield MotoServer(url, process)
    finally:
        process.terminate()
        process.wait(timeout=60)
        log.close()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """Dummy credentials through the standard chain only (no shared config or profile of the machine);
    returns the secret key, which must never show up anywhere."""
    secret = "dummy-secret-that-must-never-show"
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": secret,
                        "AWS_DEFAULT_REGION": "us-east-1", "AWS_CONFIG_FILE": str(tmp_path / "none"),
                        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none")}.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    return secret

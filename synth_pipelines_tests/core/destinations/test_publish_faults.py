"""Fault injection: a publisher killed (SIGKILL, no clean-up) at every step of a publish, for every
destination (a local folder, S3 over HTTP on moto's server, PostgreSQL, MariaDB), then the publish
run again; and concurrent publishers racing for the same release or for LATEST.

The invariant after every case: no partial release is visible to a reader, the release published
before is neither lost nor changed, and after the re-run the new release is whole and verified,
LATEST (or the view) names the newest release and no leftover of the dead publisher remains."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from synth_pipelines.core import publish as local_publish
from synth_pipelines.core.destinations import ReleaseExistsError
from synth_pipelines.core.destinations import s3 as s3_publish
from synth_pipelines.core.destinations import sql as sql_publish
from synth_pipelines.core.publish import CRASH_AT_ENV, file_sha256, publish_local
from synth_pipelines.core.releases import list_releases

DATASET, RELEASE, OLD, NEW = "demo_loans", "features_v1", "2026-11-01", "2026-11-02"
BUCKET, PREFIX = "fault-releases", "ml"
VERSION = f"{PREFIX}/{DATASET}/{RELEASE}/"
OLD_ROWS, NEW_ROWS = 150, 200  # the view's row count tells which release it shows
MULTIPART = "s3.mid_multipart_upload"  # killed by the client between two parts of the data upload


def killed_at(step: str, publish: Callable[[], Any], client_hook: Callable[[], None] | None = None) -> None:
    """Run `publish` in a forked child that SIGKILLs itself at `step`; the step must be reached."""

    def child() -> None:
        os.environ[CRASH_AT_ENV] = step
        if client_hook:
            client_hook()
        publish()
        os._exit(0)

    process = multiprocessing.get_context("fork").Process(target=child)
    process.start()
    process.join(120)
    assert process.exitcode == -signal.SIGKILL, f"the publish did not reach {step} (exit {process.exitcode})"


def rerun(publish: Callable[[], Any]) -> None:
    try:
        publish()
    except ReleaseExistsError:  # killed after its commit point: the release is there already
        pass


@pytest.fixture
def inputs(make_features, qa_files, tmp_path) -> dict[str, Any]:
    """Two releases' features, the QA report files, and a lookup table published with each release
    (on MySQL/MariaDB the lookup table is renamed into place before the release table)."""
    lookup = tmp_path / "snapshot" / "branches.parquet"
    lookup.parent.mkdir()
    pq.write_table(pa.table({"branch_id": [1, 2, 3], "city": ["Basel", "Bern", "Chur"]}), lookup)
    return {"old": make_features("old", rows=OLD_ROWS, seed=1), "new": make_features("new", rows=NEW_ROWS, seed=2),
            "attachments": qa_files, "lookups": {"branches": lookup}}


def common(inputs: dict[str, Any], snapshot_id: str) -> dict[str, Any]:
    features = inputs["old" if snapshot_id == OLD else "new"]
    return {"features_path": features, "attachments": inputs["attachments"], "dataset": DATASET,
            "manifest": {"dataset": DATASET, "release_name": RELEASE, "created_at": "2026-11-24T08:00:00+00:00",
                         "rows": pq.ParquetFile(features).metadata.num_rows, "source": {"snapshot_id": snapshot_id}},
            "release_name": RELEASE, "snapshot_id": snapshot_id, "rows": pq.ParquetFile(features).metadata.num_rows,
            "lookups": inputs["lookups"]}


# --- local folder ----------------------------------------------------------------------------------


def local_releases(root: Path) -> dict[str, str]:
    """snapshot -> data SHA-256 of every release a reader lists, each checked against its manifest."""
    found = {}
    for release in list_releases(root, DATASET):
        manifest = json.loads((release.path / "manifest.json").read_text())
        for name, entry in manifest["files"].items():
            assert file_sha256(release.path / name) == entry["sha256"]
        assert {p.name for p in inputs_attachments(release.path)} == {"qa_report.json", "qa_report.html",
                                                                      "qa_report.pdf"}
        found[release.snapshot_id] = manifest["files"]["data/part-00000.parquet"]["sha256"]
    return found


def inputs_attachments(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if p.name.startswith("qa_report.")]


@pytest.mark.parametrize("step", local_publish.CRASH_POINTS)
def test_local_publish_killed_at_each_step(step, inputs, tmp_path) -> None:
    root = tmp_path / "releases"

    def publish(snapshot_id: str = NEW, **kwargs: Any) -> Any:
        return publish_local(**common(inputs, snapshot_id), root=root, **kwargs)

    publish(OLD)
    before = local_releases(root)
    killed_at(step, publish)
    after_kill = local_releases(root)
    assert after_kill.items() >= before.items()  # nothing lost or changed
    assert set(after_kill) in ({OLD}, {OLD, NEW})  # and the new release whole or absent

    rerun(lambda: publish(stale_after=timedelta(0)))
    assert local_releases(root) == {OLD: before[OLD], NEW: file_sha256(inputs["new"])}
    version = root / DATASET / RELEASE
    assert (version / "LATEST").read_text().strip() == f"snapshot={NEW}"
    assert sorted(p.name for p in version.iterdir()) == ["LATEST", f"snapshot={OLD}", f"snapshot={NEW}"]
    assert [r.snapshot_id for r in list_releases(root) if r.latest] == [NEW]


def test_local_race_for_the_same_release_keeps_the_winner_whole(inputs, tmp_path, monkeypatch) -> None:
    root = tmp_path / "releases"
    paused, go = threading.Event(), threading.Event()

    def pause_first(step: str) -> None:  # publisher A stops with its release staged, before the rename
        if step == "local.manifest_written" and threading.current_thread().name == "A":
            paused.set()
            go.wait(30)

    monkeypatch.setattr(local_publish, "crash_point", pause_first)
    outcome: dict[str, Any] = {}

    def run_a() -> None:
        try:
            outcome["a"] = publish_local(**common(inputs, NEW), root=root)
        except ReleaseExistsError as exc:
            outcome["a"] = exc

    a = threading.Thread(target=run_a, name="A")
    a.start()
    assert paused.wait(30)
    publish_local(**{**common(inputs, NEW), "features_path": inputs["old"], "rows": OLD_ROWS}, root=root)  # B wins
    go.set()
    a.join(30)
    assert isinstance(outcome["a"], ReleaseExistsError)
    assert local_releases(root) == {NEW: file_sha256(inputs["old"])}  # B's release, whole
    assert not list((root / DATASET / RELEASE).glob(".staging-*"))


def test_local_latest_never_moves_back_when_publishers_race(inputs, tmp_path, monkeypatch) -> None:
    root = tmp_path / "releases"
    paused, go = threading.Event(), threading.Event()

    def pause_older(step: str) -> None:  # the older snapshot's publisher stops between rename and LATEST
        if step == "local.renamed" and threading.current_thread().name == "older":
            paused.set()
            go.wait(30)

    monkeypatch.setattr(local_publish, "crash_point", pause_older)
    older = threading.Thread(target=lambda: publish_local(**common(inputs, OLD), root=root), name="older")
    older.start()
    assert paused.wait(30)
    publish_local(**common(inputs, NEW), root=root)
    go.set()
    older.join(30)
    assert (root / DATASET / RELEASE / "LATEST").read_text().strip() == f"snapshot={NEW}"


# --- S3 over HTTP (moto's server mode) -------------------------------------------------------------


@pytest.fixture
def s3(moto, aws_env) -> Iterator[Any]:
    client = s3_publish.s3_client(endpoint_url=moto.url)
    client.create_bucket(Bucket=BUCKET)
    yield client
    for upload in client.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []):
        client.abort_multipart_upload(Bucket=BUCKET, Key=upload["Key"], UploadId=upload["UploadId"])
    for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        client.delete_object(Bucket=BUCKET, Key=item["Key"])
    client.delete_bucket(Bucket=BUCKET)


def s3_releases(client: Any, tmp_path: Path) -> dict[str, str]:
    """snapshot -> data SHA-256 of every release a reader lists, each read back and verified."""
    found = {}
    for release in s3_publish.list_s3_releases(client, BUCKET, PREFIX, DATASET):
        manifest, files = s3_publish.read_s3_release(client, BUCKET, PREFIX, DATASET, RELEASE,
                                                     tmp_path / "read" / release.snapshot_id, release.snapshot_id)
        assert set(files) == {"data/part-00000.parquet", "lookups/branches.parquet", "qa_report.json",
                              "qa_report.html", "qa_report.pdf"}
        found[release.snapshot_id] = manifest["files"]["data/part-00000.parquet"]["sha256"]
    return found


def s3_keys(client: Any) -> list[str]:
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
    return sorted(item["Key"] for page in pages for item in page.get("Contents", []))


def committed_keys(client: Any) -> list[str]:
    """LATEST, the manifests and the objects the manifests name: all a finished bucket should hold."""
    keys = [VERSION + "LATEST"]
    for release in s3_publish.list_s3_releases(client, BUCKET, PREFIX, DATASET):
        final = f"{VERSION}snapshot={release.snapshot_id}/"
        keys += [final + "manifest.json", *(final + o["key"] for o in release.manifest["objects"].values())]
    return sorted(keys)


@pytest.mark.parametrize("step", [*s3_publish.CRASH_POINTS, MULTIPART])
def test_s3_publish_killed_at_each_step(step, s3, moto, inputs, tmp_path, make_features) -> None:
    from boto3.s3.transfer import TransferConfig

    if step == MULTIPART:  # ~12 MB of random bytes: three 5 MiB parts
        import numpy as np
        import pyarrow as pa

        values = np.random.default_rng(0).random(1_500_000)
        inputs = {**inputs, "new": make_features("big", table=pa.table({"v": values}))}
    small_parts = TransferConfig(multipart_threshold=5 * 2**20, multipart_chunksize=5 * 2**20, max_concurrency=1)

    def publish(snapshot_id: str = NEW, client: Any = None, **kwargs: Any) -> Any:
        return s3_publish.publish_s3(**common(inputs, snapshot_id), bucket=BUCKET, prefix=PREFIX,
                                     endpoint_url=moto.url, client=client, transfer_config=small_parts, **kwargs)

    publish(OLD)
    before = s3_releases(s3, tmp_path)
    if step == MULTIPART:
        def kill_after_first_part(**_: Any) -> None:
            os.kill(os.getpid(), signal.SIGKILL)

        def child_publish() -> None:
            client = s3_publish.s3_client(endpoint_url=moto.url)
            client.meta.events.register("after-call.s3.UploadPart", kill_after_first_part)
            publish(client=client)

        killed_at("none", child_publish)
        assert s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads")  # the dead upload is still open
    else:
        killed_at(step, publish)
    after_kill = s3_releases(s3, tmp_path)
    assert after_kill.items() >= before.items()
    assert set(after_kill) in ({OLD}, {OLD, NEW})

    rerun(lambda: publish(stale_after=timedelta(0)))
    assert s3_releases(s3, tmp_path) == {OLD: before[OLD], NEW: file_sha256(inputs["new"])}
    assert s3.get_object(Bucket=BUCKET, Key=VERSION + "LATEST")["Body"].read() == f"snapshot={NEW}\n".encode()
    assert s3_keys(s3) == committed_keys(s3)  # the dead attempt's objects were swept
    assert s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []


def test_s3_race_loser_never_touches_the_winners_release(s3, moto, inputs, tmp_path) -> None:
    """The race of issue 13: A stops after two of its objects went up, B publishes the same release
    whole, A goes on. A loses at the manifest and removes only its own attempt's objects."""
    paused, go = threading.Event(), threading.Event()
    uploads = []
    slow = s3_publish.s3_client(endpoint_url=moto.url)

    def pause_after_two(**_: Any) -> None:
        uploads.append(1)
        if len(uploads) == 2:
            paused.set()
            go.wait(30)

    slow.meta.events.register("after-call.s3.PutObject", pause_after_two)
    outcome: dict[str, Any] = {}

    def run_a() -> None:
        try:
            outcome["a"] = s3_publish.publish_s3(**common(inputs, NEW), bucket=BUCKET, prefix=PREFIX, client=slow)
        except ReleaseExistsError as exc:
            outcome["a"] = exc

    a = threading.Thread(target=run_a)
    a.start()
    assert paused.wait(30)
    winner = {**common(inputs, NEW), "features_path": inputs["old"], "rows": OLD_ROWS}
    s3_publish.publish_s3(**winner, bucket=BUCKET, prefix=PREFIX, endpoint_url=moto.url)
    go.set()
    a.join(60)
    assert isinstance(outcome["a"], ReleaseExistsError)
    assert s3_releases(s3, tmp_path) == {NEW: file_sha256(inputs["old"])}  # B's release, whole and verified
    assert s3_keys(s3) == committed_keys(s3)  # nothing of A's left, nothing of B's gone


def test_s3_latest_never_moves_back_when_publishers_race(s3, moto, inputs) -> None:
    """The older snapshot's publisher reads LATEST, stops before writing it, the newer one publishes
    whole; the older one's conditional write fails, it re-reads and leaves LATEST on the newest."""
    paused, go = threading.Event(), threading.Event()
    slow = s3_publish.s3_client(endpoint_url=moto.url)

    def pause_before_latest(params: dict[str, Any], **_: Any) -> None:
        if params.get("Key", "").endswith("/LATEST") and not paused.is_set():
            paused.set()
            go.wait(30)

    slow.meta.events.register("before-parameter-build.s3.PutObject", pause_before_latest)
    older = threading.Thread(target=lambda: s3_publish.publish_s3(**common(inputs, OLD), bucket=BUCKET,
                                                                   prefix=PREFIX, client=slow))
    older.start()
    assert paused.wait(30)
    s3_publish.publish_s3(**common(inputs, NEW), bucket=BUCKET, prefix=PREFIX, endpoint_url=moto.url)
    go.set()
    older.join(60)
    assert s3.get_object(Bucket=BUCKET, Key=VERSION + "LATEST")["Body"].read() == f"snapshot={NEW}\n".encode()
    assert [r.snapshot_id for r in s3_publish.list_s3_releases(s3, BUCKET, PREFIX) if r.latest] == [NEW]


# --- PostgreSQL and MariaDB ------------------------------------------------------------------------


@pytest.fixture(params=["postgresql", "mariadb"])
def sql_url(request: pytest.FixtureRequest) -> str:
    return request.getfixturevalue("postgres_url" if request.param == "postgresql" else "mariadb_url")


def sql_releases(url: str) -> tuple[dict[str, int], int | None, set[str]]:
    """(registered table -> rows, each checked against its table; rows the view shows; other tables)."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            inspector = sa.inspect(conn)
            tables, views = set(inspector.get_table_names()), set(inspector.get_view_names())
            registered = dict(conn.execute(sa.text("SELECT release_table, row_count FROM synth_releases")).all()
                              if "synth_releases" in tables else [])
            lookups = {sql_publish.lookup_table_name(table, "branches") for table in registered}
            for table, rows in registered.items():
                assert table in tables and conn.execute(sa.text(f"SELECT COUNT(*) FROM {table}")).scalar() == rows
                lookup = sql_publish.lookup_table_name(table, "branches")
                assert conn.execute(sa.text(f"SELECT COUNT(*) FROM {lookup}")).scalar() == 3
            shown = conn.execute(sa.text(f"SELECT COUNT(*) FROM {RELEASE}")).scalar() if RELEASE in views else None
            return registered, shown, tables - set(registered) - lookups - {"synth_releases", "synth_release_files"}
    finally:
        engine.dispose()


@pytest.mark.parametrize("step", sql_publish.CRASH_POINTS)
def test_sql_publish_killed_at_each_step(step, sql_url, inputs) -> None:
    def publish(snapshot_id: str = NEW) -> Any:
        return sql_publish.publish_sql(**common(inputs, snapshot_id), url=sql_url, schema=None,
                                       source_url="sqlite:////srv/source/bank.sqlite")

    publish(OLD)
    old_table, new_table = (sql_publish.release_table_name(RELEASE, s) for s in (OLD, NEW))
    killed_at(step, publish)
    registered, shown, _ = sql_releases(sql_url)  # every registered release is whole (checked inside)
    assert registered in ({old_table: OLD_ROWS}, {old_table: OLD_ROWS, new_table: NEW_ROWS})
    assert shown in (OLD_ROWS, NEW_ROWS) and (shown == OLD_ROWS or new_table in registered)

    rerun(publish)
    assert sql_releases(sql_url) == ({old_table: OLD_ROWS, new_table: NEW_ROWS}, NEW_ROWS, set())


def test_sql_race_for_the_same_release_has_one_winner(sql_url, inputs, monkeypatch) -> None:
    paused, go = threading.Event(), threading.Event()

    def pause_first(step: str) -> None:  # A holds the schema's lock with its table loaded
        if step == "sql.loaded" and threading.current_thread().name == "A":
            paused.set()
            go.wait(30)

    monkeypatch.setattr(sql_publish, "crash_point", pause_first)
    outcomes: dict[str, Any] = {}

    def run(name: str) -> None:
        try:
            outcomes[name] = sql_publish.publish_sql(**common(inputs, NEW), url=sql_url, schema=None,
                                                     source_url="sqlite:////srv/source/bank.sqlite")
        except ReleaseExistsError as exc:
            outcomes[name] = exc

    a, b = threading.Thread(target=run, args=("A",), name="A"), threading.Thread(target=run, args=("B",), name="B")
    a.start()
    assert paused.wait(30)
    b.start()  # waits for the lock
    b.join(1)
    assert b.is_alive()
    go.set()
    a.join(60)
    b.join(60)
    assert not isinstance(outcomes["A"], Exception) and isinstance(outcomes["B"], ReleaseExistsError)
    table = sql_publish.release_table_name(RELEASE, NEW)
    assert sql_releases(sql_url) == ({table: NEW_ROWS}, NEW_ROWS, set())


# --- `run` again after a kill past the commit: found before training, pointer repaired --------------


@pytest.mark.parametrize("kind", ["local", "s3", "postgresql", "mariadb"])
def test_run_again_finds_the_release_and_repairs_its_pointer(kind, request, inputs, tmp_path, storage_home) -> None:
    """What `synth-pipelines run` asks before training: the release a killed publish committed is found
    (so nothing is retrained) and LATEST or the view, left on the older release, is moved."""
    from synth_pipelines.core.destinations import existing_release
    from synth_pipelines.spec import LocalDestination, S3Destination, SqlDestination

    source = "sqlite:////srv/source/bank.sqlite"
    if kind == "local":
        destination, step = LocalDestination(path=str(tmp_path / "releases")), "local.renamed"
    elif kind == "s3":
        moto, client = request.getfixturevalue("moto"), request.getfixturevalue("s3")
        destination, step = S3Destination(kind="s3", bucket=BUCKET, prefix=PREFIX, endpoint_url=moto.url), \
            "s3.manifest_written"
    else:
        url = request.getfixturevalue("postgres_url" if kind == "postgresql" else "mariadb_url")
        destination, step = SqlDestination(kind="sql", url=url), \
            "sql.registered" if kind == "mariadb" else "sql.view_pointed"

    def publish(snapshot_id: str) -> Any:
        if kind == "local":
            return publish_local(**common(inputs, snapshot_id), root=destination.root())
        if kind == "s3":
            return s3_publish.publish_s3(**common(inputs, snapshot_id), bucket=BUCKET, prefix=PREFIX,
                                         endpoint_url=destination.endpoint_url)
        return sql_publish.publish_sql(**common(inputs, snapshot_id), url=destination.url, schema=None,
                                       source_url=source)

    def pointer() -> str:
        """What LATEST (or the view) points at."""
        if kind == "local":
            return (destination.root() / DATASET / RELEASE / "LATEST").read_text()
        if kind == "s3":
            return client.get_object(Bucket=BUCKET, Key=VERSION + "LATEST")["Body"].read().decode()
        return f"snapshot={NEW}\n" if sql_releases(destination.url)[1] == NEW_ROWS else "the older release"

    publish(OLD)
    killed_at(step, lambda: publish(NEW))
    assert pointer() != f"snapshot={NEW}\n"  # left on the older release
    found = existing_release(destination, source_url=source, dataset=DATASET, release_name=RELEASE,
                             snapshot_id=NEW)
    if kind == "postgresql":  # one transaction: the kill before its commit left no release
        assert found is None
        return
    assert found and NEW.replace("-", "_" if kind == "mariadb" else "-") in found
    assert pointer() == f"snapshot={NEW}\n"
    assert existing_release(destination, source_url=source, dataset=DATASET, release_name=RELEASE,
                            snapshot_id="2026-12-31") is None

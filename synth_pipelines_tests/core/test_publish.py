"""Stage 7: local releases are complete, verifiable, immutable, atomic, and LATEST names the newest."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from synth_pipelines.core.publish import Release, ReleaseExistsError, publish_local, release_folder

DATASET, RELEASE = "demo_loans", "features_v1"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _tree(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): _sha256(p) for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def inputs(tmp_path: Path) -> dict[str, Path]:
    folder = tmp_path / "work"
    folder.mkdir()
    features = folder / "features.parquet"
    pq.write_table(pa.table({"loan_id": list(range(50)), "amount": [float(i) * 10 for i in range(50)]}), features)
    report_json = folder / "qa_report.json"
    report_json.write_text(json.dumps({"passed": True, "marginal_similarity": 0.93}))
    report_html = folder / "qa_report.html"
    report_html.write_text("<html><body>QA passed</body></html>")
    return {"features": features, "json": report_json, "html": report_html}


def _publish(inputs: dict[str, Path], root: Path, snapshot_id: str, *, features: Path | None = None,
             attachments: list[Path] | None = None, rows: int = 50) -> Release:
    return publish_local(
        features_path=features or inputs["features"],
        attachments=[inputs["json"], inputs["html"]] if attachments is None else attachments,
        manifest={"dataset": DATASET, "feature_version": 1, "created_at": datetime(2026, 1, 2, tzinfo=timezone.utc)},
        root=root, dataset=DATASET, release_name=RELEASE, snapshot_id=snapshot_id, rows=rows)


def test_publish_writes_a_complete_verifiable_release(inputs: dict[str, Path], tmp_path: Path) -> None:
    root = tmp_path / "releases"
    release = _publish(inputs, root, "20260101T000000Z")
    folder = root / DATASET / RELEASE / "snapshot=20260101T000000Z"
    assert release.path == folder == release_folder(root, DATASET, RELEASE, "20260101T000000Z")
    assert release.data_path == folder / "data" / "part-00000.parquet"
    assert release.manifest_path == folder / "manifest.json"
    assert release.rows == 50 and release.name == RELEASE
    assert sorted(_tree(folder)) == ["data/part-00000.parquet", "manifest.json", "qa_report.html", "qa_report.json"]

    assert release.data_path.read_bytes() == inputs["features"].read_bytes()
    assert pq.read_table(release.data_path).num_rows == 50
    assert (folder / "qa_report.json").read_bytes() == inputs["json"].read_bytes()
    assert (folder / "qa_report.html").read_bytes() == inputs["html"].read_bytes()

    manifest = json.loads(release.manifest_path.read_text())
    assert manifest["files"] == {"data/part-00000.parquet": {"sha256": _sha256(release.data_path), "rows": 50}}
    assert manifest["files"]["data/part-00000.parquet"]["sha256"] == _sha256(inputs["features"])
    assert manifest["release"] == f"{RELEASE}/snapshot=20260101T000000Z"
    assert manifest["dataset"] == DATASET and manifest["feature_version"] == 1
    assert manifest["created_at"].startswith("2026-01-02")  # non-JSON values are written as text

    version = root / DATASET / RELEASE
    assert (version / "LATEST").read_text().strip() == "snapshot=20260101T000000Z"
    assert sorted(p.name for p in version.iterdir()) == ["LATEST", "snapshot=20260101T000000Z"]


def test_a_folder_attachment_travels_whole(inputs: dict[str, Path], tmp_path: Path) -> None:
    """The QA report's Data Docs (a folder, gx/) land next to the report under the folder's name."""
    docs = tmp_path / "work" / "gx"
    (docs / "uncommitted" / "data_docs").mkdir(parents=True)
    (docs / "uncommitted" / "data_docs" / "index.html").write_text("<html>docs</html>")
    (docs / "suite.json").write_text("{}")
    release = _publish(inputs, tmp_path / "releases", "20260101T000000Z",
                       attachments=[inputs["html"], docs])
    assert sorted(_tree(release.path)) == ["data/part-00000.parquet", "gx/suite.json",
                                           "gx/uncommitted/data_docs/index.html", "manifest.json", "qa_report.html"]
    assert (release.path / "gx/uncommitted/data_docs/index.html").read_text() == "<html>docs</html>"


def test_release_is_never_overwritten(inputs: dict[str, Path], tmp_path: Path) -> None:
    root = tmp_path / "releases"
    first = _publish(inputs, root, "20260101T000000Z")
    before = _tree(first.path)
    latest_before = (first.path.parent / "LATEST").read_bytes()

    other = tmp_path / "other.parquet"
    pq.write_table(pa.table({"loan_id": [1], "amount": [-1.0]}), other)
    with pytest.raises(ReleaseExistsError, match="immutable"):
        _publish(inputs, root, "20260101T000000Z", features=other, rows=1)
    assert issubclass(ReleaseExistsError, FileExistsError)
    assert _tree(first.path) == before
    assert (first.path.parent / "LATEST").read_bytes() == latest_before
    assert sorted(p.name for p in first.path.parent.iterdir()) == ["LATEST", "snapshot=20260101T000000Z"]


@pytest.mark.parametrize("broken", ["attachment", "features"])
def test_failed_publish_leaves_nothing(inputs: dict[str, Path], tmp_path: Path, broken: str) -> None:
    root = tmp_path / "releases"
    missing = tmp_path / "work" / "does_not_exist.html"
    kwargs = ({"attachments": [inputs["json"], missing]} if broken == "attachment"
              else {"features": tmp_path / "work" / "missing.parquet"})
    with pytest.raises(FileNotFoundError):
        _publish(inputs, root, "20260101T000000Z", **kwargs)
    version = root / DATASET / RELEASE
    assert not (version / "snapshot=20260101T000000Z").exists()
    leftovers = [p.name for p in version.iterdir()] if version.exists() else []
    assert not [name for name in leftovers if name.startswith(".staging-")]
    assert leftovers == []  # no LATEST either
    # After the failure, the same release can still be published.
    release = _publish(inputs, root, "20260101T000000Z")
    assert release.data_path.is_file()


def test_failed_publish_keeps_earlier_releases_and_latest(inputs: dict[str, Path], tmp_path: Path) -> None:
    root = tmp_path / "releases"
    good = _publish(inputs, root, "20260101T000000Z")
    before = _tree(root)
    with pytest.raises(FileNotFoundError):
        _publish(inputs, root, "20260301T000000Z", attachments=[tmp_path / "nope.json"])
    assert _tree(root) == before
    assert (good.path.parent / "LATEST").read_text().strip() == "snapshot=20260101T000000Z"


def test_latest_points_at_the_newest_snapshot(inputs: dict[str, Path], tmp_path: Path) -> None:
    root = tmp_path / "releases"
    version = root / DATASET / RELEASE
    _publish(inputs, root, "20260201T000000Z")
    assert (version / "LATEST").read_text().strip() == "snapshot=20260201T000000Z"
    # A backfill of an older snapshot is published but does not move LATEST back.
    older = _publish(inputs, root, "20260101T000000Z")
    assert older.data_path.is_file()
    assert (version / "LATEST").read_text().strip() == "snapshot=20260201T000000Z"
    _publish(inputs, root, "20260301T120000Z")
    assert (version / "LATEST").read_text().strip() == "snapshot=20260301T120000Z"
    assert sorted(p.name for p in version.iterdir()) == [
        "LATEST", "snapshot=20260101T000000Z", "snapshot=20260201T000000Z", "snapshot=20260301T120000Z"]


def test_versions_have_their_own_latest(inputs: dict[str, Path], tmp_path: Path) -> None:
    root = tmp_path / "releases"
    _publish(inputs, root, "20260201T000000Z")
    publish_local(features_path=inputs["features"], attachments=[], manifest={}, root=root, dataset=DATASET,
                  release_name="features_v2", snapshot_id="20260101T000000Z", rows=50)
    assert (root / DATASET / "features_v1" / "LATEST").read_text().strip() == "snapshot=20260201T000000Z"
    assert (root / DATASET / "features_v2" / "LATEST").read_text().strip() == "snapshot=20260101T000000Z"


def test_a_stale_latest_is_derived_right_by_readers_and_repaired_by_the_next_publish(inputs, tmp_path) -> None:
    """Issue 13: a publish killed between its rename and LATEST left LATEST on the older release."""
    from synth_pipelines.core.releases import list_releases

    root = tmp_path / "releases"
    for snapshot_id in ("20260101T000000Z", "20260201T000000Z"):
        publish_local(features_path=inputs["features"], attachments=[], root=root, dataset=DATASET,
                      release_name=RELEASE, snapshot_id=snapshot_id, rows=50,
                      manifest={"dataset": DATASET, "release_name": RELEASE, "rows": 50, "created_at": "2026-01-02",
                                "source": {"snapshot_id": snapshot_id}})
    latest = root / DATASET / RELEASE / "LATEST"
    latest.write_text("snapshot=20260101T000000Z\n")  # as the killed publish left it
    assert [r.snapshot_id for r in list_releases(root) if r.latest] == ["20260201T000000Z"]
    with pytest.raises(ReleaseExistsError):  # `run` again: refused, but LATEST is repaired
        _publish(inputs, root, "20260201T000000Z")
    assert latest.read_text() == "snapshot=20260201T000000Z\n"


def test_staging_of_a_dead_publish_is_swept_once_old_and_a_running_ones_is_kept(inputs, tmp_path) -> None:
    import os
    import time

    version = tmp_path / "releases" / DATASET / RELEASE
    dead, running = version / ".staging-20251201T000000Z-dead0000", version / ".staging-20260301T000000Z-live0000"
    for folder in (dead, running):
        (folder / "data").mkdir(parents=True)
        (folder / "data" / "part-00000.parquet").write_bytes(b"half written")
    two_days_ago = time.time() - 2 * 86400
    for path in (dead, dead / "data", dead / "data" / "part-00000.parquet"):
        os.utime(path, (two_days_ago, two_days_ago))
    _publish(inputs, tmp_path / "releases", "20260101T000000Z")  # sweeps staging older than a day
    assert not dead.exists() and (running / "data" / "part-00000.parquet").is_file()

"""One release holds every table of a multi-table synthesis, published together and never replaced."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from synth_pipelines.core.multitable import plan_tables
from synth_pipelines.core.multitable_publish import publish_tables_local
from synth_pipelines.core.publish import ReleaseExistsError
from synth_pipelines_tests.core.multitable_fixture import SPECS, family_tables

PLANS = plan_tables(SPECS)


def publish(root: Path, tables=None, snapshot: str = "20260101T000000Z"):
    return publish_tables_local(tables or family_tables(customers=40), PLANS, {"dataset": "families"}, root=root,
                                dataset="families", release_name="features_v1", snapshot_id=snapshot)


def test_every_table_lands_in_one_release_with_its_keys(tmp_path: Path) -> None:
    tables = family_tables(customers=40)
    release = publish(tmp_path, tables)
    manifest = json.loads(release.manifest_path.read_text())
    assert set(manifest["tables"]) == {"customers", "accounts", "payments", "branches"}
    for name, frame in tables.items():
        read = pq.read_table(release.path / "data" / name / "part-00000.parquet").to_pandas()
        assert len(read) == len(frame) == manifest["tables"][name]["rows"]
        assert [c["name"] for c in manifest["tables"][name]["schema"]] == list(frame.columns)
    accounts = manifest["tables"]["accounts"]
    assert accounts["foreign_keys"] == {"branch_id": "branches.branch_id", "customer_id": "customers.customer_id"}
    assert accounts["parent"] == "customers" and accounts["order_by"] == "opened"
    assert manifest["tables"]["branches"]["lookup"] is True
    assert (release.path.parent / "LATEST").read_text().strip() == "snapshot=20260101T000000Z"
    assert not list(release.path.parent.glob(".staging-*"))


def test_a_release_is_never_replaced_and_a_failed_publish_leaves_nothing(tmp_path: Path) -> None:
    release = publish(tmp_path)
    before = release.manifest_path.read_bytes()
    with pytest.raises(ReleaseExistsError):
        publish(tmp_path)
    assert release.manifest_path.read_bytes() == before
    broken = {**family_tables(customers=10), "payments": object()}  # not a frame: fails mid-publish
    with pytest.raises(Exception):
        publish(tmp_path, broken, snapshot="20260102T000000Z")
    version = release.path.parent
    assert not (version / "snapshot=20260102T000000Z").exists() and not list(version.glob(".staging-*"))
    assert (version / "LATEST").read_text().strip() == "snapshot=20260101T000000Z"

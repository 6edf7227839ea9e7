"""A multi-table release on every destination kind: a local folder, S3 over HTTP (moto's server),
PostgreSQL and MariaDB. Each is read back as a reader would (the listing, the manifest, the rows),
declares its keys, is never replaced, and a publish killed midway leaves nothing published."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa

from synth_pipelines.core.destinations import ReleaseExistsError
from synth_pipelines.core.destinations.s3 import list_s3_releases, read_s3_release, s3_client
from synth_pipelines.core.multitable import plan_tables
from synth_pipelines.core.multitable_publish import publish_tables
from synth_pipelines.core.publish import file_sha256
from synth_pipelines.core.releases import list_destination_releases
from synth_pipelines.spec import LocalDestination, S3Destination, SqlDestination
from synth_pipelines_tests.core.destinations.test_publish_faults import killed_at
from synth_pipelines_tests.core.multitable_fixture import SPECS, family_tables

PLANS = plan_tables(SPECS)
DATASET, RELEASE, SNAPSHOT = "families_tables", "features_v1", "2026-11-24"
SOURCE = "sqlite:////srv/source/bank.sqlite"
# Steps before each kind's commit: before, while and after the tables went out.
BEFORE_COMMIT = {"local": ("local.staging_created", "local.data_copied", "local.manifest_written"),
                 "s3": ("s3.checked", "s3.first_object_uploaded", "s3.objects_uploaded"),
                 "sql": ("sql.loaded", "sql.renamed#2", "sql.renamed#4")}


def manifest_header() -> dict[str, Any]:
    return {"dataset": DATASET, "release_name": RELEASE, "created_at": "2026-11-24T08:00:00+00:00",
            "source": {"snapshot_id": SNAPSHOT}}


@pytest.fixture(params=["local", "s3", "postgresql", "mariadb"])
def destination(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    kind = request.param
    if kind == "local":
        return LocalDestination(path=str(tmp_path / "releases"))
    if kind == "s3":
        moto = request.getfixturevalue("moto")
        request.getfixturevalue("aws_env")
        bucket = f"tables-{uuid.uuid4().hex[:12]}"  # moto runs per module: a bucket per test
        s3_client(endpoint_url=moto.url).create_bucket(Bucket=bucket)
        return S3Destination(kind="s3", bucket=bucket, prefix="ml", endpoint_url=moto.url)
    return SqlDestination(kind="sql", url=request.getfixturevalue(f"{kind.replace('postgresql', 'postgres')}_url"))


def publish(destination: Any, tables: dict[str, pd.DataFrame]) -> Any:
    return publish_tables(tables, PLANS, manifest_header(), destination, source_url=SOURCE, dataset=DATASET,
                          release_name=RELEASE, snapshot_id=SNAPSHOT)


def read_back(destination: Any, scratch: Path) -> tuple[dict[str, Any], dict[str, pd.DataFrame]] | None:
    """The published release as a reader finds it (None: no release), every file checked against the manifest."""
    if destination.kind == "sql":
        return read_sql(destination.url)
    releases = list_destination_releases(destination, DATASET)
    if not releases:
        return None
    assert [r.snapshot_id for r in releases] == [SNAPSHOT] and releases[0].latest
    if destination.kind == "local":
        folder = releases[0].path
        manifest = json.loads((folder / "manifest.json").read_text())
        for name, entry in manifest["files"].items():
            assert file_sha256(folder / name) == entry["sha256"]
    else:
        client = s3_client(endpoint_url=destination.endpoint_url)
        assert [r.rows for r in list_s3_releases(client, destination.bucket, destination.prefix)] == [releases[0].rows]
        manifest, _ = read_s3_release(client, destination.bucket, destination.prefix, DATASET, RELEASE, scratch,
                                      SNAPSHOT)  # verifies each object's SHA-256
        folder = scratch
    assert releases[0].rows == manifest["rows"] == sum(t["rows"] for t in manifest["tables"].values())
    return manifest, {name: pd.read_parquet(folder / "data" / name) for name in manifest["tables"]}


def read_sql(url: str) -> tuple[dict[str, Any], dict[str, pd.DataFrame]] | None:
    """The registered release's tables, each with its primary key and foreign keys declared and resolving."""
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            inspector = sa.inspect(conn)
            if not inspector.has_table("synth_releases"):
                return None
            row = conn.execute(sa.text("SELECT manifest, row_count FROM synth_releases")).all()
            if not row:
                return None
            (manifest, row_count), = row
            manifest = json.loads(manifest) if isinstance(manifest, str) else manifest
            assert row_count == sum(t["rows"] for t in manifest["tables"].values())
            names = manifest["destination"]["tables"]
            assert RELEASE not in inspector.get_view_names()  # a multi-table release moves no view
            for table, entry in manifest["tables"].items():
                name = names[table]
                assert inspector.get_pk_constraint(name)["constrained_columns"] == [entry["primary_key"]]
                declared = {fk["constrained_columns"][0]: f"{fk['referred_table']}.{fk['referred_columns'][0]}"
                            for fk in inspector.get_foreign_keys(name)}
                expected = {column: f"{names[target.split('.')[0]]}.{target.split('.')[1]}"
                            for column, target in entry["foreign_keys"].items()}
                assert declared == expected
                for column, target in declared.items():  # every foreign key resolves
                    parent, key = target.split(".")
                    dangling = conn.execute(sa.text(
                        f"SELECT COUNT(*) FROM {name} c LEFT JOIN {parent} p ON c.{column} = p.{key} "
                        f"WHERE c.{column} IS NOT NULL AND p.{key} IS NULL")).scalar()
                    assert dangling == 0
            frames = {table: pd.read_sql_query(sa.text(f"SELECT * FROM {names[table]}"), conn)  # dates as dates
                      for table in manifest["tables"]}
            return manifest, frames
    finally:
        engine.dispose()


def same_rows(read: pd.DataFrame, published: pd.DataFrame, key: str) -> None:
    pd.testing.assert_frame_equal(read.sort_values(key).reset_index(drop=True),
                                  published.sort_values(key).reset_index(drop=True), check_dtype=False)


def test_every_table_published_together_with_its_keys(destination, tmp_path) -> None:
    tables = family_tables(customers=40)
    release = publish(destination, tables)
    assert release.rows == {name: len(frame) for name, frame in tables.items()}
    manifest, read = read_back(destination, tmp_path / "read")
    assert set(manifest["tables"]) == set(PLANS)
    for name, frame in tables.items():
        entry = manifest["tables"][name]
        same_rows(read[name], frame, PLANS[name].primary_key)
        assert entry["rows"] == len(frame) and [c["name"] for c in entry["schema"]] == list(frame.columns)
        assert entry["primary_key"] == PLANS[name].primary_key
    assert manifest["tables"]["accounts"]["foreign_keys"] == {"customer_id": "customers.customer_id",
                                                              "branch_id": "branches.branch_id"}
    assert manifest["tables"]["payments"]["foreign_keys"] == {"account_id": "accounts.account_id"}

    with pytest.raises(ReleaseExistsError):  # never replaced, also by other rows
        publish(destination, family_tables(customers=10, seed=1))
    again, read_again = read_back(destination, tmp_path / "read_again")
    assert again == manifest
    for name, frame in tables.items():
        same_rows(read_again[name], frame, PLANS[name].primary_key)


@pytest.mark.parametrize("step", range(3))
def test_a_publish_killed_midway_leaves_nothing_published(destination, step, tmp_path) -> None:
    tables = family_tables(customers=30)
    killed_at(BEFORE_COMMIT[destination.kind][step], lambda: publish(destination, tables))
    assert read_back(destination, tmp_path / "after_kill") is None
    publish(destination, tables)  # the next publish sweeps what the dead one left and goes through
    manifest, read = read_back(destination, tmp_path / "read")
    for name, frame in tables.items():
        same_rows(read[name], frame, PLANS[name].primary_key)


def test_text_keys_and_a_foreign_key_with_gaps(destination, tmp_path) -> None:
    """Text keys (VARCHAR on MariaDB, which keys no TEXT) and a foreign key that pandas holds as float
    because of a null: published typed as the key it references, the null kept."""
    tables = family_tables(customers=20)
    as_text = lambda ids: "c" + ids.astype(str)  # noqa: E731
    tables["customers"]["customer_id"] = as_text(tables["customers"]["customer_id"])
    tables["accounts"]["customer_id"] = as_text(tables["accounts"]["customer_id"])
    tables["accounts"]["branch_id"] = tables["accounts"]["branch_id"].astype(float)
    tables["accounts"].loc[0, "branch_id"] = None
    publish(destination, tables)
    manifest, read = read_back(destination, tmp_path / "read")
    schema = {c["name"]: c["type"] for c in manifest["tables"]["accounts"]["schema"]}
    assert schema["branch_id"] == "int64" and schema["customer_id"] == "string"
    accounts = read["accounts"].sort_values("account_id").reset_index(drop=True)
    assert accounts["branch_id"].isna().sum() == 1 and accounts["customer_id"].str.startswith("c").all()
    same_rows(read["customers"], tables["customers"], "customer_id")

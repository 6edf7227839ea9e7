"""The `published_features` asset publishes to the spec's destination. The asset itself (the factory's
body, with the gate and the manifest) is invoked with the outputs of its upstream stages, so the test
does not train a generator; credentials in the destination's URL or environment show up nowhere.
The demo's lookup tables (branches, products) are published verbatim from the snapshot next to the features."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from synth_pipelines.core.destinations.s3 import s3_client
from synth_pipelines.core.publish import file_sha256
from synth_pipelines.core.quality.report import PUBLISHED_FOLDER
from synth_pipelines.core.snapshot import Snapshot, TableSnapshot
from synth_pipelines.core.synthesis import Synthesizer
from synth_pipelines.orchestration.factory import QA_CHECKS, TableFile, TrainedModel, build_dataset_assets
from synth_pipelines.orchestration.resources import SynthStorage
from synth_pipelines.orchestration.runner import release_from_metadata
from synth_pipelines.spec import load_spec

SNAPSHOT = "2026-11-24"
PASSWORD = "dest-password-never-shown"  # trust auth accepts any; it must not leak anywhere


LOOKUPS = {"branches": pa.table({"branch_id": [1, 2, 3], "region": ["north", "south", "east"]}),
           "products": pa.table({"product_id": [10, 20], "product_type": ["mortgage", "personal"]})}


def lookup_snapshots(storage_home: Path) -> dict[str, TableSnapshot]:
    folder = storage_home / "snapshot"
    folder.mkdir(exist_ok=True)
    tables = {}
    for name, table in LOOKUPS.items():
        pq.write_table(table, folder / f"{name}.parquet")
        tables[name] = TableSnapshot(name, str(folder / f"{name}.parquet"), table.num_rows, table.column_names, "x")
    return tables


def publish_through_the_asset(demo_spec_data, write_spec, storage_home: Path, make_features,
                              destination: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], Path]:
    """Invoke published_features as Dagster would after QA passed for SNAPSHOT; return the release as
    the CLI reads it, the metadata's values and the features file."""
    loaded = load_spec(write_spec({**demo_spec_data, "destination": destination}))
    storage = SynthStorage(root=str(storage_home))
    features = storage.work("demo_loans", SNAPSHOT, "synthetic_features") / "features.parquet"
    features.write_bytes(make_features(rows=700).read_bytes())
    qa = storage.work("demo_loans", SNAPSHOT, "qa")
    (qa / "qa_report.json").write_text(json.dumps({"checks": [{"name": n, "passed": True} for n in QA_CHECKS]}))
    (qa / "qa_report.html").write_text("<html>QA passed</html>")
    (qa / "qa_report.pdf").write_bytes(b"%PDF-1.4\n\xe2\xe3 binary\n%%EOF\n")
    shutil.copytree(qa, qa / PUBLISHED_FOLDER)  # the published edition is what a release carries
    snapshot = Snapshot(snapshot_id=SNAPSHOT, path=str(storage_home), source="sqlite:///bank.sqlite",
                        taken_at="2026-11-24T03:00:00+00:00", fingerprint="f" * 64, tables=lookup_snapshots(storage_home))
    synthesizer = Synthesizer(plugin="bayesian_network", settings={}, seed=7, codecs=[], label="defaulted",
                              train_rows=560, training_seconds=1.0, model_path=str(storage_home / "model"))
    asset = next(a for a in build_dataset_assets(loaded)
                 if isinstance(a, dg.AssetsDefinition) and dg.AssetKey(["demo_loans", "published_features"]) in a.keys)
    # The storage resource syncs a bucket around each step (teardown_after_execution): open it as Dagster would.
    with dg.build_asset_context(partition_key=SNAPSHOT, resources={"storage": storage}) as context:
        result = asset(context, features=TableFile(SNAPSHOT, str(features), 700), snapshot=snapshot,
                       model=TrainedModel(SNAPSHOT, synthesizer))
    assert isinstance(result, dg.MaterializeResult)  # no object for the IO manager to pickle
    metadata = {key: getattr(value, "value", value) for key, value in result.metadata.items()}
    return release_from_metadata(result.metadata), metadata, features


def test_published_features_publishes_to_sql(demo_spec_data, write_spec, storage_home, make_features, postgres_url,
                                             monkeypatch) -> None:
    monkeypatch.setenv("DEST_DB_PASSWORD", PASSWORD)
    url = sa.engine.make_url(postgres_url)
    written = f"postgresql+psycopg2://{url.username}:${{DEST_DB_PASSWORD}}@{url.host}:{url.port}/{url.database}"
    release, metadata, features = publish_through_the_asset(demo_spec_data, write_spec, storage_home, make_features,
                                                            {"kind": "sql", "url": written})

    table = "features_v1_2026_11_24"
    assert release["path"] == f"postgresql+psycopg2://***@127.0.0.1:5432/{url.database}#{table}"
    assert set(metadata) == {"release", "location", "dagster/row_count", "manifest", "qa_report", "spec_hash",
                             "dagster/column_schema", "dagster/column_lineage"}
    assert metadata["dagster/row_count"] == 700
    assert metadata["manifest"].endswith(f"#synth_releases/{table}")
    engine = sa.create_engine(postgres_url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        manifest_text = conn.exec_driver_sql("SELECT manifest::text FROM synth_releases").scalar()
        rows = conn.exec_driver_sql("SELECT count(*) FROM features_v1").scalar()
        branches = conn.exec_driver_sql(f"SELECT branch_id, region FROM {table}_branches ORDER BY 1").all()
        products = conn.exec_driver_sql(f"SELECT product_id, product_type FROM {table}_products ORDER BY 1").all()
    engine.dispose()
    manifest = json.loads(manifest_text)
    assert rows == 700 and manifest["spec_hash"] == metadata["spec_hash"]
    assert [tuple(r) for r in branches] == list(zip(*LOOKUPS["branches"].to_pydict().values()))
    assert [tuple(r) for r in products] == list(zip(*LOOKUPS["products"].to_pydict().values()))
    assert manifest["destination"]["lookup_tables"] == {"branches": f"{table}_branches", "products": f"{table}_products"}
    assert manifest["files"]["lookups/branches.parquet"]["rows"] == 3
    assert manifest["spec"]["destination"]["url"].count("***") == 1 and manifest["gate"]
    assert not (storage_home / "releases").exists()  # nothing went to a local folder
    for text in (manifest_text, json.dumps(release), str(metadata)):
        assert PASSWORD not in text


def test_published_features_publishes_to_s3(demo_spec_data, write_spec, storage_home, make_features, moto,
                                            aws_env) -> None:
    client = s3_client(endpoint_url=moto.url)
    client.create_bucket(Bucket="dispatch-releases")
    release, metadata, features = publish_through_the_asset(
        demo_spec_data, write_spec, storage_home, make_features,
        {"kind": "s3", "bucket": "dispatch-releases", "prefix": "ml", "endpoint_url": moto.url})

    final = f"ml/demo_loans/features_v1/snapshot={SNAPSHOT}/"
    assert release["path"] == f"s3://dispatch-releases/{final}"
    manifest = client.get_object(Bucket="dispatch-releases", Key=final + "manifest.json")["Body"].read()
    final += f"objects/{json.loads(manifest)['destination']['attempt']}/"  # the committed attempt's objects
    assert release["qa_report"] == f"s3://dispatch-releases/{final}qa_report.html"
    data = client.get_object(Bucket="dispatch-releases", Key=final + "data/part-00000.parquet")["Body"].read()
    assert data == features.read_bytes() and pq.ParquetFile(features).metadata.num_rows == 700
    assert json.loads(manifest)["destination"]["uri"] == release["path"]
    for name in LOOKUPS:  # byte for byte the snapshot's file, listed with its hash
        body = client.get_object(Bucket="dispatch-releases", Key=f"{final}lookups/{name}.parquet")["Body"].read()
        assert body == (storage_home / "snapshot" / f"{name}.parquet").read_bytes()
        assert json.loads(manifest)["files"][f"lookups/{name}.parquet"]["sha256"] == file_sha256(
            storage_home / "snapshot" / f"{name}.parquet")
    assert aws_env not in manifest.decode() + str(metadata)


@pytest.mark.parametrize("kind", ["local"])
def test_published_features_still_publishes_locally(demo_spec_data, write_spec, storage_home, make_features,
                                                    kind) -> None:
    release, metadata, features = publish_through_the_asset(demo_spec_data, write_spec, storage_home,
                                                            make_features, {"kind": kind, "path": "releases"})
    folder = storage_home / "releases" / "demo_loans" / "features_v1" / f"snapshot={SNAPSHOT}"
    assert release["path"] == str(folder) and metadata["location"] == str(folder)
    assert (folder / "data" / "part-00000.parquet").read_bytes() == features.read_bytes()
    manifest = json.loads((folder / "manifest.json").read_text())
    for name, table in LOOKUPS.items():
        published = folder / "lookups" / f"{name}.parquet"
        assert published.read_bytes() == (storage_home / "snapshot" / f"{name}.parquet").read_bytes()
        assert pq.ParquetFile(published).read().equals(table)
        assert manifest["files"][f"lookups/{name}.parquet"] == {"sha256": file_sha256(published),
                                                                 "rows": table.num_rows, "lookup": True}
    assert manifest["lookups"]["tables"] == ["branches", "products"]
    assert manifest["masked_columns"]["applicant_email"] == {
        "faker": "email", "locale": "en_GB", "training": False, "consistent": False, "consistent_on": None,
        "key_env": None, "replaces": None}

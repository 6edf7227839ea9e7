"""A spec with `tables:` gets one asset per table (lineage root -> child), checks per table and one release."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import sqlalchemy as sa

from synth_pipelines.core.demo_source import build_demo_database
from synth_pipelines.core.quality.report import published_values
from synth_pipelines.orchestration.code_location import build_definitions
from synth_pipelines.orchestration.factory import add_snapshot_partitions, build_dataset_assets, today_partition
from synth_pipelines.orchestration.multitable import build_multitable_assets
from synth_pipelines.orchestration.resources import SynthStorage
from synth_pipelines.spec import load_spec
from synth_pipelines_tests.core.multitable_fixture import DEMO_TABLES as TABLES


def key(*parts: str) -> dg.AssetKey:
    return dg.AssetKey(["demo_loans", *parts])


@pytest.fixture
def tables_spec(demo_spec_data: dict[str, Any], write_spec, tmp_path_factory) -> Path:
    source = build_demo_database(tmp_path_factory.mktemp("mt_source") / "bank.sqlite", n_customers=300)
    data = {**demo_spec_data, "generator": {"plugin": "cart", "seed": 0}, "tables": TABLES}
    # 300 customers' loans (amount, term, purpose) repeat real rows by chance: advisory, so the release runs.
    data["qa"] = {**data["qa"], "advisory_checks": [*data["qa"]["advisory_checks"], "privacy_exact_copies"]}
    data["source"] = {**data["source"], "url": f"sqlite:///{source}"}
    return write_spec(data, "tables.yaml")


def test_each_table_is_an_asset_with_its_parent_upstream(tables_spec: Path) -> None:
    graph = build_definitions([load_spec(tables_spec)]).resolve_asset_graph()
    assert graph.get(key("tables", "loans")).parent_keys == {key("tables", "accounts")}
    assert graph.get(key("tables", "accounts")).parent_keys == {key("tables", "customers"), key("tables", "branches")}
    assert key("source_snapshot") in graph.get(key("tables", "customers")).parent_keys
    checks = {(k.asset_key.path[-1], k.name) for k in graph.asset_check_keys if k.asset_key.path[1] == "tables"}
    assert {("loans", "referential_integrity"), ("loans", "children_per_parent"), ("accounts", "quality"),
            ("customers", "families"), ("customers", "quality")} <= checks
    assert ("customers", "children_per_parent") not in checks  # the root has no parent


def test_materialized_tables_are_checked_and_published_together(tables_spec: Path, storage_home: Path) -> None:
    loaded = load_spec(tables_spec)
    assets = build_dataset_assets(loaded)[:1] + build_multitable_assets(loaded)
    instance = dg.DagsterInstance.ephemeral()
    add_snapshot_partitions(instance, loaded, [today_partition(loaded)])
    result = dg.materialize(assets, instance=instance, partition_key=today_partition(loaded),
                            raise_on_error=False,
                            resources={"storage": SynthStorage(root=str(storage_home)),
                                       "io_manager": dg.FilesystemIOManager(base_dir=str(storage_home / "io"))})
    meta = {e.asset_key.path[-1]: e.materialization.metadata for e in result.get_asset_materialization_events()}
    rows = {table: m["dagster/row_count"].value for table, m in meta.items() if "dagster/row_count" in m}
    assert rows["customers"] == meta["customers"]["real_train_rows"].value > 200  # one root per real train root
    assert rows["branches"] == 12 and rows["loans"] > 0
    checks = {(e.asset_key.path[-1], e.check_name): e for e in result.get_asset_check_evaluations()}
    assert checks[("loans", "referential_integrity")].passed and checks[("accounts", "referential_integrity")].passed
    qa = json.loads(next((storage_home / "work" / "demo_loans").glob("*/tables/qa.json")).read_text())
    released = list((storage_home / "releases").glob("demo_loans_tables/features_v1/snapshot=*/manifest.json"))
    assert qa["passed"], qa  # loans' exact copies are advisory here (fixture): the tables are released
    manifest = json.loads(released[0].read_text())
    assert set(manifest["tables"]) == set(TABLES)
    assert {t: e["rows"] for t, e in manifest["tables"].items()} == rows
    assert manifest["tables"]["loans"]["foreign_keys"] == {"account_id": "accounts.account_id"}
    # The published manifest carries the QA as the published report does: no small group's statistics or
    # real category names (the working qa.json keeps them for the gate and the internal report).
    assert manifest["qa"] == published_values(qa)
    absent = list(_values_of(manifest["qa"], "absent_categories"))
    # Counts, not names, wherever a table's synthetic rows lack a real category (whether one does depends on the
    # generation; the conversion on a report that has some: test_report_editions).
    assert absent and all(isinstance(n, int) for found in absent for n in found.values())


def _values_of(data: Any, key: str):
    """Every value stored under `key` anywhere in `data`."""
    if isinstance(data, dict):
        for k, v in data.items():
            if k == key:
                yield v
            yield from _values_of(v, key)
    elif isinstance(data, list):
        for item in data:
            yield from _values_of(item, key)


# The tables of core/multitable_fixture.py, for tests that write the synthesized tables themselves.
FAMILY_TABLES = {
    "customers": {"primary_key": "customer_id", "label": "segment"},
    "accounts": {"primary_key": "account_id", "order_by": "opened",
                 "foreign_keys": {"customer_id": "customers.customer_id", "branch_id": "branches.branch_id"}},
    "payments": {"primary_key": "payment_id", "foreign_keys": {"account_id": "accounts.account_id"},
                 "sql": "SELECT loan_id AS payment_id, account_id, amount FROM loans"},  # not run: no training
    "branches": {"primary_key": "branch_id", "lookup": True}}


def tables_synthesized(storage: SynthStorage, snapshot_id: str, qa_passed: bool) -> dict[str, Any]:
    """What the tables' multi-asset and QA leave in the working folder, without training."""
    from synth_pipelines_tests.core.multitable_fixture import family_tables

    work = storage.work("demo_loans", snapshot_id, "tables")
    synthetic = family_tables(customers=25)
    for table, frame in synthetic.items():
        frame.to_parquet(work / f"synthetic.{table}.parquet", index=False)
    (work / "qa.json").write_text(json.dumps({"passed": qa_passed}))
    return synthetic


def test_tables_are_published_by_the_gate_sensor_once_qa_passed_and_approved(demo_spec_data, write_spec,
                                                                             storage_home) -> None:
    from click.testing import CliRunner

    from synth_pipelines.cli import main
    from synth_pipelines.core.releases import list_releases

    demo_spec_data["qa"]["require_approval"] = True
    spec_path = write_spec({**demo_spec_data, "generator": {"plugin": "cart", "seed": 0}, "tables": FAMILY_TABLES})
    loaded, storage = load_spec(spec_path), SynthStorage(root=str(storage_home))
    defs, day = build_definitions([loaded], storage), today_partition(loaded)
    refresh, publish = (defs.resolve_job_def(f"demo_loans_{job}") for job in ("refresh", "publish"))
    assert key("published_tables") not in refresh.asset_layer.executable_asset_keys  # the gate publishes them
    assert key("published_tables") in publish.asset_layer.executable_asset_keys
    sensor = defs.resolve_sensor_def("demo_loans_publication_gate")

    def tick() -> Any:
        return sensor.evaluate_tick(dg.build_sensor_context(instance=instance, repository_def=defs.get_repository_def(),
                                                            instance_ref=instance.get_ref()))  # as the daemon

    def publish_tables() -> Any:  # as a publish started by hand, or by the sensor's request
        return publish.execute_in_process(instance=instance, partition_key=day, raise_on_error=False,
                                          asset_selection=[key("published_tables")])

    with dg.instance_for_test() as instance:
        add_snapshot_partitions(instance, loaded, [day])
        refresh.execute_in_process(instance=instance, partition_key=day, asset_selection=[key("source_snapshot")])
        tables_synthesized(storage, day, qa_passed=False)
        instance.report_runless_asset_event(dg.AssetMaterialization(key("tables", "customers"), partition=day))
        assert f"{day} tables: blocking QA checks failed: tables_qa" in tick().skip_message

        synthetic = tables_synthesized(storage, day, qa_passed=True)
        assert f"{day} tables: QA passed; waiting for a recorded approval" in tick().skip_message
        refused = publish_tables()
        assert not refused.success and "waiting for a recorded approval" in str(refused.all_events)
        assert not list_releases(storage_home / "releases")
        # In a publish of the features (here: none to publish) the closed gate holds the tables back, no failure.
        whole = publish.execute_in_process(instance=instance, partition_key=day, raise_on_error=False)
        assert whole.is_node_success("demo_loans__published_tables")
        assert not whole.asset_materializations_for_node("demo_loans__published_tables")

        approved = CliRunner().invoke(main, ["approve", str(spec_path), "--snapshot", day, "--approver", "Dana",
                                             "--tables"])
        assert approved.exit_code == 0, approved.output
        [request] = tick().run_requests
        assert request.partition_key == day and request.asset_selection == [key("published_tables")]
        assert publish_tables().success
        assert not tick().run_requests  # published once, not again

    [release] = list_releases(storage_home / "releases")
    assert release.name == f"demo_loans_tables/features_v1/snapshot={day}"
    manifest = json.loads((release.path / "manifest.json").read_text())
    assert manifest["approvals"][0]["approver"] == "Dana" and "approved by Dana" in manifest["gate"]
    assert {t: e["rows"] for t, e in manifest["tables"].items()} == {t: len(f) for t, f in synthetic.items()}


@pytest.mark.parametrize("kind", ["s3", "sql"])
def test_published_tables_publishes_to_the_spec_destination(kind, request, demo_spec_data, write_spec,
                                                             storage_home) -> None:
    """published_tables as Dagster invokes it once the tables' QA passed (no training): to S3 or SQL."""
    from synth_pipelines.core.destinations.s3 import s3_client
    from synth_pipelines.core.releases import list_destination_releases
    from synth_pipelines.core.snapshot import Snapshot

    if kind == "s3":
        moto = request.getfixturevalue("moto")
        request.getfixturevalue("aws_env")
        s3_client(endpoint_url=moto.url).create_bucket(Bucket="tables-dispatch")
        destination = {"kind": "s3", "bucket": "tables-dispatch", "prefix": "ml", "endpoint_url": moto.url}
    else:
        destination = {"kind": "sql", "url": request.getfixturevalue("postgres_url")}
    loaded = load_spec(write_spec({**demo_spec_data, "generator": {"plugin": "cart", "seed": 0},
                                   "tables": FAMILY_TABLES, "destination": destination}))
    storage, snapshot_id = SynthStorage(root=str(storage_home)), "2026-11-24"
    synthetic = tables_synthesized(storage, snapshot_id, qa_passed=True)
    snapshot = Snapshot(snapshot_id=snapshot_id, path=str(storage_home), source="sqlite:///bank.sqlite",
                        taken_at="2026-11-24T03:00:00+00:00", fingerprint="f" * 64, tables={})
    asset = next(a for a in build_multitable_assets(loaded)
                 if isinstance(a, dg.AssetsDefinition) and key("published_tables") in a.keys)
    with dg.build_asset_context(partition_key=snapshot_id, resources={"storage": storage}) as context:
        [result] = list(asset(context, snapshot=snapshot))  # yields its materialization once the gate opens
    metadata = {k: getattr(v, "value", v) for k, v in result.metadata.items()}
    assert metadata["rows"] == {t: len(f) for t, f in synthetic.items()}
    assert not (storage_home / "releases").exists()  # nothing went to a local folder
    if kind == "s3":
        [release] = list_destination_releases(loaded.spec.destination)
        assert release.name == f"demo_loans_tables/features_v1/snapshot={snapshot_id}"
        assert metadata["location"] == release.location and release.rows == sum(metadata["rows"].values())
        manifest = release.manifest
    else:
        assert metadata["location"].endswith("#features_v1_2026_11_24_tables")
        engine = sa.create_engine(destination["url"], poolclass=sa.pool.NullPool)
        with engine.connect() as conn:
            manifest = conn.exec_driver_sql("SELECT manifest FROM synth_releases").scalar()
            rows = {t: conn.exec_driver_sql(f"SELECT count(*) FROM {name}").scalar()
                    for t, name in manifest["destination"]["tables"].items()}
        engine.dispose()
        assert rows == metadata["rows"]
    assert manifest["dataset"] == "demo_loans_tables" and manifest["source"]["snapshot_id"] == snapshot_id
    assert manifest["spec_hash"] == loaded.spec_hash and manifest["generator"]["plugin"] == "cart"
    assert manifest["tables"]["payments"]["foreign_keys"] == {"account_id": "accounts.account_id"}

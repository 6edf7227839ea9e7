"""A spec with `tables:` gets one asset per table (lineage root -> child), checks per table and one release."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from synth_pipelines.core.demo_source import build_demo_database
from synth_pipelines.orchestration.code_location import build_definitions
from synth_pipelines.orchestration.factory import build_dataset_assets, today_partition
from synth_pipelines.orchestration.multitable import build_multitable_assets
from synth_pipelines.orchestration.resources import SynthStorage
from synth_pipelines.spec import load_spec

TABLES = {
    "customers": {"primary_key": "customer_id", "label": "home_ownership",
                  "sql": "SELECT customer_id, gender, education, annual_income, credit_score, home_ownership "
                         "FROM customers"},
    "accounts": {"primary_key": "account_id", "order_by": "opened_date",
                 "foreign_keys": {"customer_id": "customers.customer_id", "branch_id": "branches.branch_id"}},
    "loans": {"primary_key": "loan_id", "foreign_keys": {"account_id": "accounts.account_id"},
              "sql": "SELECT loan_id, account_id, amount, term_months, purpose FROM loans"},
    "branches": {"primary_key": "branch_id", "lookup": True},
}


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
    result = dg.materialize(assets, instance=dg.DagsterInstance.ephemeral(), partition_key=today_partition(loaded),
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

"""`tables:` (multi-table synthesis) in a spec: one root, keys that resolve, no cycles, referenced lookups."""

from __future__ import annotations

from typing import Any

import pytest

from synth_pipelines.spec import context_parent, load_spec
from synth_pipelines_tests.test_spec import WriteSpec, assert_names, broken

TABLES = {
    "customers": {"primary_key": "customer_id", "label": "segment"},
    "accounts": {"primary_key": "account_id", "order_by": "opened_date",
                 "foreign_keys": {"customer_id": "customers.customer_id", "branch_id": "branches.branch_id"}},
    "loans": {"primary_key": "loan_id", "foreign_keys": {"account_id": "accounts.account_id"}},
    "branches": {"primary_key": "branch_id", "lookup": True},
}


@pytest.fixture
def tables_data(demo_spec_data: dict[str, Any]) -> dict[str, Any]:
    import copy

    return {**demo_spec_data, "generator": {"plugin": "cart"}, "tables": copy.deepcopy(TABLES)}


def test_tables_load_with_one_root(tables_data: dict[str, Any], write_spec: WriteSpec) -> None:
    tables = load_spec(write_spec(tables_data, "ok.yaml")).spec.tables
    assert context_parent(tables["loans"], tables) == ("accounts", "account_id")
    assert context_parent(tables["accounts"], tables) == ("customers", "customer_id")
    assert context_parent(tables["customers"], tables) is None


def test_two_roots(tables_data: dict[str, Any], write_spec: WriteSpec) -> None:
    path, message = broken(tables_data, write_spec, lambda d: d["tables"]["loans"].update(foreign_keys={}))
    assert_names(message, path, "tables.loans.foreign_keys", "exactly one root", "customers, loans",
                 fix="foreign key to its parent")


def test_cycle(tables_data: dict[str, Any], write_spec: WriteSpec) -> None:
    def cycle(d: dict[str, Any]) -> None:
        d["tables"]["customers"]["foreign_keys"] = {"first_loan": "loans.loan_id"}
        d["tables"]["customers"].pop("label")
        d["tables"]["extra_root"] = {"primary_key": "id", "sql": "SELECT 1 AS id"}

    path, message = broken(tables_data, write_spec, cycle)
    assert_names(message, path, "tables.customers.foreign_keys", "cycle", "customers -> loans -> accounts -> customers")


def test_missing_foreign_key_target(tables_data: dict[str, Any], write_spec: WriteSpec) -> None:
    path, message = broken(tables_data, write_spec,
                           lambda d: d["tables"]["loans"]["foreign_keys"].update(product_id="products.product_id"))
    assert_names(message, path, "tables.loans.foreign_keys.product_id", "'products'", fix="declare it under tables")


def test_foreign_key_must_reference_the_primary_key(tables_data: dict[str, Any], write_spec: WriteSpec) -> None:
    path, message = broken(tables_data, write_spec,
                           lambda d: d["tables"]["loans"]["foreign_keys"].update(account_id="accounts.customer_id"))
    assert_names(message, path, "tables.loans.foreign_keys.account_id", "'account_id'", fix="primary key")


def test_two_context_parents(tables_data: dict[str, Any], write_spec: WriteSpec) -> None:
    path, message = broken(tables_data, write_spec,
                           lambda d: d["tables"]["loans"]["foreign_keys"].update(customer_id="customers.customer_id"))
    assert_names(message, path, "tables.loans.foreign_keys.customer_id", "one context parent")


def test_lookup_without_inbound_foreign_key(tables_data: dict[str, Any], write_spec: WriteSpec) -> None:
    path, message = broken(tables_data, write_spec,
                           lambda d: d["tables"].update(products={"primary_key": "product_id", "lookup": True}))
    assert_names(message, path, "tables.products.lookup", "not referenced", fix="remove `lookup: true`")


def test_lookup_is_never_the_root(tables_data: dict[str, Any], write_spec: WriteSpec) -> None:
    tables_data["tables"] = {
        "branches": {"primary_key": "branch_id", "lookup": True},
        "accounts": {"primary_key": "account_id", "foreign_keys": {"branch_id": "branches.branch_id"}},
        "loans": {"primary_key": "loan_id", "foreign_keys": {"account_id": "accounts.account_id"}}}
    tables = load_spec(write_spec(tables_data, "ok.yaml")).spec.tables
    assert [n for n, t in tables.items() if not t.lookup and context_parent(t, tables) is None] == ["accounts"]


def test_unknown_table_without_sql(tables_data: dict[str, Any], write_spec: WriteSpec) -> None:
    path, message = broken(tables_data, write_spec, lambda d: d["tables"]["loans"].update(
        foreign_keys={"account_id": "accounts.account_id"}) or d["tables"].update(
        payments={"primary_key": "payment_id", "foreign_keys": {"loan_id": "loans.loan_id"}}))
    assert_names(message, path, "tables.payments", "no source table", fix="sql")


def test_label_only_on_the_root(tables_data: dict[str, Any], write_spec: WriteSpec) -> None:
    path, message = broken(tables_data, write_spec, lambda d: d["tables"]["loans"].update(label="amount"))
    assert_names(message, path, "tables.loans.label", "only the root", fix="remove it")


def test_order_by_needs_a_parent(tables_data: dict[str, Any], write_spec: WriteSpec) -> None:
    path, message = broken(tables_data, write_spec, lambda d: d["tables"]["customers"].update(order_by="birth_date"))
    assert_names(message, path, "tables.customers.order_by", "has none", fix="remove order_by")


def test_tables_need_the_cart_plugin(tables_data: dict[str, Any], write_spec: WriteSpec) -> None:
    path, message = broken(tables_data, write_spec, lambda d: d.update(generator={"plugin": "tvae"}))
    assert_names(message, path, "generator.plugin", "conditioned", fix="plugin: cart")

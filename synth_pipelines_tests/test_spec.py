"""File-only checks of a dataset spec (`load_spec`): every error names the file, the field and a fix."""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from synth_pipelines.core.synthcity_plugins import available_plugins
from synth_pipelines.paths import demo_spec
from synth_pipelines.spec import COMPONENT_TYPE, SpecError, as_component_file, load_spec, load_specs, masked_url, spec_fields

DEMO_SPEC = demo_spec()
WriteSpec = Callable[[dict[str, Any], str], Path]


def spec_error(path: Path) -> str:
    """Load `path`, expecting a SpecError, and return its text."""
    with pytest.raises(SpecError) as excinfo:
        load_spec(path)
    return str(excinfo.value)


def assert_names(message: str, path: Path, field: str, *fragments: str, fix: str = "") -> None:
    """The message names the file and the dotted field, states the fragments and carries a fix."""
    line = next((ln for ln in message.splitlines() if ln.startswith(f"{path}: {field}: ")), None)
    assert line is not None, f"no line starts with '{path}: {field}: ' in:\n{message}"
    assert "Fix: " in line, line
    problem, _, hint = line.partition("Fix: ")
    assert hint.strip(), line
    for fragment in fragments:
        assert fragment in line, f"{fragment!r} not in {line!r}"
    if fix:
        assert fix in hint, f"fix {fix!r} not in {hint!r}"


def broken(data: dict[str, Any], write_spec: WriteSpec, mutate: Callable[[dict[str, Any]], None]) -> tuple[Path, str]:
    data = copy.deepcopy(data)
    mutate(data)
    path = write_spec(data, "broken.yaml")
    return path, spec_error(path)


# --- the shipped spec --------------------------------------------------------------------------


def test_shipped_demo_spec_loads(storage_home: Path) -> None:
    loaded = load_spec(DEMO_SPEC)
    spec = loaded.spec
    assert loaded.path == DEMO_SPEC
    assert spec.dataset == "demo_loans"
    assert spec.release_name == "features_v1"
    assert spec.generator.plugin in available_plugins()
    assert set(spec.source.tables) == {"branches", "products", "customers", "accounts", "loans"}
    # ${SYNTH_PIPELINES_HOME} always has a value: the storage root.
    assert spec.source.url == f"sqlite:///{storage_home.resolve()}/demo/demo_bank.sqlite"
    assert loaded.raw["source"]["url"] == "sqlite:///${SYNTH_PIPELINES_HOME}/demo/demo_bank.sqlite"
    assert [c.column for c in spec.training_view.leakage_columns] == ["collection_date", "written_off_amount"]


def test_demo_spec_data_fixture_is_the_shipped_spec_but_for_source_size_generator_and_advisory(
        demo_spec_data: dict[str, Any], write_spec: WriteSpec) -> None:
    """The fixture most tests run on differs from the shipped spec only where conftest says it does, so
    what those tests show holds for the shipped spec."""
    fixture = load_spec(write_spec(demo_spec_data, "demo.yaml")).spec.model_dump()
    shipped = load_spec(DEMO_SPEC).spec.model_dump()
    changed = {"source": {"url"}, "synthetic": {"rows", "batch_rows"}, "generator": set(shipped["generator"]),
               "qa": {"advisory_checks"}}
    for section, value in shipped.items():
        drop = changed.get(section, set())
        if isinstance(value, dict):
            value = {k: v for k, v in value.items() if k not in drop}
            assert {k: v for k, v in fixture[section].items() if k not in drop} == value, section
        else:
            assert fixture[section] == value, section
    assert fixture["source"]["url"].startswith("sqlite:///") and fixture["source"]["url"] != shipped["source"]["url"]
    assert (fixture["synthetic"]["rows"], shipped["synthetic"]["rows"]) == (1500, 5000)
    assert fixture["generator"]["plugin"] == "bayesian_network" and shipped["generator"]["plugin"] == "cart"
    assert fixture["qa"]["advisory_checks"] == ["fidelity", "utility"] and shipped["qa"]["advisory_checks"] == []


# --- generator ---------------------------------------------------------------------------------


def test_unknown_plugin_lists_available_plugins(demo_spec_data: dict[str, Any], write_spec: WriteSpec) -> None:
    path, message = broken(demo_spec_data, write_spec, lambda d: d["generator"].update(plugin="tvea"))
    assert_names(message, path, "generator.plugin", "unknown synthcity plugin 'tvea'", fix="use one of:")
    for plugin in ("tvae", "ctgan", "bayesian_network"):
        assert plugin in message.partition("Fix:")[2]


def test_unsupported_plugin_says_why(demo_spec_data: dict[str, Any], write_spec: WriteSpec) -> None:
    path, message = broken(demo_spec_data, write_spec, lambda d: d["generator"].update(plugin="goggle"))
    assert_names(message, path, "generator.plugin", "'goggle' is not supported here", "dgl", fix="tvae")


def test_negative_seed_rejected(demo_spec_data: dict[str, Any], write_spec: WriteSpec) -> None:
    path, message = broken(demo_spec_data, write_spec, lambda d: d["generator"].update(seed=-1))
    assert_names(message, path, "generator.seed", fix="use a larger value")


# --- required fields, ranges, typos ------------------------------------------------------------


def test_missing_label(demo_spec_data: dict[str, Any], write_spec: WriteSpec) -> None:
    path, message = broken(demo_spec_data, write_spec, lambda d: d["training_view"].pop("label"))
    assert_names(message, path, "training_view.label", "required", fix="add this field")


def test_missing_section(demo_spec_data: dict[str, Any], write_spec: WriteSpec) -> None:
    path, message = broken(demo_spec_data, write_spec, lambda d: d.pop("synthetic"))
    assert_names(message, path, "synthetic", fix="add this field")


@pytest.mark.parametrize("rows", [0, -5])
def test_synthetic_rows_must_be_positive(demo_spec_data: dict[str, Any], write_spec: WriteSpec, rows: int) -> None:
    path, message = broken(demo_spec_data, write_spec, lambda d: d["synthetic"].update(rows=rows))
    assert_names(message, path, "synthetic.rows", "greater than 0", fix="use a larger value")


@pytest.mark.parametrize(("fraction", "fix"), [(0.0, "larger"), (-0.1, "larger"), (0.9, "smaller"), (1.5, "smaller")])
def test_holdout_fraction_out_of_range(demo_spec_data: dict[str, Any], write_spec: WriteSpec,
                                       fraction: float, fix: str) -> None:
    path, message = broken(demo_spec_data, write_spec,
                           lambda d: d["training_view"].update(holdout_fraction=fraction))
    assert_names(message, path, "training_view.holdout_fraction", fix=f"use a {fix} value")


def test_holdout_fraction_in_range_is_the_share_the_split_holds_out(demo_spec_data: dict[str, Any],
                                                                     write_spec: WriteSpec) -> None:
    import pandas as pd

    from synth_pipelines.core.training_view import split_holdout

    view = pd.DataFrame({"loan_id": range(200), "amount": range(200), "defaulted": [0, 1] * 100})
    default = load_spec(write_spec(copy.deepcopy(demo_spec_data), "default.yaml")).spec.training_view
    data = copy.deepcopy(demo_spec_data)
    data["training_view"]["holdout_fraction"] = 0.5
    half = load_spec(write_spec(data, "ok.yaml")).spec.training_view
    assert len(split_holdout(view, default, seed=1).holdout) == 40  # the default, 0.2
    split = split_holdout(view, half, seed=1)
    assert (len(split.train), len(split.holdout)) == (100, 100)
    assert split.holdout["defaulted"].mean() == 0.5  # stratified on the label
    assert set(split.train["loan_id"]).isdisjoint(split.holdout["loan_id"])


@pytest.mark.parametrize(("section", "typo"), [("synthetic", "rowz"), ("training_view", "lable"), (None, "versoin")])
def test_unknown_field_is_rejected(demo_spec_data: dict[str, Any], write_spec: WriteSpec,
                                   section: str | None, typo: str) -> None:
    def mutate(d: dict[str, Any]) -> None:
        (d[section] if section else d)[typo] = 1

    path, message = broken(demo_spec_data, write_spec, mutate)
    field = f"{section}.{typo}" if section else typo
    assert_names(message, path, field, "Extra inputs are not permitted", fix="correct its spelling")


def test_wrong_task_lists_allowed_values(demo_spec_data: dict[str, Any], write_spec: WriteSpec) -> None:
    path, message = broken(demo_spec_data, write_spec, lambda d: d["training_view"].update(task="ranking"))
    assert_names(message, path, "training_view.task", "classification", "regression",
                 fix="use one of the allowed values")


def test_dataset_name_must_be_identifier(demo_spec_data: dict[str, Any], write_spec: WriteSpec) -> None:
    path, message = broken(demo_spec_data, write_spec, lambda d: d.update(dataset="demo-loans"))
    assert_names(message, path, "dataset", fix="letters, digits and underscores")


def test_every_error_is_reported_on_its_own_line(demo_spec_data: dict[str, Any], write_spec: WriteSpec) -> None:
    def mutate(d: dict[str, Any]) -> None:
        d["synthetic"]["rows"] = 0
        d["training_view"].pop("label")

    path, message = broken(demo_spec_data, write_spec, mutate)
    assert_names(message, path, "synthetic.rows")
    assert_names(message, path, "training_view.label")
    assert all(line.startswith(f"{path}: ") and "Fix: " in line for line in message.splitlines())


# --- source URL --------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["not a url", "://nohost", "postgres ql://u@h/db"])
def test_unparseable_url(demo_spec_data: dict[str, Any], write_spec: WriteSpec, url: str) -> None:
    path, message = broken(demo_spec_data, write_spec, lambda d: d["source"].update(url=url))
    assert_names(message, path, "source.url", "not a SQLAlchemy URL", fix="postgresql+psycopg2://")


def test_url_with_unknown_dialect(demo_spec_data: dict[str, Any], write_spec: WriteSpec) -> None:
    path, message = broken(demo_spec_data, write_spec, lambda d: d["source"].update(url="foodb://u:pw@host/db"))
    assert_names(message, path, "source.url", "'foodb'", "is installed", fix="install the driver")


def test_url_with_driver_that_is_not_installed(demo_spec_data: dict[str, Any], write_spec: WriteSpec) -> None:
    # The postgresql dialect ships with SQLAlchemy; its pg8000 driver is not installed here.
    pytest.importorskip("psycopg2")
    try:
        import pg8000  # noqa: F401

        pytest.skip("pg8000 is installed in this environment")
    except ImportError:
        pass
    path, message = broken(demo_spec_data, write_spec,
                           lambda d: d["source"].update(url="postgresql+pg8000://u:pw@host/db"))
    assert_names(message, path, "source.url", "'postgresql+pg8000'", "not installed", fix="postgresql+psycopg2")


def test_url_with_dialect_that_has_no_read_only_mode(demo_spec_data: dict[str, Any], write_spec: WriteSpec) -> None:
    path, message = broken(demo_spec_data, write_spec,
                           lambda d: d["source"].update(url="mssql+pyodbc://u:pw@host/db"))
    assert_names(message, path, "source.url", "'mssql'", "read-only", fix="postgresql")


@pytest.mark.parametrize("url", ["sqlite:///relative.sqlite", "postgresql+psycopg2://u:pw@host:5432/db",
                                 "mysql+pymysql://u:pw@host:3306/db"])
def test_supported_urls_accepted(demo_spec_data: dict[str, Any], write_spec: WriteSpec, url: str) -> None:
    data = copy.deepcopy(demo_spec_data)
    data["source"]["url"] = url
    assert load_spec(write_spec(data, "ok.yaml")).spec.source.url == url


# --- tables ------------------------------------------------------------------------------------


def test_foreign_key_to_undeclared_table(demo_spec_data: dict[str, Any], write_spec: WriteSpec) -> None:
    path, message = broken(demo_spec_data, write_spec,
                           lambda d: d["source"]["tables"]["loans"]["foreign_keys"].update(officer_id="staff.staff_id"))
    assert_names(message, path, "source.tables.loans.foreign_keys.officer_id", "'staff'", "accounts",
                 fix="declare it under source.tables")


def test_lookup_table_needs_an_inbound_foreign_key(demo_spec_data: dict[str, Any], write_spec: WriteSpec) -> None:
    path, message = broken(demo_spec_data, write_spec,
                           lambda d: d["source"]["tables"]["loans"]["foreign_keys"].pop("product_id"))
    assert_names(message, path, "source.tables.products.lookup", "'products' is not referenced by any foreign key",
                 fix="declare the foreign key that points at products")


@pytest.mark.parametrize("target", ["accounts", "accounts.account_id.x", "accounts."])
def test_foreign_key_not_table_dot_column(demo_spec_data: dict[str, Any], write_spec: WriteSpec, target: str) -> None:
    path, message = broken(demo_spec_data, write_spec,
                           lambda d: d["source"]["tables"]["loans"]["foreign_keys"].update(account_id=target))
    assert_names(message, path, "source.tables.loans.foreign_keys.account_id", "'table.column'",
                 fix="customers.customer_id")


def test_columns_and_exclude_columns_both_set(demo_spec_data: dict[str, Any], write_spec: WriteSpec) -> None:
    path, message = broken(demo_spec_data, write_spec,
                           lambda d: d["source"]["tables"]["customers"].update(columns=["customer_id", "gender"]))
    assert_names(message, path, "source.tables.customers.exclude_columns", "'columns'",
                 fix="either 'columns'")


def test_primary_key_must_be_among_columns(demo_spec_data: dict[str, Any], write_spec: WriteSpec) -> None:
    def mutate(d: dict[str, Any]) -> None:
        d["source"]["tables"]["products"]["columns"] = ["product_type"]

    path, message = broken(demo_spec_data, write_spec, mutate)
    assert_names(message, path, "source.tables.products.columns", "'product_id'", fix="add it")


def test_primary_key_cannot_be_excluded(demo_spec_data: dict[str, Any], write_spec: WriteSpec) -> None:
    path, message = broken(demo_spec_data, write_spec,
                           lambda d: d["source"]["tables"]["loans"].update(exclude_columns=["loan_id"]))
    assert_names(message, path, "source.tables.loans.exclude_columns", "'loan_id'", fix="remove it")


def test_no_tables(demo_spec_data: dict[str, Any], write_spec: WriteSpec) -> None:
    path, message = broken(demo_spec_data, write_spec, lambda d: d["source"].update(tables={}))
    assert_names(message, path, "source.tables", fix="add at least one entry")


# --- label, leakage, features ------------------------------------------------------------------


def test_label_listed_as_leakage(demo_spec_data: dict[str, Any], write_spec: WriteSpec) -> None:
    path, message = broken(demo_spec_data, write_spec, lambda d: d["training_view"]["leakage_columns"].append(
        {"column": "defaulted", "reason": "it is the outcome"}))
    assert_names(message, path, "training_view.leakage_columns", "'defaulted'", fix="remove it")


def test_entity_key_equal_to_label(demo_spec_data: dict[str, Any], write_spec: WriteSpec) -> None:
    path, message = broken(demo_spec_data, write_spec, lambda d: d["training_view"].update(entity_key="defaulted"))
    assert_names(message, path, "training_view.label", "same column", fix="different")


def test_leakage_reason_required(demo_spec_data: dict[str, Any], write_spec: WriteSpec) -> None:
    path, message = broken(demo_spec_data, write_spec,
                           lambda d: d["training_view"]["leakage_columns"][0].pop("reason"))
    assert_names(message, path, "training_view.leakage_columns.0.reason", fix="add this field")


def test_label_dropped_in_features(demo_spec_data: dict[str, Any], write_spec: WriteSpec) -> None:
    path, message = broken(demo_spec_data, write_spec,
                           lambda d: d["features"].update(drop_columns=["amount", "defaulted"]))
    assert_names(message, path, "features.drop_columns", "'defaulted'", fix="remove it")


def test_calculated_column_cannot_replace_label(demo_spec_data: dict[str, Any], write_spec: WriteSpec) -> None:
    path, message = broken(demo_spec_data, write_spec, lambda d: d["features"]["calculated_columns"].append(
        {"name": "defaulted", "expression": "1"}))
    assert_names(message, path, "features.calculated_columns", "'defaulted'", fix="rename")


def test_calculated_column_name_must_be_identifier(demo_spec_data: dict[str, Any], write_spec: WriteSpec) -> None:
    path, message = broken(demo_spec_data, write_spec,
                           lambda d: d["features"]["calculated_columns"][0].update(name="age band"))
    assert_names(message, path, "features.calculated_columns.0.name", fix="letters, digits and underscores")


# --- the file itself ---------------------------------------------------------------------------


def test_invalid_yaml(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("dataset: demo\nsource: [unclosed\n  url: x\n")
    message = spec_error(path)
    assert message.startswith(f"{path}: not valid YAML")
    assert "line" in message
    assert "Fix: correct the YAML syntax" in message


@pytest.mark.parametrize("text", ["- just\n- a list\n", "plain text\n", ""])
def test_yaml_that_is_not_a_mapping(tmp_path: Path, text: str) -> None:
    path = tmp_path / "list.yaml"
    path.write_text(text)
    message = spec_error(path)
    assert message.startswith(f"{path}: ")
    assert "mapping" in message
    assert "Fix: start from synth_pipelines/defs/datasets/demo_loans/defs.yaml" in message


def test_file_not_found(tmp_path: Path) -> None:
    path = tmp_path / "missing.yaml"
    message = spec_error(path)
    assert message.startswith(f"{path}: spec file not found")
    assert "Fix: " in message


def test_folder_is_not_a_spec_file(tmp_path: Path) -> None:
    message = spec_error(tmp_path)
    assert message.startswith(f"{tmp_path}: spec file not found")


# --- ${ENV} interpolation ----------------------------------------------------------------------


def test_env_var_interpolated(demo_spec_data: dict[str, Any], write_spec: WriteSpec,
                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNTH_TEST_DB_PASSWORD", "s3cret")
    monkeypatch.setenv("SYNTH_TEST_DB_HOST", "db.internal")
    data = copy.deepcopy(demo_spec_data)
    data["source"]["url"] = "postgresql+psycopg2://reader:${SYNTH_TEST_DB_PASSWORD}@${SYNTH_TEST_DB_HOST}:5432/bank"
    loaded = load_spec(write_spec(data, "env.yaml"))
    assert loaded.spec.source.url == "postgresql+psycopg2://reader:s3cret@db.internal:5432/bank"
    assert loaded.raw["source"]["url"] == data["source"]["url"]


def test_env_var_interpolated_in_nested_lists(demo_spec_data: dict[str, Any], write_spec: WriteSpec,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNTH_TEST_OWNER", "team:risk")
    data = copy.deepcopy(demo_spec_data)
    data["owners"] = ["${SYNTH_TEST_OWNER}", "team:ml-platform"]
    assert load_spec(write_spec(data, "env.yaml")).spec.owners == ["team:risk", "team:ml-platform"]


def test_env_var_default(demo_spec_data: dict[str, Any], write_spec: WriteSpec, monkeypatch: pytest.MonkeyPatch,
                         tmp_path: Path) -> None:
    monkeypatch.delenv("SYNTH_TEST_UNSET_DB", raising=False)
    data = copy.deepcopy(demo_spec_data)
    data["source"]["url"] = "sqlite:///${SYNTH_TEST_UNSET_DB:-" + str(tmp_path / "fallback.sqlite") + "}"
    path = write_spec(data, "default.yaml")
    assert load_spec(path).spec.source.url == f"sqlite:///{tmp_path / 'fallback.sqlite'}"
    # The environment wins over the default.
    monkeypatch.setenv("SYNTH_TEST_UNSET_DB", "/data/bank.sqlite")
    assert load_spec(path).spec.source.url == "sqlite:////data/bank.sqlite"


def test_env_var_empty_default(demo_spec_data: dict[str, Any], write_spec: WriteSpec,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SYNTH_TEST_UNSET_DESCRIPTION", raising=False)
    data = copy.deepcopy(demo_spec_data)
    data["description"] = "loans${SYNTH_TEST_UNSET_DESCRIPTION:-}"
    assert load_spec(write_spec(data, "default.yaml")).spec.description == "loans"


def test_unset_env_var_without_default(demo_spec_data: dict[str, Any], write_spec: WriteSpec,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SYNTH_TEST_MISSING_PASSWORD", raising=False)
    path, message = broken(demo_spec_data, write_spec, lambda d: d["source"].update(
        url="postgresql+psycopg2://reader:${SYNTH_TEST_MISSING_PASSWORD}@db:5432/bank"))
    assert_names(message, path, "source.url", "SYNTH_TEST_MISSING_PASSWORD", "not set",
                 fix="export SYNTH_TEST_MISSING_PASSWORD=")
    assert "${SYNTH_TEST_MISSING_PASSWORD:-default}" in message


def test_unset_env_var_in_a_list_names_the_item(demo_spec_data: dict[str, Any], write_spec: WriteSpec,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SYNTH_TEST_MISSING_REASON", raising=False)
    path, message = broken(demo_spec_data, write_spec, lambda d: d["training_view"]["leakage_columns"][1].update(
        reason="${SYNTH_TEST_MISSING_REASON}"))
    assert_names(message, path, "training_view.leakage_columns[1].reason", "SYNTH_TEST_MISSING_REASON")


# --- spec hash and masked URLs -----------------------------------------------------------------


def test_spec_hash_stable_and_free_of_secrets(demo_spec_data: dict[str, Any], write_spec: WriteSpec,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    data = copy.deepcopy(demo_spec_data)
    data["source"]["url"] = "postgresql+psycopg2://reader:${SYNTH_TEST_DB_PASSWORD}@db:5432/bank"
    path = write_spec(data, "secret.yaml")

    monkeypatch.setenv("SYNTH_TEST_DB_PASSWORD", "s3cret")
    first = load_spec(path)
    again = load_spec(path)
    monkeypatch.setenv("SYNTH_TEST_DB_PASSWORD", "other-secret")
    other_secret = load_spec(path)

    assert first.spec.source.url != other_secret.spec.source.url
    assert first.spec_hash == again.spec_hash == other_secret.spec_hash
    # The SHA-256 of the spec as written (canonical JSON of the YAML, ${VAR} not interpolated)...
    written = yaml.safe_load(path.read_text())
    canonical = json.dumps(written, sort_keys=True, separators=(",", ":"), default=str)
    assert first.spec_hash == hashlib.sha256(canonical.encode()).hexdigest()
    # ...so key order and comments do not change it, and naming another variable does.
    reordered = write_spec(dict(reversed(list(data.items()))), "reordered.yaml")
    reordered.write_text("# a comment\n" + reordered.read_text())
    assert load_spec(reordered).spec_hash == first.spec_hash
    renamed = copy.deepcopy(data)
    renamed["source"]["url"] = renamed["source"]["url"].replace("SYNTH_TEST_DB_PASSWORD", "SYNTH_TEST_OTHER_PASSWORD")
    monkeypatch.setenv("SYNTH_TEST_OTHER_PASSWORD", "other-secret")
    assert load_spec(write_spec(renamed, "renamed.yaml")).spec_hash != first.spec_hash
    assert "s3cret" not in repr(first.raw)
    assert first.raw["source"]["url"].endswith(":${SYNTH_TEST_DB_PASSWORD}@db:5432/bank")

    data["synthetic"]["rows"] += 1
    assert load_spec(write_spec(data, "changed.yaml")).spec_hash != first.spec_hash


def test_spec_hash_stable_across_storage_homes(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    first = load_spec(DEMO_SPEC)
    monkeypatch.setenv("SYNTH_PIPELINES_HOME", str(tmp_path / "elsewhere"))
    second = load_spec(DEMO_SPEC)
    assert first.spec.source.url != second.spec.source.url
    assert first.spec_hash == second.spec_hash


@pytest.mark.parametrize(("url", "masked"), [
    # Issue 13: the whole user part is masked (a user name can be a secret too, and a password with an
    # unencoded '@' must not leak its tail into the host).
    ("postgresql+psycopg2://reader:s3cret@db.internal:5432/bank", "postgresql+psycopg2://***@db.internal:5432/bank"),
    ("mysql+pymysql://root:p%40ss@127.0.0.1:3306/", "mysql+pymysql://***@127.0.0.1:3306/"),
    ("postgresql+psycopg2://reader@db/bank", "postgresql+psycopg2://***@db/bank"),
    ("postgresql+psycopg2://user:cd-s3cret@cd-s3cret@host:5432/bank", "postgresql+psycopg2://***@host:5432/bank"),
    ("postgresql+psycopg2://db/bank?password=s3cret&sslmode=require",
     "postgresql+psycopg2://db/bank?password=***&sslmode=require"),
    ("sqlite:////tmp/demo.sqlite", "sqlite:////tmp/demo.sqlite"),
    ("not a url", "<unparseable URL>"),
])
def test_masked_url(url: str, masked: str) -> None:
    assert masked_url(url) == masked
    assert "s3cret" not in masked_url(url)


@pytest.mark.parametrize("password", ["cd-Secret@x", "a:b/c?d#e", "50%off+more", "p@ss@word"])
def test_env_credentials_are_percent_encoded_in_urls(password: str, demo_spec_data: dict[str, Any],
                                                     write_spec: WriteSpec, monkeypatch: pytest.MonkeyPatch) -> None:
    from sqlalchemy.engine import make_url

    monkeypatch.setenv("SYNTH_TEST_DB_PASSWORD", password)
    data = copy.deepcopy(demo_spec_data)
    data["source"]["url"] = "postgresql+psycopg2://reader:${SYNTH_TEST_DB_PASSWORD}@db.internal:5432/bank"
    data["destination"] = {"kind": "sql", "url": "mysql+pymysql://w@features-db/ml?password=${SYNTH_TEST_DB_PASSWORD}"}
    spec = load_spec(write_spec(data, "at.yaml")).spec
    source = make_url(spec.source.url)
    assert (source.password, source.host, source.port, source.database) == (password, "db.internal", 5432, "bank")
    assert make_url(spec.destination.url).query["password"] == password
    assert masked_url(spec.source.url) == "postgresql+psycopg2://***@db.internal:5432/bank"
    assert password not in masked_url(spec.source.url) + masked_url(spec.destination.url)


def test_env_values_outside_credentials_are_not_encoded(demo_spec_data: dict[str, Any], write_spec: WriteSpec,
                                                        tmp_path: Path) -> None:
    spec = load_spec(write_spec(demo_spec_data, "home.yaml")).spec  # sqlite:///${SYNTH_PIPELINES_HOME}/... paths
    assert spec.source.url == demo_spec_data["source"]["url"]


@pytest.mark.parametrize("path", ["../../../x", "releases/../../x", "..", "/data/releases/../../etc"])
def test_local_destination_cannot_climb_out(path: str, demo_spec_data: dict[str, Any], write_spec: WriteSpec) -> None:
    data = copy.deepcopy(demo_spec_data)
    data["destination"] = {"kind": "local", "path": path}
    with pytest.raises(SpecError) as excinfo:
        load_spec(write_spec(data, "climb.yaml"))
    message = str(excinfo.value)
    assert "destination.local.path: " in message and "climbs out of its folder with '..'" in message
    assert "Fix: write a folder under SYNTH_PIPELINES_HOME" in message


@pytest.mark.parametrize("path", ["releases", "team/releases", "/srv/releases", "./releases"])
def test_local_destination_paths_that_stay(path: str, demo_spec_data: dict[str, Any], write_spec: WriteSpec,
                                           storage_home: Path) -> None:
    data = copy.deepcopy(demo_spec_data)
    data["destination"] = {"kind": "local", "path": path}
    root = load_spec(write_spec(data, "ok.yaml")).spec.destination.root()
    assert root == Path(path) if path.startswith("/") else root.is_relative_to(storage_home)


def test_spec_error_helper_format(demo_spec_data: dict[str, Any], write_spec: WriteSpec) -> None:
    loaded = load_spec(write_spec(demo_spec_data, "demo.yaml"))
    error = loaded.error("training_view.sql", "it broke", "fix it")
    assert isinstance(error, SpecError) and isinstance(error, ValueError)
    assert str(error) == f"{loaded.path}: training_view.sql: it broke. Fix: fix it"


# --- load_specs --------------------------------------------------------------------------------


def test_load_specs_reads_a_folder(demo_spec_data: dict[str, Any], write_spec: WriteSpec) -> None:
    other = copy.deepcopy(demo_spec_data)
    other["dataset"] = "other_loans"
    first = write_spec(demo_spec_data, "a_demo.yaml")
    write_spec(other, "b_other.yml")
    specs = load_specs(first.parent)
    assert [s.spec.dataset for s in specs] == ["demo_loans", "other_loans"]


def test_load_specs_rejects_duplicate_dataset_names(demo_spec_data: dict[str, Any], write_spec: WriteSpec) -> None:
    copy_ = copy.deepcopy(demo_spec_data)
    copy_["version"] = 2
    first = write_spec(demo_spec_data, "a_demo.yaml")
    second = write_spec(copy_, "b_demo_copy.yaml")
    with pytest.raises(SpecError) as excinfo:
        load_specs(first.parent)
    assert_names(str(excinfo.value), second, "dataset", "'demo_loans'", str(first), fix="own dataset name")


def test_load_specs_reports_the_broken_file(demo_spec_data: dict[str, Any], write_spec: WriteSpec) -> None:
    good = write_spec(demo_spec_data, "a_demo.yaml")
    bad = copy.deepcopy(demo_spec_data)
    bad["dataset"] = "bad"
    bad["synthetic"]["rows"] = 0
    bad_path = write_spec(bad, "b_bad.yaml")
    with pytest.raises(SpecError) as excinfo:
        load_specs(good.parent)
    assert_names(str(excinfo.value), bad_path, "synthetic.rows")


def test_default_generator_is_cart(demo_spec_data: dict[str, Any], write_spec: WriteSpec) -> None:
    del demo_spec_data["generator"]
    generator = load_spec(write_spec(demo_spec_data, "default.yaml")).spec.generator
    assert (generator.plugin, generator.seed, generator.settings) == ("cart", 0, {})


def test_faker_locales_are_fakers_own_list() -> None:
    """The locale check reads Faker's folders instead of importing faker.config (most of a second per
    CLI command, issue 15); it must list exactly what Faker lists."""
    from faker.config import AVAILABLE_LOCALES

    from synth_pipelines.spec import faker_locales

    assert faker_locales() == AVAILABLE_LOCALES


# --- defs.yaml: a dataset as a dg component ---------------------------------------------------------


def test_a_defs_yaml_and_a_plain_spec_are_the_same_spec(tmp_path: Path) -> None:
    plain = tmp_path / "demo_loans.yaml"
    plain.write_text(yaml.safe_dump(spec_fields(DEMO_SPEC), sort_keys=False))
    assert DEMO_SPEC.name == "defs.yaml"
    assert load_spec(plain).spec == load_spec(DEMO_SPEC).spec
    assert load_spec(plain).spec_hash == load_spec(DEMO_SPEC).spec_hash


def test_as_component_file_keeps_comments_and_the_spec(tmp_path: Path) -> None:
    plain = tmp_path / "plain.yaml"
    plain.write_text(yaml.safe_dump(spec_fields(DEMO_SPEC), sort_keys=False).replace(
        "source:", "# read through a read-only session\nsource:", 1))
    plain.write_text("# the demo, plain\n\n" + plain.read_text())
    wrapped = tmp_path / "defs.yaml"
    wrapped.write_text(as_component_file(plain.read_text()))
    text = wrapped.read_text()
    assert text.startswith(f"# the demo, plain\n\ntype: {COMPONENT_TYPE}\nattributes:\n  dataset: demo_loans\n")
    assert "\n  # read through a read-only session\n  source:\n" in text
    assert load_spec(wrapped).spec_hash == load_spec(plain).spec_hash


def test_a_defs_yaml_of_another_component_type(tmp_path: Path) -> None:
    path = tmp_path / "defs.yaml"
    path.write_text("type: dagster_dbt.DbtProjectComponent\nattributes: {project: x}\n")
    assert_names(spec_error(path), path, "type", "'dagster_dbt.DbtProjectComponent' is not a dataset",
                 fix=f"write type: {COMPONENT_TYPE}")


def test_a_defs_yaml_error_names_the_defs_yaml_and_the_spec_field(tmp_path: Path) -> None:
    data = spec_fields(DEMO_SPEC)
    data["synthetic"]["rows"] = 0
    path = tmp_path / "defs.yaml"
    path.write_text(yaml.safe_dump({"type": COMPONENT_TYPE, "attributes": data}, sort_keys=False))
    assert_names(spec_error(path), path, "synthetic.rows", fix="use a larger value")

"""Typed generator settings: spec errors, their mapping onto synthcity's arguments, and real tiny trainings
that show each setting reaching the plugin and changing what it does."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
from synthcity.utils.serialization import load_from_file

from synth_pipelines.core.generator_settings import (
    DP_ARGUMENTS,
    REFUSED_SETTINGS,
    SettingProblem,
    auto_batch_size,
    controlled_arguments,
    resolve_plugin_kwargs,
)
from synth_pipelines.core.quality.report import report_html, report_tables
from synth_pipelines.core.quality.results import QualityReport
from synth_pipelines.core.synthcity_plugins import available_plugins, plugin_arguments
from synth_pipelines.core.differential_privacy import DomainError, privacy_record
from synth_pipelines.core.synthesis import generate_rows, train_synthesizer
from synth_pipelines.spec import GeneratorSpec, SpecError, load_spec


@pytest.fixture
def rows() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 240
    return pd.DataFrame({"amount": rng.lognormal(8, 0.4, n), "term": rng.choice([12, 24, 36], n),
                         "purpose": rng.choice(["car", "home", "study"], n).astype(object),
                         "defaulted": rng.integers(0, 2, n)})


# The declared domain of `rows` for privbayes (never read from the rows under differential privacy).
ROWS_DOMAIN = {"amount": {"minimum": 0, "maximum": 20000}, "term": {"values": [12, 24, 36]},
               "purpose": {"values": ["car", "home", "study"]}, "defaulted": {"values": [0, 1]}}


def dp(epsilon: float, **generator: Any) -> dict[str, Any]:
    return {"plugin": "privbayes", "epsilon": epsilon, "epsilon_limit": 100.0, "domain": ROWS_DOMAIN, **generator}


def train(rows: pd.DataFrame, out: Path, **generator: Any):
    synthesizer = train_synthesizer(rows, GeneratorSpec(**generator), label="defaulted",
                                    categorical={"defaulted"}, out_dir=out)
    return synthesizer, load_from_file(synthesizer.model_path)


def loss_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name == "synth_pipelines.synthcity" and r.levelno == logging.INFO and "Loss" in r.getMessage()]


def spec_error(data: dict[str, Any], write_spec, **generator: Any) -> str:
    data["generator"] = {"seed": 1, **generator}
    path = write_spec(data)
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ") and "Fix: " in message
    return message


@pytest.fixture
def one_table_spec_data(demo_spec_data: dict[str, Any]) -> dict[str, Any]:
    """The demo spec reduced to one synthesized table, as differential privacy needs."""
    data = demo_spec_data
    data["source"]["tables"] = {"loans": {"primary_key": "loan_id", "exclude_columns": ["recovery_agent"]}}
    data["training_view"] = {"entity_key": "loan_id", "label": "defaulted",
                             "sql": "SELECT loan_id, amount, term_months, interest_rate, purpose, defaulted FROM loans"}
    data["features"], data["qa"] = {}, {}
    return data


def test_every_mapped_argument_exists_in_the_plugin_source() -> None:
    # The mapping is read from synthcity 0.2.12's sources; a synthcity upgrade that renames one fails here.
    for plugin in available_plugins():
        missing = set(controlled_arguments(plugin)) - plugin_arguments(plugin)
        assert not missing, f"{plugin}: {missing}"
    assert set(DP_ARGUMENTS) <= set(available_plugins())


@pytest.mark.parametrize(("generator", "field", "fragments"), [
    ({"plugin": "bayesian_network", "epochs": 5}, "generator.epochs", ["'bayesian_network'", "tvae", "arf"]),
    ({"plugin": "arf", "learning_rate": 0.01}, "generator.learning_rate", ["'arf'", "ctgan"]),
    ({"plugin": "tvae", "validation_fraction": 0.3}, "generator.validation_fraction", ["fixed 20%", "ddpm"]),
    ({"plugin": "tvae", "early_stopping": {"patience": 3, "min_relative_improvement": 0.01}},
     "generator.early_stopping.min_relative_improvement", ["any improvement", "ddpm"]),
    ({"plugin": "arf", "early_stopping": {"patience": 3}}, "generator.early_stopping", ["early_stop"]),
    ({"plugin": "arf", "device": "cpu"}, "generator.device", ["'arf'", "tvae"]),
    ({"plugin": "nflow", "progress_every": 5}, "generator.progress_every", ["no per-epoch loss"]),
    ({"plugin": "tvae", "epochs": 5, "settings": {"n_iter": 9}}, "generator.settings.n_iter", ["generator.epochs"]),
    ({"plugin": "tvae", "progress_every": 3, "settings": {"n_iter_print": 9}}, "generator.settings.n_iter_print",
     ["progress_every"]),
    ({"plugin": "tvae", "epsilon": 1.0}, "generator.epsilon", ["'tvae'", "privbayes"]),
    ({"plugin": "adsgan", "epsilon": 1.0}, "generator.epsilon", ["not formal differential privacy"]),
    ({"plugin": "tvae", "batch_size": "big"}, "generator.batch_size", []),
    ({"plugin": "tvae", "early_stopping": {"patience": 0}}, "generator.early_stopping.patience", ["larger"]),
])
def test_bad_typed_setting_names_field_plugin_and_fix(demo_spec_data, write_spec, generator, field, fragments):
    message = spec_error(demo_spec_data, write_spec, **generator)
    assert f": {field}" in message
    for fragment in fragments:
        assert fragment in message


@pytest.mark.parametrize(("generator", "field", "fragments"), [
    ({"plugin": "privbayes"}, "generator.epsilon", ["needs a privacy budget"]),
    (dp(1.0, delta=1e-5), "generator.delta", ["pure epsilon-DP"]),
    (dp(1.0, noise_multiplier=1.1), "generator.noise_multiplier", ["Laplace noise from epsilon"]),
    (dp(1.0, max_grad_norm=1.0), "generator.max_grad_norm", ["gradient descent"]),
    ({"plugin": "privbayes", "epsilon": 1.0, "domain": ROWS_DOMAIN}, "generator.epsilon_limit",
     ["total budget", "epsilon_limit"]),
    (dp(200.0), "generator.epsilon", ["more than generator.epsilon_limit"]),
    (dp(1.0, domain={}), "generator.domain", ["domain of every synthesized column", "values"]),
    (dp(1.0, domain={"amount": {"minimum": 5}}), "generator.domain.amount", ["both `minimum` and `maximum`"]),
    (dp(1.0, domain={"amount": {"minimum": 5, "maximum": 1}}), "generator.domain.amount", ["not below"]),
    (dp(1.0, domain={"term": {"values": [1, 1]}}), "generator.domain.term.values", ["repeats"]),
    ({"plugin": "cart", "epsilon_limit": 3.0}, "generator.epsilon_limit", ["only a differentially private"]),
    # synthcity's DP plugins that do not deliver DP are refused by name, with the reason.
    ({"plugin": "dpgan", "epsilon": 1.0}, "generator.plugin", ["not differentially private", "privbayes"]),
    ({"plugin": "pategan", "epsilon": 1.0}, "generator.plugin", ["student discriminator", "privbayes"]),
    ({"plugin": "aim", "epsilon": 1.0}, "generator.plugin", ["every generate call", "privbayes"]),
])
def test_bad_privacy_setting(one_table_spec_data, write_spec, generator, field, fragments):
    message = spec_error(one_table_spec_data, write_spec, **generator)
    assert f": {field}" in message
    for fragment in fragments:
        assert fragment in message


def test_privacy_needs_a_single_synthesized_table(demo_spec_data, write_spec):
    message = spec_error(demo_spec_data, write_spec, **dp(1.0))
    assert ": generator.epsilon: differential privacy is only supported when one table" in message
    assert "accounts, customers, loans" in message and "lookup" in message


def test_privacy_spec_with_one_table_loads(one_table_spec_data, write_spec):
    one_table_spec_data["generator"] = dp(2.0)
    generator = load_spec(write_spec(one_table_spec_data)).spec.generator
    # What loading adds: the budget reaches the plugin under its own name and nothing else does, pure
    # epsilon-DP (no delta), and every declared column is typed and not nullable unless it says so.
    assert resolve_plugin_kwargs(generator, train_rows=100, encoded_columns=5, cuda_available=False,
                                 free_memory_bytes=10**9) == {"epsilon": 2.0}
    assert generator.delta is None
    assert set(generator.domain) == set(ROWS_DOMAIN)
    assert {name: column.nullable for name, column in generator.domain.items()} == dict.fromkeys(ROWS_DOMAIN, False)
    assert (generator.domain["amount"].minimum, generator.domain["amount"].maximum) == (0.0, 20000.0)
    assert generator.domain["amount"].values is None and generator.domain["term"].minimum is None


@pytest.mark.parametrize("setting", sorted(REFUSED_SETTINGS))
def test_dp_refuses_every_setting_that_reads_real_rows_outside_the_mechanism(one_table_spec_data, write_spec,
                                                                               setting):
    message = spec_error(one_table_spec_data, write_spec, **dp(1.0, settings={setting: True}))
    assert f"generator.settings.{setting}" in message or f"generator.settings: " in message
    assert setting in message


def test_resolved_arguments_use_the_plugins_names():
    generator = GeneratorSpec(plugin="tvae", epochs=40, learning_rate=0.01, batch_size=64, progress_every=2,
                              early_stopping={"patience": 5, "min_epochs": 10}, settings={"n_units_embedding": 8})
    kwargs = resolve_plugin_kwargs(generator, train_rows=100, encoded_columns=5, cuda_available=False,
                                   free_memory_bytes=10**9)
    # synthcity checks every n_iter_print epochs and counts checks: 5 epochs at 2 per check -> 3 checks.
    assert kwargs == {"n_units_embedding": 8, "n_iter": 40, "lr": 0.01, "batch_size": 64, "n_iter_print": 2,
                      "patience": 3, "n_iter_min": 10}
    auto = resolve_plugin_kwargs(GeneratorSpec(plugin="arf", epochs=3), train_rows=100, encoded_columns=5,
                                 cuda_available=False, free_memory_bytes=10**9)
    assert auto == {"max_iters": 3}
    # Without the typed setting, the plugin's own argument may still be given raw (and is kept).
    raw = resolve_plugin_kwargs(GeneratorSpec(plugin="tvae", settings={"n_iter": 7, "n_iter_print": 7}),
                                train_rows=100, encoded_columns=5, cuda_available=False, free_memory_bytes=10**9)
    assert raw == {"n_iter": 7, "n_iter_print": 7}


def test_auto_batch_size_rule():
    assert auto_batch_size(100_000, 20, 16 * 2**30) == 4096  # capped
    assert auto_batch_size(5_000, 20, 16 * 2**30) == 256  # ~10 steps per epoch, a power of two
    assert auto_batch_size(20, 20, 16 * 2**30) == 20  # never more than the rows
    assert auto_batch_size(100_000, 20, 100 * 8_160 * 100) == 100  # 1% of the free memory


def test_device_cuda_without_cuda_is_a_clear_error(rows, tmp_path):
    with pytest.raises(SettingProblem, match="torch finds no CUDA device") as caught:
        resolve_plugin_kwargs(GeneratorSpec(plugin="tvae", device="cuda"), train_rows=10, encoded_columns=3,
                              cuda_available=False, free_memory_bytes=10**9)
    assert caught.value.field == "device" and "device: auto" in caught.value.fix
    if not torch.cuda.is_available():  # the real check, before any training starts
        with pytest.raises(SettingProblem, match="no CUDA device"):
            train(rows, tmp_path, plugin="tvae", epochs=1, device="cuda")


def test_epochs_batch_size_device_and_progress_reach_tvae(rows, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="synth_pipelines")
    synthesizer, model = train(rows, tmp_path / "three", plugin="tvae", seed=1, epochs=3, batch_size=48,
                               device="cpu", progress_every=1)
    assert (model.n_iter, model.batch_size, str(model.device)) == (3, 48, "cpu")
    assert [line.split("]")[0] for line in loss_lines(caplog)] == ["[0/3", "[1/3", "[2/3"]
    recorded = json.loads((tmp_path / "three" / "synthesizer.json").read_text())
    assert recorded["plugin_kwargs"] == {"n_iter": 3, "batch_size": 48, "device": "cpu", "n_iter_print": 1}
    caplog.clear()
    train(rows, tmp_path / "one", plugin="tvae", seed=1, epochs=1, batch_size=48, device="cpu", progress_every=1)
    assert len(loss_lines(caplog)) == 1


def test_ddpm_early_stopping_stops_before_the_epochs_and_validates_on_the_fraction(rows, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="synth_pipelines")
    # A 90% relative improvement is never reached after the first epoch: stops after patience (2) more.
    synthesizer, model = train(rows, tmp_path, plugin="ddpm", epochs=30, batch_size=64, progress_every=1,
                               validation_fraction=0.25, settings={"num_timesteps": 10},
                               early_stopping={"patience": 2, "min_relative_improvement": 0.9})
    lines = loss_lines(caplog)
    assert [line.split("]")[0] for line in lines] == ["[1/30", "[2/30", "[3/30"]
    assert any("Early stopping" in r.getMessage() for r in caplog.records)
    assert len(model.model.valid_set) == 60 and len(model.validation_history) == 3


def test_epsilon_reaches_the_plugin_and_changes_the_rows(rows, tmp_path):
    strict, model = train(rows, tmp_path / "strict", **dp(0.05, seed=2))
    loose, loose_model = train(rows, tmp_path / "loose", **dp(50.0, seed=2))
    assert (model.epsilon, loose_model.epsilon) == (0.05, 50.0)
    assert strict.privacy["epsilon_budget"] == strict.privacy["epsilon_spent"] == 0.05
    assert strict.privacy["delta"] is None and strict.privacy["reproducible_from_seed"] is False
    assert "configured budget" in strict.privacy["accounting"] and "exponential mechanism" in strict.privacy["accounting"]
    for assumption in ("neighbouring_datasets", "unit_of_privacy", "domain", "noise_source", "not_covered_by_epsilon"):
        assert strict.privacy[assumption]
    recorded = json.loads((tmp_path / "strict" / "synthesizer.json").read_text())
    assert recorded["privacy"]["epsilon_budget"] == 0.05 and recorded["plugin_kwargs"] == {"epsilon": 0.05}
    first = pd.read_parquet(generate_rows(strict, rows=200, batch_rows=200, id_prefix="s", out_dir=tmp_path / "a").path)
    second = pd.read_parquet(generate_rows(loose, rows=200, batch_rows=200, id_prefix="s", out_dir=tmp_path / "b").path)
    assert not first.drop(columns="synthetic_id").equals(second.drop(columns="synthetic_id"))


def test_dp_takes_the_domain_from_the_spec_not_from_the_rows(rows, tmp_path):
    # Declared values no row holds are still states; bounds, fill and nullability are the declared ones.
    domain = {**ROWS_DOMAIN, "purpose": {"values": ["car", "home", "study", "boat"]},
              "amount": {"minimum": 0, "maximum": 20000, "nullable": True}}
    gappy = rows.assign(amount=rows["amount"].where(rows.index % 4 != 0))
    synthesizer, model = train(gappy, tmp_path / "dp", **dp(5.0, domain=domain))
    codecs = {c.name: c for c in synthesizer.codecs}
    assert codecs["purpose"].categories == ["car", "home", "study", "boat"]
    assert (codecs["amount"].minimum, codecs["amount"].maximum, codecs["amount"].fill) == (0, 20000, 0)
    assert codecs["amount"].has_missing and codecs["amount"].number_format is None
    assert model.model.encoders["purpose"]["states"] == 4  # 'boat' is a state although no row holds it
    assert model.model.encoders["amount"]["bounds"] == (0.0, 20000.0)
    plain, _ = train(gappy, tmp_path / "plain", plugin="cart")
    assert {c.name: c for c in plain.codecs}["amount"].fill == pytest.approx(gappy["amount"].median())


@pytest.mark.parametrize(("domain", "fragments"), [
    ({k: v for k, v in ROWS_DOMAIN.items() if k != "term"}, ["generator.domain: no declared domain for term"]),
    ({**ROWS_DOMAIN, "extra": {"values": [1]}}, ["extra is not synthesized"]),
    ({**ROWS_DOMAIN, "purpose": {"values": ["car", "home"]}}, ["generator.domain.purpose.values", "not declared"]),
    ({**ROWS_DOMAIN, "purpose": {"minimum": 0, "maximum": 1}}, ["holds text", "values"]),
    ({**ROWS_DOMAIN, "defaulted": {"minimum": 0, "maximum": 1}}, ["classification label", "values"]),
])
def test_dp_domain_errors_name_the_field_and_the_fix(rows, tmp_path, domain, fragments):
    with pytest.raises(DomainError) as caught:
        train(rows, tmp_path, **dp(1.0, domain=domain))
    for fragment in [*fragments, "Fix: "]:
        assert fragment in str(caught.value)
    gappy = rows.assign(amount=rows["amount"].where(rows.index % 4 != 0))
    with pytest.raises(DomainError, match="missing values but is declared not nullable"):
        train(gappy, tmp_path / "gappy", **dp(1.0))


def test_privacy_accounting_only_for_the_vetted_dp_plugin():
    with pytest.raises(ValueError, match="no differential-privacy accounting for plugin 'dpgan'"):
        privacy_record("dpgan", None, 1.0)


def test_report_shows_the_privacy_guarantee():
    privacy = {"plugin": "privbayes", "epsilon_budget": 3.0, "epsilon_spent": 2.99, "delta": None,
               "accounting": "reported by opacus"}
    report = QualityReport(checks=[])
    page = report_html(report, report_tables(report, privacy), {}, pd.DataFrame())
    assert "<h2>Differential privacy</h2>" in page and "2.99" in page and "reported by opacus" in page
    assert "Differential privacy" not in report_html(report, report_tables(report), {}, pd.DataFrame())

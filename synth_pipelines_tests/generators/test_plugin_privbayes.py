"""This project's PrivBayes (replaces synthcity 0.2.12's, whose count noise was n times too small)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from synth_pipelines.core.synthcity_plugins import load_plugin_class, plugin_arguments
from synth_pipelines.generators.plugin_privbayes import MAX_PARENTS, PrivBayesPlugin


@pytest.fixture(scope="module")
def people() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = 4_000
    group = rng.choice(["a", "b", "c", "d"], size=rows, p=[0.7, 0.2, 0.05, 0.05])
    income = np.round(rng.lognormal(10, 0.5, rows) * np.where(group == "a", 1.0, 2.0), 2)
    age = rng.integers(18, 90, rows)
    label = np.where((group == "a") ^ (rng.random(rows) < 0.05), "no", "yes")
    city = rng.choice([f"city_{i:02d}" for i in range(30)], size=rows)  # more values than n_bins
    return pd.DataFrame({"group": group, "income": income, "age": age, "label": label, "city": city})


def _fit(frame: pd.DataFrame, epsilon: float, seed: int = 0, **settings) -> PrivBayesPlugin:
    plugin = PrivBayesPlugin(epsilon=epsilon, random_state=seed, **settings)
    plugin.fit(frame)
    return plugin


def _root_error(plugin: PrivBayesPlugin, frame: pd.DataFrame, column: str) -> float:
    """Total variation between the fitted marginal of a parentless column and the real one."""
    model = plugin.model
    cpd = model.network.get_cpds(column)
    assert cpd.get_evidence() == []
    fitted = cpd.get_values().ravel()
    real = model.encoders[column]["model"].transform(frame[column])
    empirical = np.bincount(real, minlength=len(fitted)) / len(frame)
    return float(np.abs(fitted - empirical).sum() / 2)


def test_replaces_synthcitys_privbayes() -> None:
    assert load_plugin_class("privbayes") is PrivBayesPlugin
    assert {"epsilon", "K", "n_bins", "target_usefulness", "strict"} <= plugin_arguments("privbayes")
    assert "mi_thresh" not in plugin_arguments("privbayes")  # a non-private decision: not offered


def test_the_whole_budget_is_split_between_structure_and_conditionals(people: pd.DataFrame) -> None:
    model = _fit(people[["group", "label"]], 2.0).model
    assert model.epsilon == 2.0  # synthcity's base class halves it
    assert (model._epsilon_structure, model._epsilon_conditionals) == pytest.approx((0.6, 1.4))


def test_noise_is_calibrated_on_counts(people: pd.DataFrame) -> None:
    # One column alone is a parentless root: its table is the noisy marginal. At epsilon 0.05 the
    # Laplace scale on counts is 2*1/0.035 = 57, visible on 4,000 rows; synthcity's scale (2/(n*eps))
    # would leave the marginal exact at any epsilon.
    frame = people[["group"]].apply(lambda codes: codes.map({"a": 0, "b": 1, "c": 2, "d": 3}))
    strict = np.median([_root_error(_fit(frame, 0.05, seed), frame, "group") for seed in range(3)])
    loose = np.median([_root_error(_fit(frame, 1000.0, seed), frame, "group") for seed in range(3)])
    assert strict > 0.005 and loose < 0.001


def test_small_budgets_give_sparse_networks_large_ones_learn_the_label(people: pd.DataFrame) -> None:
    sparse = _fit(people, 0.01).model
    assert all(parents == [] for _, parents in sparse.dag)
    dense = _fit(people, 1000.0).model
    parents = {child: p for child, p in dense.dag}
    assert any(parents[c] for c in parents)
    assert all(len(p) <= min(dense.K, MAX_PARENTS) for p in parents.values())
    # Every joint table fits the theta-usefulness bound the structure search enforced.
    bound = dense._max_cells(*people.shape)
    for child, p in dense.dag:
        assert np.prod([dense._states(c) for c in p + [child]]) <= bound or not p


def test_numeric_columns_are_binned_and_decode_in_range(people: pd.DataFrame) -> None:
    plugin = _fit(people, 10.0, n_bins=16)
    assert plugin.model.encoders["income"]["type"] == "binned" and plugin.model._states("income") == 16
    assert plugin.model.encoders["group"]["type"] == "categorical"
    assert plugin.model.encoders["city"]["type"] == "categorical"  # text, though label-encoded by synthcity
    rows = plugin.generate(2_000).dataframe()
    assert rows["income"].between(people["income"].min(), people["income"].max()).all()
    assert rows["income"].nunique() > 100  # uniform within a bin, not 16 repeated values
    assert (rows["age"] % 1 == 0).all() and rows["age"].between(18, 89).all()
    assert set(rows["group"]) <= set(people["group"]) and set(rows["label"]) <= {"no", "yes"}


def test_large_budgets_reproduce_shares_and_relations(people: pd.DataFrame) -> None:
    # Nothing is dropped as a duplicate (synthcity's strict mode would skew a discrete model's shares).
    rows = _fit(people[["group", "label"]], 1e6).generate(4_000).dataframe()
    assert len(rows) == 4_000
    assert abs((rows["group"] == "a").mean() - (people["group"] == "a").mean()) < 0.03
    agreement = ((rows["group"] == "a") == (rows["label"] == "no")).mean()
    assert agreement > 0.9  # the 95% relation between group and label survives


def test_the_seed_drives_sampling_only_the_noise_is_secret(people: pd.DataFrame) -> None:
    # Sampling from one fitted model is reproducible from the seed (post-processing) ...
    model = _fit(people, 5.0, seed=3)
    pd.testing.assert_frame_equal(model.generate(500, random_state=3).dataframe(),
                                  model.generate(500, random_state=3).dataframe())
    # ... but the mechanism's noise is not: two fits with the same seed give other tables and rows.
    again = _fit(people, 5.0, seed=3)
    tables = [np.concatenate([m.model.network.get_cpds(c).get_values().ravel() for c in sorted(people.columns)])
              for m in (model, again)]
    assert not np.array_equal(*tables)
    assert not model.generate(500, random_state=3).dataframe().equals(again.generate(500, random_state=3).dataframe())
    assert not hasattr(model.model, "noise")  # the secret generator is gone before the model is saved


DOMAIN = {"group": {"values": ["a", "b", "c", "d", "e"]}, "income": {"bounds": [0, 200_000], "integer": False},
          "age": {"bounds": [0, 120], "integer": True}, "label": {"values": ["no", "yes"]},
          "city": {"values": [f"city_{i:02d}" for i in range(40)]}}


def test_with_a_declared_domain_nothing_about_the_domain_comes_from_the_rows(people: pd.DataFrame) -> None:
    plugin = PrivBayesPlugin(epsilon=5.0, random_state=0, domain=DOMAIN)
    plugin.fit(people)
    encoders = plugin.model.encoders
    assert encoders["group"] == {"type": "declared", "values": ["a", "b", "c", "d", "e"], "states": 5}  # 'e': no row
    assert encoders["city"]["states"] == 40
    assert encoders["income"]["bounds"] == (0.0, 200_000.0) and encoders["income"]["states"] == 20
    assert encoders["age"]["states"] == 20 and encoders["age"]["edges"][0] == -0.5  # fixed bins, not the data's
    assert not hasattr(plugin, "_schema") or plugin._schema is None  # no synthcity schema of the real rows
    rows = plugin.generate(2_000, random_state=1).dataframe()
    assert list(rows.columns) == list(people.columns) and len(rows) == 2_000
    assert rows["income"].between(0, 200_000).all() and (rows["age"] % 1 == 0).all()
    assert set(rows["group"]) <= set(DOMAIN["group"]["values"])
    # A lone outlier does not stretch the output range: values are clipped into the declared bounds.
    outlier = people.assign(income=people["income"].where(people.index != 0, 10**9))
    wide = PrivBayesPlugin(epsilon=5.0, random_state=0, domain=DOMAIN)
    wide.fit(outlier)
    assert wide.model.encoders["income"]["edges"].max() == 200_000


def test_declared_domain_refuses_settings_that_read_rows_outside_the_mechanism(people: pd.DataFrame) -> None:
    for setting in ("compress_dataset", "strict"):
        with pytest.raises(ValueError, match="refused with a declared domain"):
            PrivBayesPlugin(epsilon=1.0, domain=DOMAIN, **{setting: True})
    with pytest.raises(ValueError, match="outside its declared domain"):
        PrivBayesPlugin(epsilon=1.0, domain={**DOMAIN, "group": {"values": ["a"]}}).fit(people)

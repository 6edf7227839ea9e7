"""This project's arf plugin (replaces synthcity 0.2.12's, which sampled text columns as numbers)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from synth_pipelines.core.synthcity_plugins import load_plugin_class, plugin_arguments
from synth_pipelines.generators.plugin_arf import ARFPlugin


@pytest.fixture(scope="module")
def customers() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = 1_500
    # 30 countries, one of them dominant: more than synthcity's 10-value threshold for categories.
    countries = [f"country_{i:02d}" for i in range(30)]
    country = rng.choice(countries, size=rows, p=[0.71] + [0.01] * 29)
    spend = np.round(rng.gamma(2.0, 50.0, rows), 2)
    return pd.DataFrame({"country": country, "spend": spend, "visits": rng.integers(0, 40, rows),
                         "churned": np.where(spend > 120, "yes", "no")})


@pytest.fixture(scope="module")
def fitted(customers: pd.DataFrame) -> ARFPlugin:
    plugin = ARFPlugin(num_trees=10, min_node_size=20, random_state=0)
    plugin.fit(customers)
    return plugin


def test_replaces_synthcitys_arf() -> None:
    assert load_plugin_class("arf") is ARFPlugin
    assert {"num_trees", "min_node_size", "max_iters", "categorical_max_values", "alpha"} <= plugin_arguments("arf")


def test_text_columns_with_many_values_are_sampled_as_categories(fitted: ARFPlugin, customers: pd.DataFrame) -> None:
    rows = fitted.generate(3_000).dataframe()
    assert "country" in fitted._categories and "spend" not in fitted._categories
    assert set(rows["country"]) <= set(customers["country"])
    dominant = (rows["country"] == "country_00").mean()
    assert abs(dominant - 0.71) < 0.05  # as numbers, the codes would be smeared over the range
    assert rows["spend"].nunique() > 500 and (rows["visits"] % 1 == 0).all()


def test_density_is_fitted_once_not_per_batch(fitted: ARFPlugin) -> None:
    params = fitted.model.params
    fitted.generate(100)
    fitted.generate(100)
    assert fitted.model.params is params


def test_repeated_rows_keep_their_shares_and_the_ranges_hold() -> None:
    """Few yes/no columns, most rows repeat: synthcity's strict mode dropped each batch's duplicates
    (the common rows most of all); its range filter stays, as arfpy's densities reach past the ranges."""
    rng = np.random.default_rng(0)
    rows = 3_000
    frame = pd.DataFrame({"minority": np.where(rng.random(rows) < 0.05, "yes", "no"),
                          "older": np.where(rng.random(rows) < 0.3, "yes", "no"),
                          "age": rng.integers(21, 36, rows), "label": rng.integers(0, 2, rows)})
    plugin = ARFPlugin(num_trees=10, random_state=0).fit(frame)
    synthetic = plugin.generate(count=rows, random_state=1).dataframe()
    assert len(synthetic) == rows and synthetic.duplicated().mean() > 0.9
    assert abs((synthetic["minority"] == "yes").mean() - 0.05) < 0.02
    assert synthetic["age"].between(21, 35).all()

"""The sequential CART plugin: trained and sampled through synthcity's plugin API, as the pipeline does."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import ks_2samp
from sklearn.metrics import roc_auc_score

from synth_pipelines.core.synthcity_plugins import (available_plugins, load_plugin_class, plugin_arguments,
                                                    unsupported_settings)
from synth_pipelines.core.synthesis import generate_rows, train_synthesizer
from synth_pipelines.generators.plugin_cart import SmoothingScale, auto_min_samples_leaf
from synth_pipelines.spec import GeneratorSpec


@pytest.fixture(scope="module")
def loans() -> pd.DataFrame:
    """A label that depends on two columns, a zero-inflated amount and a continuous income."""
    rng = np.random.default_rng(3)
    n = 3000
    income = rng.lognormal(10, 0.4, n).round(2)
    segment = rng.choice(["retail", "business", "private"], n, p=[0.6, 0.3, 0.1])
    overdraft = np.where(rng.random(n) < 0.7, 0.0, rng.exponential(500, n).round(2))
    risk = 1 / (1 + np.exp(-(np.log(income) - 10) * 4 - (segment == "business") * 1.5))
    return pd.DataFrame({"income": income, "segment": segment.astype(object), "overdraft": overdraft,
                         "defaulted": (rng.random(n) < risk).astype(int)})


def _fit(frame: pd.DataFrame, seed: int = 0, **settings):
    from synthcity.plugins.core.dataloader import GenericDataLoader

    model = load_plugin_class("cart")(random_state=seed, **settings)
    return model.fit(GenericDataLoader(frame, target_column="defaulted"))


def test_registered_beside_synthcitys_plugins() -> None:
    assert "cart" in available_plugins()
    assert {"min_samples_leaf", "max_depth", "smoothing", "label_last", "label_model"} <= plugin_arguments("cart")


def test_rows_follow_the_real_distributions_and_the_label_relation(loans: pd.DataFrame) -> None:
    synthetic = _fit(loans).generate(count=3000, random_state=1).dataframe()
    assert list(synthetic.columns) == list(loans.columns) and len(synthetic) == 3000
    real_shares = loans["segment"].value_counts(normalize=True)
    synthetic_shares = synthetic["segment"].value_counts(normalize=True)
    assert (real_shares - synthetic_shares).abs().max() < 0.03
    # The zero spike is kept exact (not smoothed into small amounts); its share is preserved.
    assert abs((synthetic["overdraft"] == 0).mean() - (loans["overdraft"] == 0).mean()) < 0.03
    # The label still depends on income the way it does in the real rows.
    assert roc_auc_score(synthetic["defaulted"], synthetic["income"]) > 0.65


def test_smoothing_blurs_continuous_values_and_can_be_turned_off(loans: pd.DataFrame) -> None:
    real_incomes = set(loans["income"])
    smoothed = _fit(loans).generate(count=1000, random_state=1).dataframe()
    assert smoothed["income"].isin(real_incomes).mean() < 0.05
    donors = _fit(loans, smoothing=False).generate(count=1000, random_state=1).dataframe()
    assert donors["income"].isin(real_incomes).all()


def test_a_table_of_repeated_rows_keeps_its_shares() -> None:
    """Few yes/no columns: most real rows repeat. synthcity's strict mode dropped each batch's duplicate
    rows, the common rows most of all: 47% of real women worked 0 weeks, 9% of the synthetic ones."""
    rng = np.random.default_rng(0)
    n = 20_000
    minority = rng.random(n) < 0.05
    worked = np.where(rng.random(n) < 0.5, 0, rng.integers(1, 53, n))
    frame = pd.DataFrame({"minority": minority.astype(int), "older": (rng.random(n) < 0.3).astype(int),
                          "weeks_worked": worked, "defaulted": (rng.random(n) < 0.2 + 0.2 * minority).astype(int)})
    model = _fit(frame)
    assert model.resolved_settings()["strict"] is False
    synthetic = model.generate(count=n, random_state=1).dataframe()
    for column in ("minority", "older", "defaulted"):
        assert abs(synthetic[column].mean() - frame[column].mean()) < 0.015, column
    assert abs((synthetic["weeks_worked"] == 0).mean() - (worked == 0).mean()) < 0.02


def test_leaf_size_is_automatic_and_settable(loans: pd.DataFrame) -> None:
    assert auto_min_samples_leaf(300) == 40 and auto_min_samples_leaf(3000) == 75
    assert auto_min_samples_leaf(1_000_000) == 200
    auto = _fit(loans)
    assert auto.min_samples_leaf_ == 75
    coarse = _fit(loans, min_samples_leaf=600)
    leaves = lambda model: sum(c.tree.get_n_leaves() for c in model.columns_ if c.tree is not None)  # noqa: E731
    assert leaves(coarse) < leaves(auto)
    assert min(c.sizes.min() for c in coarse.columns_) >= 600


def test_a_category_with_many_values_gets_leaves_that_tell_them_apart() -> None:
    """60 districts, each with its own stretch of a coordinate: leaves of the automatic size (150 rows
    here) span two districts, so a row's district would disagree with its coordinate; the category's own
    smaller leaves (rows / (2 x 60) = 50) keep them together. A set leaf size holds for every column."""
    from synthcity.plugins.core.dataloader import GenericDataLoader

    rng = np.random.default_rng(4)
    district = rng.integers(0, 60, 6000)
    frame = pd.DataFrame({"x": (district + rng.uniform(0, 1, 6000)).round(3),
                          "district": [f"d{d:02d}" for d in district], "y": rng.integers(0, 2, 6000)})

    def agreement(**settings) -> tuple[float, object]:
        model = load_plugin_class("cart")(random_state=0, **settings).fit(GenericDataLoader(frame, target_column="y"))
        rows = model.generate(count=6000, random_state=1).dataframe()
        return float((np.floor(rows["x"]).astype(int) == rows["district"].str[1:].astype(int)).mean()), model

    auto, model = agreement()
    assert model.min_samples_leaf_ == 150 and model.resolved_settings()["category_leaves"] == {"district": 50}
    fixed, fixed_model = agreement(min_samples_leaf=150)
    assert "category_leaves" not in fixed_model.resolved_settings()
    assert auto > 0.8 and auto > fixed + 0.1, (auto, fixed)


def test_a_value_a_few_rows_share_is_smoothed_so_their_rows_are_not_recreated() -> None:
    """Opening days of 4,000 accounts in 60 districts: a day holds 5 accounts on average, so most days
    are held by 5 or more rows, but by far under 0.5% of them: no spike. Kept exact, a donor's day beside
    a district the tree narrowed down recreates real (district, day) pairs far more often than another
    real sample holds them (0.48 against 0.18 here); smoothed, the synthetic rows copy no more than the holdout."""
    from synthcity.plugins.core.dataloader import GenericDataLoader

    rng = np.random.default_rng(7)

    def accounts(rows: int) -> pd.DataFrame:
        district = rng.integers(0, 60, rows)
        day = np.clip(rng.normal(400 + 5 * district, 120), 0, 799).round().astype(int)
        return pd.DataFrame({"district": [f"d{d:02d}" for d in district], "day": day, "y": rng.integers(0, 2, rows)})

    train, holdout = accounts(4000), accounts(4000)
    model = load_plugin_class("cart")(random_state=0).fit(GenericDataLoader(train, target_column="y"))
    rows = model.generate(count=4000, random_state=1).dataframe()
    pairs = set(zip(train["district"], train["day"]))

    def copy_share(frame: pd.DataFrame) -> float:
        return float(np.mean([pair in pairs for pair in zip(frame["district"], frame["day"].round().astype(int))]))

    assert copy_share(rows) <= 1.2 * copy_share(holdout), (copy_share(rows), copy_share(holdout))


def test_exact_values_are_a_value_sets_values_or_spikes() -> None:
    from synth_pipelines.core.value_formats import exact_values

    rng = np.random.default_rng(0)
    assert set(exact_values(rng.integers(0, 10, 1000).astype(float))) == set(range(10))  # a value set
    days = rng.integers(0, 800, 4000).astype(float)  # ~5 rows per day, none 0.5% of the rows
    assert len(exact_values(days)) == 0
    capped = np.concatenate([days, np.full(200, 800.0)])  # a cap held by 4.8% of the rows
    assert list(exact_values(capped)) == [800.0]
    places = np.round(rng.uniform(44.9, 45.1, 4000), 6)  # coordinates, a metre apart at most
    places[:12] = 44.987654  # a corner 12 rows share (0.3%): nobody within ten grid steps of it
    assert list(exact_values(places)) == [44.987654]


def test_label_model_choice(loans: pd.DataFrame) -> None:
    assert _fit(loans).label_booster_ is not None
    assert _fit(loans, label_model="tree").label_booster_ is None
    with pytest.raises(ValueError, match="label_model must be 'boosting' or 'tree'"):
        load_plugin_class("cart")(label_model="forest")


def test_a_label_class_of_one_row_on_a_large_table_is_left_out_of_the_labels_model() -> None:
    # From 10,000 rows sklearn's booster stops early on a stratified 10%: an error with a class of one row.
    rng = np.random.default_rng(0)
    x = rng.normal(size=24_000)
    frame = pd.DataFrame({"x": x, "defaulted": np.where(x + rng.normal(0, 0.5, 24_000) > 0, "yes", "no")})
    frame.loc[0, "defaulted"] = "once"
    frame.loc[1:2, "defaulted"] = "twice"  # in every fold's fit of the class shares' correction, 1 row
    generated = _fit(frame).generate(2_000).dataframe()
    assert len(generated) == 2_000 and "once" not in set(generated["defaulted"])


def test_a_label_class_of_one_row_does_not_distort_the_other_classes() -> None:
    # nycflights13's planes, `engine`: with its one 'Turbo-prop' in the booster's fit, the booster's class
    # counts on the real planes were 165 Reciprocating (real 19), 73 Turbo-shaft (5), 596 Turbo-jet (417).
    from synth_pipelines_tests.real_tables import SHARED_DATA, require_shared_data

    require_shared_data()
    planes = pd.read_csv(SHARED_DATA / "nycflights13" / "planes.csv.gz").drop(columns=["tailnum"])
    train = planes.iloc[np.random.default_rng(0).permutation(len(planes))[:2600]].reset_index(drop=True)
    assert (train["engine"].value_counts() == 1).any()
    from synthcity.plugins.core.dataloader import GenericDataLoader

    model = load_plugin_class("cart")(random_state=0).fit(GenericDataLoader(train, target_column="engine"))
    features = train[model.order_[:-1]].copy()
    for name, encoder in (model._data_encoders or {}).items():
        if name in features:
            features[name] = encoder.transform(features[name])
    expected = model.label_booster_.predict_proba(features.to_numpy(dtype=float)).sum(axis=0)
    engine = model._data_encoders["engine"]
    real = train["engine"].value_counts()
    for code, count in zip(model.label_booster_.classes_, expected, strict=True):
        assert abs(count - real[engine.inverse_transform([code])[0]]) <= max(5, 0.1 * count), (code, count)


def test_a_rare_class_keeps_its_share_on_a_small_table() -> None:
    # On a few hundred rows the booster fits its own rows closely, so on new rows it gave the rare class
    # too little (Berka's 227 loans: 7.1% bad loans drawn for 11.0% real; here 5-9% for 10-14%).
    for seed in (0, 1):
        rng = np.random.default_rng(seed)
        x = rng.normal(size=(240, 6))
        risk = 1 / (1 + np.exp(-(x[:, 0] + x[:, 1] * x[:, 2] - 2.6)))
        frame = pd.DataFrame(x.round(2), columns=[f"x{i}" for i in range(6)]).assign(
            defaulted=(rng.random(240) < risk).astype(int))
        drawn = _fit(frame, seed).generate(20_000).dataframe()["defaulted"].mean()
        assert abs(drawn - frame["defaulted"].mean()) < 0.02, (seed, drawn, frame["defaulted"].mean())


def test_class_share_offsets_match_the_shares() -> None:
    from synth_pipelines.generators.plugin_cart import class_share_offsets, scaled_by_class

    probabilities = np.random.default_rng(0).dirichlet([0.3, 0.3, 3.0], size=500)  # overconfident, class 2 heavy
    shares = np.array([0.2, 0.3, 0.5])
    adjusted = scaled_by_class(probabilities, class_share_offsets(probabilities, shares))
    np.testing.assert_allclose(adjusted.sum(axis=1), 1.0)
    np.testing.assert_allclose(adjusted.mean(axis=0), shares, atol=1e-3)


@pytest.fixture(scope="module")
def rooms() -> pd.DataFrame:
    """A whole-number regression label with 11 values (as the pipeline encodes it: floats)."""
    rng = np.random.default_rng(5)
    area = rng.uniform(20, 200, 3000).round(1)
    return pd.DataFrame({"area": area, "floor": rng.integers(0, 30, 3000).astype(float),
                         "rooms": np.clip(np.round(area / 20 + rng.normal(0, 0.7, 3000)), 0, 10)})


def test_a_whole_number_regression_label_is_regressed_not_classified(rooms: pd.DataFrame) -> None:
    """synthcity codes a label of fewer than 15 values as classes; the label's kind from the task
    (label_kind, the pipeline's codec) keeps it a number: a prediction plus a real-sized residual."""
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from synthcity.plugins.core.dataloader import GenericDataLoader

    def fit(**settings):
        return load_plugin_class("cart")(random_state=0, **settings).fit(GenericDataLoader(rooms, target_column="rooms"))

    assert isinstance(fit().label_booster_, HistGradientBoostingClassifier)  # synthcity's guess
    model = fit(label_kind="number")
    assert isinstance(model.label_booster_, HistGradientBoostingRegressor) and model.residuals_
    synthetic = model.generate(count=3000, random_state=1).dataframe()
    assert set(synthetic["rooms"]) <= set(rooms["rooms"])  # real values, snapped back from the regression
    assert synthetic["rooms"].corr(synthetic["area"]) > 0.8
    assert abs(synthetic["rooms"].mean() - rooms["rooms"].mean()) < 0.2
    with pytest.raises(ValueError, match="label_kind must be"):
        load_plugin_class("cart")(label_kind="text")


def test_the_pipeline_gives_cart_the_labels_kind(rooms: pd.DataFrame, tmp_path) -> None:
    model = train_synthesizer(rooms, GeneratorSpec(plugin="cart", seed=5), label="rooms", categorical=set(),
                              out_dir=tmp_path / "model")
    assert model.plugin_kwargs["label_kind"] == "number"
    assert unsupported_settings("cart", {"label_kind": "category"}) == ["label_kind"]  # the pipeline's to set
    rows = pd.read_parquet(generate_rows(model, rows=500, batch_rows=500, id_prefix="t", out_dir=tmp_path / "a").path)
    assert set(rows["rooms"].dropna()) <= set(rooms["rooms"]) and rows["rooms"].corr(rows["area"]) > 0.8


def test_a_regression_label_with_missing_values_is_learned_from_labelled_rows_only(tmp_path) -> None:
    """The codec fills a missing label with the median; taught those fills, the label's model would draw
    near-zero residuals around the median and shrink the labelled rows' spread. The resolved booster is
    recorded (plugin_kwargs, as in synthesizer.json and the manifest)."""
    rng = np.random.default_rng(11)
    area = rng.uniform(20, 200, 3000).round(1)
    price = (area * 3000 + rng.normal(0, 60_000, 3000)).round(-2)
    frame = pd.DataFrame({"area": area, "price": np.where(rng.random(3000) < 0.3, np.nan, price)})
    model = train_synthesizer(frame, GeneratorSpec(plugin="cart", seed=2), label="price", categorical=set(),
                              out_dir=tmp_path / "model")
    assert model.plugin_kwargs["label_missing_flag"] == "price__missing"
    assert model.plugin_kwargs["label_regressor"]["early_stopping"] is True
    from synthcity.utils.serialization import load_from_file

    assert sum(len(r) for r in load_from_file(model.model_path).residuals_) == frame["price"].notna().sum()
    rows = pd.read_parquet(generate_rows(model, rows=3000, batch_rows=3000, id_prefix="t", out_dir=tmp_path / "a").path)
    assert abs(rows["price"].isna().mean() - 0.3) < 0.04
    labelled, real = rows.dropna(subset=["price"]), frame.dropna(subset=["price"])
    spread = lambda f: float(np.std(f["price"] - np.polyval(np.polyfit(real["area"], real["price"], 1), f["area"])))
    assert abs(spread(labelled) / spread(real) - 1) < 0.1
    assert labelled["price"].corr(labelled["area"]) > 0.8


def test_seed_reproduces_rows_through_the_pipeline(loans: pd.DataFrame, tmp_path) -> None:
    model = train_synthesizer(loans, GeneratorSpec(plugin="cart", seed=5), label="defaulted",
                              categorical={"defaulted"}, out_dir=tmp_path / "model")
    first = generate_rows(model, rows=1200, batch_rows=500, id_prefix="t", out_dir=tmp_path / "a")
    second = generate_rows(model, rows=1200, batch_rows=500, id_prefix="t", out_dir=tmp_path / "b")
    a, b = pd.read_parquet(first.path), pd.read_parquet(second.path)
    pd.testing.assert_frame_equal(a, b)
    assert len(a) == 1200 and a["synthetic_id"].is_unique


def test_smoothed_values_stay_in_range_so_wide_tables_get_their_rows() -> None:
    # Issue 13: with many smoothed columns nearly every sampled row had a value past its column's range,
    # which synthcity's schema check drops and samples again: 300 columns x 800 rows ran for minutes and
    # ended in "cart generated no rows in batch 1". The sampler itself now stays in range.
    rng = np.random.default_rng(4)
    frame = pd.DataFrame({f"x{i}": rng.normal(size=300).round(3) for i in range(20)})
    frame["defaulted"] = rng.integers(0, 2, len(frame))
    model = _fit(frame, min_samples_leaf=20)
    np.random.seed(2)
    sampled = model._sample(2000).drop(columns="defaulted")  # what the plugin draws, before synthcity's filter
    real = frame.drop(columns="defaulted")
    assert ((sampled >= real.min()) & (sampled <= real.max())).all().all()
    assert sampled.x0.nunique() > 1000  # still smoothed, not copies of the real values
    assert len(model.generate(count=300, random_state=2).dataframe()) == 300


def test_sample_given_a_column_with_one_value() -> None:
    """A conditioning column constant in training (a parent's label within one label class's models)."""
    import numpy as np
    import pandas as pd
    from synthcity.plugins.core.dataloader import GenericDataLoader

    from synth_pipelines.generators.plugin_cart import CartPlugin

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"given": np.full(200, 3), "x": rng.normal(size=200)})
    model = CartPlugin(random_state=0, label_last=False).fit(GenericDataLoader(frame, random_state=0))
    sampled = model.sample_given(pd.DataFrame({"given": [3, 3, 5]}), rng)
    assert list(sampled["given"]) == [3, 3, 3] and sampled["x"].between(frame.x.min(), frame.x.max()).all()


def _small_table_dcr_shares(settings: dict, seeds: range, tmp_path) -> list[float]:
    """The DCR share of cart's rows on Berka's 227-row loan view thirds (train / holdout / unused), per seed."""
    from synth_pipelines.core.quality.privacy import dcr_share, neighbour_samples
    from synth_pipelines_tests.real_tables import ENTITY_KEY, load_table, require_shared_data

    require_shared_data()
    table = load_table("berka_loans")
    frame = table.frame.drop(columns=[ENTITY_KEY])
    shares = []
    for seed in seeds:
        order = np.random.default_rng(seed).permutation(len(frame))
        third = len(frame) // 3
        train, holdout = (frame.iloc[order[i * third:(i + 1) * third]].reset_index(drop=True) for i in (0, 1))
        model = train_synthesizer(train, GeneratorSpec(seed=seed, settings=settings), label=table.label,
                                  categorical={table.label}, out_dir=tmp_path / f"model-{seed}")
        rows = generate_rows(model, rows=len(train), batch_rows=len(train), id_prefix="s", out_dir=tmp_path / f"rows-{seed}")
        synthetic = pd.read_parquet(rows.path).drop(columns=["synthetic_id"])[train.columns]
        points = neighbour_samples(train, holdout, synthetic, model.codecs, index_rows=5_000, query_rows=2_000, seed=seed)
        shares.append(dcr_share(points)[0].value)
    return shares


def test_a_small_tables_rows_are_not_recreated(tmp_path) -> None:
    # Mean DCR share over these 12 seeds (real rows neither side saw: ~0.48): leaves of 20, the old floor,
    # 0.601 (5 seeds over the gate's 0.60); leaves of 40 but category columns' of 20 (until stop 38) 0.580
    # (4 over 0.60); every leaf 40 now 0.549 (1 over).
    shares = _small_table_dcr_shares({}, range(12), tmp_path)
    assert np.mean(shares) < 0.565, shares


def test_a_small_tables_category_columns_keep_the_small_tables_leaves() -> None:
    """Leaves of rows / (2 x categories) keep a large table's many categories apart; on a few hundred rows that
    is under the floor of 40 a small table's leaves hold, and 20-row leaves brought its rows back."""
    from synthcity.plugins.core.dataloader import GenericDataLoader

    rng = np.random.default_rng(2)
    frame = pd.DataFrame({"income": rng.lognormal(10, 0.5, 600).round(),
                          "education": [f"level {e}" for e in rng.integers(0, 20, 600)],
                          "kids": rng.integers(0, 6, 600), "y": rng.integers(0, 2, 600)})
    model = load_plugin_class("cart")(random_state=0).fit(GenericDataLoader(frame, target_column="y"))
    assert model.min_samples_leaf_ == 40 and "category_leaves" not in model.resolved_settings()
    assert min(c.sizes.min() for c in model.columns_[1:-1]) >= 40


def test_a_skewed_column_keeps_its_shape_where_one_kernel_width_would_move_its_small_values() -> None:
    # Boston housing's crime rate (median 0.26, tail to 89), generated first from its marginal: one kernel
    # width for every donor, reflected at the minimum, moved the many small values up (1 - KS 0.64).
    rng = np.random.default_rng(5)
    rate = rng.lognormal(-1.5, 1.8, 400).round(5)
    frame = pd.DataFrame({"rate": rate, "rooms": (6 + rng.normal(0, 0.7, 400)).round(3)})
    frame["defaulted"] = (rng.random(400) < 1 / (1 + rate)).astype(int)
    sampled = _fit(frame).generate(count=4000, random_state=1).dataframe()
    assert ks_2samp(sampled["rate"], rate).statistic < 0.06
    assert abs(np.median(sampled["rate"]) / np.median(rate) - 1) < 0.15
    assert ks_2samp(sampled["rooms"], frame["rooms"]).statistic < 0.06
    assert sampled["rate"].isin(set(rate)).mean() < 0.05  # still smoothed


def test_a_spike_far_from_the_smoothed_values_does_not_set_their_kernel() -> None:
    # A -999 "unknown" code on 30% of a skewed column: on the smoothing scale it lands far below the values,
    # and a width measured with it pushed half the draws past the range onto its end (one person's value).
    rng = np.random.default_rng(7)
    amount = rng.lognormal(3, 1, 2000).round(2)
    amount[rng.random(2000) < 0.3] = -999.0
    frame = pd.DataFrame({"amount": amount, "defaulted": rng.integers(0, 2, 2000)})
    sampled = _fit(frame).generate(count=4000, random_state=1).dataframe()["amount"]
    real, drawn = amount[amount != -999], sampled[sampled != -999].to_numpy()
    assert abs((sampled == -999).mean() - 0.3) < 0.03
    assert pd.Series(drawn).value_counts(normalize=True).iloc[0] < 0.01  # no value piled on
    assert ks_2samp(drawn, real).statistic < 0.06


def test_smoothing_scale_is_a_logarithm_for_a_skewed_column_and_stays_in_range() -> None:
    rng = np.random.default_rng(6)
    skewed, symmetric = rng.lognormal(0, 1.5, 2000), rng.normal(50, 5, 2000)
    assert SmoothingScale.of(skewed).power.lambdas_[0] < 0.3 < 0.7 < SmoothingScale.of(symmetric).power.lambdas_[0]
    scale = SmoothingScale.of(skewed)
    assert np.allclose(scale.back(scale.forward(skewed)), skewed)
    pushed = scale.back(scale.forward(skewed) + rng.normal(0, 5, len(skewed)))
    assert np.isfinite(pushed).all() and skewed.min() - 1e-9 <= pushed.min() and pushed.max() <= skewed.max() + 1e-9
    assert SmoothingScale.of(np.arange(10.0)) is None  # too few values to fit a shape


def test_a_flag_the_label_fixes_stays_true_in_the_synthetic_rows(tmp_path) -> None:
    """A low-weight flag computed from the regression label: drawn as a prediction plus a real residual, the
    label crossed the flag's threshold in 2% of rows (a normal weight flagged low); now it is drawn in the
    range the flag's real rows hold, the flag's share and the label's spread within each flag kept."""
    rng = np.random.default_rng(3)
    weeks = rng.normal(39, 2, 1000).round()
    weight = (7.3 + 0.3 * (weeks - 39) + rng.normal(0, 1.4, 1000)).round(2)
    frame = pd.DataFrame({"weeks": weeks, "low_weight": np.where(weight < 5.5, "low", "not low"), "weight": weight})
    model = train_synthesizer(frame, GeneratorSpec(plugin="cart", seed=1), label="weight", categorical={"low_weight"},
                              out_dir=tmp_path / "model")
    assert model.plugin_kwargs["label_fixes"] == ["low_weight"]
    rows = pd.read_parquet(generate_rows(model, rows=3000, batch_rows=3000, id_prefix="t", out_dir=tmp_path / "a").path)
    assert ((rows["weight"] < 5.5) == (rows["low_weight"] == "low")).all()
    assert abs((rows["low_weight"] == "low").mean() - (frame["low_weight"] == "low").mean()) < 0.03
    for flag in ("low", "not low"):
        real, synthetic = frame.loc[frame["low_weight"] == flag, "weight"], rows.loc[rows["low_weight"] == flag, "weight"]
        assert abs(synthetic.std() / real.std() - 1) < 0.15 and abs(synthetic.mean() - real.mean()) < 0.15


def test_an_any_flag_of_a_count_label_stays_true_where_the_count_is_coded() -> None:
    """A count of 11 values is coded 0..10 by synthcity and regressed on its numbers; a label mirrored to the cut
    (midway between 0 and 1 here) must round to its own side, not the nearer-above value across it."""
    from synthcity.plugins.core.dataloader import GenericDataLoader

    rng = np.random.default_rng(8)
    age = rng.uniform(20, 80, 800).round()
    visits = np.clip(rng.poisson(np.exp((age - 50) / 25)), 0, 10).astype(float)
    frame = pd.DataFrame({"age": age, "any_visit": np.where(visits > 0, "yes", "no"), "visits": visits})
    model = load_plugin_class("cart")(random_state=0, label_kind="number").fit(
        GenericDataLoader(frame, target_column="visits"))
    assert model.label_values_ is not None and model.resolved_settings()["label_fixes"] == ["any_visit"]
    rows = model.generate(count=4000, random_state=3).dataframe()
    assert ((rows["visits"] > 0) == (rows["any_visit"] == "yes")).all()
    assert abs((rows["any_visit"] == "yes").mean() - (frame["any_visit"] == "yes").mean()) < 0.04
    # Residuals that always overshoot: no redraw lands inside, every row takes the last step. Clipped to the
    # cut, the rows without a visit came back with 1 (the tie rounds up); mirrored in, they keep 0 visits.
    model.residuals_ = [np.array([6.0])] * len(model.residuals_)
    rows = model.generate(count=2000, random_state=4).dataframe()
    assert ((rows["visits"] > 0) == (rows["any_visit"] == "yes")).all()

"""The column codec and real (small) synthcity training and batched generation."""

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from synth_pipelines.core.synthesis import decode, encode, fit_codecs, generate_rows, load_synthesizer, train_synthesizer
from synth_pipelines.spec import GeneratorSpec


@pytest.fixture
def mixed_frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 400
    income = rng.lognormal(10, 0.5, n)
    return pd.DataFrame({
        "income": income,
        "age": rng.integers(18, 80, n),
        "tenure": np.where(rng.random(n) < 0.2, np.nan, rng.exponential(5, n)),
        "segment": rng.choice(["a", "b", "c"], n).astype(object),
        "region": np.where(rng.random(n) < 0.1, None, rng.choice(["north", "south"], n)).astype(object),
        "opened": [dt.date(2020, 1, 1) + dt.timedelta(days=int(d)) for d in rng.integers(0, 900, n)],
        "flag": (income > np.median(income)).astype(int),
    })


def test_codec_round_trip_restores_values_types_and_missing(mixed_frame):
    codecs = fit_codecs(mixed_frame, categorical={"flag"})
    kinds = {c.name: c.kind for c in codecs}
    assert kinds == {"income": "float", "age": "integer", "tenure": "float", "segment": "category",
                     "region": "category", "opened": "date", "flag": "category"}
    encoded = encode(mixed_frame, codecs)
    # synthcity gets no gaps: missing numbers become a fill value plus a flag column.
    assert not encoded.isna().any().any()
    assert "tenure__missing" in encoded.columns and encoded["tenure__missing"].sum() == mixed_frame.tenure.isna().sum()
    decoded = decode(encoded, codecs)
    pd.testing.assert_series_equal(decoded["income"], mixed_frame["income"], check_names=False)
    assert decoded["age"].tolist() == mixed_frame["age"].tolist()
    assert decoded["tenure"].isna().tolist() == mixed_frame["tenure"].isna().tolist()
    assert decoded["region"].isna().tolist() == mixed_frame["region"].isna().tolist()
    assert decoded["opened"].tolist() == mixed_frame["opened"].tolist()
    assert decoded["flag"].tolist() == mixed_frame["flag"].tolist()
    assert str(decoded["flag"].dtype) == "Int64"


def test_decode_clips_numbers_to_the_real_range_and_maps_unknown_categories(mixed_frame):
    codecs = fit_codecs(mixed_frame, categorical=set())
    encoded = encode(mixed_frame, codecs).head(3).copy()
    encoded["age"] = [5.0, 200.0, 40.4]
    encoded["segment"] = ["zzz", "a", "b"]
    decoded = decode(encoded, codecs)
    assert decoded["age"].tolist() == [mixed_frame.age.min(), mixed_frame.age.max(), 40]
    # segment had no missing values in the real data, so an unseen label becomes a real category.
    assert decoded["segment"].tolist()[0] in {"a", "b", "c"}


@pytest.mark.slow
def test_train_and_generate_in_batches_is_reproducible(mixed_frame, tmp_path):
    model = train_synthesizer(mixed_frame, GeneratorSpec(plugin="bayesian_network", seed=3), label="flag",
                              categorical={"flag"}, out_dir=tmp_path / "model")
    assert model.train_rows == len(mixed_frame)
    reloaded = load_synthesizer(tmp_path / "model")
    assert reloaded.codecs == model.codecs and reloaded.seed == 3

    first = generate_rows(model, rows=250, batch_rows=100, id_prefix="t", out_dir=tmp_path / "a")
    second = generate_rows(model, rows=250, batch_rows=100, id_prefix="t", out_dir=tmp_path / "b")
    assert (first.rows, first.batches) == (250, 3)
    rows_a, rows_b = pd.read_parquet(first.path), pd.read_parquet(second.path)
    pd.testing.assert_frame_equal(rows_a, rows_b)
    assert rows_a["synthetic_id"].is_unique
    assert list(rows_a.columns) == ["synthetic_id", *mixed_frame.columns]
    assert set(rows_a["segment"]) <= {"a", "b", "c"}
    assert rows_a["tenure"].isna().any() and rows_a["region"].isna().any()
    assert rows_a["income"].between(mixed_frame.income.min(), mixed_frame.income.max()).all()
    assert pq.read_schema(first.path).field("opened").type == "date32[day]"

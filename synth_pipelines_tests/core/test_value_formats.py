"""Value formats: generated numbers come back written the way the real column writes them."""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
import pandas as pd
import pytest

from synth_pipelines.core.differential_privacy import DomainError, codecs_from_domain
from synth_pipelines.core.synthesis import decode, encode, fit_codecs
from synth_pipelines.spec import ColumnDomain
from synth_pipelines.core.value_formats import (NumberFormat, apply_format, date_grid_of, decimals_of, learn_format,
                                                reflect_into, rounding_shares)

RNG = np.random.default_rng(0)


def generated(real: np.ndarray, rows: int = 20_000, noise: float = 0.02) -> np.ndarray:
    """What a continuous generator emits: real values plus a little noise, off every grid."""
    spread = float(np.nanstd(real)) or 1.0
    return RNG.choice(real[~np.isnan(real)], rows) + RNG.normal(0, noise * spread, rows)


def formatted(real: np.ndarray, rows: int = 20_000) -> np.ndarray:
    out = reflect_into(generated(real, rows), np.nanmin(real), np.nanmax(real))
    return apply_format(out, learn_format(real), np.random.default_rng(1))


def test_whole_numbers_stay_whole_and_decimals_keep_their_precision():
    whole = np.round(RNG.lognormal(10, 1, 5000))  # floats that are all whole numbers: money, counts
    assert np.all(formatted(whole) % 1 == 0)
    rate = np.round(RNG.uniform(0, 0.3, 5000), 4)  # four decimals
    out = formatted(rate)
    assert decimals_of(out) == 4 and decimals_of(rate) == 4
    assert decimals_of(np.array([25.06899999990128, 1.5])) == 3  # float noise is not precision


def test_a_grid_keeps_its_real_share_of_round_values():
    # 89% of the amounts are multiples of 50, the rest any whole number.
    amounts = np.where(RNG.random(20_000) < 0.89, 50 * RNG.integers(1, 400, 20_000), RNG.integers(1, 20_000, 20_000))
    amounts = amounts.astype(float)
    out = formatted(amounts)
    real_share, synthetic_share = np.mean(amounts % 50 == 0), np.mean(out % 50 == 0)
    assert real_share == pytest.approx(0.89, abs=0.01)
    assert synthetic_share == pytest.approx(real_share, abs=0.03)
    assert np.all(out % 1 == 0)


def test_a_uniform_fine_grid_does_not_come_back_rounder():
    """Prices on a 0.05 grid, every multiple equally likely (a telecom's monthly charges): a twentieth are
    whole and half are multiples of 0.1. Drawing each number's rounding step with the real steps' shares
    made 15% whole and 73% multiples of 0.1 (rounding to 0.05 also lands on 0.1's and 1's multiples)."""
    charges = np.round(np.round(RNG.uniform(18, 120, 4_000) / 0.05) * 0.05, 2)  # ~2 rows per grid point: no value set
    out = formatted(charges)
    for step, real_share in ((1, 0.05), (0.1, 0.5), (0.5, 0.1)):
        on_grid = lambda values: np.mean(np.abs(values / step - np.round(values / step)) < 1e-6)  # noqa: E731
        assert on_grid(charges) == pytest.approx(real_share, abs=0.01)
        assert on_grid(out) == pytest.approx(on_grid(charges), abs=0.02), step


def test_rounding_shares_undo_what_rounding_adds_to_coarser_steps():
    # the real steps' shares of a uniform 0.05 grid: rounding to 0.05 alone reproduces all of them
    shares = rounding_shares(np.array([0.05, 0.1, 0.5, 1, 5, 10]), np.array([0.5, 0.4, 0.05, 0.04, 0.005, 0.005]), 2)
    assert shares[0] == pytest.approx(1, abs=1e-6)
    # a clock's units do not divide each other like 1-5 steps: 60 s is no multiple of 50 s
    shares = rounding_shares(np.array([1.0, 50.0, 60.0]), np.array([0.5, 0.25, 0.25]), 0)
    assert np.all(shares >= 0) and shares.sum() == pytest.approx(1)


def test_a_value_set_is_never_left():
    ratings = RNG.choice(np.arange(0, 20) * 0.5 + 0.5, 10_000)  # 0.5 .. 10.0 on a 0.5 grid
    out = formatted(ratings)
    assert set(np.unique(out)) <= set(np.unique(ratings))
    assert len(np.unique(out)) == len(np.unique(ratings))


def test_a_cap_keeps_its_real_share():
    values = np.round(RNG.uniform(15_000, 500_000, 20_000), 0)
    values[RNG.random(20_000) < 0.048] = 500_001.0  # top-coded: 4.8% of rows hold the maximum
    out = formatted(values)
    assert np.mean(out == 500_001) == pytest.approx(np.mean(values == 500_001), abs=0.003)


def test_rare_values_are_not_a_value_set_and_extremes_are_not_piled_on():
    values = RNG.lognormal(5, 1, 3000)  # every value held by one row
    fmt = learn_format(values)
    assert fmt.values == [] and fmt.spikes == [] and fmt.decimals is None
    beyond = np.r_[values.max() + 1.0, values.min() - 0.5, values[:10]]
    mirrored = reflect_into(beyond, values.min(), values.max())
    assert mirrored[0] == values.max() - 1.0 and mirrored[1] == values.min() + 0.5


def test_format_is_recorded_without_real_values_when_it_is_a_grid():
    amounts = 50.0 * RNG.integers(1, 400, 20_000)
    amounts[:3000] = RNG.integers(1, 20_000, 3000)
    described = learn_format(amounts).describe()
    assert described["format"] == "grid" and described["decimals"] == 0 and 50 in described["steps"]
    assert NumberFormat.from_dict(asdict(learn_format(amounts))) == learn_format(amounts)


@pytest.fixture
def view() -> pd.DataFrame:
    n = 3000
    rng = np.random.default_rng(5)
    return pd.DataFrame({
        "rooms": rng.integers(1, 9, n).astype(float),  # whole floats, few values: a category
        "code": rng.choice([3, 7, 11, 19, 42, 57], n),  # integer codes with gaps
        "flag": rng.integers(0, 2, n).astype(bool),
        "stamp": pd.Series(pd.Timestamp("2017-01-01") + pd.to_timedelta(rng.integers(0, 10**7, n), unit="s"))
        .dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "zoned": pd.Timestamp("2020-01-01", tz="Europe/Paris") + pd.to_timedelta(rng.integers(0, 10**6, n), unit="s"),
        "amount": np.where(rng.random(n) < 0.08, np.nan, rng.integers(1, 400, n) * 100.0),
    })


def test_codecs_keep_types_codes_and_text_timestamps(view):
    codecs = {c.name: c for c in fit_codecs(view, set())}
    assert codecs["rooms"].kind == codecs["code"].kind == "category"
    assert codecs["code"].labels() == sorted(codecs["code"].labels())  # numeric order survives label encoding
    assert codecs["stamp"].kind == "datetime" and codecs["stamp"].text_format == "%Y-%m-%dT%H:%M:%SZ"
    encoded = encode(view, list(codecs.values()))
    assert list(encoded.columns).index("amount__missing") < list(encoded.columns).index("amount")
    decoded = decode(encoded, list(codecs.values()))
    assert decoded["rooms"].dtype == "float64" and decoded["code"].dtype == "int64" and decoded["flag"].dtype == "boolean"
    assert set(decoded["code"]) <= set(view["code"])
    # Text of the same format; seconds re-rounded to steps drawn at the real shares (whole minutes ~1/60).
    stamps = pd.to_datetime(decoded["stamp"], format="%Y-%m-%dT%H:%M:%SZ")
    assert decoded["stamp"].map(type).eq(str).all()
    assert (stamps - pd.to_datetime(view["stamp"], format="%Y-%m-%dT%H:%M:%SZ")).abs().median() <= pd.Timedelta("5s")
    assert str(decoded["zoned"].dtype) == str(view["zoned"].dtype)  # the time zone is kept
    assert (decoded["zoned"] - view["zoned"]).abs().median() <= pd.Timedelta("5s")
    assert decoded["amount"].isna().tolist() == view["amount"].isna().tolist()
    assert (decoded["amount"].dropna() % 100 == 0).all()


def test_under_differential_privacy_nothing_is_learned_from_the_values(view):
    """Codecs from a declared domain: kinds from the column types, no value format."""
    domain = {"rooms": ColumnDomain(minimum=0, maximum=10), "code": ColumnDomain(minimum=0, maximum=100),
              "flag": ColumnDomain(values=[False, True]), "amount": ColumnDomain(minimum=0, maximum=50_000, nullable=True)}
    codecs = {c.name: c for c in codecs_from_domain(view[list(domain)], domain, categorical=set())}
    assert all(c.number_format is None for c in codecs.values())
    assert codecs["rooms"].kind == "float" and codecs["code"].kind == "integer"
    with pytest.raises(DomainError, match="holds text"):  # text stays text; no format learned from it
        codecs_from_domain(view[["stamp"]], {"stamp": ColumnDomain(minimum=0, maximum=1)}, categorical=set())


def test_dates_on_a_calendar_grid_come_back_on_it():
    # A monthly series (economics: every date the first of a month): smoothed day numbers fell between the
    # firsts, 95% of the generated dates were days no real row could hold.
    months = pd.Series([d.strftime("%Y-%m-%d") for d in pd.date_range("1967-07-01", periods=120, freq="MS")])
    quarter_ends = pd.Series(pd.date_range("1990-03-31", periods=120, freq="QE").date)
    year = pd.date_range("2020-01-01", "2020-12-31").date
    days = pd.Series(np.sort(np.random.default_rng(1).choice(year, 120, replace=False)))
    view = pd.DataFrame({"month": months, "quarter_end": quarter_ends, "day": days})
    codecs = {c.name: c for c in fit_codecs(view, set())}
    grids = (codecs["month"].date_grid, codecs["quarter_end"].date_grid, codecs["day"].date_grid)
    assert grids == ("month", "quarter_end", None)
    assert codecs["month"].describe_format()["date_grid"] == "month"
    generated = encode(view, list(codecs.values())) + np.random.default_rng(0).normal(0, 20, (len(view), 3))
    decoded = decode(generated, list(codecs.values()))
    assert decoded["month"].isin(set(months)).all() and decoded["month"].nunique() > 60
    quarter_ends = pd.to_datetime(decoded["quarter_end"])
    assert quarter_ends.dt.is_month_end.all() and (quarter_ends.dt.month % 3 == 0).all()
    assert not pd.Series(decoded["day"]).isin(set(view["day"])).all()  # no grid: days stay as drawn
    mondays = 738886.0 + 7 * np.array([0, 1, 4, 5, 9, 12, 13, 20])  # from 2024-01-01
    assert date_grid_of(mondays) == "week:0" and date_grid_of(mondays[:3]) is None  # 3 can share one by chance
    assert date_grid_of(np.array([730119.0, 730485.0, 731580.0])) == "year_end"  # 1999, 2000 and 2003-12-31


def test_single_precision_is_read_as_the_decimals_it_was_written_with():
    prices = np.round(RNG.uniform(0, 1000, 2000), 2)
    in_float32 = prices.astype(np.float32).astype(float)  # 10.9 reads 10.899999618530273
    printed = np.round(in_float32, 8)  # a text export of the float32 column: 10.89999962
    assert decimals_of(in_float32) == 2 and decimals_of(printed) == 2
    for stored, written_as in ((in_float32, lambda v: v.astype(np.float32).astype(float)),
                               (printed, lambda v: np.round(v.astype(np.float32).astype(float), 8))):
        out = formatted(stored)  # on the real grid, stored as the real column stores its values
        assert np.allclose(out, written_as(np.round(out, 2)), rtol=1e-15, atol=0)
        assert np.mean(out % 1 < 1e-4) == pytest.approx(np.mean(stored % 1 < 1e-4), abs=0.01)
    assert decimals_of(RNG.lognormal(5, 1, 3000).astype(np.float32).astype(float)) is None  # measured: no grid
    assert decimals_of(np.array([10.89999962])) == 8  # one value near a grid proves nothing
    # means of three whole numbers sit a third of a step off every grid: within float32's precision of the
    # 0.01 grid where the range is narrow (28,000-42,000), but no float32 values (they read 2 decimals before)
    assert decimals_of(RNG.integers(84_000, 126_000, 3000) / 3.0) is None
    # float32 cannot hold thousands to three decimals: that column's decimals are not read into it
    assert decimals_of(np.round(RNG.uniform(5000, 7000, 500), 3).astype(np.float32).astype(float)) is None


def test_single_precision_steps_are_learned_on_the_values_as_written():
    """Prices 90% on a 0.10 grid, held as float32: 10.9 reads 10.899999618530273, on no step coarser than 0.01
    until it is read as written. Steps learned on those raw values kept only the tenths float32 holds exactly
    (whole and half amounts): a fifth of the generated prices came back on the 0.10 grid instead of 9 in 10."""
    rng = np.random.default_rng(2)
    written = np.where(rng.random(4000) < 0.9, np.round(rng.uniform(1, 1000, 4000), 1),
                       np.round(rng.uniform(1, 1000, 4000), 2))
    stored = written.astype(np.float32).astype(float)
    out = formatted(stored)
    tenths = lambda values: np.mean(np.abs(np.round(values, 2) * 10 - np.round(values * 10)) < 1e-6)  # noqa: E731
    assert tenths(stored) == pytest.approx(0.91, abs=0.01)
    assert tenths(out) == pytest.approx(tenths(stored), abs=0.02)


def test_a_single_precision_spike_comes_back_as_the_real_rows_hold_it():
    """A spike is the real rows' own value: a float32 column holds 19.99 as 19.989999771118164, and that is what
    its generated rows must hold, at its real share; not 19.99 rounded again (a value no real row holds), nor
    moved onto a step drawn for the grid around it (20.0 on the 0.10 grid)."""
    rng = np.random.default_rng(3)
    written = np.round(rng.uniform(1, 1000, 5000), 1)
    written[rng.random(5000) < 0.06] = 19.99
    stored = written.astype(np.float32).astype(float)
    spike = float(np.float32(19.99))
    out = formatted(stored)
    assert np.mean(out == spike) == pytest.approx(np.mean(stored == spike), abs=0.005)
    assert np.all(out == out.astype(np.float32).astype(float))  # every number stored as the real column stores it


def test_the_single_precision_window_is_float32s_own_precision():
    """The evidence rule (SINGLE_PRECISION_CHANCE) counts on measured floats sitting within float32's precision
    of a grid only as often as that precision allows. The smallest columns it believes, six measured floats near
    375,000 (each within float32's 0.045 of a whole number 9% of the time), are then read as float32 whole numbers
    about once in two million; within 4x that window, twenty-odd times in ten thousand. A window widened together
    with the chance it counts believes too little instead: float32 prices in the thousands lost their decimals."""
    measured = np.random.default_rng(3).uniform(350_000, 400_000, (10_000, 6))
    assert sum(decimals_of(column) is not None for column in measured) == 0
    float32_prices = np.round(np.random.default_rng(4).uniform(1100, 4000, 500), 2).astype(np.float32).astype(float)
    assert decimals_of(float32_prices) == 2

"""The column codec and real (small) synthcity training and batched generation."""

import datetime as dt
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from synth_pipelines.core.synthesis import (ColumnCodec, RebalanceError, decode, encode, fit_codecs, generate_rows,
                                           load_synthesizer, train_synthesizer)
from synth_pipelines.spec import GeneratorSpec, RebalanceSpec


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


def without_formats(codecs: list[ColumnCodec]) -> list[ColumnCodec]:
    return [replace(c, number_format=None) for c in codecs]


def test_codec_round_trip_restores_values_types_and_missing(mixed_frame):
    # Value formats re-round grid columns by design (test_value_formats.py); the codec alone is exact.
    codecs = without_formats(fit_codecs(mixed_frame, categorical={"flag"}, numeric={"age"}))
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
    assert str(decoded["flag"].dtype) == "int64"  # the real column's dtype


def test_decode_clips_numbers_to_the_real_range_and_maps_unknown_categories(mixed_frame):
    codecs = without_formats(fit_codecs(mixed_frame, categorical=set(), numeric={"age"}))
    encoded = encode(mixed_frame, codecs).head(3).copy()
    encoded["age"] = [5.0, 200.0, 40.4]
    encoded["segment"] = ["zzz", "a", "b"]
    decoded = decode(encoded, codecs)
    low, high = mixed_frame.age.min(), mixed_frame.age.max()
    # Beyond a bound is mirrored back inside (18 - 5 = 13 above the minimum), not piled onto the extreme
    # (a real extreme is one person's value); beyond the whole range it ends at the bound.
    assert decoded["age"].tolist() == [2 * low - 5, high, 40]
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


@pytest.fixture(scope="module")
def rare_flag_model(tmp_path_factory):
    """A Bayesian network on rows where flag=1 is 20% of the rows (like the demo's defaults)."""
    rng = np.random.default_rng(1)
    n = 500
    flag = (rng.random(n) < 0.2).astype(int)
    segment = np.where(flag == 1, rng.choice(["a", "b"], n), "c").astype(object)
    segment[:2] = "d"  # 0.4% of the rows
    frame = pd.DataFrame({"flag": flag, "segment": segment, "amount": rng.normal(100, 10, n) + 50 * flag})
    folder = tmp_path_factory.mktemp("rare_flag")
    settings = {"struct_learning_search_method": "hillclimb", "struct_learning_score": "bic"}
    return train_synthesizer(frame, GeneratorSpec(plugin="bayesian_network", settings=settings, seed=3), label="flag",
                             categorical={"flag"}, out_dir=folder / "model"), folder


def test_rebalance_generates_the_target_shares_reproducibly(rare_flag_model, tmp_path):
    model, _ = rare_flag_model
    target = RebalanceSpec(column="flag", proportions={0: 0.5, 1: 0.5})
    first = generate_rows(model, rows=700, batch_rows=300, id_prefix="r", out_dir=tmp_path / "a", rebalance=target)
    second = generate_rows(model, rows=700, batch_rows=300, id_prefix="r", out_dir=tmp_path / "b", rebalance=target)
    rows = pd.read_parquet(first.path)
    assert len(rows) == 700 and rows["synthetic_id"].is_unique
    assert rows["flag"].value_counts().to_dict() == {0: 350, 1: 350}  # quotas: the totals are exact
    assert first.rebalance["achieved_proportions"] == {"0": 0.5, "1": 0.5}
    assert first.rebalance["generated_rows"] > 700  # the rare value needed more draws
    pd.testing.assert_frame_equal(rows, pd.read_parquet(second.path))  # same seed, same rows
    # The rows keep their joint distribution: the rebalanced 1s still come with segments a/b.
    assert set(rows.loc[rows["flag"] == 1, "segment"]) <= {"a", "b"}
    # Each batch is shuffled, not sorted by value.
    assert rows["flag"].head(300).diff().abs().sum() > 20


def test_rebalance_errors_name_the_problem(rare_flag_model, tmp_path):
    model, _ = rare_flag_model
    with pytest.raises(RebalanceError, match=r"\['2'\] never occur in 'flag'.*values: \['0', '1'\]"):
        generate_rows(model, rows=10, batch_rows=10, id_prefix="r", out_dir=tmp_path,
                      rebalance=RebalanceSpec(column="flag", proportions={"1": 0.5, "2": 0.5}))
    with pytest.raises(RebalanceError, match="'amount' is synthesized as float, not as a category"):
        generate_rows(model, rows=10, batch_rows=10, id_prefix="r", out_dir=tmp_path,
                      rebalance=RebalanceSpec(column="amount", proportions={"1": 1.0}))
    # 'd' is 0.4% of the real rows: 90% of 1000 rows would take ~200k draws, more than the bound allows.
    with pytest.raises(RebalanceError, match=r"value 'd' of 'segment' is too rare for the generator: \d+ of 20000 "
                                             r"generated rows had it .*900 were needed; lower its proportion"):
        generate_rows(model, rows=1000, batch_rows=1000, id_prefix="r", out_dir=tmp_path / "rare",
                      rebalance=RebalanceSpec(column="segment", proportions={"c": 0.1, "d": 0.9}))


@pytest.mark.parametrize(("rebalance", "field", "message"), [
    ({"column": "defaulted", "proportions": {0: 0.5, 1: 0.6}}, "synthetic.rebalance.proportions",
     "the shares sum to 1.1, not 1. Fix: make the fractions add up to 1"),
    ({"column": "defaulted", "proportions": {0: -0.5, 1: 1.5}}, "synthetic.rebalance.proportions.0",
     "not between 0 and 1"),
    ({"column": "loan_id", "proportions": {0: 1.0}}, "synthetic.rebalance.column", "entity_key"),
])
def test_bad_rebalance_settings_name_file_field_and_fix(demo_spec_data, write_spec, rebalance, field, message):
    from synth_pipelines.spec import SpecError, load_spec

    demo_spec_data["synthetic"]["rebalance"] = rebalance
    path = write_spec(demo_spec_data)
    with pytest.raises(SpecError, match=rf"{path}: {re.escape(field)}: .*{re.escape(message)}"):
        load_spec(path)


# One child process: trains the default generator on a seeded frame, generates in batches, and prints the
# SHA-256 of the rows file and the generator plugin modules it imported.
_CHILD = r"""
import hashlib, json, sys
from pathlib import Path
import numpy as np, pandas as pd
from synth_pipelines.core.synthcity_plugins import quiet_synthcity_env
quiet_synthcity_env()
from synth_pipelines.core.synthesis import generate_rows, train_synthesizer
from synth_pipelines.spec import GeneratorSpec

out = Path(sys.argv[1])
rng = np.random.default_rng(0)
n = 600
income = rng.lognormal(10, 0.5, n).round(2)
frame = pd.DataFrame({"income": income, "age": rng.integers(18, 80, n),
                      "segment": rng.choice(["a", "b", "c"], n).astype(object),
                      "flag": (income > np.median(income)).astype(int)})
plugin = GeneratorSpec.model_fields["plugin"].default  # the default generator, whatever it is
model = train_synthesizer(frame, GeneratorSpec(plugin=plugin, seed=11), label="flag", categorical={"flag"},
                          out_dir=out / "model")
rows = generate_rows(model, rows=900, batch_rows=400, id_prefix="p", out_dir=out / "rows")
plugins = sorted(m for m in sys.modules if m.startswith(("synthcity.plugins.", "synth_pipelines.generators."))
                 and m.rsplit(".", 1)[-1].startswith("plugin_"))
print(json.dumps({"plugin": plugin, "sha256": hashlib.sha256(Path(rows.path).read_bytes()).hexdigest(),
                  "plugin_modules": plugins}))
"""


def test_default_generator_output_is_byte_identical_across_processes(tmp_path):
    """README: the same rows, spec and seed give byte-identical data; here in two fresh interpreters with
    different hash seeds (a seed derived from hash() or from process state would differ). Each process
    imports only the chosen plugin's module, none of synthcity's other plugins."""
    import json
    import os
    import subprocess
    import sys

    children = [subprocess.Popen([sys.executable, "-c", _CHILD, str(tmp_path / str(i))], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True,
                                 env={**os.environ, "PYTHONHASHSEED": str(i + 1)}) for i in range(2)]
    results = []
    for child in children:
        stdout, stderr = child.communicate(timeout=600)
        assert child.returncode == 0, stderr[-3000:]
        results.append(json.loads(stdout.strip().splitlines()[-1]))
    first, second = results
    assert first["plugin"] == "cart"
    assert first["sha256"] == second["sha256"]
    assert first["plugin_modules"] == second["plugin_modules"] == ["synth_pipelines.generators.plugin_cart"]


# One child process: trains the default generator on numeric columns, generates once to warm up, then
# measures the peak RSS above the starting RSS of generating 2 and 20 batches (the kernel's high-water
# mark, reset before each through /proc/self/clear_refs), and the in-memory size of one decoded batch.
_MEMORY_CHILD = r"""
import json, sys
from pathlib import Path
import numpy as np, pandas as pd, pyarrow.parquet as pq
from synth_pipelines.core.synthcity_plugins import quiet_synthcity_env
quiet_synthcity_env()
from synth_pipelines.core.synthesis import generate_rows, train_synthesizer
from synth_pipelines.spec import GeneratorSpec

def status(key):
    line = next(l for l in Path("/proc/self/status").read_text().splitlines() if l.startswith(key + ":"))
    return int(line.split()[1]) * 1024

out, batch_rows = Path(sys.argv[1]), int(sys.argv[2])
rng = np.random.default_rng(0)
frame = pd.DataFrame({f"x{i}": rng.normal(size=1000) * (i + 1) for i in range(19)})
frame["flag"] = (frame.x0 > 0).astype(int)
model = train_synthesizer(frame, GeneratorSpec(plugin="cart", seed=1), label="flag", categorical={"flag"},
                          out_dir=out / "model")
generate_rows(model, rows=batch_rows, batch_rows=batch_rows, id_prefix="w", out_dir=out / "warm")
result = {}
import gc
for batches in (2, 20):
    gc.collect()
    Path("/proc/self/clear_refs").write_text("5")  # the high-water mark starts again from the current RSS
    start = status("VmRSS")
    rows = generate_rows(model, rows=batches * batch_rows, batch_rows=batch_rows, id_prefix="m",
                         out_dir=out / f"rows{batches}")
    result[batches] = {"batches": rows.batches, "rows": rows.rows, "growth": status("VmHWM") - start}
one = pq.ParquetFile(out / "rows20" / "synthetic_rows.parquet").read_row_group(0).to_pandas()
result["batch_bytes"] = int(one.memory_usage(deep=True).sum())
print(json.dumps(result))
"""


@pytest.mark.slow
def test_generation_memory_stays_flat_as_the_batch_count_grows(tmp_path):
    """README: rows are generated in batches (bounded memory). In a child process, the peak RSS that
    generating 20 batches adds is about what 2 batches add, not 10 times as much: each batch is written
    and dropped before the next (a batch kept alive would add its decoded size per batch). Measured as
    bytes, against the size of one decoded batch, as a ratio of two small growths is allocator noise."""
    import json
    import subprocess
    import sys

    if not Path("/proc/self/clear_refs").exists():
        pytest.skip("needs Linux's /proc/self/clear_refs to reset the peak RSS")
    done = subprocess.run([sys.executable, "-c", _MEMORY_CHILD, str(tmp_path), "10000"], capture_output=True,
                          text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    few, many, batch = result["2"], result["20"], result["batch_bytes"]
    assert (few["batches"], many["batches"], many["rows"]) == (2, 20, 200_000)
    assert batch > 1_000_000  # a decoded batch is big enough for 18 more of them to show
    # Keeping each batch alive (one decoded frame per batch) adds 18 batches' size or more (measured: 38-60,
    # with the frame's copies); bounded generation adds allocator noise only (measured: -1 to 3 batches).
    assert many["growth"] - few["growth"] < 9 * batch, result

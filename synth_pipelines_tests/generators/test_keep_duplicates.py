"""Every plugin the pipeline loads keeps the rows it draws (synthcity's strict mode dropped repeats)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from synth_pipelines.core.synthcity_plugins import load_plugin_class
from synth_pipelines.core.synthesis import generate_rows, train_synthesizer
from synth_pipelines.generators.keep_duplicates import KeepsDuplicates
from synth_pipelines.spec import GeneratorSpec


def survey(rows: int = 3_000) -> pd.DataFrame:
    """A few coded answers per person: most rows repeat, and a 5% group is easy to lose."""
    rng = np.random.default_rng(0)
    return pd.DataFrame({"minority": np.where(rng.random(rows) < 0.05, "yes", "no"),
                         "older": np.where(rng.random(rows) < 0.3, "yes", "no"),
                         "age": rng.integers(21, 36, rows), "label": rng.integers(0, 2, rows)})


def test_synthcitys_own_plugins_are_loaded_keeping_duplicates() -> None:
    for name in ("ctgan", "tvae", "bayesian_network"):
        plugin_class = load_plugin_class(name)
        assert issubclass(plugin_class, KeepsDuplicates) and plugin_class.name() == name
        assert load_plugin_class(name) is plugin_class  # one class per plugin, not one per call


def test_a_synthcity_plugin_keeps_the_shares_of_repeated_rows() -> None:
    """synthcity's Bayesian network in strict mode: each batch of 3,000 rows shrank to its ~120 distinct
    rows, so the 5% group came back at 46%; the schema filter (strict's other half) still holds."""
    frame = survey()
    model = load_plugin_class("bayesian_network")(random_state=0)
    assert model.strict  # synthcity's default, kept: only the duplicate dropping goes
    synthetic = model.fit(frame).generate(count=len(frame), random_state=1).dataframe()
    assert len(synthetic) == len(frame)
    assert abs((synthetic["minority"] == "yes").mean() - 0.05) < 0.02
    assert synthetic["age"].between(21, 35).all()


def test_a_trained_synthcity_plugin_loads_and_generates_in_a_fresh_process(tmp_path: Path) -> None:
    """The model file is read by another process (Dagster's step, the CLI): the class made at load
    time must unpickle there without the pipeline making it first."""
    frame = survey(1_000)
    model = train_synthesizer(frame, GeneratorSpec(plugin="bayesian_network", seed=0), label="label",
                              categorical={"minority", "older", "label"}, out_dir=tmp_path / "model")
    script = (
        "import sys, pandas as pd\n"
        "from pathlib import Path\n"
        "from synthcity.utils.serialization import load_from_file\n"
        f"model = load_from_file({model.model_path!r})\n"
        "assert 'KeepsDuplicates' in [c.__name__ for c in type(model).__mro__], type(model).__mro__\n"
        f"model.generate(count=1000).dataframe().to_parquet({str(tmp_path / 'rows.parquet')!r})\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    rows = pd.read_parquet(tmp_path / "rows.parquet")
    assert len(rows) == 1_000 and rows.duplicated().mean() > 0.9
    published = generate_rows(model, rows=1_000, batch_rows=1_000, id_prefix="s", out_dir=tmp_path)
    assert published.rows == 1_000


def test_cart_keeps_duplicates_even_when_strict() -> None:
    """arf's own test covers arf (test_plugin_arf.py); strict there is synthcity's default."""
    frame = survey()
    model = load_plugin_class("cart")(random_state=0, strict=True)
    synthetic = model.fit(frame).generate(count=len(frame), random_state=1).dataframe()
    assert len(synthetic) == len(frame)
    assert abs((synthetic["minority"] == "yes").mean() - 0.05) < 0.02

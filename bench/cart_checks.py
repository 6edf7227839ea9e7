"""Quick checks of the default generator (cart) on the real tables, without the pipeline around it.

Splits a table as bench_tables.py does (seeded three-way split, 10,000 train / 5,000 holdout at most),
trains and generates through core/synthesis (the pipeline's codecs and decode), and prints per seed:

  utility     the XGBoost referee's TSTR/TRTR (bench/referees.py's booster; xgboost is in the project's
              venv; R2, or ROC AUC of the last class for a classification label) for ours and for the
              perfect generator (real rows neither side saw); `regression` is the same check
  labels      the label model alone: TSTR/TRTR of ours, and of the perfect generator's rows relabelled by
              cart's label model (rows it never saw), with the last class's share (classification)
  privacy     the project's discriminator AUC (3-fold) and DCR share (5,000 index / 2,000 query rows),
              with the columns that give the synthetic rows away, and the perfect generator's DCR share

  PYTHONPATH=. .venv/bin/python bench/cart_checks.py regression cps1988,gss_wages --seeds 0,1,2,3,4
  PYTHONPATH=. .venv/bin/python bench/cart_checks.py privacy berka_loans --seeds 0-63   # a DCR comparison
  PYTHONPATH=. .venv/bin/python bench/cart_checks.py privacy affairs --seeds 0-7   # a bench_unseen.py table
  PYTHONPATH=. .venv/bin/python bench/cart_checks.py privacy mpls_stops,adult --seeds 0 \
      --settings '{"min_samples_leaf": 100}'
  --label-regressors '[{...}, ...]' replaces plugin_cart.LABEL_REGRESSORS (the candidates compared).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from synthcity.utils.serialization import load_from_file

sys.path.insert(0, str(Path(__file__).parent))
from bench_tables import three_way_split  # noqa: E402
from harness import mean_and_error, seed_list  # noqa: E402
from referees import _label_values, _score, tstr_predictions  # noqa: E402

from synth_pipelines.core.quality.fidelity import discriminator_auc  # noqa: E402
from synth_pipelines.core.quality.privacy import dcr_share, neighbour_samples  # noqa: E402
from synth_pipelines.core.synthesis import decode, encode, generate_rows, train_synthesizer  # noqa: E402
from synth_pipelines.spec import GeneratorSpec  # noqa: E402
from synth_pipelines_tests.real_tables import ENTITY_KEY, TABLES, load_table  # noqa: E402


def table_named(name: str):
    """A development table, or an unseen one of bench_unseen.py (exported by bench/.peers-venv)."""
    if name in TABLES:
        return load_table(name)
    from calibrate_unseen import unseen_table
    from harness import ROOT

    return unseen_table(name, ROOT / ".bench" / "unseen")


def parts(table, seed: int) -> dict[str, pd.DataFrame]:
    """bench_tables.py's seeded three-way split: train, perfect (real rows neither side holds), holdout."""
    split = three_way_split(table.frame, table.label, table.task, seed, 10_000, 5_000)
    return {p: table.frame[split == p].drop(columns=[ENTITY_KEY]).reset_index(drop=True)
            for p in ("train", "perfect", "holdout")}


def synthesize(train: pd.DataFrame, label: str, task: str, seed: int, settings: dict,
               relabel: pd.DataFrame | None = None, rows: int | None = None):
    """The synthesizer, its rows (`rows`, default as many as `train`), and `relabel`'s rows with the label
    drawn by the trained plugin's label model given their other columns (cart only; None without `relabel`)."""
    rows = rows or len(train)
    with tempfile.TemporaryDirectory() as folder:
        categorical = {label} if task == "classification" else set()
        model = train_synthesizer(train, GeneratorSpec(seed=seed, settings=settings), label=label,
                                  categorical=categorical, out_dir=Path(folder) / "model")
        rows = generate_rows(model, rows=rows, batch_rows=rows, id_prefix="s", out_dir=Path(folder))
        synthetic = pd.read_parquet(rows.path).drop(columns=["synthetic_id"])[train.columns]
        if relabel is None:
            return model, synthetic, None
        plugin, rng = load_from_file(model.model_path), np.random.default_rng(seed)
        encoded = encode(relabel, model.codecs)
        drawn = plugin.sample_given(encoded[[c for c in plugin.order_ if c != label]], rng)
        return model, synthetic, relabel.assign(**{label: decode(drawn, model.codecs, rng)[label].to_numpy()})


def _tstr(table, part: dict[str, pd.DataFrame], seed: int, trained_on: dict[str, pd.DataFrame]):
    """The referee's score on the holdout when trained on each of `trained_on`, and the class whose
    ROC AUC it is (None for regression)."""
    holdout = part["holdout"].dropna(subset=[table.label])
    positive = (sorted(part["train"][table.label].dropna().astype(str).unique())[-1]
                if table.task == "classification" else None)
    y = _label_values(holdout[table.label], table.task, positive)
    return positive, {p: _score(y, tstr_predictions(f, holdout, table.label, table.task, seed, positive), table.task)
                      for p, f in trained_on.items()}


def _labels(name: str, table, part: dict[str, pd.DataFrame], seed: int, settings: dict) -> None:
    _, synthetic, relabelled = synthesize(part["train"], table.label, table.task, seed, settings,
                                          relabel=part["perfect"])
    positive, score = _tstr(table, part, seed, {"trtr": part["train"], "ours": synthetic, "relabelled": relabelled})
    share = "" if positive is None else "; share of {!r}: real {:.3f}, ours {:.3f}, relabelled {:.3f}".format(
        positive, *((f[table.label].astype(str) == positive).mean() for f in (part["train"], synthetic, relabelled)))
    print(f"{name} seed {seed}: TSTR/TRTR ours {score['ours'] / score['trtr']:.3f}, perfect rows relabelled "
          f"{score['relabelled'] / score['trtr']:.3f}{share}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("check", choices=("utility", "regression", "labels", "privacy"))
    parser.add_argument("tables")
    parser.add_argument("--seeds", default="0,1,2", help='"0,1,2", or a range: "0-63"')
    parser.add_argument("--settings", default="{}", help="generator settings (JSON)")
    parser.add_argument("--label-regressors", help="plugin_cart.LABEL_REGRESSORS to compare (JSON list)")
    args = parser.parse_args()
    if args.label_regressors:
        import synth_pipelines.generators.plugin_cart as cart

        cart.LABEL_REGRESSORS = tuple(json.loads(args.label_regressors))
    for name in args.tables.split(","):
        table = table_named(name)
        shares: dict[str, list[float]] = {"DCR share": [], "perfect DCR share": [], "discriminator AUC": []}
        for seed in seed_list(args.seeds):
            part = parts(table, seed)
            if args.check == "labels":
                _labels(name, table, part, seed, json.loads(args.settings))
                continue
            model, synthetic, _ = synthesize(part["train"], table.label, table.task, seed, json.loads(args.settings))
            if args.check in ("utility", "regression"):
                _, score = _tstr(table, part, seed, {"trtr": part["train"], "ours": synthetic,
                                                     "perfect": part["perfect"]})
                print(f"{name} seed {seed}: TSTR/TRTR ours {score['ours'] / score['trtr']:.3f}, perfect "
                      f"{score['perfect'] / score['trtr']:.3f} (TRTR {score['trtr']:.3f}); "
                      f"label_regressor {model.plugin_kwargs.get('label_regressor')}; training {model.training_seconds} s",
                      flush=True)
                continue
            auc = discriminator_auc(part["train"], synthetic, model.codecs, rows=10_000, folds=3, seed=seed)
            dcr, perfect_dcr = (dcr_share(neighbour_samples(part["train"], part["holdout"], rows, model.codecs,
                                                            index_rows=5_000, query_rows=2_000, seed=seed))[0].value
                                for rows in (synthetic, part["perfect"]))
            for key, value in zip(shares, (dcr, perfect_dcr, auc.value), strict=True):
                shares[key].append(value)
            telling = sorted(auc.details["column_importance"].items(), key=lambda kv: -kv[1])[:3]
            print(f"{name} seed {seed}: discriminator AUC {auc.value:.3f}, DCR share {dcr:.3f} (perfect {perfect_dcr:.3f}), "
                  f"telling {telling}; "
                  f"leaves {model.plugin_kwargs.get('min_samples_leaf')} "
                  f"{model.plugin_kwargs.get('category_leaves', {})}", flush=True)
        if shares["DCR share"]:
            print(f"{name}: " + "; ".join(f"{key} {mean_and_error(v)}" for key, v in shares.items()), flush=True)


if __name__ == "__main__":
    main()

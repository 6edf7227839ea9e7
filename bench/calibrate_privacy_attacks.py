"""Calibrate the anonymeter attack gates (privacy_singling_out, privacy_linkability, privacy_inference)
on every real table of ../shared/data, default thresholds, the splits of the gate-calibration tests.

Per table and case, prints each attack's risk with its 95% interval and the verdict: a perfect
generator (real rows neither side saw) must pass; a verbatim copy of the train rows, a copy with 1%
noise on the numbers, and the holdout rows passed off as synthetic must be rejected by at least one.

    PYTHONPATH=. .venv/bin/python bench/calibrate_privacy_attacks.py [table ...]   # ~3 min on 2 cores
    PYTHONPATH=. .venv/bin/python bench/calibrate_privacy_attacks.py --time        # QA seconds, full Adult
    PYTHONPATH=. .venv/bin/python bench/calibrate_privacy_attacks.py --cart adult diamonds cps1988

--time: the whole QA on full-size Adult (adult_train split 80/20 into train and holdout, adult_test's
16,281 rows as the synthetic rows), seconds per check, in a fresh process: what the attacks add,
numba's compilation of anonymeter's distance included (once per process, as in a pipeline run).
--cart: the default generator (cart, seed 7) trained on each split's train rows, as many rows generated.
"""

from __future__ import annotations

import sys
import time
import warnings

from synth_pipelines_tests.core.quality.test_gate_calibration import Split
from synth_pipelines_tests.real_tables import ENTITY_KEY, SHARED_DATA, TABLES, load_table

ATTACKS = ("privacy_singling_out", "privacy_linkability", "privacy_inference")


def cases(split: Split) -> dict:
    return {"perfect": split.unseen, "copy": split.train, "copy+noise": split.noisy_copy(), "holdout": split.holdout}


def cell(check) -> str:
    parts = [f"{m.name.removeprefix('inference_')} {m.value:.2f} [{m.details.get('ci_low', 0):.2f}, "
             f"{m.details.get('ci_high', 0):.2f}]" for m in check.metrics if m.value is not None]
    return ("pass " if check.passed else "**FAIL** ") + "; ".join(parts)


def main(tables: list[str]) -> None:
    warnings.filterwarnings("ignore")
    print("| table | case | " + " | ".join(ATTACKS) + " | seconds |")
    print("|---|---|" + "---|" * (len(ATTACKS) + 1))
    for name in tables:
        split = Split(load_table(name))
        for case, synthetic in cases(split).items():
            started = time.perf_counter()
            report = split.judge(synthetic, checks=set(ATTACKS))
            seconds = time.perf_counter() - started
            print(f"| {name} | {case} | " + " | ".join(cell(report.check(c)) for c in ATTACKS) + f" | {seconds:.1f} |",
                  flush=True)


def qa_seconds() -> None:
    import pandas as pd

    from synth_pipelines.core.quality import run_quality
    from synth_pipelines.core.synthesis import fit_codecs

    warnings.filterwarnings("ignore")
    rows = load_table("adult").frame.drop(columns=[ENTITY_KEY]).sample(frac=1.0, random_state=0)
    test = pd.read_csv(SHARED_DATA / "adult" / "adult_test.csv.gz", na_values=["?"])
    test["income"] = test["income"].str.rstrip(".")
    test.insert(0, "synthetic_id", range(len(test)))
    n = int(0.8 * len(rows))
    train, holdout = rows.iloc[:n].reset_index(drop=True), rows.iloc[n:].reset_index(drop=True)
    started = time.perf_counter()
    report = run_quality(train, holdout, test, fit_codecs(train, {"income"}), "income", "classification")
    attacks = sum(report.seconds[c] for c in ATTACKS)
    print(f"rows train/holdout/synthetic {len(train)}/{len(holdout)}/{len(test)}; passed {report.passed} "
          f"{report.failed}; QA {time.perf_counter() - started:.1f} s, of which the attacks {attacks:.1f} s")
    print(report.seconds)


def cart_rows(split: Split):
    import tempfile
    from pathlib import Path

    import pandas as pd

    from synth_pipelines.core.synthcity_plugins import quiet_synthcity_env
    from synth_pipelines.core.synthesis import generate_rows, train_synthesizer
    from synth_pipelines.spec import GeneratorSpec

    quiet_synthcity_env()
    with tempfile.TemporaryDirectory() as out:
        categorical = {split.label} if split.task == "classification" else set()
        model = train_synthesizer(split.train, GeneratorSpec(plugin="cart", seed=7), label=split.label,
                                  categorical=categorical, out_dir=Path(out))
        rows = generate_rows(model, rows=len(split.train), batch_rows=len(split.train), id_prefix="s",
                             out_dir=Path(out))
        return pd.read_parquet(rows.path)[list(split.train.columns)]


if __name__ == "__main__":
    if sys.argv[1:] == ["--time"]:
        qa_seconds()
    elif sys.argv[1:2] == ["--cart"]:
        warnings.filterwarnings("ignore")
        for name in sys.argv[2:]:
            split = Split(load_table(name))
            report = split.judge(cart_rows(split), checks=set(ATTACKS))
            print(f"| {name} | cart | " + " | ".join(cell(report.check(c)) for c in ATTACKS) + " |", flush=True)
    else:
        main(sys.argv[1:] or list(TABLES))

"""The gate, calibrated on real rows: every real table of ../shared/data, default thresholds.

A perfect generator (real rows of the same population that neither the generator's train rows nor
the holdout contain) must pass every blocking check; six planted defects must each be rejected by
the checks meant to catch them. Samples are small (TRAIN_ROWS) to keep the suite fast: that is the
hard case for a perfect generator, since sampling noise is largest there.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from synth_pipelines.core.quality import run_quality
from synth_pipelines.core.synthesis import fit_codecs
from synth_pipelines_tests.real_tables import ENTITY_KEY, TABLES, RealTable, load_table, require_shared_data

TRAIN_ROWS, HOLDOUT_ROWS = 1500, 750  # at most; a small table is split 40/20/40
DEFECTS = ("verbatim copy", "copy with 1% noise", "shuffled columns", "mode collapse", "flipped label", "holdout rows")


class Split:
    def __init__(self, table: RealTable, seed: int = 0) -> None:
        rows = table.frame.drop(columns=[ENTITY_KEY]).sample(frac=1.0, random_state=seed).reset_index(drop=True)
        self.label, self.task = table.label, table.task
        n_train, n_holdout = min(TRAIN_ROWS, int(0.4 * len(rows))), min(HOLDOUT_ROWS, int(0.2 * len(rows)))
        self.train = rows.iloc[:n_train].reset_index(drop=True)
        self.holdout = rows.iloc[n_train:n_train + n_holdout].reset_index(drop=True)
        self.unseen = rows.iloc[n_train + n_holdout:2 * n_train + n_holdout].reset_index(drop=True)
        categorical = {self.label} if self.task == "classification" else set()
        # As the pipeline does: codecs from the train rows, a regression label never a category.
        self.codecs = fit_codecs(self.train, categorical, numeric={self.label} - categorical)

    def noisy_copy(self) -> pd.DataFrame:
        """The train rows, numbers moved by 1% of their standard deviation: a copy that no longer matches."""
        rng = np.random.default_rng(1)
        noisy = self.train.copy()
        for codec in self.codecs:
            if codec.kind in ("integer", "float"):
                numbers = noisy[codec.name].astype(float)
                noisy[codec.name] = numbers + rng.normal(0, 0.01 * (numbers.std() or 1.0), len(noisy))
        return noisy

    def shuffled(self) -> pd.DataFrame:
        """The unseen rows with every column shuffled on its own: each marginal kept, every relation gone."""
        return pd.DataFrame({c: self.unseen[c].sample(frac=1, random_state=i).to_numpy()
                             for i, c in enumerate(self.unseen.columns)})

    def collapsed(self) -> pd.DataFrame:
        """One unseen row repeated: mode collapse."""
        return pd.concat([self.unseen.iloc[[0]]] * len(self.unseen))

    def flipped(self) -> pd.DataFrame:
        """Classification: each class takes the next one's rows; regression: the label is mirrored
        (max + min - y), so the relation to every other column is reversed."""
        flipped = self.unseen.copy()
        y = flipped[self.label]
        if self.task == "classification":
            classes = sorted(y.dropna().unique(), key=str)
            flipped[self.label] = y.map(dict(zip(classes, classes[1:] + classes[:1])))
        else:
            flipped[self.label] = y.max() + y.min() - y
        return flipped

    def defect(self, name: str) -> tuple[pd.DataFrame, set[str], set[str]]:
        """A planted defect of DEFECTS: its rows, the checks run, and the failures of which one must show (a
        failure is "check" or "check: metric")."""
        build = {
            "verbatim copy": lambda: (self.train, {"privacy_exact_copies", "privacy_dcr"},
                                      {"privacy_exact_copies: train_copy_share", "privacy_dcr: dcr_share"}),
            "copy with 1% noise": lambda: (self.noisy_copy(), {"privacy_dcr", "privacy_membership_inference"},
                                           {"privacy_dcr", "privacy_membership_inference"}),
            # On a few weakly related columns (cps1988) the discriminator alone may not tell; utility then does.
            "shuffled columns": lambda: (self.shuffled(), {"fidelity", "utility"}, {"fidelity", "utility"}),
            "mode collapse": lambda: (self.collapsed(), {"diversity"}, {"diversity"}),
            "flipped label": lambda: (self.flipped(), {"utility"}, {"utility"}),
            "holdout rows": lambda: (self.holdout, {"privacy_exact_copies", "privacy_dcr"},
                                     {"privacy_exact_copies: holdout_copy_share",
                                      "privacy_dcr: dcr_share_holdout_leak"}),
        }
        return build[name]()

    def judge(self, synthetic: pd.DataFrame, checks=None):
        synthetic = synthetic.reset_index(drop=True)
        synthetic.insert(0, "synthetic_id", [f"s-{i}" for i in range(len(synthetic))])
        return run_quality(self.train, self.holdout, synthetic, self.codecs, self.label, self.task, checks=checks)


@pytest.fixture(scope="module", params=TABLES)
def split(request) -> Split:
    require_shared_data()
    return Split(load_table(request.param))


def _verdict(report) -> str:
    return "; ".join(f"{c.name}: {c.summary}" for c in report.checks)


def caught(report, failures: set[str]) -> bool:
    """Whether the report failed one of `failures` ("check" or "check: metric")."""
    return bool(set(failures) & (set(report.failed) | {name.split(":")[0] for name in report.failed}))


def rejected_by(report, *failures: str) -> None:
    assert caught(report, set(failures)), f"expected one of {failures} to fail: {_verdict(report)}"


def test_a_perfect_generator_passes_every_check(split):
    assert len(split.unseen) == len(split.train)
    report = split.judge(split.unseen)
    assert report.passed, _verdict(report)


def test_a_verbatim_copy_is_rejected(split):
    rows, checks, failures = split.defect("verbatim copy")
    report = split.judge(rows, checks=checks)
    assert failures <= set(report.failed), _verdict(report)  # both, not one: copies and distances


@pytest.mark.parametrize("defect", [d for d in DEFECTS if d != "verbatim copy"])
def test_a_planted_defect_is_rejected(split, defect):
    rows, checks, failures = split.defect(defect)
    rejected_by(split.judge(rows, checks=checks), *failures)

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


def rejected_by(report, *checks: str) -> None:
    failed = {name.split(":")[0] for name in report.failed}
    assert failed & set(checks), f"expected one of {checks} to fail: {_verdict(report)}"


def test_a_perfect_generator_passes_every_check(split):
    assert len(split.unseen) == len(split.train)
    report = split.judge(split.unseen)
    assert report.passed, _verdict(report)


def test_a_verbatim_copy_is_rejected(split):
    report = split.judge(split.train, checks={"privacy_exact_copies", "privacy_dcr"})
    assert {"privacy_exact_copies: train_copy_share", "privacy_dcr: dcr_share"} <= set(report.failed), _verdict(report)


def test_a_copy_with_tiny_noise_is_rejected(split):
    report = split.judge(split.noisy_copy(), checks={"privacy_dcr", "privacy_membership_inference"})
    rejected_by(report, "privacy_dcr", "privacy_membership_inference")


def test_independently_shuffled_columns_are_rejected(split):
    shuffled = pd.DataFrame({c: split.unseen[c].sample(frac=1, random_state=i).to_numpy()
                             for i, c in enumerate(split.unseen.columns)})
    # On a few weakly related columns (cps1988) the discriminator alone may not tell; utility then does.
    rejected_by(split.judge(shuffled, checks={"fidelity", "utility"}), "fidelity", "utility")


def test_mode_collapse_is_rejected(split):
    collapsed = pd.concat([split.unseen.iloc[[0]]] * len(split.unseen))
    rejected_by(split.judge(collapsed, checks={"diversity"}), "diversity")


def test_a_flipped_label_is_rejected(split):
    """Classification: each class takes the next one's rows; regression: the label is mirrored
    (max + min - y), so the relation to every other column is reversed."""
    flipped = split.unseen.copy()
    y = flipped[split.label]
    if split.task == "classification":
        classes = sorted(y.dropna().unique(), key=str)
        flipped[split.label] = y.map(dict(zip(classes, classes[1:] + classes[:1])))
    else:
        flipped[split.label] = y.max() + y.min() - y
    rejected_by(split.judge(flipped, checks={"utility"}), "utility")


def test_holdout_rows_are_rejected_as_a_leak(split):
    report = split.judge(split.holdout, checks={"privacy_exact_copies", "privacy_dcr"})
    failed = set(report.failed)
    assert failed & {"privacy_exact_copies: holdout_copy_share", "privacy_dcr: dcr_share_holdout_leak"}, _verdict(report)

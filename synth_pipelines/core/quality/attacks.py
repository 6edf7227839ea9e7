"""Attack-based privacy evidence with anonymeter: singling out, linkability and attribute inference.

Each attack runs twice from the same synthetic rows: against real train rows (what the generator
learned from) and against real holdout rows (the control, never seen). anonymeter's risk is the
excess success on the train rows over the control, (train - control) / (1 - control), with its 95%
confidence interval: 0 = the synthetic rows help an attacker no more against the people they were
trained on than against anyone else of the population. The runner gates the risk like the other
sampled privacy figures: at its threshold, or STANDARD_ERRORS standard errors under the null
(null_risk_se) when the sample cannot resolve the threshold. The same counts with the roles swapped give
a holdout-leak risk: the attack works better on the holdout, so holdout rows reached the generator.

Target rows are sampled here with the QA seed, exactly `attacks` of each side, so anonymeter's own
unseeded sampling only reorders them and the risks are reproducible (its random-guess baselines,
reported only, are not). Columns (no dataset names): inference guesses each sensitive column from
all the others; linkability joins two halves of the non-sensitive columns (dealt by distinct values);
singling out builds queries of a few columns from all.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import pandas as pd

from synth_pipelines.core.quality.results import Metric
from synth_pipelines.core.quality.tabular import sample
from synth_pipelines.core.synthesis import ColumnCodec, as_number

ANONYMETER = "anonymeter {} (control: the holdout rows)"
MISSING = "<missing>"  # anonymeter label-encodes categories: one text value for missing


@dataclass(frozen=True)
class AttackRows:
    """The three frames in anonymeter's terms, encoded alike (categories as text, numbers as floats)."""

    train: pd.DataFrame  # `attacks` target rows the generator learned from
    population: pd.DataFrame  # train rows, as many as `control`: where a singling-out query must match one row
    control: pd.DataFrame  # `attacks` holdout rows (singling out: as many as `population`)
    synthetic: pd.DataFrame  # at most `synthetic_rows` synthetic rows: what the attacker holds


def attack_rows(train: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame, codecs: list[ColumnCodec],
                *, attacks: int, synthetic_rows: int, seed: int) -> AttackRows:
    n = min(attacks, len(train), len(holdout))
    # Singling out counts queries matching one row, which depends on how many rows there are: train and
    # control the same size (anonymeter's size correction for unequal ones failed a perfect generator).
    m = min(synthetic_rows, len(train), len(holdout))
    control = _encode(sample(holdout, m, seed), codecs)
    return AttackRows(_encode(sample(train, n, seed), codecs), _encode(sample(train, m, seed), codecs), control,
                      _encode(sample(synthetic, synthetic_rows, seed), codecs))


def _encode(frame: pd.DataFrame, codecs: list[ColumnCodec]) -> pd.DataFrame:
    columns = {}
    for c in codecs:
        if c.kind == "category":
            columns[c.name] = frame[c.name].astype(object).map(lambda v: MISSING if pd.isna(v) else str(v))
        else:
            columns[c.name] = as_number(frame[c.name], c.kind)
    return pd.DataFrame(columns).reset_index(drop=True)


def attack_columns(codecs: list[ColumnCodec], sensitive: list[str]) -> tuple[list[str], list[str]]:
    """(sensitive columns, the others): what inference guesses and what an attacker is assumed to know."""
    names = [c.name for c in codecs]
    return [n for n in names if n in sensitive], [n for n in names if n not in sensitive]


def null_risk_se(reference_successes: float, reference_attacks: int, attacks: int) -> float:
    """Standard error of anonymeter's residual risk (a - c) / (1 - c) when the attacked rows are as
    exposed as the reference rows (the hypothesis the gate tests): both rates then estimate the
    reference's p, so sqrt(p (1 - p) (1/n_a + 1/n_c)) / (1 - p). Taken from the reference side only
    (the control for the risk, the train rows for its holdout-leak mirror), so a generator that copies
    more never widens its own gate. anonymeter's interval propagates the observed rates to first
    order, too narrow when the control almost always succeeds (a rare label: a perfect generator failed
    nass_cds at 0.57 [0.26, 0.87]). p is at most 1 - 1/(n_c + 1): every attack succeeding is no proof
    that p is 1."""
    p = min(reference_successes / reference_attacks, 1 - 1 / (reference_attacks + 1))
    return float(np.sqrt(p * (1 - p) * (1 / attacks + 1 / reference_attacks)) / (1 - p))


def _risk_metric(name: str, evaluator, attack: str, details: dict) -> list[Metric]:
    """The risk and its holdout-leak mirror as two metrics, with anonymeter's 95% intervals and the
    standard error under the null (null_risk_se) that the gate widens by."""
    from anonymeter.stats.confidence import residual_success

    with warnings.catch_warnings():  # "attack as good as baseline": expected of a good generator
        warnings.simplefilter("ignore")
        results = evaluator.results(confidence_level=0.95)
    risk = results.risk()
    leak = residual_success(results.control_rate, results.attack_rate).to_risk()
    n, n_control = results.n_attacks_ori, results.n_attacks_control
    common = {**details, "train_successes": int(results.n_success), "control_successes": round(results.n_control, 1),
              "train_success_rate": round(results.attack_rate.value, 4),
              "control_success_rate": round(results.control_rate.value, 4),
              "random_guess_success_rate": round(results.baseline_rate.value, 4),
              "attacks": n}
    implementation = ANONYMETER.format(attack)
    return [Metric(f"{name}_risk", float(risk.value), implementation,
                   {**common, "ci_low": round(risk.ci[0], 4), "ci_high": round(risk.ci[1], 4),
                    "standard_error": round(null_risk_se(results.n_control, n_control, n), 4)}),
            Metric(f"{name}_holdout_leak_risk", float(leak.value), implementation,
                   {"ci_low": round(leak.ci[0], 4), "ci_high": round(leak.ci[1], 4),
                    "standard_error": round(null_risk_se(results.n_success, n, n_control), 4),
                    "meaning": "the attack succeeds more on the holdout than on the train rows"})]


def singling_out(rows: AttackRows, *, columns: int, seed: int) -> list[Metric]:
    """Queries built from synthetic rows ("age <= 23 and city == X and ...") that match exactly one real row."""
    from anonymeter.evaluators import SinglingOutEvaluator

    n_cols = min(columns, rows.synthetic.shape[1])
    # Matched against many train rows, not the targets: a query isolates a person among those trained on.
    evaluator = SinglingOutEvaluator(rows.population, rows.synthetic, n_attacks=len(rows.train), n_cols=n_cols,
                                     control=rows.control, max_attempts=50 * len(rows.train), seed=seed)
    with warnings.catch_warnings(), _logged("anonymeter.evaluators.singling_out_evaluator") as notes:
        warnings.simplefilter("ignore")
        evaluator.evaluate(mode="multivariate" if n_cols > 1 else "univariate")
    # Fewer distinct queries than attacks (few columns, few values): anonymeter warns that the risk may be
    # underestimated; that goes with the figure, not to the terminal.
    return _risk_metric("singling_out", evaluator, "SinglingOutEvaluator",
                        {"query_columns": n_cols, **({"anonymeter_notes": notes} if notes else {})})


@contextmanager
def _logged(logger_name: str) -> Iterator[list[str]]:
    """The warnings a library logs inside the block, collected instead of printed."""
    import logging

    notes: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            notes.append(record.getMessage())

    logger, handler = logging.getLogger(logger_name), Collect(logging.WARNING)
    propagate, logger.propagate = logger.propagate, False
    logger.addHandler(handler)
    try:
        yield notes
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


def linkability(rows: AttackRows, known: list[str]) -> list[Metric]:
    """Two halves of the known columns, each matched to its nearest synthetic row: linked when both agree.

    The columns are dealt to the halves by distinct values, most first, so that each half gets some
    identifying columns (a half of a few yes/no columns ties with thousands of rows and links nobody).
    """
    from anonymeter.evaluators import LinkabilityEvaluator

    dealt = sorted(known, key=lambda c: -rows.population[c].nunique())
    aux = (dealt[0::2], dealt[1::2])
    if not aux[1]:
        return [Metric("linkability_risk", None, ANONYMETER.format("LinkabilityEvaluator"),
                       {"error": "fewer than two non-sensitive columns: nothing to link"})]
    evaluator = LinkabilityEvaluator(rows.train, rows.synthetic, aux_cols=aux, n_attacks=len(rows.train),
                                     n_neighbors=1, control=rows.control.iloc[:len(rows.train)]).evaluate(n_jobs=1)
    return _risk_metric("linkability", evaluator, "LinkabilityEvaluator",
                        {"columns_a": aux[0], "columns_b": aux[1]})


def inference(rows: AttackRows, secret: str, known: list[str], codecs: list[ColumnCodec]) -> list[Metric]:
    """The secret column guessed from the nearest synthetic row on the known columns (numbers: within 5%)."""
    from anonymeter.evaluators import InferenceEvaluator

    kind = next(c.kind for c in codecs if c.name == secret)
    evaluator = InferenceEvaluator(rows.train, rows.synthetic, aux_cols=known, secret=secret,
                                   regression=kind != "category", n_attacks=len(rows.train),
                                   control=rows.control.iloc[:len(rows.train)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        evaluator.evaluate(n_jobs=1)
    return _risk_metric(f"inference_{_safe(secret)}", evaluator, "InferenceEvaluator",
                        {"secret": secret, "known_columns": len(known)})


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in str(name))

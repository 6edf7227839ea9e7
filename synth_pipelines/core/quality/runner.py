"""run_quality: every quality check on one synthetic dataset, as a QualityReport.

Checks (names are stable; asset checks and the report use them):
  great_expectations            the suite learned from the train rows, on all synthetic rows
  fidelity                      overall score + column, association, discriminator gates; association
                                against the holdout's own at the same row count
  utility                       TSTR / TRTR on the real holdout
  privacy_dcr                   DCR share in [min_dcr_share, max_dcr_share]; NNDR reported
  privacy_exact_copies          verbatim train / holdout rows vs their baselines
  privacy_membership_inference  distance-based attack AUC
  privacy_rare_combinations     rare train quasi-identifier combinations vs the holdout baseline
  privacy_singling_out          anonymeter attacks (attacks.py), each a risk against the holdout as control,
  privacy_linkability           with its 95% interval, gated both ways (train rows exposed, holdout rows
  privacy_inference             leaked)
  diversity                     duplicate rate, category and range coverage
  bias                          label-rate gaps of protected groups (passes with a note when none)
Costly computations run on samples (sizes in QAThresholds and in report.settings): the
discriminator and PhiK on at most `discriminator_rows` / `phik_rows` rows per side, the
neighbour checks index at most `privacy_index_rows` rows of each frame and query `privacy_query_rows`.
A check that raises becomes a failed check naming the error, so one broken metric never hides the others.

Thresholds that judge a sampled estimate (DCR share, attack AUC, utility ratio, copy and rare-combination
shares, Great Expectations' allowances, association against the holdout) are widened to STANDARD_ERRORS
standard errors of that estimate when the sample is too small for the configured value: on a few hundred rows, real rows the generator
never saw (a perfect generator) would otherwise fail by chance. Each metric records the threshold used.

Rebalanced rows (`rebalance`: synthetic.rebalance, one category column with target shares): fidelity,
bias and category coverage compare the synthetic rows with the real train rows resampled to the
target shares (fidelity.resample_to_proportions), so the intended shift is not a failure. Utility is
computed as usual: TSTR/TRTR on the real holdout with ROC AUC, which does not depend on the class
prevalence. Privacy and duplicate checks use the train rows as they are.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable, Collection, Iterable, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from synth_pipelines.core.quality import attacks, bias, dependence, diversity, fidelity, ge_suite, privacy, utility
from synth_pipelines.core.quality.results import (STANDARD_ERRORS, Bound, Metric, QualityCheck, QualityReport,
                                                  widened_threshold)
from synth_pipelines.core.quality.parts import SyntheticParts
from synth_pipelines.core.quality.tabular import shared_codecs
from synth_pipelines.core.quality.thresholds import CHECK_NAMES, QAThresholds
from synth_pipelines.core.synthesis import ColumnCodec

# What reads every synthetic row when QA holds only a sample (run_quality's `all_rows`).
EVERY_ROW_CHECKS = ("great_expectations", "privacy_exact_copies", "diversity: category and range coverage")

# One INFO line per check as it starts: the Dagster run log and the CLI's progress on a terminal show it.
log = logging.getLogger(__name__)


def run_quality(train: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame, codecs: list[ColumnCodec],
                label: str, task: Literal["classification", "regression"], thresholds: QAThresholds | None = None,
                *, key_columns: Sequence[str] = ("synthetic_id",), extra_columns: Sequence[str] = (),
                rebalance: Any = None, checks: Collection[str] | None = None,
                declared_domain: bool = False, all_rows: SyntheticParts | None = None) -> QualityReport:
    """Judge `synthetic` against the real `train` rows (what the generator learned from) and `holdout` rows.

    `codecs` name the compared columns (the generator's columns; real entity keys are ignored);
    `key_columns` must be unique in the synthetic rows; `extra_columns` are added feature columns
    (calculated, masked) the synthetic rows may carry besides the codec columns; `rebalance` (a
    spec.RebalanceSpec: column, proportions) the shares the synthetic rows were generated with;
    `checks`: run only these (by name), e.g. for a quick look; the gate always runs them all;
    `declared_domain` (differential privacy): the Great Expectations suite takes value sets, ranges and
    nullability from the codecs (the spec's declared domain), never from the real rows.
    `all_rows`: every synthetic row, as Parquet parts, when `synthetic` is a sample of them (parts.py):
    Great Expectations, exact copies and coverage then read all rows chunk by chunk.
    """
    t = thresholds or QAThresholds()
    _check_names(codecs, label, t)
    unknown = set(checks or ()) - set(CHECK_NAMES)
    if unknown:
        raise ValueError(f"unknown quality checks {sorted(unknown)}; known: {list(CHECK_NAMES)}")
    columns = shared_codecs(codecs, train, holdout, synthetic)
    rows = all_rows.rows if all_rows is not None else len(synthetic)
    report = QualityReport(checks=[], settings={
        "thresholds": t.model_dump(), "rows": {"train": len(train), "holdout": len(holdout), "synthetic": rows},
        "columns_compared": [c.name for c in columns], "label": label, "task": task})

    def every_row(compared_only: bool = False) -> Iterable[pd.DataFrame]:
        """All synthetic rows (`compared_only`: the compared columns), in chunks when only a sample is held."""
        return [synthetic] if all_rows is None else all_rows.chunks([c.name for c in columns] if compared_only else None)

    if all_rows is not None:
        report.settings["sample"] = {"rows": len(synthetic), "of": rows, "every_row": list(EVERY_ROW_CHECKS)}
    # The real rows the synthetic distribution should match: resampled to the target shares when rebalanced.
    reference = train
    if rebalance is not None:
        if rebalance.column not in train.columns or rebalance.column not in synthetic.columns:
            raise ValueError(f"rebalanced column '{rebalance.column}' is missing from the real or synthetic rows")
        reference = fidelity.resample_to_proportions(train, rebalance.column, rebalance.proportions, t.seed)
        report.settings["rebalance"] = _rebalance_settings(rebalance, train, reference, synthetic)

    def run(name: str, measure: Callable[[], list[Metric]], note: str = "") -> None:
        if checks is not None and name not in checks:
            return
        log.info("QA: computing %s", name)
        started = time.perf_counter()
        try:
            metrics = [m for m in measure() if m is not None]
        except Exception as exc:  # noqa: BLE001 - reported as a failed, named check
            error = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc(limit=-3)}
            metrics = [Metric("error", None, "quality runner", error).gate(0, "max")]
        report.checks.append(QualityCheck(name, metrics, blocking=name not in t.advisory_checks, note=note))
        report.seconds[name] = round(time.perf_counter() - started, 2)

    run("great_expectations", lambda: [ge_suite.validate_chunks(
        train, every_row(), rows, list(synthetic.columns), codecs, key_columns=key_columns, extra_columns=extra_columns,
        range_tolerance=t.range_tolerance, examples=t.ge_examples,
        min_unexpected_share=t.min_unexpected_share, declared_domain=declared_domain,
        keep=report.artifacts).gate(0, "max")])
    run("fidelity", lambda: _fidelity(reference, holdout, synthetic, columns, t, report, rebalance))
    run("utility", lambda: _utility(train, holdout, synthetic, columns, label, task, t))
    points: dict[str, privacy.NeighbourSamples] = {}

    def neighbours() -> privacy.NeighbourSamples:
        if not points:
            points["samples"] = privacy.neighbour_samples(
                train, holdout, synthetic, columns, index_rows=t.privacy_index_rows,
                query_rows=t.privacy_query_rows, seed=t.seed)
        return points["samples"]

    run("privacy_dcr", lambda: _dcr(neighbours(), t, report))
    run("privacy_exact_copies", lambda: [
        widened_gate(m, m.details["baseline_share"] + t.max_exact_copy_excess, m.details["baseline_share"], "max")
        for m in privacy.exact_copies_in_chunks(train, holdout, every_row(compared_only=True), columns)])
    run("privacy_membership_inference", lambda: [widened_gate(
        privacy.membership_inference_auc(neighbours(), t.privacy_query_rows, t.seed), t.max_mia_auc, 0.5, "max")])
    run("privacy_rare_combinations", lambda: [_rare(train, holdout, synthetic, columns, label, t)])
    _attacks(run, train, holdout, synthetic, columns, label, t)
    def coverage() -> list[Metric]:
        seen = synthetic if all_rows is None else diversity.coverage_digest(every_row(compared_only=True), columns)
        return [_gate(diversity.category_coverage(reference, seen, columns), t.min_category_coverage, "min"),
                _gate(diversity.range_coverage(train, seen, columns), t.min_range_coverage, "min")]

    run("diversity", lambda: [
        diversity.duplicate_rows(train, synthetic, columns, max_excess=t.max_duplicate_rate_excess, seed=t.seed),
        *coverage()])
    run("bias", lambda: [bias.label_rate_gaps(reference, synthetic, columns, label=label, task=task,
                                              protected=t.protected_columns, min_group_rows=t.min_group_rows,
                                              max_gap=t.max_label_rate_gap)
                         .gate(t.max_label_rate_gap, "max")] if t.protected_columns else [],
        note="" if t.protected_columns else "no protected columns declared: nothing to compare")
    return report


def _rebalance_settings(rebalance: Any, train: pd.DataFrame, reference: pd.DataFrame,
                        synthetic: pd.DataFrame) -> dict[str, Any]:
    def shares(frame: pd.DataFrame) -> dict[str, float]:
        found = fidelity.category_shares(frame[rebalance.column]) if rebalance.column in frame else pd.Series()
        return {str(v): round(float(s), 4) for v, s in found.items()}

    # Each real share's size, so that the published report can leave small ones out (results.py).
    real_rows = train[rebalance.column].dropna().map(str).value_counts()
    return {"column": rebalance.column, "target_proportions": dict(rebalance.proportions),
            "real_proportions": shares(train), "real_rows": {str(v): int(n) for v, n in real_rows.items()},
            "synthetic_proportions": shares(synthetic),
            "reference_rows": len(reference),
            "note": "fidelity, bias and category coverage compare with the real train rows resampled to the target "
                    "shares; utility (ROC AUC, prevalence-invariant) and privacy use the rows as they are"}


def _check_names(codecs: list[ColumnCodec], label: str, t: QAThresholds) -> None:
    """Configuration mistakes are errors, not failed checks: they would fail every dataset."""
    known = {c.name for c in codecs}
    unknown = {"label": [label] if label not in known else [],
               "protected_columns": sorted(set(t.protected_columns) - known),
               "quasi_identifiers": sorted(set(t.quasi_identifiers or []) - known),
               "sensitive_columns": sorted(set(t.sensitive_columns or []) - known)}
    problems = {k: v for k, v in unknown.items() if v}
    if problems:
        raise ValueError(f"quality settings name columns the generator does not have: {problems}; known: {sorted(known)}")


def _gate(metric: Metric | None, threshold: float, bound: str) -> Metric | None:
    return metric.gate(threshold, bound) if metric is not None else None


def _fidelity(train: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame, codecs: list[ColumnCodec],
              t: QAThresholds, report: QualityReport, rebalance: Any) -> list[Metric]:
    column = fidelity.column_similarity(train, synthetic, codecs)
    real_phik, synth_phik = fidelity.phik_matrices(train, synthetic, codecs, rows=t.phik_rows, seed=t.seed)
    report.artifacts.update(phik_real=real_phik, phik_synthetic=synth_phik)
    parts = [m for m in (fidelity.phik_similarity(real_phik, synth_phik),
                         fidelity.correlation_similarity(train, synthetic, codecs, "pearson"),
                         fidelity.correlation_similarity(train, synthetic, codecs, "spearman")) if m is not None]
    association = Metric("association_similarity", fidelity.association_similarity(parts),
                         "phik.phik_matrix + pandas DataFrame.corr (pearson, spearman)",
                         {m.name: round(m.value, 4) for m in parts})
    disc = fidelity.discriminator_auc(train, synthetic, codecs, rows=t.discriminator_rows,
                                      folds=t.discriminator_folds, seed=t.seed, explain_above=t.max_discriminator_auc)
    overall = fidelity.overall_fidelity(column.value, association.value, disc.details["score"])
    return [Metric("fidelity_score", overall, "weighted mean (see fidelity.WEIGHTS)",
                   {"weights": fidelity.WEIGHTS}).gate(t.min_fidelity, "min"),
            column.gate(t.min_column_similarity, "min"), association.gate(t.min_association_similarity, "min"),
            *_against_the_holdout(real_phik, train, holdout, synthetic, codecs, t, rebalance),
            disc.gate(t.max_discriminator_auc, "max"), *parts]


def _against_the_holdout(train_phik: pd.DataFrame, train: pd.DataFrame, holdout: pd.DataFrame,
                         synthetic: pd.DataFrame, codecs: list[ColumnCodec], t: QAThresholds,
                         rebalance: Any) -> list[Metric]:
    """fidelity.association_vs_holdout and dependence.dependence_kept, gated; rebalanced rows are compared with the
    holdout at the target shares (as the train rows are); unmeasured, with the reason, when the holdout cannot be
    resampled so."""
    if rebalance is not None:
        try:
            holdout = fidelity.resample_to_proportions(holdout, rebalance.column, rebalance.proportions, t.seed)
        except (KeyError, ValueError) as exc:
            reason = {"skipped": f"the holdout cannot be resampled to the rebalanced shares: {exc}"}
            return [Metric("association_vs_holdout", None, fidelity.VS_HOLDOUT, reason),
                    Metric("dependence_kept", None, dependence.IMPLEMENTATION, reason)]
    association = fidelity.association_vs_holdout(train_phik, train, holdout, synthetic, codecs,
                                                  tolerance=t.max_association_loss, rows=t.phik_rows, seed=t.seed)
    if association.value is not None:  # else reported with its reason, not gated
        baseline = association.details["holdout_similarity"]
        association = widened_gate(association, baseline - t.max_association_loss, baseline, "min")
    dependence_kept = dependence.dependence_kept(train, holdout, synthetic, codecs, rows=t.phik_rows, seed=t.seed)
    if dependence_kept.value is not None:  # else reported with its reason, not gated
        dependence_kept = widened_gate(dependence_kept, t.min_dependence_kept, 1.0, "min")
    return [association, dependence_kept]


def _utility(train, holdout, synthetic, codecs, label, task, t: QAThresholds) -> list[Metric]:
    if label not in synthetic.columns:
        return [Metric("tstr_trtr_ratio", None, "n/a", {"error": f"label {label!r} missing from the synthetic rows"})
                .gate(t.min_utility_ratio, "min")]
    ratio = utility.tstr_vs_trtr(train, holdout, synthetic, codecs, label=label, task=task, rows=t.utility_rows,
                                 seed=t.seed)
    return [widened_gate(ratio, t.min_utility_ratio, 1.0, "min")]


def widened_gate(metric: Metric, threshold: float, ideal: float, bound: Bound) -> Metric:
    """Gate at `threshold`, or STANDARD_ERRORS standard errors from the ideal value when the estimate
    is noisier than that (details["standard_error"]); the threshold used is the metric's."""
    se = metric.details.get("standard_error")
    if se is None or not np.isfinite(se):
        return metric.gate(threshold, bound)
    used = widened_threshold(threshold, ideal, se, bound)
    metric.details["threshold_rule"] = (f"{'max' if bound == 'max' else 'min'}({threshold:g}, {ideal:g} "
                                        f"{'+' if bound == 'max' else '-'} {STANDARD_ERRORS:g} x standard error)")
    return metric.gate(used, bound)


def _dcr(points: privacy.NeighbourSamples, t: QAThresholds, report: QualityReport) -> list[Metric]:
    share, distances = privacy.dcr_share(points)
    report.artifacts.update(distances)
    # One number, two named gates: too close to train rows, or suspiciously close to the holdout.
    leak = Metric("dcr_share_holdout_leak", share.value, share.implementation,
                  {"meaning": "share far below 0.5: synthetic rows are closer to the holdout than to the train rows",
                   "standard_error": share.details["standard_error"]})
    return [widened_gate(share, t.max_dcr_share, 0.5, "max"), widened_gate(leak, t.min_dcr_share, 0.5, "min"),
            privacy.nndr(points)]


def _attacks(run: Callable[..., None], train, holdout, synthetic, codecs: list[ColumnCodec], label: str,
             t: QAThresholds) -> None:
    rows: dict[str, attacks.AttackRows] = {}

    def shared() -> attacks.AttackRows:  # encoded once, for whichever attack runs first
        if not rows:
            rows["rows"] = attacks.attack_rows(train, holdout, synthetic, codecs, attacks=t.attack_rows,
                                               synthetic_rows=t.attack_synthetic_rows, seed=t.seed)
        return rows["rows"]

    secrets, known = attacks.attack_columns(codecs, t.sensitive_columns if t.sensitive_columns is not None
                                            else [label])
    run("privacy_singling_out", lambda: [widened_gate(m, t.max_singling_out_risk, 0.0, "max")
                                         for m in attacks.singling_out(shared(), columns=3, seed=t.seed)])
    run("privacy_linkability", lambda: [widened_gate(m, t.max_linkability_risk, 0.0, "max")
                                        for m in attacks.linkability(shared(), known)])
    run("privacy_inference", lambda: [widened_gate(m, t.max_inference_risk, 0.0, "max")
                                      for secret in secrets for m in attacks.inference(shared(), secret, known, codecs)],
        note="" if secrets else "no sensitive columns among the compared columns: nothing to infer")


def _rare(train, holdout, synthetic, codecs: list[ColumnCodec], label: str, t: QAThresholds) -> Metric:
    names = t.quasi_identifiers if t.quasi_identifiers is not None else [c.name for c in codecs if c.name != label]
    chosen = [c for c in codecs if c.name in names]
    metric = privacy.rare_combinations(train, holdout, synthetic, chosen, k=t.rare_k, bins=t.quasi_identifier_bins)
    return widened_gate(metric, metric.details["baseline_share"] + t.max_rare_combination_excess,
                        metric.details["baseline_share"], "max")

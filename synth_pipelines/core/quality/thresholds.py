"""Every QA threshold and option, with general defaults (not tuned to any one dataset).

Meant to be embedded in the dataset spec as `qa:`; every field has a description, unknown
fields are an error. Scores are 0..1 with 1 = best unless the description says otherwise.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

CHECK_NAMES = ("great_expectations", "fidelity", "utility", "privacy_dcr", "privacy_exact_copies",
               "privacy_membership_inference", "privacy_rare_combinations", "privacy_singling_out",
               "privacy_linkability", "privacy_inference", "diversity", "bias")

# Checks on a release's features beyond run_quality's: against the previous release (release_diff).
RELEASE_REGRESSION = "release_regression"
ASSET_CHECK_NAMES = (*CHECK_NAMES, RELEASE_REGRESSION)  # every asset check on a dataset's synthetic features

# What each check compares and what fails it (the asset check descriptions in the UI).
CHECK_DESCRIPTIONS = {
    "great_expectations": "A Great Expectations suite derived from the real train rows (columns, types, not-null, "
                          "category domains, ranges, unique keys) run on the synthetic rows; fails on any failed "
                          "expectation beyond the allowed share of unexpected values.",
    "fidelity": "Per-column similarity (1-KS, 1-TVD), association similarity (PhiK, Pearson, Spearman) and a "
                "real-vs-synthetic discriminator's AUC; fails when a score is below its threshold, or when the "
                "association similarity falls more than max_association_loss below the holdout's own, or the rows keep "
                "less than min_dependence_kept of the holdout's pairwise dependence.",
    "utility": "Train on synthetic, test on the real holdout, against train on real (ROC-AUC or R2); fails when "
               "the ratio is below min_utility_ratio.",
    "privacy_dcr": "Share of synthetic rows closer to a train row than to a holdout row (0.5 ideal); fails when too "
                   "high (memorization) or too low (holdout leakage).",
    "privacy_exact_copies": "Synthetic rows that are verbatim train or holdout rows; fails beyond the holdout's own "
                            "baseline plus max_exact_copy_excess.",
    "privacy_membership_inference": "A distance-based membership attack telling train rows from holdout rows; "
                                    "fails when its AUC exceeds the threshold.",
    "privacy_rare_combinations": "Rare real combinations of quasi-identifiers reproduced verbatim in the synthetic "
                                 "rows; fails beyond the allowed share.",
    "privacy_singling_out": "anonymeter singling-out attack: queries built from synthetic rows that isolate exactly "
                            "one real train row, against the holdout as control; fails when the risk exceeds "
                            "max_singling_out_risk beyond sampling noise (either way: train rows copied, holdout "
                            "leaked).",
    "privacy_linkability": "anonymeter linkability attack: two halves of a real train row's non-sensitive columns "
                           "joined through the same nearest synthetic row, against the holdout as control; fails "
                           "when the risk exceeds max_linkability_risk beyond sampling noise (either way).",
    "privacy_inference": "anonymeter attribute-inference attack: each sensitive column (qa.sensitive_columns, "
                         "default the label) guessed from a real train row's other columns via the nearest "
                         "synthetic row, against the holdout as control; fails when a risk exceeds "
                         "max_inference_risk beyond sampling noise (either way).",
    "diversity": "Duplicate synthetic rows (mode collapse) and coverage of the real categories and ranges; fails "
                 "on too many duplicates or too little coverage.",
    "bias": "Label-rate gap per protected group (qa.protected_columns), real vs synthetic, net of sampling noise; "
            "fails when a gap exceeds the threshold.",
}


class QAThresholds(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # -- great_expectations --------------------------------------------------------------------
    range_tolerance: float = Field(0.05, ge=0, description=(
        "Great Expectations numeric/date ranges: the real min/max widened by this fraction of the real "
        "range on each side."))
    ge_examples: int = Field(5, ge=0, le=50, description="Unexpected example values listed per failed expectation.")
    min_unexpected_share: float = Field(0.001, ge=0, le=1, description=(
        "Great Expectations value expectations (category domain, range, not-null) allow at least this share of "
        "synthetic values outside them; more where real rows the train rows did not include would fall outside "
        "too (estimated from the train rows, plus three standard errors; see ge_suite)."))

    # -- fidelity ------------------------------------------------------------------------------
    min_fidelity: float = Field(0.75, ge=0, le=1, description=(
        "Overall fidelity score: 0.4 x column similarity + 0.3 x association similarity + "
        "0.3 x discriminator score."))
    min_column_similarity: float = Field(0.8, ge=0, le=1, description=(
        "Mean per-column similarity to the train rows (1 - KS statistic for numbers and dates, "
        "1 - total variation distance for categories, missing values included)."))
    min_association_similarity: float = Field(0.8, ge=0, le=1, description=(
        "Pairwise association similarity: 1 - mean |PhiK(real) - PhiK(synthetic)| over all column pairs, "
        "averaged with the Pearson and Spearman similarities (1 - mean |diff| / 2) when there are "
        "at least two numeric columns."))
    max_association_loss: float = Field(0.05, ge=0, le=1, description=(
        "How far the synthetic rows' association similarity (as above) may fall below the holdout's own: real "
        "rows the generator never saw, compared at the same row count, so the cap follows how strongly the "
        "table's columns relate. Widened to 3 standard errors of the difference on small holdouts."))
    min_dependence_kept: float = Field(0.25, ge=0, le=1, description=(
        "How much of the train rows' pairwise dependence the synthetic rows keep, as a share of what the holdout "
        "keeps (1 = as much as real rows the generator never saw, 0 = independent columns): chance-adjusted mutual "
        "information over the train rows' most dependent column pairs, both at the holdout's row count. A floor "
        "against columns drawn apart (shuffled columns keep ~0; cart kept 0.39 at worst over 74 real tables, on "
        "tables of a few hundred rows). Lowered to 3 standard errors under 1 where the holdout's own share is that "
        "uncertain (small holdouts, weakly related columns); unmeasured where the holdout keeps no more than chance."))
    max_discriminator_auc: float = Field(0.9, gt=0.5, le=1, description=(
        "Cross-validated ROC AUC of a classifier telling real from synthetic rows (0.5 = "
        "indistinguishable, 1 = trivially told apart)."))
    discriminator_rows: int = Field(20_000, ge=100, description="Rows per side (real, synthetic) for the discriminator.")
    discriminator_folds: int = Field(3, ge=2, le=10, description="Cross-validation folds of the discriminator.")
    phik_rows: int = Field(10_000, ge=100, description=(
        "Rows per side used for the PhiK matrices and for dependence_kept's train pattern and comparison."))

    # -- utility -------------------------------------------------------------------------------
    min_utility_ratio: float = Field(0.9, ge=0, description=(
        "TSTR / TRTR: the label metric (ROC AUC for classification, R2 for regression) on the real holdout "
        "of a model trained on synthetic rows, divided by the same model trained on the real train rows."))
    utility_rows: int = Field(50_000, ge=100, description="At most this many rows to train each utility model.")
    sample_rows: int = Field(100_000, ge=1_000, description=(
        "With more synthetic rows than this, QA never holds them all: Great Expectations, exact copies and "
        "coverage read every row chunk by chunk, the other checks and the report a uniform sample of this "
        "many (at least the largest of the sizes above, which they sample from it)."))

    # -- privacy -------------------------------------------------------------------------------
    max_dcr_share: float = Field(0.6, gt=0, le=1, description=(
        "Share of synthetic rows whose nearest real train row is closer than their nearest holdout row, "
        "as if train and holdout had the same size. 0.5 is ideal; higher means rows sit on top of train rows."))
    min_dcr_share: float = Field(0.4, ge=0, lt=1, description=(
        "Lower bound of the same share: well below 0.5 the synthetic rows are closer to the holdout than "
        "to the rows the generator learned from, i.e. holdout rows leaked into the output."))
    max_exact_copy_excess: float = Field(0.01, ge=0, le=1, description=(
        "Allowed excess of the share of synthetic rows that are verbatim train (or holdout) rows over the "
        "same share for real rows the generator never saw (the baseline)."))
    max_mia_auc: float = Field(0.6, gt=0.5, le=1, description=(
        "ROC AUC of a distance-based membership-inference attack telling train rows (members) from "
        "holdout rows (non-members) by their distance to the nearest synthetic row."))
    rare_k: int = Field(1, ge=1, description=(
        "A quasi-identifier combination is rare when it occurs at most this many times in the train rows."))
    max_rare_combination_excess: float = Field(0.05, ge=0, le=1, description=(
        "Allowed excess of the share of synthetic rows carrying a rare train quasi-identifier combination "
        "over the same share for holdout rows (real rows the generator never saw)."))
    quasi_identifiers: list[str] | None = Field(None, description=(
        "Columns an attacker could know about a person; default: every category column except the label, "
        "plus every numeric/date column cut into quantile bins."))
    quasi_identifier_bins: int = Field(5, ge=2, le=100, description="Quantile bins for numeric quasi-identifiers.")
    sensitive_columns: list[str] | None = Field(None, description=(
        "Columns whose values must not be learnable about a person (anonymeter inference attack secrets); "
        "default: the label. Linkability joins the other columns. Attribute inference on columns not listed "
        "here is not tested."))
    max_singling_out_risk: float = Field(0.1, ge=0, le=1, description=(
        "anonymeter singling-out risk: excess share of queries built from synthetic rows that isolate exactly "
        "one train row over the same share on the holdout (control), relative to what the control leaves to "
        "gain: (train - control) / (1 - control). Fails above this, or above 3 standard errors of the risk for "
        "equally exposed train and control rows when the sample is too small to resolve this; the same for "
        "the mirrored risk (holdout over train: holdout rows leaked into the generator)."))
    max_linkability_risk: float = Field(0.1, ge=0, le=1, description=(
        "anonymeter linkability risk: excess share of train rows whose two column halves are linked through "
        "the same nearest synthetic row, over the holdout's share; gated as max_singling_out_risk, both ways."))
    max_inference_risk: float = Field(0.1, ge=0, le=1, description=(
        "anonymeter inference risk, per sensitive column: excess share of train rows whose secret the "
        "nearest synthetic row (on all other columns) gives away (numbers: within 5%), over the holdout's "
        "share; gated as max_singling_out_risk, both ways."))
    attack_rows: int = Field(500, ge=50, description=(
        "Target rows of each side (train, holdout) per anonymeter attack, and singling-out queries; the "
        "confidence interval narrows with more (anonymeter suggests 500 to 1000)."))
    attack_synthetic_rows: int = Field(20_000, ge=100, description=(
        "Synthetic rows the anonymeter attacker holds (a sample when more): fewer hide some copied rows. "
        "Singling out also matches its queries against this many train and holdout rows at most."))
    privacy_index_rows: int = Field(50_000, ge=100, description=(
        "Rows of each of train, holdout and synthetic indexed for the nearest-neighbour checks (DCR, NNDR, "
        "membership inference); all rows when fewer. Fewer indexed train rows hide copies of the others."))
    privacy_query_rows: int = Field(10_000, ge=100, description=(
        "Synthetic rows queried for the DCR share and NNDR, and train/holdout rows each for the attack."))

    # -- diversity -----------------------------------------------------------------------------
    min_category_coverage: float = Field(0.8, ge=0, le=1, description=(
        "Mean share of each category column's real train categories that occur in the synthetic rows (the "
        "categories at least 5 train rows hold, value_formats.FREQUENT_ROWS: one fewer rows hold is a few "
        "people's own)."))
    min_range_coverage: float = Field(0.8, ge=0, le=1, description=(
        "Mean share of each numeric/date column's real central range (0.5% to 99.5% quantile) covered by the "
        "synthetic [min, max]."))
    max_duplicate_rate_excess: float = Field(0.05, ge=0, le=1, description=(
        "Allowed excess of the duplicate-row rate of the synthetic rows (a sample the size of the train rows) "
        "over that of the train rows: repeated rows are a sign of mode collapse."))

    # -- bias ----------------------------------------------------------------------------------
    protected_columns: list[str] = Field(default_factory=list, description=(
        "Columns whose groups must keep their real label rates (numeric ones are cut into quantile bins). "
        "No columns: the bias check passes with a note."))
    max_label_rate_gap: float = Field(0.1, ge=0, le=1, description=(
        "Largest allowed |real - synthetic| label rate (per group and label class; regression: group mean "
        "label in units of the real label's standard deviation)."))
    min_group_rows: int = Field(100, ge=1, description="Groups with fewer real train rows are reported but not gated.")

    # -- release regression ----------------------------------------------------------------------
    max_release_drift: float = Field(0.05, ge=0, le=1, description=(
        "Release regression (release_diff): a column moved when its distance to the previous release of the "
        "dataset (1 - KS or TVD, as column similarity) exceeds what chance gives for the row counts by more "
        "than this."))
    release_regression_blocking: bool = Field(False, description=(
        "Block publication when a column moved against the previous release (default: reported only, as a "
        "new snapshot of a moving source may shift columns legitimately)."))

    # -- general -------------------------------------------------------------------------------
    advisory_checks: list[str] = Field(default_factory=list, description=(
        f"Checks that run and are reported but do not block publication; names from {', '.join(CHECK_NAMES)}."))
    seed: int = Field(0, description="Seed of every sample and model in the QA run.")

    # -- report --------------------------------------------------------------------------------
    report_max_columns: int = Field(30, ge=1, description="Columns plotted in the univariate section.")
    report_max_pairs: int = Field(6, ge=0, description="Most-associated column pairs plotted in the bivariate section.")
    report_max_heatmap_columns: int = Field(30, ge=2, description="Columns shown in the PhiK heatmaps.")
    report_sample_rows: int = Field(20, ge=0, description="Random synthetic rows shown for manual review.")

    @model_validator(mode="after")
    def _known_checks(self) -> QAThresholds:
        unknown = sorted(set(self.advisory_checks) - set(CHECK_NAMES))
        if unknown:
            raise ValueError(f"advisory_checks: unknown check(s) {unknown}; choose from {list(CHECK_NAMES)}")
        if self.min_dcr_share >= self.max_dcr_share:
            raise ValueError("min_dcr_share must be below max_dcr_share (0.5 is the ideal share)")
        return self

"""Complexity assessment of the train rows, before any training: size, column kinds and cardinalities,
an estimate of training time and peak memory, and findings (warnings and errors) with a fix each.

Errors stop the run (a generator trained on them would be useless or would leak real values);
warnings are logged and shown by `validate`. All thresholds are below, with the reason for each;
they are properties of generators and QA in general, not of one dataset.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import pandas as pd

from synth_pipelines.core.leakage import find_leakage
from synth_pipelines.core.synthcity_plugins import plugin_arguments, plugin_defaults
from synth_pipelines.core.synthesis import column_kind  # the kinds the generator's codec sees
from synth_pipelines.spec import GeneratorSpec, LoadedSpec, SpecError, TrainingViewSpec

# Below this many train rows a generator fits noise and QA has nothing to measure: the utility
# classifier, the discriminator and the privacy distances all need a few hundred rows to mean anything.
MIN_TRAIN_ROWS = 200
# Below this many train rows results are usable but unstable: QA figures move from run to run.
FEW_TRAIN_ROWS = 1_000
# Rule of thumb for fitting a joint distribution: at least this many rows per column, else pairs
# of columns are seen in too few combinations to be learned.
MIN_ROWS_PER_COLUMN = 20
# A text column with (nearly) one value per row is an identifier (id, email, name). Category
# columns are sampled from their observed values, so it would reach the release verbatim: an error.
# An integer column is a key when every value is distinct and the values fill a dense range (a
# sequence: max - min < 2 x rows); amounts and incomes are distinct too but spread thinly over
# their range. Sampled as a number it leaks nothing, but means nothing either: a warning.
IDENTIFIER_UNIQUE_SHARE = 0.95
KEY_RANGE_PER_VALUE = 2
IDENTIFIER_MIN_ROWS = 50  # a unique value per row means nothing on a handful of rows
# A category column with more levels than this, or with over half the rows a level of their own,
# has levels seen a few times each: neural generators one-hot encode every level and Bayesian
# networks need a probability per level and parent state; the rare levels are dropped or copied.
HIGH_CARDINALITY_LEVELS = 100
HIGH_CARDINALITY_SHARE = 0.5
# A label class with fewer train rows than this cannot be learned by the generator, and the holdout
# gets only holdout_fraction of as many to score the utility check.
RARE_CLASS_ROWS = 30

Severity = Literal["warning", "error"]


@dataclass(frozen=True)
class ColumnProfile:
    name: str
    kind: str  # integer, float, category, date or datetime (as the codec encodes it)
    distinct: int
    missing_share: float


@dataclass(frozen=True)
class Finding:
    severity: Severity
    field: str  # the spec field to change
    column: str | None
    problem: str
    fix: str

    def text(self) -> str:
        return f"{self.field}: {self.problem}. Fix: {self.fix}"


@dataclass(frozen=True)
class Assessment:
    rows: int
    columns: int
    plugin: str
    cost_family: str
    estimated_training_seconds: float
    estimated_peak_memory_mb: float
    profiles: list[ColumnProfile]
    findings: list[Finding]
    excluded_columns: dict[str, str] = field(default_factory=dict)  # leakage_columns with their reason

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def raise_for_errors(self, loaded: LoadedSpec) -> None:
        """A SpecError naming the spec file, field, column and fix of every error finding."""
        if self.errors:
            raise SpecError("\n".join(str(loaded.error(f.field, f.problem, f.fix)) for f in self.errors))

    def summary_lines(self) -> list[str]:
        kinds = ", ".join(f"{p.name} ({p.kind}" + (f", {p.distinct} levels)" if p.kind == "category" else ")")
                          for p in self.profiles)
        lines = [f"assessment: {self.rows} train rows x {self.columns} columns: {kinds}",
                 f"  estimate for '{self.plugin}' ({self.cost_family} cost model, rough: expect within 3x): "
                 f"training ~{_duration(self.estimated_training_seconds)}, peak memory "
                 f"~{self.estimated_peak_memory_mb:,.0f} MB"]
        lines += [f"  excluded (leakage_columns): {c}: {reason}" for c, reason in self.excluded_columns.items()]
        lines += [f"  {f.severity.upper()}: {f.text()}" for f in self.findings]
        if not self.findings:
            lines.append("  no findings")
        return lines


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


def assess_training_rows(train: pd.DataFrame, view_spec: TrainingViewSpec, generator: GeneratorSpec) -> Assessment:
    """Assess the train rows (the training view minus leakage columns and holdout) for one generator."""
    frame = train.drop(columns=[view_spec.entity_key], errors="ignore")
    label = view_spec.label
    profiles = [_profile(frame[c], force_category=c == label and view_spec.task == "classification")
                for c in frame.columns]
    findings = _size_findings(len(frame), frame.shape[1], view_spec)
    findings += _column_findings(frame, profiles, label)
    if view_spec.task == "classification":
        findings += _label_findings(frame[label], label)
    findings += _leakage_findings(frame, view_spec, generator.seed)
    seconds, memory, family = estimate_cost(generator, len(frame), profiles)
    return Assessment(rows=len(frame), columns=frame.shape[1], plugin=generator.plugin, cost_family=family,
                      estimated_training_seconds=round(seconds, 1), estimated_peak_memory_mb=round(memory),
                      profiles=profiles, findings=findings,
                      excluded_columns={c.column: c.reason for c in view_spec.leakage_columns})


def _profile(series: pd.Series, force_category: bool) -> ColumnProfile:
    return ColumnProfile(name=str(series.name), kind=column_kind(series, force_category),
                         distinct=int(series.nunique(dropna=True)),
                         missing_share=round(float(series.isna().mean()), 4) if len(series) else 0.0)


def _size_findings(rows: int, columns: int, view_spec: TrainingViewSpec) -> list[Finding]:
    more_rows = (f"select more rows in training_view.sql (or lower training_view.holdout_fraction, now "
                 f"{view_spec.holdout_fraction})")
    if rows < MIN_TRAIN_ROWS:
        return [Finding("error", "training_view.sql", None, f"dataset too small: {rows} train rows after the "
                        f"holdout, at least {MIN_TRAIN_ROWS} are needed", more_rows)]
    findings = []
    if rows < FEW_TRAIN_ROWS:
        findings.append(Finding("warning", "training_view.sql", None, f"dataset small: {rows} train rows; below "
                                f"{FEW_TRAIN_ROWS} QA results vary from run to run", more_rows))
    if rows < MIN_ROWS_PER_COLUMN * columns:
        findings.append(Finding("warning", "training_view.sql", None, f"too many columns for the rows: {columns} "
                                f"columns need about {MIN_ROWS_PER_COLUMN * columns} train rows "
                                f"({MIN_ROWS_PER_COLUMN} per column), there are {rows}",
                                "select fewer columns (keep those the downstream model needs) or more rows"))
    return findings


# The largest integer a 64-bit float holds exactly: the generators' arithmetic rounds larger ones.
MAX_EXACT_INTEGER = 2 ** 53


def _beyond_float(series: pd.Series) -> bool:
    values = series.dropna()
    return bool(len(values)) and bool((values.abs() > MAX_EXACT_INTEGER).any())


def _is_key(series: pd.Series, distinct: int) -> bool:
    values = series.dropna()
    return distinct == len(values) and float(values.max()) - float(values.min()) < KEY_RANGE_PER_VALUE * distinct


def _column_findings(frame: pd.DataFrame, profiles: list[ColumnProfile], label: str) -> list[Finding]:
    findings = []
    for p in profiles:
        present = int(frame[p.name].notna().sum())
        if p.distinct == 0 and p.name != label:
            findings.append(Finding("error", "training_view.sql", p.name, f"column '{p.name}' is empty (NULL) in "
                                    "every train row: there is nothing to learn and QA cannot compare it",
                                    "drop it from the view, or select rows where it is set"))
        elif p.kind == "integer" and _beyond_float(frame[p.name]):
            findings.append(Finding(
                "error", "training_view.sql", p.name, f"column '{p.name}' holds integers beyond 2^53 "
                f"({MAX_EXACT_INTEGER:,}); generators compute in 64-bit floats, which would round them silently",
                "if it is a code or identifier, leave it out or CAST it to VARCHAR in the view; if it is an "
                "amount, scale it down in the view (e.g. divide by 1000)"))
        elif p.distinct <= 1:
            if p.name == label:
                findings.append(Finding("error", "training_view.label", p.name, f"label '{p.name}' has a single "
                                        "value in every train row: there is nothing to learn",
                                        "choose a label that varies, or select rows where it does"))
            else:
                findings.append(Finding("warning", "training_view.sql", p.name, f"column '{p.name}' is constant "
                                        "(one value or empty in every row): it carries no information",
                                        "drop it from the view"))
        elif p.name == label:
            continue
        elif present >= IDENTIFIER_MIN_ROWS and (
                (p.kind == "category" and p.distinct >= IDENTIFIER_UNIQUE_SHARE * present)
                or (p.kind == "integer" and _is_key(frame[p.name], p.distinct))):
            text = p.kind == "category"
            findings.append(Finding(
                "error" if text else "warning", "training_view.sql", p.name,
                f"column '{p.name}' is identifier-like: {p.distinct} distinct values in {present} rows"
                + (" would be copied verbatim into synthetic rows" if text else ""),
                "exclude it (leave it out of the view, or source.tables.<table>.exclude_columns) or list it "
                "under training_view.leakage_columns; for a format-valid stand-in add it to features.masked_columns"))
        elif p.kind == "category" and (p.distinct > HIGH_CARDINALITY_LEVELS or p.distinct > HIGH_CARDINALITY_SHARE * present):
            findings.append(Finding(
                "warning", "training_view.sql", p.name,
                f"category column '{p.name}' has {p.distinct} levels in {present} rows (very high cardinality: "
                f"over {HIGH_CARDINALITY_LEVELS} levels or over {HIGH_CARDINALITY_SHARE:.0%} of rows)",
                "bucket it in the view (e.g. CASE WHEN ... keeping the frequent levels, ELSE 'other'), or exclude it"))
    return findings


def _label_findings(labels: pd.Series, label: str) -> list[Finding]:
    counts = labels.value_counts()
    rare = counts[counts < RARE_CLASS_ROWS]
    if len(counts) < 2 or rare.empty:
        return []
    listed = ", ".join(f"{value!s} ({n} rows)" for value, n in rare.items())
    return [Finding("warning", "training_view.label", label, f"label class too rare to learn: {listed}; "
                    f"each class needs at least {RARE_CLASS_ROWS} train rows",
                    "select more rows of that class in training_view.sql, or merge it into another class")]


def _leakage_findings(frame: pd.DataFrame, view_spec: TrainingViewSpec, seed: int) -> list[Finding]:
    findings = []
    for suspect in find_leakage(frame, view_spec.label, view_spec.task, seed=seed):
        if suspect.kind == "derived":
            problem = f"column '{suspect.column}' looks derived from {suspect.evidence}"
            fix = ("drop it from the view (or list it under training_view.leakage_columns) and compute it as a "
                   f"features.calculated_columns expression: {suspect.evidence}")
        else:
            problem = (f"column '{suspect.column}' {suspect.evidence}: it looks recorded after the outcome "
                       f"'{view_spec.label}'")
            fix = ("list it under training_view.leakage_columns with the reason (or leave it out of the view); "
                   "if it really is known before the outcome, ignore this warning")
        findings.append(Finding("warning", "training_view.leakage_columns", suspect.column, problem, fix))
    return findings


# ---- cost estimate -------------------------------------------------------------------------------
# Training time = overhead + seconds_per_unit * work units, peak memory = base + MB per million
# cells of the train rows (encoded width for neural plugins). Work units per family (what dominates the fit):
#   neural   (tvae, ctgan, ddpm, ...): rows x encoded width x (n_iter + 1): epochs over one-hot rows,
#            plus about one epoch's worth for fitting the data encoder (per-column mixture models)
#   forest   (arf): rows x columns x num_trees
#   bayesian (bayesian_network): rows x columns^2 (structure search scores column pairs)
#   marginal (marginal_distributions, uniform/dummy samplers, privbayes): rows x columns (privbayes: 0.3 s on Adult)
#   tree     (cart): rows x columns (one tree per column, plus one gradient-boosted label model);
#            measured 1.5 s on Adult (32,561 x 15) and about 1 s on the demo view (3,840 x 19)
# Calibrated with bench/calibrate_assessment.py on the demo view (19 columns, encoded width 49) with
# 1,920 and 3,840 train rows on 2 CPU cores shared with other jobs (load 5-6, so an idle machine is
# up to ~2x faster): arf 13.2 s / 29.5 s, 866 / 930 MB; bayesian_network (hill climbing) 3.7 s / 9.0 s,
# 907 / 993 MB; tvae 8.6 s at 1 epoch and 35 s at 6 epochs on 1,920 rows, ~1,070 MB at both sizes;
# marginal_distributions 0.1 s, 810 MB. ctgan and ddpm were not measured and use tvae's figures.
# Early stopping, network size and other machines move all of this: the result is an estimate.
@dataclass(frozen=True)
class CostModel:
    overhead_seconds: float
    seconds_per_unit: float
    base_mb: float
    mb_per_million_cells: float


COST_MODELS = {
    "neural": CostModel(overhead_seconds=2.0, seconds_per_unit=5.6e-5, base_mb=1070, mb_per_million_cells=50),
    "forest": CostModel(overhead_seconds=0.5, seconds_per_unit=1.35e-5, base_mb=800, mb_per_million_cells=1750),
    "bayesian": CostModel(overhead_seconds=0.5, seconds_per_unit=6.5e-6, base_mb=820, mb_per_million_cells=2350),
    "marginal": CostModel(overhead_seconds=0.1, seconds_per_unit=2e-6, base_mb=810, mb_per_million_cells=50),
    "tree": CostModel(overhead_seconds=0.5, seconds_per_unit=3e-6, base_mb=820, mb_per_million_cells=600),
}
_FAMILY = {"arf": "forest", "bayesian_network": "bayesian", "privbayes": "marginal",
           "cart": "tree", "marginal_distributions": "marginal", "uniform_sampler": "marginal", "dummy_sampler": "marginal"}
# The setting that scales a family's work linearly (read from the spec, else the plugin's default).
WORK_SETTING = {"neural": "n_iter", "forest": "num_trees"}


def cost_family(plugin: str) -> str:
    return _FAMILY.get(plugin, "neural")


def work_setting(generator: GeneratorSpec) -> tuple[str, float] | None:
    """(setting, value) that scales the training work of this generator, when it has one."""
    name = WORK_SETTING.get(cost_family(generator.plugin))
    if name is None or name not in plugin_arguments(generator.plugin):
        return None
    value = generator.settings.get(name, plugin_defaults(generator.plugin).get(name))
    return (name, float(value)) if isinstance(value, int | float) else None


def encoded_width(profiles: list[ColumnProfile]) -> int:
    """Columns after encoding: one per number (plus a missing flag), one per category level."""
    width = 0
    for p in profiles:
        width += max(p.distinct, 1) if p.kind == "category" else 1
        width += 1 if p.missing_share > 0 else 0
    return width


def estimate_cost(generator: GeneratorSpec, rows: int, profiles: list[ColumnProfile]) -> tuple[float, float, str]:
    """(training seconds, peak memory MB, cost family) for training `generator` on these rows."""
    family = cost_family(generator.plugin)
    model = COST_MODELS[family]
    columns, width = len(profiles), encoded_width(profiles)
    work = work_setting(generator)
    iterations = work[1] if work else 1.0
    units = {"neural": rows * width * (iterations + 1), "forest": rows * columns * iterations,
             "bayesian": rows * columns ** 2, "marginal": rows * columns, "tree": rows * columns}[family]
    cells = rows * (width if family == "neural" else columns)
    seconds = model.overhead_seconds + model.seconds_per_unit * units
    memory = model.base_mb + model.mb_per_million_cells * cells / 1e6
    return seconds, memory, family

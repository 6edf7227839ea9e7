"""The QA reports: one self-contained HTML file (plots as base64 PNG), a PDF and a JSON, in two editions.

Internal (`write_reports` into the QA working folder, linked from the Dagster checks, never published):
summary (pass/fail per check, every metric with its threshold and implementation), Great Expectations
failures, univariate plots real vs synthetic, the most associated column pairs (scatter plots of
sampled real train rows for two numeric columns), PhiK heatmaps (real, synthetic, difference), DCR
histograms, utility table, and a random sample of synthetic rows for manual review.

Published (`PUBLISHED_FOLDER` inside it, the edition a release carries; a release may leave the ML
team): real data only as aggregates. A real share is drawn only for a cell of at least
MIN_CELL_ROWS real rows; numeric bins span the real TAIL_QUANTILES range with open-ended tails, so
no extreme (a single person's value) is shown; no real row is drawn as a point; category values held
by fewer than MIN_CELL_ROWS real rows are not named (nor listed as absent from the synthetic rows);
its JSON and tables leave out every statistic of a group of fewer real rows (`published_values`).
For a differentially private release it shows no statistic of the real rows at all except what
`differential_privacy.DISCLOSURE` lists (each check's pass/fail): the synthetic rows' own
distributions, over the declared domain, the DP record with its assumptions and the privacy ledger.
Figures use matplotlib's object API with the Agg canvas: no pyplot state, no display.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from synth_pipelines.core.quality import ge_suite, privacy_notes, scores
from synth_pipelines.core.quality.data_docs import published_expectations, write_data_docs
from synth_pipelines.core.quality.report_pages import Document, Section, fmt, html_page, write_pdf
from synth_pipelines.core.quality.results import QualityReport
from synth_pipelines.core.quality.release_diff import PreviousRelease, previous_release_tables
from synth_pipelines.core.quality.tabular import category_labels, quantile_bins, quantile_edges, sample
from synth_pipelines.core.quality.thresholds import QAThresholds
from synth_pipelines.core.synthesis import ColumnCodec, as_number

REAL, SYNTH = "#1f77b4", "#ff7f0e"
TOP_CATEGORIES = 15
PUBLISHED_FOLDER = "published"
MIN_CELL_ROWS = 10  # published: a real share is shown only for a cell of at least this many real rows
TAIL_QUANTILES = (0.05, 0.95)  # published: numeric bins span this real range; outside it, open-ended tails
PUBLISHED_BINS = 20
PAIR_BINS = 5  # published pairs: numbers in real quintiles
PHIK_MAX_COLUMNS = 20  # more would shrink the heatmap labels below readable size


def _figure(width: float = 6.4, height: float = 3.2) -> Figure:
    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def univariate_figure(real: pd.Series, synthetic: pd.Series, codec: ColumnCodec) -> Figure:
    """Histogram (numbers, dates; shared bins) or category shares (top categories), real vs synthetic."""
    figure = _figure()
    ax = figure.subplots()
    if codec.kind == "category":
        r, s = category_labels(real).value_counts(normalize=True), category_labels(synthetic).value_counts(normalize=True)
        labels = list(r.index[:TOP_CATEGORIES])
        x = np.arange(len(labels))
        ax.bar(x - 0.2, r.reindex(labels).fillna(0), 0.4, color=REAL, label="real (train)")
        ax.bar(x + 0.2, s.reindex(labels).fillna(0), 0.4, color=SYNTH, label="synthetic")
        ax.set_xticks(x, [str(v)[:18] for v in labels], rotation=45, ha="right", fontsize=7)
        ax.set_ylabel("share of rows")
    else:
        r, s = as_number(real, codec.kind).dropna(), as_number(synthetic, codec.kind).dropna()
        if len(r):
            bins = np.histogram_bin_edges(r, bins=40)
            ax.hist(r, bins=bins, density=True, alpha=0.5, color=REAL, label="real (train)")
            ax.hist(s.clip(bins[0], bins[-1]), bins=bins, density=True, alpha=0.5, color=SYNTH, label="synthetic")
        ax.set_ylabel("density")
    ax.set_title(f"{codec.name} ({codec.kind})", fontsize=9)
    ax.legend(fontsize=7)
    return figure


def _pair_codes(frame: pd.DataFrame, train: pd.DataFrame, codec: ColumnCodec) -> pd.Series:
    """Category labels (top ones, rest pooled) or numbers cut at the train quintiles, for crosstabs."""
    if codec.kind == "category":
        top = category_labels(train[codec.name]).value_counts().index[:8]
        labels = category_labels(frame[codec.name])
        return labels.where(labels.isin(top), "other").str[:14]
    edges = np.unique(np.nanquantile(as_number(train[codec.name], codec.kind), np.linspace(0, 1, 6)))
    if len(edges) < 2:  # a constant column: one bin
        return pd.Series("all", index=frame.index)
    return pd.cut(as_number(frame[codec.name], codec.kind), edges, include_lowest=True).astype(str)


def _share_heatmap(ax: Any, shares: Any, rows: list[str], cols: list[str], a: ColumnCodec, b: ColumnCodec,
                   vmax: float | None = None) -> None:
    image = ax.imshow(shares, cmap="Blues", aspect="auto", vmin=0, vmax=vmax)
    ax.set_yticks(range(len(rows)), rows, fontsize=7)
    ax.set_xticks(range(len(cols)), cols, fontsize=7, rotation=45, ha="right")
    ax.set_ylabel(a.name, fontsize=8)
    ax.set_xlabel(b.name, fontsize=8)
    ax.figure.colorbar(image, ax=ax, shrink=0.8, label="share of rows").ax.tick_params(labelsize=7)


def bivariate_figure(train: pd.DataFrame, synthetic: pd.DataFrame, a: ColumnCodec, b: ColumnCodec, seed: int) -> Figure:
    """Scatter (two numeric columns) or crosstab share heatmaps, real next to synthetic."""
    figure = _figure(8, 3.4)
    axes = figure.subplots(1, 2, sharex=a.kind != "category" and b.kind != "category",
                           sharey=a.kind != "category" and b.kind != "category")
    for ax, frame, name in ((axes[0], train, "real (train)"), (axes[1], synthetic, "synthetic")):
        if a.kind != "category" and b.kind != "category":
            points = sample(frame, 2000, seed)
            ax.scatter(as_number(points[a.name], a.kind), as_number(points[b.name], b.kind), s=3, alpha=0.3,
                       color=REAL if frame is train else SYNTH)
            ax.set_xlabel(a.name, fontsize=8)
            ax.set_ylabel(b.name, fontsize=8)
        else:
            table = pd.crosstab(_pair_codes(frame, train, a), _pair_codes(frame, train, b), normalize=True)
            rows = sorted(set(_pair_codes(train, train, a)))
            cols = sorted(set(_pair_codes(train, train, b)))
            table = table.reindex(index=rows, columns=cols).fillna(0)
            _share_heatmap(ax, table.to_numpy(), rows, cols, a, b)
        ax.set_title(name, fontsize=9)
    return figure


PHIK_LABEL_CHARS = 18


def phik_figures(real: pd.DataFrame, synthetic: pd.DataFrame, max_columns: int) -> list[tuple[str, Figure]]:
    """PhiK real next to synthetic, then |difference|, for the columns with the largest real associations;
    each panel has its colour scale. At most PHIK_MAX_COLUMNS columns and two panels a figure, so the
    8 pt labels keep their size on a 1200 px page."""
    order = real.where(~np.eye(len(real), dtype=bool)).max().sort_values(ascending=False).index[
        :min(max_columns, PHIK_MAX_COLUMNS)]
    labels = [str(c)[:PHIK_LABEL_CHARS] for c in order]
    size = max(3.2, 0.2 * len(order) + 1.6)

    def panels(*matrices: tuple[str, pd.DataFrame, str]) -> Figure:
        figure = _figure(len(matrices) * (size + 0.9) + 1.2, size + 1.6)  # room for the rotated labels
        for ax, (title, matrix, cmap) in zip(np.atleast_1d(figure.subplots(1, len(matrices))), matrices):
            image = ax.imshow(matrix.loc[order, order].to_numpy(), vmin=0, vmax=1, cmap=cmap)
            ax.set_xticks(range(len(order)), labels, rotation=60, ha="right", rotation_mode="anchor", fontsize=8)
            ax.set_yticks(range(len(order)), labels if ax is figure.axes[0] else [], fontsize=8)
            ax.set_title(title, fontsize=10)
            figure.colorbar(image, ax=ax, shrink=0.7).ax.tick_params(labelsize=7)
        return figure

    return [("PhiK of the real and the synthetic rows (0: independent, 1: fully associated)",
             panels(("PhiK real", real, "viridis"), ("PhiK synthetic", synthetic, "viridis"))),
            ("|PhiK real - PhiK synthetic|: the associations the generator missed or invented",
             panels(("|difference|", (real - synthetic).abs(), "Reds")))]


DCR_CAPTION = ("Distance to closest record: the train curve should not sit left of the holdout curve. Distances over "
               "standardized numerics and one-hot categories.")


def dcr_figure(to_train: np.ndarray, to_holdout: np.ndarray) -> Figure:
    figure = _figure()
    ax = figure.subplots()
    high = float(np.quantile(np.r_[to_train, to_holdout], 0.99)) or 1.0
    bins = np.linspace(0, high, 50)
    ax.hist(np.clip(to_train, 0, high), bins=bins, alpha=0.5, color=REAL, label="synthetic -> nearest train row")
    ax.hist(np.clip(to_holdout, 0, high), bins=bins, alpha=0.5, color="#2ca02c", label="synthetic -> nearest holdout row")
    ax.set_xlabel("distance to closest record", fontsize=8)
    ax.set_ylabel("synthetic rows")
    ax.legend(fontsize=7)
    return figure


def _dcr_section(report: QualityReport) -> Sections:
    if "dcr_train" not in report.artifacts:
        return {}
    dcr = report.check("privacy_dcr").details.get("dcr_share", {}) if "privacy_dcr" in [
        c.name for c in report.checks] else {}
    note = (f" {fmt(dcr.get('train_rows'))} train vs {fmt(dcr.get('holdout_rows'))} holdout rows indexed: more train rows "
            "shift the train curve left a little even for an ideal generator (the DCR share corrects for it)."
            if dcr else "")
    return {"Distance to closest record": [(DCR_CAPTION + note, dcr_figure(report.artifacts["dcr_train"],
                                                                           report.artifacts["dcr_holdout"]))]}


def _association_sections(report: QualityReport, codecs: list[ColumnCodec], t: QAThresholds,
                          pair_figure: Any) -> dict[str, list[tuple[str, Figure]]]:
    """The most associated pairs (by real PhiK), each drawn by `pair_figure(a, b)`, and the PhiK matrices."""
    real_phik, synth_phik = report.artifacts.get("phik_real"), report.artifacts.get("phik_synthetic")
    if real_phik is None:
        return {}
    by_name = {c.name: c for c in codecs}
    names = list(real_phik.columns)
    upper = [(real_phik.iat[i, j], names[i], names[j]) for i in range(len(names)) for j in range(i + 1, len(names))]
    top = sorted(upper, reverse=True)[: t.report_max_pairs]
    return {"Bivariate: most associated pairs (real PhiK)": [
                (f"{a} ~ {b}: PhiK real {v:.2f}, synthetic {synth_phik.at[a, b]:.2f}", pair_figure(by_name[a], by_name[b]))
                for v, a, b in top],
            "PhiK association matrices": phik_figures(real_phik, synth_phik, t.report_max_heatmap_columns)}


def build_figures(report: QualityReport, train: pd.DataFrame, synthetic: pd.DataFrame, codecs: list[ColumnCodec],
                  t: QAThresholds) -> dict[str, list[tuple[str, Figure]]]:
    """Figures per report section, each with a caption."""
    columns = [c for c in codecs if c.name in synthetic.columns and c.name in train.columns]
    sections: dict[str, list[tuple[str, Figure]]] = {
        "Univariate: real vs synthetic": [(c.name, univariate_figure(train[c.name], synthetic[c.name], c))
                                          for c in columns[: t.report_max_columns]]}
    sections.update(_association_sections(report, columns, t, lambda a, b: bivariate_figure(
        train, synthetic, a, b, t.seed)))
    sections.update(_dcr_section(report))
    return sections


def summary_frame(report: QualityReport) -> pd.DataFrame:
    rows = [{"check": c.name, "result": "PASS" if c.passed else "FAIL", "blocking": c.blocking, "metric": m.name,
             "value": fmt(m.value), "threshold": "" if m.bound == "info" else f"{m.bound} {fmt(m.threshold)}",
             "metric result": "" if m.bound == "info" else ("ok" if m.passed else f"FAILED {m.hint}".strip()),
             "implementation": m.implementation}
            for c in report.checks for m in (c.metrics or [None]) if m is not None]
    rows += [{"check": c.name, "result": "PASS", "blocking": c.blocking, "metric": c.note}
             for c in report.checks if not c.metrics]
    return pd.DataFrame(rows).fillna("")


def utility_frame(report: QualityReport) -> pd.DataFrame:
    names = [c.name for c in report.checks]
    if "utility" not in names:
        return pd.DataFrame()
    d = report.check("utility").details.get("tstr_trtr_ratio", {})
    return pd.DataFrame([{"model": d.get("implementation"), "metric": d.get("metric"),
                          "TRTR (real -> holdout)": d.get("trtr"), "TSTR (synthetic -> holdout)": d.get("tstr"),
                          "ratio": fmt(d.get("value")),
                          "evaluated on": d.get("evaluated_on")}])


def rebalance_frame(report: QualityReport) -> pd.DataFrame:
    """Shares of the rebalanced column: real (train), target, synthetic; empty when not rebalanced."""
    settings = report.settings.get("rebalance")
    if not settings:
        return pd.DataFrame()
    real = settings["real_proportions"]
    values = list(dict.fromkeys([*settings["target_proportions"], *real]))
    # Published: a value missing from the real shares may be a small cell left out (published_values).
    absent = f"under {MIN_CELL_ROWS} rows" if settings.get("suppressed_cells") else fmt(0.0)
    return pd.DataFrame([{"column": settings["column"], "value": value,
                          "real (train)": fmt(real[value]) if value in real else absent,
                          "target": fmt(settings["target_proportions"].get(value, 0.0)),
                          "synthetic": fmt(settings["synthetic_proportions"].get(value, 0.0))} for value in values])


def _rebalance_note(report: QualityReport) -> str:
    settings = report.settings.get("rebalance")
    return (f"The synthetic rows were generated with target shares of '{settings['column']}' "
            f"(synthetic.rebalance); {settings['note']} ({settings['reference_rows']} resampled real rows).")


def ge_failures_frame(report: QualityReport) -> pd.DataFrame:
    names = [c.name for c in report.checks]
    if "great_expectations" not in names:
        return pd.DataFrame()
    failures = report.check("great_expectations").details.get("failed_expectations", {}).get("failures", [])
    return pd.DataFrame(failures)


def privacy_frame(privacy: dict[str, Any] | None) -> pd.DataFrame:
    """The differential privacy guarantee of the generator, one row (none when it is not DP)."""
    if not privacy:
        return pd.DataFrame()
    row = {"plugin": privacy["plugin"], "epsilon budget": privacy["epsilon_budget"],
           "epsilon spent": privacy["epsilon_spent"], "delta": privacy.get("delta"),
           "how the spent epsilon is known": privacy["accounting"]}
    for key, title in (("unit_of_privacy", "unit of privacy"), ("neighbouring_datasets", "neighbouring datasets"),
                       ("domain", "domain"), ("noise_source", "noise source"),
                       ("reproducible_from_seed", "reproducible from the seed")):
        if key in privacy:
            row[title] = privacy[key]
    ledger = privacy.get("ledger")
    if ledger:
        row["dataset epsilon spent (all releases)"] = ledger.get("epsilon_spent_total")
        row["dataset epsilon limit"] = ledger.get("epsilon_limit")
    return pd.DataFrame([row])


Table = tuple[str, str, pd.DataFrame]  # title, a note shown under it ("" for none), the rows
Sections = dict[str, list[tuple[str, Figure]]]  # figure sections: title -> [(caption, figure)]


@dataclass(frozen=True)
class ReportHeader:
    """What the report judges: named in the header of both editions."""

    dataset: str = "n/a"
    release: str = "n/a"
    snapshot: str = "n/a"
    generator: str = "n/a"
    seed: int | None = None
    created: str = field(default_factory=lambda: datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))

    def rows(self, verdict: str, edition: str) -> list[tuple[str, str]]:
        return [("dataset", self.dataset), ("release", self.release), ("snapshot", self.snapshot),
                ("generator", self.generator), ("seed", fmt(self.seed)), ("date", self.created),
                ("verdict", verdict), ("edition", edition)]


def _verdict(report: QualityReport) -> str:
    """PASSED, or FAILED and the blocking checks that failed: each check's pass/fail is what every
    edition may show (differential_privacy.DISCLOSURE); the summary table names the metrics."""
    return "PASSED" if report.passed else "FAILED: " + ", ".join(c.name for c in report.checks
                                                                  if c.blocking and not c.passed)


def ge_checked_frame(report: QualityReport) -> pd.DataFrame:
    """Per expectation type: checked, passed, failed (what the Great Expectations suite looked at)."""
    if "great_expectations" not in [c.name for c in report.checks]:
        return pd.DataFrame()
    return pd.DataFrame(report.check("great_expectations").details.get("failed_expectations", {}).get("by_type", []))


def report_tables(report: QualityReport, privacy: dict[str, Any] | None = None) -> list[Table]:
    """The tables of a report that may show the metrics: summary, rebalancing, Great Expectations
    (what was checked, what failed), utility and (`privacy`) the differential privacy record."""
    tables = [("Summary", "", summary_frame(report))]
    if report.settings.get("rebalance"):
        tables.append(("Rebalancing", _rebalance_note(report), rebalance_frame(report)))
    checked = ge_checked_frame(report)
    tables += [("Great Expectations: what was checked",
                f"{int(checked['checked'].sum()) if len(checked) else 0} expectations, learned from the real train "
                "rows, run on every synthetic row", checked),
               ("Great Expectations failures", "", ge_failures_frame(report)),
               ("Utility (TSTR vs TRTR)", "", utility_frame(report))]
    if privacy:
        tables.append(("Differential privacy", "", privacy_frame(privacy)))
    return tables + privacy_notes.tables(report)


def score_tables(report: QualityReport) -> list[Table]:
    """Scores per area and per column (scores.py says how each is computed)."""
    areas = scores.area_scores(report)
    per_area = pd.DataFrame([{"area": area, "score (0..1, 1 = ideal)": areas[area], "how it is computed": how}
                             for area, how in SCORE_METHODS.items()])
    return [("Scores", "", per_area),
            ("Per-column scores", "similarity: 1 - KS statistic (numbers, dates) or 1 - total variation distance "
             "(categories); discriminator AUC drop: how much shuffling the column lowers the real-vs-synthetic "
             "classifier's held-out ROC AUC (higher: the column gives synthetic rows away)",
             scores.column_scores(report))]


SCORE_METHODS = {
    "fidelity": "0.4 column similarity + 0.3 association similarity + 0.3 discriminator score (1 - 2|AUC - 0.5|)",
    "utility": "TSTR / TRTR on the real holdout, clipped to 0..1",
    "privacy": "mean over the privacy checks: 1 at the ideal value, 0.5 at the threshold, 0 at twice the allowed "
               "distance"}


def telling_figure(importance: dict[str, float], top: int = 10) -> Figure:
    """The columns that give synthetic rows away: the discriminator's held-out AUC drop per column."""
    shown = list(importance.items())[:top][::-1]
    figure = _figure(6.4, 0.3 * len(shown) + 1.2)
    ax = figure.subplots()
    ax.barh([str(c)[:24] for c, _ in shown], [d for _, d in shown], color=SYNTH)
    ax.set_xlabel("ROC AUC drop when the column is shuffled", fontsize=8)
    ax.tick_params(labelsize=8)
    return figure


def _telling_section(report: QualityReport) -> Sections:
    importance = scores.column_importance(report)
    if not importance:
        return {}
    auc = report.check("fidelity").details["discriminator_auc"]["value"]
    return {"What gives synthetic rows away": [(
        f"A classifier told real from synthetic rows with held-out ROC AUC {auc:.3f} (0.5: it cannot). The columns "
        "whose shuffling costs it most are what gives the synthetic rows away.", telling_figure(importance))]}


def document(report: QualityReport, header: ReportHeader, tables: list[Table], sections: Sections,
             review: pd.DataFrame, *, note: str, edition: str, data_docs: dict[str, str] | None = None,
             settings: dict[str, Any] | None = None) -> Document:
    """One edition's layout: tables, figure sections, the review sample and (internal) the settings."""
    parts = []
    for title, table_note, frame in tables:
        links = list((data_docs or {}).items()) if title.startswith("Great Expectations: what") else []
        parts.append(Section(title, table_note, [frame], links=links))
    parts += [Section(title, figures=figures) for title, figures in sections.items()]
    # As generated (no rounding): the rows are there to be read one by one.
    parts.append(Section("Random synthetic rows for review", "", [review.map(lambda v: "" if pd.isna(v) else str(v))]))
    if settings is not None:
        parts.append(Section("Settings", preformatted=json.dumps(settings, indent=1, default=str)))
    return Document(header.rows(_verdict(report), edition), report.passed, note, parts)


def report_html(report: QualityReport, tables: list[Table], sections: Sections, review: pd.DataFrame, *,
                note: str = "", settings: dict[str, Any] | None = None, header: ReportHeader | None = None) -> str:
    """One edition as a self-contained HTML page (see report_pages)."""
    return html_page(document(report, header or ReportHeader(), tables, sections, review, note=note,
                              edition="internal" if settings is not None else "published", settings=settings))


def _write_edition(folder: Path, data: dict[str, Any], doc: Document) -> dict[str, Path]:
    """qa_report.json (`data`), .html and .pdf of one edition into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {kind: folder / f"qa_report.{kind}" for kind in ("json", "html", "pdf")}
    paths["json"].write_text(json.dumps(data, indent=2, default=_json_default))
    paths["html"].write_text(html_page(doc))
    write_pdf(paths["pdf"], doc)
    return paths


def _data_docs(folder: Path, expectations: list[Any] | None, synthetic: pd.DataFrame, codecs: list[ColumnCodec],
               t: QAThresholds) -> dict[str, Path]:
    """Data Docs of `expectations` in `folder` (data_docs.py); none when the suite did not run."""
    if expectations is None:
        return {}
    built = write_data_docs(folder, expectations, ge_suite.as_checked(synthetic, codecs), examples=t.ge_examples)
    return {"data_docs": built["index"], "data_docs_validation": built["validation_page"],
            "data_docs_suite": built["suite_page"], "expectation_suite": built["suite"], "gx": folder / "gx"}


_DOCS_LINKS = {"data_docs": "Great Expectations Data Docs", "data_docs_validation": "this validation, expectation "
               "by expectation", "data_docs_suite": "the expectation suite", "expectation_suite": "suite JSON"}


def _relative(docs: dict[str, Path], folder: Path) -> dict[str, str]:
    """The Data Docs links of a report: text -> path relative to the report (the folder travels whole)."""
    return {text: docs[key].relative_to(folder).as_posix() for key, text in _DOCS_LINKS.items() if key in docs}


def write_reports(report: QualityReport, folder: Path, train: pd.DataFrame, synthetic: pd.DataFrame,
                  codecs: list[ColumnCodec], thresholds: QAThresholds | None = None,
                  privacy: dict[str, Any] | None = None, header: ReportHeader | None = None,
                  previous: PreviousRelease | None = None) -> dict[str, Path]:
    """Write the internal qa_report.json, .html and .pdf (and Great Expectations Data Docs under gx/) into
    `folder` and the published edition into `folder / PUBLISHED_FOLDER` (see the module docstring);
    return their paths (published ones under `published_json`, `published_html`, `published_pdf`,
    `published_data_docs`, `published_gx`).
    `privacy`: the synthesizer's differential privacy record; when set, the published edition is the DP one.
    `previous`: these features against the dataset's previous release (a section in both editions)."""
    t, header = thresholds or QAThresholds(), header or ReportHeader()
    review = sample(synthetic, t.report_sample_rows, t.seed)
    docs = _data_docs(folder, report.artifacts.get("ge_expectations"), synthetic, codecs, t)
    sections = {**_telling_section(report), **build_figures(report, train, synthetic, codecs, t)}
    data = {**report.to_dict(), **privacy_notes.json_block(report), "differential_privacy": privacy,
            "previous_release": previous.to_dict() if previous else None}
    tables = score_tables(report) + report_tables(report, privacy) + previous_release_tables(previous, data)
    doc = document(report, header, tables, sections, review,
                   note="Internal edition: it shows real rows and is never published.", edition="internal",
                   data_docs=_relative(docs, folder), settings=report.settings)
    paths = {**_write_edition(folder, data, doc), **docs}
    published = write_published_reports(report, folder / PUBLISHED_FOLDER, train, synthetic, codecs, t,
                                         privacy=privacy, review=review, header=header, previous=previous)
    return {**paths, **{f"published_{kind}": path for kind, path in published.items()}}


# ---- the published edition ------------------------------------------------------------------------

def _tail_edges(real: pd.Series) -> np.ndarray | None:
    """Equal-width bin edges over the real TAIL_QUANTILES range (never the extremes); None when flat."""
    low, high = np.nanquantile(real.to_numpy(dtype=float), TAIL_QUANTILES)
    return None if not high > low else np.linspace(low, high, PUBLISHED_BINS + 1)


def _bin_counts(numbers: pd.Series, edges: np.ndarray) -> np.ndarray:
    """Counts per bin: below the first edge, the PUBLISHED_BINS bins, from the last edge up."""
    return np.histogram(numbers.dropna().to_numpy(dtype=float), np.r_[-np.inf, edges, np.inf])[0]


def suppressed_shares(counts: np.ndarray | pd.Series, total: int) -> np.ndarray:
    """Shares of `total`, with every cell of fewer than MIN_CELL_ROWS rows left out (NaN)."""
    counts = np.asarray(counts, dtype=float)
    return np.where(counts >= MIN_CELL_ROWS, counts / max(total, 1), np.nan)


def published_univariate_figure(real: pd.Series | None, synthetic: pd.Series, codec: ColumnCodec) -> Figure:
    """Synthetic shares, and real shares only as suppressed aggregates (none when `real` is None: DP)."""
    figure = _figure()
    ax = figure.subplots()
    if codec.kind == "category":
        synth = category_labels(synthetic).value_counts(normalize=True)
        labels = list(synth.index[:TOP_CATEGORIES])
        if real is not None:
            counts = category_labels(real).value_counts()
            shown = [v for v in counts.index[counts >= MIN_CELL_ROWS] if v not in labels]
            labels = (labels + shown)[:TOP_CATEGORIES]
            shares = suppressed_shares(counts.reindex(labels).fillna(0).to_numpy(), len(real))
        x = np.arange(len(labels))
        if real is not None:
            ax.bar(x - 0.2, np.nan_to_num(shares), 0.4, color=REAL,
                   label=f"real (train), cells of {MIN_CELL_ROWS}+ rows")
        ax.bar(x + (0.2 if real is not None else 0), synth.reindex(labels).fillna(0), 0.4, color=SYNTH,
               label="synthetic")
        ax.set_xticks(x, [str(v)[:18] for v in labels], rotation=45, ha="right", fontsize=7)
        ax.set_ylabel("share of rows")
    else:
        synth = as_number(synthetic, codec.kind).dropna()
        if real is None:  # DP: bins over the declared domain, synthetic rows only
            low, high = codec.minimum, codec.maximum
            edges = np.linspace(low, high, PUBLISHED_BINS + 1) if low is not None and high > low else None
        else:
            numbers = as_number(real, codec.kind).dropna()
            edges = _tail_edges(numbers) if len(numbers) else None
        if edges is not None:
            x = np.arange(len(edges) + 1)
            if real is not None:
                ax.bar(x - 0.2, np.nan_to_num(suppressed_shares(_bin_counts(numbers, edges), len(numbers))), 0.4,
                       color=REAL, label=f"real (train), cells of {MIN_CELL_ROWS}+ rows")
            ax.bar(x + (0.2 if real is not None else 0), _bin_counts(synth, edges) / max(len(synth), 1), 0.4,
                   color=SYNTH, label="synthetic")
            ticks = [f"< {edges[0]:.4g}"] + [f"{edges[i]:.4g}" for i in range(len(edges) - 1)] + [f">= {edges[-1]:.4g}"]
            ax.set_xticks(x, ticks, rotation=90, fontsize=6)
        ax.set_ylabel("share of rows")
    ax.set_title(f"{codec.name} ({codec.kind})", fontsize=9)
    ax.legend(fontsize=7)
    return figure


def _published_pair_codes(frame: pd.DataFrame, train: pd.DataFrame, codec: ColumnCodec) -> pd.Series:
    """Category labels held by MIN_CELL_ROWS+ real rows (others pooled), or numbers in the real quintiles
    named by their inner edges only, the outer bins open-ended (no extremes)."""
    if codec.kind == "category":
        counts = category_labels(train[codec.name]).value_counts()
        top = counts.index[counts >= MIN_CELL_ROWS][:8]
        labels = category_labels(frame[codec.name])
        return labels.where(labels.isin(top), "other").str[:14]
    reference = as_number(train[codec.name], codec.kind)
    inner = quantile_edges(reference, PAIR_BINS)[1:-1]
    names = ([f"< {inner[0]:.4g}"] + [f"{a:.4g}-{b:.4g}" for a, b in zip(inner[:-1], inner[1:])]
             + [f">= {inner[-1]:.4g}"]) if len(inner) else ["all"]
    codes = quantile_bins(as_number(frame[codec.name], codec.kind), reference, PAIR_BINS)
    return pd.Series(np.where(codes < 0, "missing", np.asarray(names, dtype=object)[np.maximum(codes, 0)]),
                     index=frame.index)


def published_bivariate_figure(train: pd.DataFrame, synthetic: pd.DataFrame, a: ColumnCodec, b: ColumnCodec) -> Figure:
    """Share heatmaps, real (cells of fewer than MIN_CELL_ROWS rows blank) next to synthetic; no points."""
    figure = _figure(8, 3.4)
    axes = figure.subplots(1, 2)
    rows = sorted(set(_published_pair_codes(train, train, a)))
    cols = sorted(set(_published_pair_codes(train, train, b)))
    for ax, frame, name in ((axes[0], train, f"real (train), cells of {MIN_CELL_ROWS}+ rows"),
                            (axes[1], synthetic, "synthetic")):
        counts = pd.crosstab(_published_pair_codes(frame, train, a), _published_pair_codes(frame, train, b))
        counts = counts.reindex(index=rows, columns=cols).fillna(0)
        shares = (suppressed_shares(counts.to_numpy(), len(frame)) if frame is train
                  else counts.to_numpy() / max(len(frame), 1))
        _share_heatmap(ax, np.ma.masked_invalid(shares), rows, cols, a, b)
        ax.set_title(name, fontsize=9)
    return figure


def build_published_figures(report: QualityReport, train: pd.DataFrame, synthetic: pd.DataFrame,
                            codecs: list[ColumnCodec], t: QAThresholds, *, dp: bool) -> dict[str, list[tuple[str, Figure]]]:
    columns = [c for c in codecs if c.name in synthetic.columns and c.name in train.columns][: t.report_max_columns]
    if dp:
        return {"Synthetic rows over the declared domain": [
            (c.name, published_univariate_figure(None, synthetic[c.name], c)) for c in columns]}
    sections = {f"Univariate: real (cells of {MIN_CELL_ROWS}+ rows, {TAIL_QUANTILES[0]:g}-{TAIL_QUANTILES[1]:g} "
                "quantile range, open tails) vs synthetic":
                [(c.name, published_univariate_figure(train[c.name], synthetic[c.name], c)) for c in columns]}
    sections.update(_association_sections(report, codecs, t, lambda a, b: published_bivariate_figure(
        train, synthetic, a, b)))
    sections.update(_dcr_section(report))
    return sections


def _small_cell(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("real_rows"), int) and value["real_rows"] < MIN_CELL_ROWS


def published_values(value: Any) -> Any:
    """Report data (details, settings) as the published edition carries it: no statistic of fewer than
    MIN_CELL_ROWS real rows, found by the size each such statistic carries (results.py, `real_rows`):
    a record of a small group (a bias group: its name, real rate and size) is left out, and so is a
    small value of a `real_rows` mapping from every `real_*` mapping beside it (the rebalanced
    column's real shares). Each dict that lost cells says how many (`suppressed_cells`). Real values
    listed without their sizes (categories absent from the synthetic rows) become counts."""
    if isinstance(value, list):
        return [published_values(v) for v in value if not _small_cell(v)]
    if not isinstance(value, dict):
        return value
    sizes = value.get("real_rows")
    small = {k for k, n in sizes.items() if n < MIN_CELL_ROWS} if isinstance(sizes, dict) else set()
    out, suppressed = {}, 0
    for key, item in value.items():
        if key == "absent_categories" and isinstance(item, dict):
            item = {column: len(values) for column, values in item.items()}
        elif key.startswith("real_") and isinstance(item, dict):
            item = {k: v for k, v in item.items() if k not in small}
        elif isinstance(item, list):
            suppressed += sum(map(_small_cell, item))
        out[key] = published_values(item)
    suppressed += len(small)
    return {**out, "suppressed_cells": suppressed} if suppressed else out


def published_report_data(report: QualityReport, privacy: dict[str, Any] | None) -> dict[str, Any]:
    """The published qa_report.json: without DP, the report with every statistic of a small group of
    real rows left out (published_values); for a DP release only each check's pass/fail (disclosed) and
    the Great Expectations failures (a suite over the declared domain, run on synthetic rows only)."""
    if privacy is None:
        return {**published_values(report.to_dict()), **privacy_notes.json_block(report), "differential_privacy": None}
    from synth_pipelines.core.differential_privacy import DISCLOSURE

    return {"passed": report.passed, "checks": [{"name": c.name, "passed": c.passed, "blocking": c.blocking}
                                                for c in report.checks],
            "great_expectations_failures": ge_failures_frame(report).to_dict(orient="records"),
            **privacy_notes.json_block(report, values=False), "differential_privacy": privacy, "not_covered_by_epsilon": list(DISCLOSURE)}


def write_published_reports(report: QualityReport, folder: Path, train: pd.DataFrame, synthetic: pd.DataFrame,
                            codecs: list[ColumnCodec], t: QAThresholds, *, privacy: dict[str, Any] | None,
                            review: pd.DataFrame, header: ReportHeader | None = None,
                            previous: PreviousRelease | None = None) -> dict[str, Path]:
    data = published_report_data(report, privacy)
    # Both sides of the comparison are synthetic; a DP edition leaves out the QA figures (not covered by epsilon).
    data["previous_release"] = previous.to_dict() if previous else None
    expectations = report.artifacts.get("ge_expectations")
    if privacy is None:  # the tables read the published settings (small real cells left out)
        report = replace(report, settings=data["settings"])
        tables = score_tables(report) + report_tables(report)
        note = (f"Published edition: real data appears only as aggregates (cells of at least {MIN_CELL_ROWS} real "
                "rows, no extremes, no real rows). Its Great Expectations suite leaves out real ranges and category "
                f"sets with a category of fewer than {MIN_CELL_ROWS} real rows.")
        expectations = None if expectations is None else published_expectations(expectations, train, MIN_CELL_ROWS)
        telling = _telling_section(report)
    else:  # the suite over the declared domain names no real value: published whole
        summary = pd.DataFrame(data["checks"]).assign(passed=lambda f: f["passed"].map({True: "PASS", False: "FAIL"}))
        tables = [("Differential privacy", "", privacy_frame(privacy)),
                  ("Statistics of the real rows published with this release (not covered by epsilon)", "",
                   pd.DataFrame({"statistic": data["not_covered_by_epsilon"]})),
                  ("Summary: each check's pass/fail (metric values are internal)", "", summary),
                  ("Great Expectations: what was checked", "suite over the declared domain", ge_checked_frame(report)),
                  ("Great Expectations failures (suite over the declared domain)", "", ge_failures_frame(report))]
        note = ("Published edition of a differentially private release: no statistic of the real rows beyond "
                "those listed as not covered by epsilon.")
        telling = {}
    tables += previous_release_tables(previous, data if privacy is None else None)
    docs = _data_docs(folder, expectations, synthetic, codecs, t)
    sections = {**telling, **build_published_figures(report, train, synthetic, codecs, t, dp=privacy is not None)}
    doc = document(report, header or ReportHeader(), tables, sections, review, note=note, edition="published",
                   data_docs=_relative(docs, folder))
    return {**_write_edition(folder, data, doc), **docs}


def _json_default(value: Any) -> Any:
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    return str(value)

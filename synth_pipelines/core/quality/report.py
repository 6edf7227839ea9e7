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

import base64
import html
import io
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure

from synth_pipelines.core.quality import privacy_notes
from synth_pipelines.core.quality.results import QualityReport
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


def _share_heatmap(ax: Any, shares: Any, rows: list[str], cols: list[str], a: ColumnCodec, b: ColumnCodec) -> None:
    ax.imshow(shares, cmap="Blues", aspect="auto", vmin=0)
    ax.set_yticks(range(len(rows)), rows, fontsize=6)
    ax.set_xticks(range(len(cols)), cols, fontsize=6, rotation=45, ha="right")
    ax.set_ylabel(a.name, fontsize=8)
    ax.set_xlabel(b.name, fontsize=8)


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


def phik_figure(real: pd.DataFrame, synthetic: pd.DataFrame, max_columns: int) -> Figure:
    """PhiK real | synthetic | |difference| for the columns with the largest real associations."""
    order = real.where(~np.eye(len(real), dtype=bool)).max().sort_values(ascending=False).index[:max_columns]
    panels = [("PhiK real", real), ("PhiK synthetic", synthetic), ("|difference|", (real - synthetic).abs())]
    size = max(4.0, 0.28 * len(order))
    figure = _figure(3 * size + 1, size + 1)
    for ax, (title, matrix) in zip(figure.subplots(1, 3), panels):
        image = ax.imshow(matrix.loc[order, order].to_numpy(), vmin=0, vmax=1,
                          cmap="Reds" if "diff" in title else "viridis")
        ax.set_xticks(range(len(order)), order, rotation=90, fontsize=6)
        ax.set_yticks(range(len(order)), order, fontsize=6)
        ax.set_title(title, fontsize=9)
    figure.colorbar(image, ax=figure.axes, shrink=0.6)
    return figure


def dcr_figure(to_train: np.ndarray, to_holdout: np.ndarray, note: str = "") -> Figure:
    figure = _figure()
    ax = figure.subplots()
    high = float(np.quantile(np.r_[to_train, to_holdout], 0.99)) or 1.0
    bins = np.linspace(0, high, 50)
    ax.hist(np.clip(to_train, 0, high), bins=bins, alpha=0.5, color=REAL, label="synthetic -> nearest train row")
    ax.hist(np.clip(to_holdout, 0, high), bins=bins, alpha=0.5, color="#2ca02c", label="synthetic -> nearest holdout row")
    ax.set_xlabel("distance to closest record (standardized numerics + one-hot categories)" + note, fontsize=8)
    ax.set_ylabel("synthetic rows")
    ax.set_title("DCR: the train curve should not sit left of the holdout curve", fontsize=9)
    ax.legend(fontsize=7)
    return figure


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
            "PhiK association matrices": [("", phik_figure(real_phik, synth_phik, t.report_max_heatmap_columns))]}


def build_figures(report: QualityReport, train: pd.DataFrame, synthetic: pd.DataFrame, codecs: list[ColumnCodec],
                  t: QAThresholds) -> dict[str, list[tuple[str, Figure]]]:
    """Figures per report section, each with a caption."""
    columns = [c for c in codecs if c.name in synthetic.columns and c.name in train.columns]
    sections: dict[str, list[tuple[str, Figure]]] = {
        "Univariate: real vs synthetic": [(c.name, univariate_figure(train[c.name], synthetic[c.name], c))
                                          for c in columns[: t.report_max_columns]]}
    sections.update(_association_sections(report, columns, t, lambda a, b: bivariate_figure(
        train, synthetic, a, b, t.seed)))
    if "dcr_train" in report.artifacts:
        dcr = report.check("privacy_dcr").details.get("dcr_share", {})
        note = (f"\n{dcr.get('train_rows')} train vs {dcr.get('holdout_rows')} holdout rows indexed: more train rows "
                "shift the train curve left a little even for an ideal generator (the DCR share corrects for it)")
        figure = dcr_figure(report.artifacts["dcr_train"], report.artifacts["dcr_holdout"], note)
        sections["Distance to closest record"] = [("", figure)]
    return sections


def summary_frame(report: QualityReport) -> pd.DataFrame:
    rows = [{"check": c.name, "result": "PASS" if c.passed else "FAIL", "blocking": c.blocking, "metric": m.name,
             "value": _fmt(m.value), "threshold": "" if m.bound == "info" else f"{m.bound} {_fmt(m.threshold)}",
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
                          "ratio": _fmt(d.get("value")),
                          "evaluated on": d.get("evaluated_on")}])


def rebalance_frame(report: QualityReport) -> pd.DataFrame:
    """Shares of the rebalanced column: real (train), target, synthetic; empty when not rebalanced."""
    settings = report.settings.get("rebalance")
    if not settings:
        return pd.DataFrame()
    real = settings["real_proportions"]
    values = list(dict.fromkeys([*settings["target_proportions"], *real]))
    # Published: a value missing from the real shares may be a small cell left out (published_values).
    absent = f"under {MIN_CELL_ROWS} rows" if settings.get("suppressed_cells") else _fmt(0.0)
    return pd.DataFrame([{"column": settings["column"], "value": value,
                          "real (train)": _fmt(real[value]) if value in real else absent,
                          "target": _fmt(settings["target_proportions"].get(value, 0.0)),
                          "synthetic": _fmt(settings["synthetic_proportions"].get(value, 0.0))} for value in values])


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


def _fmt(value: Any) -> str:
    return "n/a" if value is None else f"{value:.4g}" if isinstance(value, (float, int, np.floating)) else str(value)


def _png(figure: Figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90)
    return base64.b64encode(buffer.getvalue()).decode()


def _table(frame: pd.DataFrame) -> str:
    return frame.to_html(index=False, border=0, classes="t", na_rep="") if len(frame) else "<p>none</p>"


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


_HTML_HEAD = ("<!doctype html><meta charset='utf-8'><title>Synthetic data QA report</title><style>"
              "body{font-family:sans-serif;margin:2em}table.t{border-collapse:collapse;font-size:12px}"
              "table.t td,table.t th{border:1px solid #ccc;padding:3px 6px}.pass{color:green}.fail{color:crimson}"
              "img{max-width:100%}</style>")


def _figures_html(sections: dict[str, list[tuple[str, Figure]]]) -> list[str]:
    parts = []
    for title, figures in sections.items():
        parts.append(f"<h2>{html.escape(title)}</h2>")
        parts += [f"<figure><img src='data:image/png;base64,{_png(f)}'>"
                  f"<figcaption>{html.escape(caption)}</figcaption></figure>" for caption, f in figures]
    return parts


Table = tuple[str, str, pd.DataFrame]  # title, a note shown under it ("" for none), the rows


def _verdict(report: QualityReport) -> str:
    """PASSED, or FAILED and the blocking checks that failed: each check's pass/fail is what every
    edition may show (differential_privacy.DISCLOSURE); the summary table names the metrics."""
    return "PASSED" if report.passed else "FAILED: " + ", ".join(c.name for c in report.checks
                                                                  if c.blocking and not c.passed)


def report_tables(report: QualityReport, privacy: dict[str, Any] | None = None) -> list[Table]:
    """The tables of a report that may show the metrics: summary, rebalancing, Great Expectations
    failures, utility and (`privacy`) the differential privacy record."""
    tables = [("Summary", "", summary_frame(report))]
    if report.settings.get("rebalance"):
        tables.append(("Rebalancing", _rebalance_note(report), rebalance_frame(report)))
    tables += [("Great Expectations failures", "", ge_failures_frame(report)),
               ("Utility (TSTR vs TRTR)", "", utility_frame(report))]
    if privacy:
        tables.append(("Differential privacy", "", privacy_frame(privacy)))
    return tables + privacy_notes.tables(report)


def report_html(report: QualityReport, tables: list[Table], sections: dict[str, list[tuple[str, Figure]]],
                review: pd.DataFrame, *, note: str = "", settings: dict[str, Any] | None = None) -> str:
    """One edition as a self-contained HTML page: verdict and `note`, tables, figures, the review sample
    and (internal) the settings."""
    parts = [_HTML_HEAD, f"<h1>Synthetic data QA</h1><p class='{'pass' if report.passed else 'fail'}'>"
                         f"<b>{html.escape(_verdict(report))}</b></p>"]
    if note:
        parts.append(f"<p>{html.escape(note)}</p>")
    for title, table_note, frame in tables:
        parts += [f"<h2>{html.escape(title)}</h2>", f"<p>{html.escape(table_note)}</p>" if table_note else "",
                  _table(frame)]
    parts += _figures_html(sections)
    parts += ["<h2>Random synthetic rows for review</h2>", _table(review)]
    if settings is not None:
        parts += ["<h2>Settings</h2><pre>", html.escape(json.dumps(settings, indent=1, default=str)), "</pre>"]
    return "".join(parts)


def _text_page(pdf: PdfPages, title: str, frame: pd.DataFrame, max_rows: int = 40) -> None:
    """A table rendered as a figure page (long tables continue on further pages)."""
    for start in range(0, max(len(frame), 1), max_rows):
        figure = _figure(11.7, 8.3)
        ax = figure.subplots()
        ax.axis("off")
        ax.set_title(title, fontsize=11, loc="left")
        chunk = frame.iloc[start:start + max_rows].astype(str).apply(lambda s: s.str[:60])
        if len(chunk):
            table = ax.table(cellText=chunk.to_numpy(), colLabels=list(chunk.columns), loc="upper left", cellLoc="left")
            table.auto_set_font_size(False)
            table.set_fontsize(6)
        else:
            ax.text(0, 0.9, "none", fontsize=9)
        pdf.savefig(figure)


def _write_pdf(path: Path, report: QualityReport, tables: list[Table],
               sections: dict[str, list[tuple[str, Figure]]], review: pd.DataFrame, note: str) -> None:
    with PdfPages(path) as pdf:
        _text_page(pdf, f"Synthetic data QA - {_verdict(report)[:150]}", pd.DataFrame({"note": [note]}))
        for title, table_note, frame in tables:
            _text_page(pdf, f"{title}: {table_note}"[:150] if table_note else title,
                       frame.drop(columns=["implementation"], errors="ignore"))
        for title, figures in sections.items():
            for caption, figure in figures:
                figure.suptitle(f"{title} {caption}".strip()[:120], fontsize=9)
                pdf.savefig(figure)
        _text_page(pdf, "Random synthetic rows for review", review, max_rows=30)


def _write_edition(folder: Path, data: dict[str, Any], report: QualityReport, tables: list[Table],
                   sections: dict[str, list[tuple[str, Figure]]], review: pd.DataFrame, *, note: str,
                   settings: dict[str, Any] | None = None) -> dict[str, Path]:
    """qa_report.json (`data`), .html and .pdf of one edition into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {kind: folder / f"qa_report.{kind}" for kind in ("json", "html", "pdf")}
    paths["json"].write_text(json.dumps(data, indent=2, default=_json_default))
    paths["html"].write_text(report_html(report, tables, sections, review, note=note, settings=settings))
    _write_pdf(paths["pdf"], report, tables, sections, review, note)
    return paths


def write_reports(report: QualityReport, folder: Path, train: pd.DataFrame, synthetic: pd.DataFrame,
                  codecs: list[ColumnCodec], thresholds: QAThresholds | None = None,
                  privacy: dict[str, Any] | None = None) -> dict[str, Path]:
    """Write the internal qa_report.json, .html and .pdf into `folder` and the published edition into
    `folder / PUBLISHED_FOLDER` (see the module docstring); return their paths (published ones under
    `published_json`, `published_html`, `published_pdf`).
    `privacy`: the synthesizer's differential privacy record; when set, the published edition is the DP one."""
    t = thresholds or QAThresholds()
    review = sample(synthetic, t.report_sample_rows, t.seed)
    data = {**report.to_dict(), **privacy_notes.json_block(report), "differential_privacy": privacy}
    paths = _write_edition(folder, data, report,
                           report_tables(report, privacy), build_figures(report, train, synthetic, codecs, t), review,
                           note="Internal edition: it shows real rows and is never published.",
                           settings=report.settings)
    published = write_published_reports(report, folder / PUBLISHED_FOLDER, train, synthetic, codecs, t,
                                         privacy=privacy, review=review)
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
    if "dcr_train" in report.artifacts:
        sections["Distance to closest record"] = [("", dcr_figure(report.artifacts["dcr_train"],
                                                                  report.artifacts["dcr_holdout"]))]
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
                            review: pd.DataFrame) -> dict[str, Path]:
    data = published_report_data(report, privacy)
    if privacy is None:  # the tables read the published settings (small real cells left out)
        report = replace(report, settings=data["settings"])
        tables = report_tables(report)
        note = (f"Published edition: real data appears only as aggregates (cells of at least {MIN_CELL_ROWS} real "
                "rows, no extremes, no real rows).")
    else:
        summary = pd.DataFrame(data["checks"]).assign(passed=lambda f: f["passed"].map({True: "PASS", False: "FAIL"}))
        tables = [("Differential privacy", "", privacy_frame(privacy)),
                  ("Statistics of the real rows published with this release (not covered by epsilon)", "",
                   pd.DataFrame({"statistic": data["not_covered_by_epsilon"]})),
                  ("Summary: each check's pass/fail (metric values are internal)", "", summary),
                  ("Great Expectations failures (suite over the declared domain)", "", ge_failures_frame(report))]
        note = ("Published edition of a differentially private release: no statistic of the real rows beyond "
                "those listed as not covered by epsilon.")
    sections = build_published_figures(report, train, synthetic, codecs, t, dp=privacy is not None)
    return _write_edition(folder, data, report, tables, sections, review, note=note)


def _json_default(value: Any) -> Any:
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    return str(value)

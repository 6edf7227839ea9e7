"""The QA report's layout (issue 15): both editions render a header, a table of contents matching their
sections, decodable images, a one-page-size PDF and linked Great Expectations Data Docs; the published
Data Docs name no rare real category and no real range."""

from __future__ import annotations

import base64
import io
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from synth_pipelines.core.quality import run_quality
from synth_pipelines.core.quality.ge_suite import validate_synthetic
from synth_pipelines.core.quality.release_diff import PreviousRelease, compare_releases
from synth_pipelines.core.quality.report import (PUBLISHED_FOLDER, ReportHeader, build_figures,
                                                 build_published_figures, write_reports)
from synth_pipelines.core.quality.report_pages import A4_LANDSCAPE, fmt
from synth_pipelines.core.quality.thresholds import QAThresholds
from synth_pipelines.core.synthesis import fit_codecs

HEADER = ReportHeader("loans", "features_v3", "2026-12-01", "ctgan", 42)
FIELDS = ["dataset", "release", "snapshot", "generator", "seed", "date", "verdict", "edition"]
OUTLIER = 98765.4
EARLIER = "loans/features_v2/snapshot=2026-11-30"


class _Page(HTMLParser):
    """Header rows, TOC links, section ids and titles, image sources and links of a report page."""

    def __init__(self) -> None:
        super().__init__()
        self.header, self.toc, self.sections, self.images, self.links = [], [], [], [], []
        self._where: list[str] = []
        self._text = ""

    def handle_starttag(self, tag: str, attrs: list) -> None:
        attrs = dict(attrs)
        if tag in ("header", "nav", "th", "td", "h2", "a"):
            self._where.append(tag)
            self._text = ""
        if tag == "section":
            self.sections.append([attrs["id"], None])
        if tag == "a":
            self.links.append(attrs["href"])
            if "nav" in self._where:
                self.toc.append([attrs["href"], None])
        if tag == "img":
            self.images.append(attrs["src"])

    def handle_endtag(self, tag: str) -> None:
        if not self._where or self._where[-1] != tag:
            return
        self._where.pop()
        if tag == "th" and "header" in self._where:
            self.header.append([self._text, None])
        elif tag == "td" and "header" in self._where:
            self.header[-1][1] = self._text
        elif tag == "h2" and self.sections and self.sections[-1][1] is None and "nav" not in self._where:
            self.sections[-1][1] = self._text
        elif tag == "a" and "nav" in self._where:
            self.toc[-1][1] = self._text

    def handle_data(self, data: str) -> None:
        self._text += data


@pytest.fixture(scope="module")
def editions(tmp_path_factory) -> tuple[Path, dict[str, Path]]:
    rng = np.random.default_rng(3)

    def rows(n: int) -> pd.DataFrame:
        return pd.DataFrame({"amount": np.round(rng.gamma(2, 500, n), 2), "term": rng.integers(6, 60, n),
                             "purpose": rng.choice(["car", "home", "study"], n).astype(object),
                             "label": rng.choice(["yes", "no"], n).astype(object)})

    train, holdout = rows(400), rows(200)
    train.loc[0, "amount"] = OUTLIER
    train.loc[1:3, "purpose"] = "rare_purpose"  # 3 real rows: never named in the published edition
    synthetic = rows(400).assign(synthetic_id=[f"s{i}" for i in range(400)])
    codecs = fit_codecs(train, {"purpose", "label"})
    t = QAThresholds(discriminator_rows=300, phik_rows=300, report_max_pairs=1, report_sample_rows=5)
    report = run_quality(train, holdout, synthetic, codecs, "label", "classification", t,
                         checks=["great_expectations", "fidelity", "utility", "privacy_dcr"])
    # The previous release: the same kind of rows with amounts half as large (a generation change).
    earlier = rows(400).assign(amount=lambda f: f["amount"] / 2)
    previous = PreviousRelease("", compare_releases(earlier, synthetic, before_name=EARLIER, after_name="this"),
                               qa=report.to_dict(), max_release_drift=0.05)
    folder = tmp_path_factory.mktemp("report")
    return folder, write_reports(report, folder, train, synthetic, codecs, t, header=HEADER, previous=previous)


@pytest.mark.parametrize("edition", ["internal", "published"])
def test_each_edition_has_header_contents_images_and_data_docs(editions, edition):
    folder, paths = editions
    prefix = "" if edition == "internal" else "published_"
    page = _Page()
    page.feed(paths[f"{prefix}html"].read_text())
    header = dict(page.header)
    assert list(header) == FIELDS
    assert (header["dataset"], header["release"], header["snapshot"], header["generator"], header["seed"],
            header["edition"]) == ("loans", "features_v3", "2026-12-01", "ctgan", "42", edition)
    assert header["verdict"] in ("PASSED",) or header["verdict"].startswith("FAILED: ")
    # The contents list every section, in order, by its anchor and title.
    assert [(href.lstrip("#"), title) for href, title in page.toc] == [tuple(s) for s in page.sections]
    titles = [title for _, title in page.sections]
    for expected in ("Scores", "Per-column scores", "Summary", "Great Expectations: what was checked",
                     "What gives synthetic rows away", "Distance to closest record", "PhiK association matrices"):
        assert expected in titles
    assert len(page.images) >= 5
    for source in page.images:  # every image is an embedded PNG that decodes
        assert source.startswith("data:image/png;base64,")
        Image.open(io.BytesIO(base64.b64decode(source.split(",", 1)[1]))).verify()
    # Data Docs: built by the checkpoint, linked from the report, relative to it.
    docs = paths[f"{prefix}data_docs"]
    assert docs.is_file() and "synthetic_rows_suite" in docs.read_text()
    html_folder = paths[f"{prefix}html"].parent
    assert docs.relative_to(html_folder).as_posix() in page.links
    # The index's own tables are drawn by CDN scripts; offline it still links the validation and the suite.
    index = _Page()
    index.feed(docs.read_text())
    offline = [href for href in index.links if not href.startswith(("http", "#"))]
    assert {(docs.parent / href).resolve() for href in offline} >= {
        paths[f"{prefix}data_docs_validation"].resolve(), paths[f"{prefix}data_docs_suite"].resolve()}


@pytest.mark.parametrize("edition", ["internal", "published"])
def test_each_edition_compares_with_the_previous_release(editions, edition):
    _, paths = editions
    prefix = "" if edition == "internal" else "published_"
    page = _Page()
    html = paths[f"{prefix}html"].read_text()
    page.feed(html)
    titles = [title for _, title in page.sections]
    assert "Against the previous release: columns, most moved first" in titles
    assert "Against the previous release: QA figures" in titles  # utility, fidelity, DCR: before and after
    moved = re.search(r"<tr>\s*<td>amount</td>\s*<td>float</td>.*?</tr>", html, flags=re.S)
    assert moved and "MOVED" in moved.group(0) and EARLIER in html
    data = json.loads(paths[f"{prefix}json"].read_text())["previous_release"]
    assert data["moved_columns"] == ["amount"] and data["diff"]["before"] == EARLIER


@pytest.mark.parametrize("edition", ["internal", "published"])
def test_the_pdf_has_one_page_size(editions, edition):
    _, paths = editions
    pdf = paths["pdf" if edition == "internal" else "published_pdf"].read_bytes()
    # matplotlib writes each page object uncompressed: /Type /Page with its /MediaBox.
    pages = re.findall(rb"/Type /Page\b.*?/MediaBox \[ ?([\d. ]+?) ?\]", pdf, flags=re.S)
    assert len(pages) >= 10
    sizes = {tuple(round(float(v)) for v in box.split()) for box in pages}
    assert sizes == {(0, 0, round(A4_LANDSCAPE[0] * 72), round(A4_LANDSCAPE[1] * 72))}


def test_published_suite_and_data_docs_name_no_rare_category_or_real_range(editions):
    folder, paths = editions
    published = folder / PUBLISHED_FOLDER / "gx"
    texts = " ".join(p.read_text(errors="ignore") for p in published.rglob("*") if p.suffix in (".json", ".html"))
    assert "rare_purpose" not in texts and "98765" not in texts
    suite = json.loads(paths["published_expectation_suite"].read_text())
    kinds = {e["type"] for e in suite["expectations"]}
    assert "expect_column_values_to_be_between" not in kinds and "expect_table_columns_to_match_set" in kinds
    # The internal suite (never published) keeps what the gate checked.
    internal = json.loads(paths["expectation_suite"].read_text())
    assert "rare_purpose" in json.dumps(internal) and len(internal["expectations"]) > len(suite["expectations"])


def test_a_failed_column_set_names_the_missing_column_and_counts_print_as_integers():
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0] * 10, "b": ["x", "y", "z"] * 10})
    codecs = fit_codecs(frame, {"b"})
    metric = validate_synthetic(frame, frame.drop(columns="a").assign(synthetic_id=range(30)), codecs)
    failure = next(f for f in metric.details["failures"] if f["expectation"] == "expect_table_columns_to_match_set")
    assert failure["observed_value"] == "missing: a"
    by_type = {row["expectation"]: row for row in metric.details["by_type"]}
    assert by_type["expect_table_columns_to_match_set"]["failed"] == 1
    assert (fmt(50.0), fmt(np.float64(0.25)), fmt(15049.23), fmt(None)) == ("50", "0.25", "15050", "n/a")


def test_a_privacy_score_is_one_at_the_ideal_and_half_at_the_threshold():
    from synth_pipelines.core.quality.results import Metric, QualityCheck, QualityReport
    from synth_pipelines.core.quality.scores import area_scores, metric_score

    def auc(value: float) -> Metric:
        return Metric("mia_auc", value, "attack").gate(0.6, "max")

    assert (metric_score(auc(0.5)), metric_score(auc(0.6)), metric_score(auc(0.75)), metric_score(auc(0.4))) == \
        (1.0, 0.5, 0.0, 1.0)
    copies = Metric("train_copy_share", 0.02, "hash", {"baseline_share": 0.01}).gate(0.03, "max")
    report = QualityReport(checks=[QualityCheck("privacy_membership_inference", [auc(0.55)]),
                                   QualityCheck("privacy_exact_copies", [copies]),
                                   QualityCheck("privacy_new_attack", [Metric("risk", 0.9, "x").gate(0.5, "max")])])
    # 0.75 and 0.75 from the distances, 0 for a failed check without a known ideal
    assert area_scores(report) == {"fidelity": None, "utility": None, "privacy": pytest.approx(0.5)}


def test_every_figure_is_drawn_inside_its_canvas():
    """Figures are saved at their own size (no tight crop, which draws each one twice): long category
    names, large numbers and rotated pair labels must fit the canvas by the figures' own layout."""
    rng = np.random.default_rng(5)
    long_names = np.array([f"a category name of {w} words that goes on and on" for w in ("four", "many", "more")])

    def rows(n: int) -> pd.DataFrame:
        return pd.DataFrame({"balance_in_the_account_at_month_end": rng.lognormal(12, 2, n).round(2),
                             "the_purpose_of_the_loan_as_stated": rng.choice(long_names, n).astype(object),
                             "label": rng.choice(["yes", "no"], n).astype(object)})

    train, holdout, synthetic = rows(300), rows(150), rows(300)
    synthetic["synthetic_id"] = [f"s{i}" for i in range(300)]
    codecs = fit_codecs(train, {"the_purpose_of_the_loan_as_stated", "label"})
    t = QAThresholds(discriminator_rows=300, phik_rows=300, report_max_pairs=2)
    report = run_quality(train, holdout, synthetic, codecs, "label", "classification", t,
                         checks=["fidelity", "privacy_dcr"])
    sections = [*build_figures(report, train, synthetic, codecs, t).values(),
                *build_published_figures(report, train, synthetic, codecs, t, dp=False).values()]
    figures = [(caption, figure) for section in sections for caption, figure in section]
    assert len(figures) >= 8
    for caption, figure in figures:
        figure.canvas.draw()  # the constrained layout is solved at draw time
        drawn = figure.get_tightbbox(figure.canvas.get_renderer())  # inches, everything drawn
        canvas = figure.bbox_inches
        assert (drawn.x0 >= canvas.x0 - 0.01 and drawn.y0 >= canvas.y0 - 0.01 and drawn.x1 <= canvas.x1 + 0.01
                and drawn.y1 <= canvas.y1 + 0.01), f"{caption}: drawn {drawn.bounds} outside {canvas.bounds}"

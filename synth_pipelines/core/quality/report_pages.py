"""Layout of a QA report edition: one `Document` rendered as a self-contained HTML page and as a PDF.

Both show the same header (dataset, release, snapshot, generator, seed, date, verdict), the same table
of contents and the same sections in the same order. The PDF has one page size (A4 landscape) for
every page: figures are drawn at their own size and placed, scaled to fit, on a page with their
caption; tables continue on further pages, at most PDF_COLUMNS columns a page and as many rows as fit, their
cells wrapped (pdf_cells) rather than cut.
Figures use matplotlib's object API with the Agg canvas: no pyplot state, no display.
"""

from __future__ import annotations

import base64
import html
import io
import textwrap
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure

A4_LANDSCAPE = (11.69, 8.27)  # inches: every PDF page
PDF_ROWS, PDF_COLUMNS = 30, 9
PDF_LINE_CHARS = 180  # characters of 7 pt text across a table (0.92 of the page width, ~4.2 pt a character)
PDF_WIDE_CHARS = 70  # the longest text a column's width is sized for; longer text wraps
PDF_MAX_LINES = 6  # lines a cell wraps over before it is cut
PDF_ROW_HEIGHT, PDF_EXTRA_LINE = 0.0414, 0.4  # a one-line row's page-height share; each further line's part
PDF_CELL_PAD = 0.005  # text inset in a cell, as a share of the table's width
PDF_TABLE_ROOM = 0.78  # page-height share a table may fill below its title and note
HTML_CELL_CHARS = 200
DPI = 130  # PNG resolution: sharp in the PDF; the HTML shows it at DISPLAY_DPI
DISPLAY_DPI = 90


@dataclass
class Section:
    title: str
    note: str = ""
    frames: list[pd.DataFrame] = field(default_factory=list)
    figures: list[tuple[str, Figure]] = field(default_factory=list)  # (caption, figure)
    links: list[tuple[str, str]] = field(default_factory=list)  # (text, href relative to the report)
    preformatted: str = ""

    @property
    def anchor(self) -> str:
        return "".join(ch if ch.isalnum() else "-" for ch in self.title.lower()).strip("-")[:60]


@dataclass
class Document:
    header: list[tuple[str, str]]  # (field, value), verdict included
    passed: bool
    note: str
    sections: list[Section]


def fmt(value: Any) -> str:
    """Numbers for people: integers as integers (a count of 50, not 50.0), others to 4 significant digits."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "n/a"
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        if float(value).is_integer() and abs(value) < 1e15:
            return str(int(value))
        if 1e-3 <= abs(value) < 1e9:  # positional: 15050, not 1.505e+04
            return np.format_float_positional(value, precision=4, unique=False, fractional=False, trim="-")
        return f"{value:.4g}"
    return str(value)


def cells(frame: pd.DataFrame, width: int) -> pd.DataFrame:
    """Every cell as text: numbers through `fmt`, text cut to `width` characters."""
    def one(value: Any) -> str:
        text = "" if value is None or (isinstance(value, float) and np.isnan(value)) else fmt(value)
        return text if len(text) <= width else text[: width - 1] + "…"
    return frame.astype(object).apply(lambda column: column.map(one)).rename(columns=str)


_RENDERED: weakref.WeakKeyDictionary[Figure, bytes] = weakref.WeakKeyDictionary()


def png(figure: Figure) -> bytes:
    """The figure as PNG at DPI, drawn once (the HTML page and the PDF both embed it). Saved at its own size:
    the figures' constrained layout keeps every label on the canvas, and a tight crop costs a further layout pass
    (Adult's 48 QA figures: 8.4 s drawn with the crop, 7.0 s without)."""
    if figure not in _RENDERED:
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=DPI)
        _RENDERED[figure] = buffer.getvalue()
    return _RENDERED[figure]


# ---- HTML ------------------------------------------------------------------------------------------

_STYLE = ("body{font-family:sans-serif;margin:2em;max-width:1200px}table.t{border-collapse:collapse;font-size:12px}"
          "table.t td,table.t th{border:1px solid #ccc;padding:3px 6px;max-width:24em}"
          ".wide{overflow-x:auto;max-width:100%}.pass{color:green}.fail{color:crimson}"
          "table.head th{text-align:left;padding-right:1em}img{max-width:100%;height:auto}"
          "figcaption{font-size:13px;color:#333;max-width:60em}nav li{margin:2px 0}")


def _html_table(frame: pd.DataFrame) -> str:
    if not len(frame):
        return "<p>none</p>"
    table = cells(frame, HTML_CELL_CHARS).to_html(index=False, border=0, classes="t", justify="left")
    return f"<div class='wide'>{table}</div>"


def _display_width(image: bytes) -> int:
    """CSS pixels to show a PNG at DISPLAY_DPI (its width sits at bytes 16-20 of the IHDR chunk)."""
    return round(int.from_bytes(image[16:20], "big") * DISPLAY_DPI / DPI)


def _html_section(section: Section) -> str:
    parts = [f"<section id='{section.anchor}'><h2>{html.escape(section.title)}</h2>"]
    if section.note:
        parts.append(f"<p>{html.escape(section.note)}</p>")
    if section.links:
        parts.append("<p>" + " | ".join(f"<a href='{html.escape(href)}'>{html.escape(text)}</a>"
                                        for text, href in section.links) + "</p>")
    parts += [_html_table(frame) for frame in section.frames]
    parts += [f"<figure><img src='data:image/png;base64,{base64.b64encode(png(f)).decode()}' "
              f"width='{_display_width(png(f))}' alt='{html.escape(caption or section.title)}'>"
              f"<figcaption>{html.escape(caption)}</figcaption></figure>" for caption, f in section.figures]
    if section.preformatted:
        parts.append(f"<pre>{html.escape(section.preformatted)}</pre>")
    return "".join(parts) + "</section>"


def html_page(doc: Document) -> str:
    verdict = dict(doc.header).get("verdict", "")
    rows = "".join(f"<tr><th>{html.escape(k)}</th><td" + (f" class='{'pass' if doc.passed else 'fail'}'"
                                                           if k == "verdict" else "") + f">{html.escape(v)}</td></tr>"
                   for k, v in doc.header)
    toc = "".join(f"<li><a href='#{s.anchor}'>{html.escape(s.title)}</a></li>" for s in doc.sections)
    return "".join([
        f"<!doctype html><html lang='en'><meta charset='utf-8'><title>Synthetic data QA: {html.escape(verdict)}</title>",
        f"<style>{_STYLE}</style><header><h1>Synthetic data QA report</h1><table class='head'>{rows}</table>",
        f"<p>{html.escape(doc.note)}</p></header>" if doc.note else "</header>",
        f"<nav><h2>Contents</h2><ol>{toc}</ol></nav>", *map(_html_section, doc.sections), "</html>"])


# ---- PDF -------------------------------------------------------------------------------------------

def _page() -> Figure:
    figure = Figure(figsize=A4_LANDSCAPE)
    FigureCanvasAgg(figure)
    return figure


def pdf_cells(frame: pd.DataFrame) -> tuple[pd.DataFrame, list[str], list[float]]:
    """A table's cells for the PDF: each column gets a share of the page width by its longest text (up to
    PDF_WIDE_CHARS), and its cells wrap to that width over at most PDF_MAX_LINES lines, so a sentence
    (what a privacy figure means) reads whole instead of cut. Returns cells, headers, column widths."""
    text = cells(frame.drop(columns=["implementation"], errors="ignore"), PDF_MAX_LINES * PDF_LINE_CHARS)
    longest = [min(max([len(c), *map(len, text[c])]), PDF_WIDE_CHARS) + 2 for c in text.columns]
    widths = [n / sum(longest) for n in longest]
    wrapped, headers = {}, []
    for column, width in zip(text.columns, widths):
        chars = max(6, int(width * PDF_LINE_CHARS) - 1)
        wrapped[column] = text[column].map(lambda v, chars=chars: "\n".join(
            textwrap.wrap(v, chars, max_lines=PDF_MAX_LINES, placeholder=" …")))
        headers.append("\n".join(textwrap.wrap(column, chars, max_lines=2, placeholder="…")))
    return pd.DataFrame(wrapped, columns=text.columns), headers, widths


def _lines(row: Any) -> int:
    return max([str(v).count("\n") + 1 for v in row] or [1])


def _row_height(lines: int) -> float:
    """Page-height share of a table row of `lines` lines of 7 pt text."""
    return PDF_ROW_HEIGHT * (1 + PDF_EXTRA_LINE * (lines - 1))


def _table_on(figure: Figure, frame: pd.DataFrame, top: float, bottom: float = 0.04) -> None:
    ax = figure.add_axes((0.04, bottom, 0.92, top - bottom))
    ax.axis("off")
    if not len(frame):
        ax.text(0, 1, "none", fontsize=9, va="top")
        return
    text, headers, widths = pdf_cells(frame)
    heights = [_row_height(_lines(headers))] + [_row_height(_lines(row)) for row in text.to_numpy()]
    height = min(1.0, sum(heights) / (top - bottom))
    table = ax.table(cellText=text.to_numpy(), colLabels=headers, colWidths=widths, cellLoc="left",
                     bbox=(0, 1 - height, 1, height))
    for (row, column), cell in table.get_celld().items():  # the bbox scales these alike: a row keeps its share
        cell.set_height(heights[row])
        cell.PAD = PDF_CELL_PAD / widths[column]  # matplotlib pads by a share of the cell's own width
    table.auto_set_font_size(False)
    table.set_fontsize(7)


def _page_rows(frame: pd.DataFrame, room: float) -> list[slice]:
    """Consecutive row ranges whose wrapped rows fit `room` (a page-height share), PDF_ROWS at most."""
    if not len(frame):
        return [slice(0, 0)]
    text, headers, _ = pdf_cells(frame)
    pages, start, used = [], 0, _row_height(_lines(headers))
    for index, row in enumerate(text.to_numpy()):
        height = _row_height(_lines(row))
        if index > start and (used + height > room or index - start >= PDF_ROWS):
            pages.append(slice(start, index))
            start, used = index, _row_height(_lines(headers))
        used += height
    return pages + [slice(start, len(frame))]


def _title(figure: Figure, text: str, note: str = "") -> float:
    """Title (and a wrapped note) at the top of a page; returns where the content may start."""
    figure.text(0.04, 0.95, text[:110], fontsize=13, weight="bold", va="top")
    if not note:
        return 0.9
    figure.text(0.04, 0.905, note, fontsize=9, va="top", wrap=True)
    return 0.9 - 0.028 * (1 + len(note) // 150)


def _frame_pages(pdf: PdfPages, section: Section, frame: pd.DataFrame, first: bool) -> None:
    """A table over as many pages as it needs: PDF_COLUMNS columns a page, as many rows as fit."""
    column_groups = [frame.columns[i:i + PDF_COLUMNS] for i in range(0, max(len(frame.columns), 1), PDF_COLUMNS)]
    for group in column_groups:
        part = frame[list(group)] if len(frame.columns) else frame
        for rows in _page_rows(part, PDF_TABLE_ROOM):
            figure = _page()
            top = _title(figure, section.title + ("" if first else " (continued)"), section.note if first else "")
            _table_on(figure, part.iloc[rows], top)
            pdf.savefig(figure)
            first = False


def _figure_page(pdf: PdfPages, section: Section, caption: str, image: Figure) -> None:
    """The figure's PNG (drawn at its own size: its text keeps its size, nothing clips) scaled onto the page."""
    from matplotlib.image import imread

    figure = _page()
    top = _title(figure, section.title, caption)
    ax = figure.add_axes((0.04, 0.03, 0.92, top - 0.05))
    ax.imshow(imread(io.BytesIO(png(image)), format="png"), interpolation="none")  # embedded as is
    ax.axis("off")
    pdf.savefig(figure)


def _cover(pdf: PdfPages, doc: Document) -> None:
    figure = _page()
    figure.text(0.04, 0.95, "Synthetic data QA report", fontsize=18, weight="bold", va="top")
    y = 0.87
    for key, value in doc.header:
        figure.text(0.04, y, key, fontsize=10, weight="bold", va="top")
        figure.text(0.2, y, value[:140], fontsize=10, va="top",
                    color=("green" if doc.passed else "crimson") if key == "verdict" else "black")
        y -= 0.035
    if doc.note:
        figure.text(0.04, y - 0.01, doc.note, fontsize=9, va="top", wrap=True)
        y -= 0.07
    figure.text(0.04, y, "Contents", fontsize=12, weight="bold", va="top")
    per_column = max(int((y - 0.05) / 0.027), 1)
    for i, section in enumerate(doc.sections):
        figure.text(0.06 + 0.46 * (i // per_column), y - 0.027 * (1 + i % per_column),
                    f"{i + 1}. {section.title}"[:80], fontsize=8.5, va="top")
    pdf.savefig(figure)


def write_pdf(path: Path, doc: Document) -> None:
    with PdfPages(path) as pdf:
        _cover(pdf, doc)
        for section in doc.sections:
            if not section.frames and not section.figures:  # the settings: in the HTML and the JSON
                continue
            for i, frame in enumerate(section.frames or ([] if section.figures else [pd.DataFrame()])):
                _frame_pages(pdf, section, frame, first=i == 0)
            for caption, image in section.figures:
                _figure_page(pdf, section, caption, image)

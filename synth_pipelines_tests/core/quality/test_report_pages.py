"""The PDF's tables (report_pages.pdf_cells, _page_rows): sentences wrap whole instead of being cut, and a
long table of wrapped rows continues over pages that each fit."""

from __future__ import annotations

import pandas as pd

from synth_pipelines.core.quality.report_pages import (PDF_TABLE_ROOM, _lines, _page_rows, _row_height,
                                                       pdf_cells)

SENTENCE = ("Share of synthetic rows that lie closer to a person the generator learned from than to a comparable "
            "person it never saw; 0.5 means the synthetic rows favour no one, near 1 means they sit on top of "
            "real people's records.")


def test_a_sentence_next_to_short_figures_reads_whole_in_the_pdf():
    frame = pd.DataFrame({"figure": ["dcr_share"], "meaning": [SENTENCE], "value": [0.5575], "threshold": [0.6],
                          "passed": ["ok"], "ci_95": [""], "reference": ["unseen real rows: 0.768"],
                          "implementation": ["not shown in the PDF"]})
    text, headers, widths = pdf_cells(frame)
    assert "implementation" not in text.columns and len(headers) == len(widths) == 7
    meaning = text.loc[0, "meaning"]
    assert "…" not in meaning and " ".join(meaning.split()) == SENTENCE  # every word, wrapped over lines
    assert 1 < meaning.count("\n") + 1 <= 6
    assert widths[1] == max(widths) and abs(sum(widths) - 1) < 1e-9  # the sentence gets the room


def test_a_long_table_of_wrapped_rows_continues_on_pages_that_fit():
    frame = pd.DataFrame({"limitation": [SENTENCE * 2] * 40, "n": range(40)})
    pages = _page_rows(frame, PDF_TABLE_ROOM)
    assert len(pages) > 1 and pages[0].start == 0 and pages[-1].stop == 40
    assert all(a.stop == b.start for a, b in zip(pages, pages[1:]))  # every row once, in order
    text, headers, _ = pdf_cells(frame)
    for rows in pages:
        used = _row_height(_lines(headers)) + sum(_row_height(_lines(r)) for r in text.iloc[rows].to_numpy())
        assert used <= PDF_TABLE_ROOM

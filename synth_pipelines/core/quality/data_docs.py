"""Great Expectations Data Docs for a QA report edition, the GX 1.x way.

A file-backed context in `<edition folder>/gx` (no network, analytics off) holds the suite (saved as
JSON under gx/expectations/), a ValidationDefinition of it on the synthetic rows and a Checkpoint whose
UpdateDataDocsAction builds the static Data Docs site (gx/uncommitted/data_docs/local_site/index.html).
Its index lists the pages through JavaScript loaded from public CDNs, so offline its tables stay empty:
`link_pages_offline` adds a plain list of the same pages to it, and the report also links the
validation result and suite pages, which read without any script.
The gate's own verdict comes from ge_suite.validate_synthetic (an ephemeral context); this checkpoint
re-validates the same suite so the Data Docs show it expectation by expectation.

The published edition's suite carries aggregates only (`published_expectations`): a learned suite
names real values (category sets, real min/max widened by a tolerance, from which the extremes can be
recovered), so the published one keeps the column set, types, not-null and key expectations, keeps
each category set only where every category is held by at least MIN_CELL_ROWS real rows and drops
the range expectations. A suite over the declared domain (differential privacy) names no real value
and is published whole. Unexpected values listed in validation results are synthetic values.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pandas as pd

DOCS_INDEX = Path("gx/uncommitted/data_docs/local_site/index.html")
SUITE_NAME = "synthetic_rows_suite"
TUTORIAL_IMAGES = ("glossary_scroller.gif", "validation_failed_unexpected_values.gif", "iterative-dev-loop.png")


def published_expectations(expectations: list[Any], train: pd.DataFrame, min_rows: int) -> list[Any]:
    """The expectations a published edition may show: none naming a real value held by fewer than
    `min_rows` real rows, and no real range (see the module docstring)."""
    kept = []
    for expectation in expectations:
        kind = expectation.expectation_type
        if kind == "expect_column_values_to_be_between":
            continue
        if kind == "expect_column_values_to_be_in_set":
            column = getattr(expectation, "column", None)
            counts = train[column].dropna().map(str).value_counts() if column in train.columns else pd.Series()
            if counts.empty or counts.min() < min_rows:
                continue
        kept.append(expectation)
    return kept


def write_data_docs(folder: Path, expectations: list[Any], synthetic: pd.DataFrame, *,
                    examples: int = 5) -> dict[str, Any]:
    """Run the suite through a Checkpoint in a file context under `folder`/gx and build Data Docs;
    return the index path, the suite JSON path and per-expectation-type pass/fail counts."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")  # read by GX at import: no usage statistics
    import great_expectations as gx
    from great_expectations.checkpoint import UpdateDataDocsAction

    root = folder / "gx"
    shutil.rmtree(root, ignore_errors=True)  # a rerun replaces the site, never mixes two runs' results
    context = gx.get_context(mode="file", project_root_dir=str(folder))
    context.variables.progress_bars = {"globally": False}
    batch = (context.data_sources.add_pandas("synthetic").add_dataframe_asset("synthetic_rows")
             .add_batch_definition_whole_dataframe("all_rows"))
    suite = context.suites.add(gx.ExpectationSuite(name=SUITE_NAME, expectations=[e.copy() for e in expectations]))
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name="synthetic_rows_validation", data=batch, suite=suite))
    checkpoint = context.checkpoints.add(gx.Checkpoint(
        name="synthetic_rows_checkpoint", validation_definitions=[definition],
        actions=[UpdateDataDocsAction(name="update_data_docs")],
        result_format={"result_format": "SUMMARY", "partial_unexpected_count": max(examples, 1)}))
    outcome = checkpoint.run(batch_parameters={"dataframe": synthetic})
    results = [r for run in outcome.run_results.values() for r in run.results]
    site = (folder / DOCS_INDEX).parent
    for tutorial in TUTORIAL_IMAGES:  # 3.4 MB of walkthrough animations no page of ours shows
        (site / "static" / "images" / tutorial).unlink(missing_ok=True)
    pages = {"suite_page": site / "expectations" / f"{SUITE_NAME}.html",
             "validation_page": next(site.glob("validations/**/*.html"))}
    link_pages_offline(site / "index.html", {"this validation, expectation by expectation": pages["validation_page"],
                                             "the expectation suite": pages["suite_page"]})
    return {"index": site / "index.html", "suite": root / "expectations" / f"{SUITE_NAME}.json", **pages,
            "by_type": expectation_counts(results)}


def link_pages_offline(index: Path, pages: dict[str, Path]) -> None:
    """Put plain links to `pages` (text -> file) at the top of the Data Docs index, so the index leads
    somewhere where its CDN scripts cannot load (a published release read offline or behind a proxy)."""
    import html

    items = "".join(f"<li><a href='{html.escape(path.relative_to(index.parent).as_posix())}'>{html.escape(text)}</a></li>"
                    for text, path in pages.items())
    block = f"<nav class='container' id='pages-offline'><p>Pages (readable offline):</p><ul>{items}</ul></nav>"
    page = index.read_text()
    at = page.index(">", page.index("<body")) + 1
    index.write_text(page[:at] + block + page[at:])


def expectation_counts(results: list[Any]) -> pd.DataFrame:
    """Per expectation type: how many were checked, passed and failed."""
    rows = pd.DataFrame([{"expectation": r.expectation_config.type, "passed": bool(r.success)} for r in results])
    if rows.empty:
        return pd.DataFrame(columns=["expectation", "checked", "passed", "failed"])
    counts = rows.groupby("expectation")["passed"].agg(checked="size", passed="sum").reset_index()
    return counts.assign(failed=counts["checked"] - counts["passed"]).astype(
        {"checked": int, "passed": int, "failed": int})

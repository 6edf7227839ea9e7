"""End to end under differential privacy (issue 18): a DP release of the demo loans table, every published
artifact scanned for real rows and unkeyed hashes of real data, and the dataset's budget across releases."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from synth_pipelines.core.quality.thresholds import CHECK_NAMES
from synth_pipelines.core.snapshot import load_snapshot
from synth_pipelines.core.synthesis import generate_rows, train_synthesizer
from synth_pipelines.core.training_view import build_training_view
from synth_pipelines.orchestration.factory import today_partition
from synth_pipelines.orchestration.resources import SynthStorage
from synth_pipelines.orchestration.runner import materialize_dataset
from synth_pipelines.spec import load_spec

pytestmark = pytest.mark.slow  # the first test runs the pipeline twice (~3 min)

COLUMNS = ["amount", "term_months", "interest_rate", "purpose", "defaulted"]
DOMAIN = {"amount": {"minimum": 0, "maximum": 300000}, "term_months": {"values": [12, 24, 36, 48, 60, 72, 84, 120]},
          "interest_rate": {"minimum": 0.0, "maximum": 0.4},
          "purpose": {"values": ["debt_consolidation", "vehicle", "renovation", "education", "business", "other"]},
          "defaulted": {"values": [0, 1]}}


@pytest.fixture
def dp_spec_data(demo_spec_data):
    data = demo_spec_data
    data["source"]["tables"] = {"loans": {"primary_key": "loan_id", "exclude_columns": ["recovery_agent"]}}
    data["training_view"] = {"entity_key": "loan_id", "label": "defaulted",
                             "sql": f"SELECT loan_id, {', '.join(COLUMNS)} FROM loans"}
    # One release's worth of budget: the second release of the dataset must be refused.
    data["generator"] = {"plugin": "privbayes", "seed": 3, "epsilon": 1.0, "epsilon_limit": 1.0, "domain": DOMAIN}
    data["features"] = {}
    data["qa"] = {"advisory_checks": list(CHECK_NAMES)}  # this test is about what is published, not quality
    return data


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class _Tables(HTMLParser):
    """The tables of an HTML page as frames of text (header row from <th>), with the standard library."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self.cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self.cell = []

    def handle_data(self, data):
        if self.cell is not None:
            self.cell.append(data)

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self.cell is not None and self.tables and self.tables[-1]:
            self.tables[-1][-1].append("".join(self.cell).strip())
            self.cell = None

    def frames(self) -> list[pd.DataFrame]:
        return [pd.DataFrame(rows[1:], columns=rows[0]) for rows in self.tables if len(rows) > 1]


def _published_text(release: Path) -> dict[str, str]:
    """Every published file as text (binary files as latin-1, so hex digests and numbers still match)."""
    return {str(p.relative_to(release)): p.read_bytes().decode("latin-1") for p in release.rglob("*") if p.is_file()}


def _cells(frame: pd.DataFrame, columns: list[str]) -> set[tuple[str, ...]]:
    """Each row's values as text, numbers written alike however they were stored or rendered."""
    def text(value: object) -> str:
        try:
            return f"{float(value):.6g}"
        except (TypeError, ValueError):
            return str(value)
    return {tuple(text(v) for v in row) for row in frame[columns].itertuples(index=False)}


def assert_nothing_real_published(release: Path, snapshot, real: pd.DataFrame, columns: list[str],
                                  work: Path) -> dict[str, str]:
    """Scan every published file of a release: no unkeyed hash of real data (snapshot fingerprints, the
    raw snapshot, train and holdout files; lookup tables are published verbatim, so their hashes are
    public), no real row of the view in the data or in any table of the report. Returns the files' text."""
    lookups = {name for name, table in load_spec_tables(release).items() if table.get("lookup")}
    hashes = {snapshot.fingerprint, *(t.fingerprint for t in snapshot.tables.values()),
              *(_sha256(Path(t.path)) for name, t in snapshot.tables.items() if name not in lookups),
              _sha256(work / "split" / "train_rows.parquet"), _sha256(work / "split" / "holdout_rows.parquet")}
    published = _published_text(release)
    for name, text in published.items():
        for digest in hashes:
            assert digest not in text, f"{name} holds an unkeyed hash of real data"
    manifest = json.loads(published["manifest.json"])
    assert manifest["source"]["fingerprint"].startswith("hmac-sha256:")
    assert all(t["fingerprint"].startswith("hmac-sha256:") for t in manifest["source"]["tables"].values())
    real_rows = _cells(real, columns)
    data = pd.read_parquet(release / "data" / "part-00000.parquet")
    assert not _cells(data, columns) & real_rows, "a real row in the data"
    parser = _Tables()
    parser.feed(published["qa_report.html"])
    tables = [t for t in parser.frames() if set(columns) <= set(t.columns)]
    assert tables  # the review sample of synthetic rows
    for table in tables:
        assert not _cells(table, columns) & real_rows, "a real row in the published report"
    return published


def load_spec_tables(release: Path) -> dict[str, dict]:
    return json.loads((release / "manifest.json").read_text())["spec"]["source"]["tables"]


def test_dp_release_publishes_no_real_row_no_unkeyed_hash_and_spends_the_dataset_budget(
        dp_spec_data, write_spec, storage_home):
    loaded = load_spec(write_spec(dp_spec_data))
    storage = SynthStorage(root=str(storage_home))
    outcome = materialize_dataset(loaded, dg.DagsterInstance.ephemeral(), storage)
    assert outcome.success, outcome.error
    release = Path(outcome.release["path"])
    manifest = json.loads((release / "manifest.json").read_text())
    data = pd.read_parquet(release / "data" / "part-00000.parquet")

    # The promise, with its conditions, and the ledger.
    privacy = manifest["differential_privacy"]
    assert manifest["generator"]["reproducible_from_seed"] is False and privacy["reproducible_from_seed"] is False
    assert privacy["epsilon_spent"] == 1.0 and privacy["ledger"]["epsilon_spent_total"] == 1.0
    assert privacy["ledger"]["epsilon_limit"] == 1.0 and len(privacy["ledger"]["entries"]) == 1
    assert "one row of the training view" in privacy["unit_of_privacy"] and "replace-one" in privacy["neighbouring_datasets"]
    not_covered = manifest["differential_privacy"]["not_covered_by_epsilon"]
    assert not_covered and "pass/fail" in " ".join(not_covered)
    # No non-DP statistic of the real rows besides the disclosed pass/fail.
    assert all(set(check) == {"name", "passed", "blocking"} for check in manifest["qa"]["checks"])
    # The Great Expectations suite checks the declared domain (nothing learned from the rows): it holds.
    assert {c["name"]: c["passed"] for c in manifest["qa"]["checks"]}["great_expectations"], \
        manifest["qa"]["great_expectations_failures"]
    for column in manifest["generator"]["columns"]:
        assert not {"fill", "minimum", "maximum"} & set(column)
    declared = {c["name"]: c for c in manifest["generator"]["columns"]}
    assert declared["purpose"]["categories"] == DOMAIN["purpose"]["values"]

    snapshot = load_snapshot(storage_home / "snapshots" / "demo_loans" / manifest["source"]["snapshot_id"])
    real = build_training_view(loaded.spec.training_view, {t: s.path for t, s in snapshot.tables.items()})
    work = storage_home / "work" / "demo_loans" / snapshot.snapshot_id
    published = assert_nothing_real_published(release, snapshot, real, COLUMNS, work)
    # Besides the data and the reports only the Great Expectations Data Docs (gx/, built from the declared
    # domain's suite), each file of which assert_nothing_real_published has just scanned.
    assert {name for name in published if not name.startswith("gx/")} == {
        "data/part-00000.parquet", "manifest.json", "qa_report.json", "qa_report.html", "qa_report.pdf"}
    assert "gx/expectations/synthetic_rows_suite.json" in published
    page = published["qa_report.html"]
    for section in ("Univariate: real", "Bivariate", "PhiK", "Distance to closest record", "Utility"):
        assert section not in page  # no panel or statistic of real rows in a DP release's report
    extreme = f"{real['amount'].max():g}"
    assert not re.search(rf"\b{re.escape(extreme)}\b", page + published["qa_report.json"])
    internal = work / "qa" / "qa_report.html"
    assert "Univariate: real vs synthetic" in internal.read_text()  # the internal edition keeps them, unpublished

    # A reader who knows every train row and the published seed reruns the pipeline: it does not
    # reproduce the release (the noise is secret), so the rerun tells nothing about the rows.
    train = pd.read_parquet(work / "split" / "train_rows.parquet").drop(columns="loan_id")
    rerun = train_synthesizer(train, loaded.spec.generator, label="defaulted", categorical={"defaulted"},
                              out_dir=storage_home / "attack")
    rows = generate_rows(rerun, rows=len(data), batch_rows=loaded.spec.synthetic.batch_rows,
                         id_prefix=data["synthetic_id"].iloc[0].rsplit("-", 1)[0], out_dir=storage_home / "attack_rows")
    assert not pd.read_parquet(rows.path).equals(pd.read_parquet(work / "synthetic_rows" / "part-00000.parquet"))

    # The dataset's budget is spent: a release of the next snapshot is refused before training.
    yesterday = (dt.date.fromisoformat(today_partition(loaded)) - dt.timedelta(days=1)).isoformat()
    second = materialize_dataset(loaded, dg.DagsterInstance.ephemeral(), storage, partition_key=yesterday)
    assert not second.success and second.release is None
    assert "generator.epsilon_limit" in second.error and "passes the limit 1" in second.error
    ledger = json.loads((storage_home / "privacy_ledger" / "demo_loans.json").read_text())
    assert [e["snapshot_id"] for e in ledger["entries"]] == [snapshot.snapshot_id]


def test_validate_checks_the_declared_domain_against_the_view(dp_spec_data, write_spec):
    from synth_pipelines.core.validation import validate_against_source
    from synth_pipelines.spec import SpecError

    validate_against_source(load_spec(write_spec(dp_spec_data)))  # the full domain passes
    dp_spec_data["generator"]["domain"] = {k: v for k, v in DOMAIN.items() if k != "purpose"} | {"typo": {"values": [1]}}
    with pytest.raises(SpecError) as caught:
        validate_against_source(load_spec(write_spec(dp_spec_data)))
    message = str(caught.value)
    assert ": generator.domain: no declared domain for purpose; typo not synthesized" in message and "Fix: " in message


def test_a_non_dp_release_publishes_no_real_row_and_no_unkeyed_hash(demo_spec_data, write_spec, storage_home):
    """The same scan on a release of the demo spec (bayesian_network, lookup tables published verbatim)."""
    loaded = load_spec(write_spec(demo_spec_data))
    outcome = materialize_dataset(loaded, dg.DagsterInstance.ephemeral(), SynthStorage(root=str(storage_home)))
    assert outcome.success, outcome.error or outcome.failed_checks
    release = Path(outcome.release["path"])
    manifest = json.loads((release / "manifest.json").read_text())
    snapshot = load_snapshot(storage_home / "snapshots" / "demo_loans" / manifest["source"]["snapshot_id"])
    real = build_training_view(loaded.spec.training_view, {t: s.path for t, s in snapshot.tables.items()})
    columns = [c["name"] for c in manifest["generator"]["columns"]]
    published = assert_nothing_real_published(release, snapshot, real, columns,
                                              storage_home / "work" / "demo_loans" / snapshot.snapshot_id)
    assert {"lookups/branches.parquet", "lookups/products.parquet"} <= set(published)
    assert manifest["generator"]["reproducible_from_seed"] is True and manifest["differential_privacy"] is None

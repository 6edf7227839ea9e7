"""Destination test fixtures: demo-like release inputs (a features Parquet, QA report files). The S3
server (`moto`) and dummy credentials (`aws_env`) come from the root conftest."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

MakeFeatures = Callable[..., Path]


def features_table(rows: int, seed: int = 0) -> pa.Table:
    """The demo's column kinds, plus the values that break naive loaders: quotes, tabs, newlines,
    backslashes, '\\N', unicode, empty strings next to NULLs, NULL booleans and numbers."""
    rng = np.random.default_rng(seed)
    tricky = np.array(["car", 'say "hi", ok', "tab\there", "line\nbreak", "back\\slash", "\\N", "zürich ✓", ""],
                      dtype=object)
    purpose = tricky[rng.integers(0, len(tricky), rows)]
    purpose[rng.random(rows) < 0.05] = None
    income = rng.lognormal(10.5, 0.4, rows).round(2)
    income[rng.random(rows) < 0.03] = np.nan  # written to Parquet as NULL
    defaulted = pa.array(rng.random(rows) < 0.2, mask=rng.random(rows) < 0.02)
    return pa.table({
        "loan_id": pa.array(np.arange(1, rows + 1, dtype=np.int64)),
        "product_type": pa.array(rng.choice(["mortgage", "personal", "auto"], rows)).dictionary_encode(),
        "age_at_application": pa.array(rng.integers(18, 80, rows), pa.int64()),
        "credit_score": pa.array(rng.integers(300, 850, rows), pa.int32()),
        "annual_income": pa.array(income, from_pandas=True),
        "interest_rate": pa.array(rng.uniform(0.01, 0.25, rows)),
        "purpose": pa.array(purpose, pa.string()),
        "defaulted": defaulted,
        "application_date": pa.array([date(2020, 1, 1) + timedelta(days=int(d)) for d in rng.integers(0, 2000, rows)],
                                     pa.date32()),
        "scored_at": pa.array(int(datetime(2026, 1, 1, tzinfo=timezone.utc).timestamp()) * 10**6
                              + rng.integers(0, 10**12, rows)).cast(pa.timestamp("us", tz="UTC")),
        "applicant_email": pa.array([f"user{i}@example.org" for i in rng.integers(0, 10**6, rows)]),
    })


@pytest.fixture
def make_features(tmp_path: Path) -> MakeFeatures:
    """make_features(name, rows, seed, table=None, change=None) -> path of a features Parquet under tmp_path."""

    def make(name: str = "features", rows: int = 500, seed: int = 0, table: pa.Table | None = None,
             change: Callable[[pa.Table], pa.Table] | None = None) -> Path:
        path = tmp_path / "work" / f"{name}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        table = table if table is not None else features_table(rows, seed)
        pq.write_table(change(table) if change else table, path)
        return path

    return make


@pytest.fixture
def qa_files(tmp_path: Path) -> list[Path]:
    folder = tmp_path / "qa"
    folder.mkdir()
    (folder / "qa_report.json").write_text(json.dumps({"passed": True, "checks": []}))
    (folder / "qa_report.html").write_text("<html><body>QA passed ✓</body></html>", encoding="utf-8")
    (folder / "qa_report.pdf").write_bytes(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n\x00\xff binary\n%%EOF\n")  # not text
    return [folder / "qa_report.json", folder / "qa_report.html", folder / "qa_report.pdf"]

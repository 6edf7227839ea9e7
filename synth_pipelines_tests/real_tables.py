"""The real tables of ../shared/data as training views, the way a default spec would read them.

Used by the gate-calibration tests and the cross-table benchmark (bench/bench_tables.py): each table
becomes one frame with an entity key, its label and task. The suite tables are read whole minus their
identifier columns and the rows without a label (suite.json); Adult's `?` is its missing value; Berka
is the one-row-per-loan view of bench/berka.yaml, run by DuckDB over the CSVs.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import yaml

from synth_pipelines.paths import project_root

SHARED_DATA = project_root().parent / "shared" / "data"
SUITE = ("diamonds", "nass_cds", "cps1988", "mpls_stops", "gss_wages", "movies")
TABLES = ("adult", "berka_loans", *SUITE)
ENTITY_KEY = "row_id"


@dataclass(frozen=True)
class RealTable:
    name: str
    frame: pd.DataFrame  # ENTITY_KEY first, then the view's columns
    label: str
    task: str


def missing_data_message(path: Path) -> str:
    return f"the real tables of ../shared/data are needed but {path} is missing (../shared beside the project)"


def require_shared_data() -> None:
    """Fail in CI, skip elsewhere, when ../shared/data is not beside the checkout."""
    import pytest

    if not (SHARED_DATA / "suite" / "suite.json").is_file():
        message = missing_data_message(SHARED_DATA)
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)


def _with_key(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.reset_index(drop=True)
    frame.insert(0, ENTITY_KEY, range(1, len(frame) + 1))
    return frame


def load_table(name: str) -> RealTable:
    if name == "adult":
        frame = pd.read_csv(SHARED_DATA / "adult" / "adult_train.csv.gz", na_values=["?"])
        frame["income"] = frame["income"].str.rstrip(".")
        return RealTable(name, _with_key(frame), "income", "classification")
    if name == "berka_loans":
        return RealTable(name, berka_loans(), "bad_loan", "classification")
    meta = json.loads((SHARED_DATA / "suite" / "suite.json").read_text())[name]
    frame = pd.read_csv(SHARED_DATA / "suite" / meta["file"])
    frame = frame.drop(columns=meta["identifier_columns"]).dropna(subset=[meta["label"]])
    return RealTable(name, _with_key(frame), meta["label"], meta["task"])


def berka_loans() -> pd.DataFrame:
    """bench/berka.yaml's training view (one row per loan), by DuckDB over the Berka CSVs."""
    import duckdb

    spec = yaml.safe_load((project_root() / "bench" / "berka.yaml").read_text())
    folder = SHARED_DATA / "berka"
    with duckdb.connect() as con:
        for table in ("district", "account", "client", "disp", "loan", "order", "card"):
            con.execute(f'CREATE TABLE "{table}" AS SELECT * FROM read_csv_auto(?)', [str(folder / f"{table}.csv.gz")])
        frame = con.sql(spec["training_view"]["sql"]).df()
    return frame.rename(columns={spec["training_view"]["entity_key"]: ENTITY_KEY})


def csv_tables_as_parquet(folder: str, out: Path) -> dict[str, Path]:
    """Each CSV of ../shared/data/<folder> as a Parquet file in `out`, like a snapshot's tables (for the
    multi-table test and bench/bench_multitable.py)."""
    import gzip

    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    paths = {}
    for csv in sorted((SHARED_DATA / folder).glob("*.csv.gz")):
        name = csv.name.removesuffix(".csv.gz")
        with gzip.open(csv, "rb") as stream:
            paths[name] = out / f"{name}.parquet"
            pq.write_table(pacsv.read_csv(stream), paths[name])
    return paths

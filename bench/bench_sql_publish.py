"""Bulk-load throughput of the SQL publish (core.destinations.sql.publish_sql) into the local
PostgreSQL and MariaDB, for demo-like feature tables of 100k and 1M rows.

    .venv/bin/python bench/bench_sql_publish.py [--rows 100000 1000000] [--runs 3]

Each run publishes into a fresh database (created and dropped here) and times the whole
publish_sql call: Parquet read, conversion, load, rename, registry row and view. Prints a
Markdown table (median of the runs) and the machine it ran on.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from synth_pipelines.core.destinations.sql import publish_sql  # noqa: E402

# The servers the tests use (the same environment variables override them).
SERVERS = {
    "postgresql": os.environ.get("SYNTH_TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"),
    "mariadb": os.environ.get("SYNTH_TEST_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/"),
}
# (label, server, MySQL loader)
TARGETS = [("PostgreSQL, COPY FROM STDIN (CSV)", "postgresql", "auto"),
           ("MariaDB, LOAD DATA LOCAL INFILE", "mariadb", "local_infile"),
           ("MariaDB, multi-row INSERT (executemany)", "mariadb", "insert")]


def demo_like(rows: int, seed: int = 0) -> pa.Table:
    """The demo release's 24 columns: ids, categories, counts, amounts, rates, a label, names and emails."""
    rng = np.random.default_rng(seed)

    def pick(*values: str) -> pa.Array:
        return pa.array(np.array(values, dtype=object)[rng.integers(0, len(values), rows)], pa.string())

    amount = rng.lognormal(9, 0.8, rows)
    income = rng.lognormal(10.5, 0.4, rows)
    years = rng.gamma(2, 3, rows)
    years[rng.random(rows) < 0.05] = np.nan
    return pa.table({
        "synthetic_id": pa.array([f"demo_loans-2026-11-24-{i:09d}" for i in range(rows)]),
        "product_type": pick("personal", "auto", "mortgage", "student"),
        "branch_region": pick("North", "South", "East", "West", "Central"),
        "age_at_application": rng.integers(18, 85, rows), "gender": pick("female", "male", "other"),
        "education": pick("primary", "secondary", "vocational", "bachelor", "master", "doctorate"),
        "employment_status": pick("employed", "self-employed", "unemployed", "retired"),
        "years_employed": pa.array(years, from_pandas=True), "annual_income": income,
        "credit_score": rng.integers(300, 850, rows), "home_ownership": pick("rent", "own", "mortgage"),
        "dependents": rng.integers(0, 5, rows), "account_type": pick("current", "savings"),
        "avg_monthly_balance": rng.lognormal(7, 1, rows), "overdraft_count_12m": rng.poisson(1, rows),
        "amount": amount, "term_months": rng.choice([12, 24, 36, 48, 60, 72], rows),
        "interest_rate": rng.uniform(0.02, 0.25, rows), "purpose": pick("car", "renovation", "debt", "other"),
        "defaulted": rng.random(rows) < 0.15, "age_band": pick("18-34", "35-54", "55+"),
        "debt_to_income": np.round(amount / income, 4),
        "applicant_name": pick("Judith Davis-Turner", "Mrs Georgina Jenkins", "Ali O'Neill", "Zoë Brontë"),
        "applicant_email": pa.array([f"user{i}@example.com" for i in rng.integers(0, 10**7, rows)]),
    })


def one_run(server: str, method: str, features: Path, rows: int) -> float:
    admin = sa.create_engine(SERVERS[server], isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    name = f"synth_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    try:
        url = sa.engine.make_url(SERVERS[server]).set(database=name).render_as_string(hide_password=False)
        started = time.perf_counter()
        publish_sql(features_path=features, attachments=[], manifest={}, url=url, schema=None,
                    source_url="sqlite:///bench-source.sqlite", dataset="bench", release_name="features_v1",
                    snapshot_id="2026-11-24", rows=rows, mysql_load=method)
        return time.perf_counter() - started
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")
        admin.dispose()


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    free = subprocess.run(["free", "-g"], capture_output=True, text=True).stdout.rstrip()
    with sa.create_engine(SERVERS["postgresql"]).connect() as conn:
        pg = conn.exec_driver_sql("SHOW server_version").scalar()
    with sa.create_engine(SERVERS["mariadb"]).connect() as conn:
        maria = conn.exec_driver_sql("SELECT version()").scalar()
    return (f"nproc: {os.cpu_count()}, CPU: {cpu}, Python {platform.python_version()}, PostgreSQL {pg}, "
            f"MariaDB {maria}\n\n```\n$ free -g\n{free}\n```")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(machine(), "\n")
    print("| target | rows | Parquet MB | median s | rows/s (median) | runs (s) |\n|---|---:|---:|---:|---:|---|")
    with tempfile.TemporaryDirectory() as folder:
        for rows in args.rows:
            features = Path(folder) / f"features_{rows}.parquet"
            pq.write_table(demo_like(rows), features)
            size = features.stat().st_size / 1e6
            for label, server, method in TARGETS:
                times = [one_run(server, method, features, rows) for _ in range(args.runs)]
                median = statistics.median(times)
                print(f"| {label} | {rows:,} | {size:.1f} | {median:.2f} | {rows / median:,.0f} | "
                      f"{', '.join(f'{t:.2f}' for t in times)} |", flush=True)


if __name__ == "__main__":
    main()

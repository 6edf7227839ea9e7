"""MOSTLY AI's TabularARGN on a multi-table split (runs in bench/.peers-venv, never in the project's venv).

    bench/.peers-venv/bin/python bench/peers_multitable.py <folder> --seed 0 --minutes 2 [--minutes-for flights=10]

<folder> holds train/<table>.parquet (one per table) and plan.json:
    {"root": "account", "root_rows": 3564,
     "tables": {"account": {"primary_key": "account_id", "parent": null, "parent_key": null, "order_by": null,
                            "lookup_keys": ["district_id"], "key_is_number": true}, ...},   # parents first
     "lookups": ["district"]}
Writes synthetic/<table>.parquet (lookups copied unchanged) and peers_multitable.json (per table: preparation,
training and generation seconds, epochs, the training cap).

Which MOSTLY AI API: mostlyai-engine's functional API (split, analyze, encode, train, generate), not the
`mostlyai` SDK (not installed in the peers venv). The SDK's local mode runs this engine, and its context
foreign key is this two-table setup: a child table is a sequential model of its rows per parent
(split(tgt_data=child, ctx_data=parent, tgt_context_key=<fk>, ctx_primary_key=<pk>)), and is generated
given the synthetic parent rows (generate(ctx_data=...)), so children per parent and their columns are drawn
given the parent. The root is a flat TABULAR model, as bench/peers.py trains one. Defaults throughout but:
  - max_training_time per model (--minutes, --minutes-for);
  - calendar-date columns (Berka's, datetime.date objects as the tables hold them) are given to the engine
    as datetimes (TABULAR_DATETIME) and written back as dates, tz-aware timestamps as UTC-naive ones and back;
  - foreign keys into lookups are TABULAR_CATEGORICAL (an integer district id is no quantity), and rare
    categories are replaced by a sample of the frequent ones (rare_category_replacement_method="sample";
    the default `_RARE_` token would be a key that resolves to nothing);
  - a parent's columns enter as context under `parent__<column>` (the parent's own parent key left out),
    and a child's rows are sorted by its order column (if any) within each parent before training.
Primary keys are not modelled: every generated table gets new ones (1..n, or '<table>_<n>' where the real key
is text, as the project's generator numbers them) and each child's foreign key is its synthetic parent's.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
import warnings
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd

PARENT_PREFIX = "parent__"


def date_columns(frame: pd.DataFrame) -> list[str]:
    """Object columns of calendar dates (datetime.date values, as DuckDB reads a DATE into pandas)."""
    return [c for c in frame.columns if frame[c].dtype == object and frame[c].notna().any()
            and frame[c].dropna().map(lambda v: isinstance(v, date) and not isinstance(v, datetime)).all()]


def to_engine(frame: pd.DataFrame, dates: list[str]) -> pd.DataFrame:
    """Calendar dates as datetimes, tz-aware timestamps as naive UTC."""
    frame = frame.copy()
    for column in dates:
        frame[column] = pd.to_datetime(frame[column])
    for column in frame.columns:
        if isinstance(frame[column].dtype, pd.DatetimeTZDtype):
            frame[column] = frame[column].dt.tz_convert("UTC").dt.tz_localize(None)
    return frame


def from_engine(frame: pd.DataFrame, like: pd.DataFrame, dates: list[str]) -> pd.DataFrame:
    """The engine's output in the real table's column types."""
    frame = frame.copy()
    for column in frame.columns:
        if column not in like.columns:
            continue
        real = like[column].dtype
        if column in dates:
            days = pd.to_datetime(frame[column])
            frame[column] = pd.Series([d.date() if pd.notna(d) else None for d in days], index=frame.index,
                                      dtype=object)
        elif isinstance(real, pd.DatetimeTZDtype):
            frame[column] = pd.to_datetime(frame[column]).dt.tz_localize("UTC").astype(real)
        elif pd.api.types.is_integer_dtype(real):
            values = pd.to_numeric(frame[column], errors="coerce")
            frame[column] = values.round().astype("int64") if values.notna().all() else values.astype(float)
        elif pd.api.types.is_float_dtype(real):
            frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
        elif real == object:
            frame[column] = frame[column].astype(object).where(frame[column].notna(), None)
    return frame


def new_keys(table: str, count: int, as_numbers: bool) -> np.ndarray:
    numbers = np.arange(1, count + 1)
    return numbers if as_numbers else np.array([f"{table}_{n}" for n in numbers], dtype=object)


def epochs_of(workspace: Path) -> float | None:
    progress = workspace / "ModelStore" / "model-data" / "progress-messages.csv"
    return float(pd.read_csv(progress)["epoch"].max()) if progress.is_file() else None


def own_columns(frame: pd.DataFrame, spec: dict) -> list[str]:
    return [c for c in frame.columns if c not in (spec["primary_key"], spec["parent_key"])]


def context_of(parent: pd.DataFrame, parent_spec: dict) -> pd.DataFrame:
    """The parent rows as the engine's context: its key and its own columns, prefixed."""
    columns = own_columns(parent, parent_spec)
    return parent[[parent_spec["primary_key"], *columns]].rename(columns={c: PARENT_PREFIX + c for c in columns})


def synthesize(train: dict[str, pd.DataFrame], plan: dict, seed: int, minutes: dict[str, float],
               workspace_root: Path) -> tuple[dict[str, pd.DataFrame], dict]:
    from mostlyai import engine

    synthetic, info = {}, {}
    dates = {name: date_columns(frame) for name, frame in train.items()}
    for name, spec in plan["tables"].items():
        workspace = workspace_root / name
        shutil.rmtree(workspace, ignore_errors=True)
        engine.set_random_state(seed)
        started = time.perf_counter()
        real = train[name]
        target = to_engine(real[[*([spec["parent_key"]] if spec["parent"] else []), *own_columns(real, spec)]],
                           dates[name])
        encodings = {c: "TABULAR_CATEGORICAL" for c in spec["lookup_keys"]}
        encodings |= {c: "TABULAR_DATETIME" for c in dates[name]}
        split = dict(tgt_data=target, tgt_encoding_types=encodings, model_type="TABULAR", workspace_dir=workspace)
        if spec["parent"]:
            parent_spec = plan["tables"][spec["parent"]]
            context = to_engine(context_of(train[spec["parent"]], parent_spec),
                                [PARENT_PREFIX + c for c in dates[spec["parent"]]])
            if spec["order_by"]:  # a sequence in its order within each parent
                target = target.sort_values([spec["parent_key"], spec["order_by"]], kind="stable")
            context_encodings = {PARENT_PREFIX + c: "TABULAR_CATEGORICAL" for c in parent_spec["lookup_keys"]}
            context_encodings |= {PARENT_PREFIX + c: "TABULAR_DATETIME" for c in dates[spec["parent"]]}
            split |= dict(tgt_data=target, ctx_data=context, tgt_context_key=spec["parent_key"],
                          ctx_primary_key=parent_spec["primary_key"], ctx_encoding_types=context_encodings)
        engine.split(**split)
        engine.analyze(workspace_dir=workspace)
        engine.encode(workspace_dir=workspace)
        prepared = time.perf_counter()
        engine.train(max_training_time=minutes[name], workspace_dir=workspace, device="cpu")
        trained = time.perf_counter()
        generation = dict(workspace_dir=workspace, device="cpu", rare_category_replacement_method="sample")
        if spec["parent"]:
            parent_spec = plan["tables"][spec["parent"]]
            context = to_engine(context_of(synthetic[spec["parent"]], parent_spec),
                                [PARENT_PREFIX + c for c in dates[spec["parent"]]])
            engine.generate(ctx_data=context, **generation)
        else:
            engine.generate(sample_size=plan["root_rows"], **generation)
        done = time.perf_counter()
        rows = from_engine(pd.read_parquet(workspace / "SyntheticData"), real, dates[name])
        rows.insert(0, spec["primary_key"], new_keys(name, len(rows), spec["key_is_number"]))
        synthetic[name] = rows[[c for c in real.columns if c in rows.columns]].reset_index(drop=True)
        info[name] = {"rows": len(rows), "epochs": epochs_of(workspace), "max_training_minutes": minutes[name],
                      "preparation_seconds": round(prepared - started, 1),
                      "training_seconds": round(trained - prepared, 1),
                      "generation_seconds": round(done - trained, 1)}
        print(json.dumps({name: info[name]}), flush=True)
        shutil.rmtree(workspace, ignore_errors=True)
    shutil.rmtree(workspace_root, ignore_errors=True)
    return synthetic, info


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--minutes", type=float, default=2.0, help="max_training_time of each model")
    parser.add_argument("--minutes-for", default="", help="per-table caps: table=minutes,...")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    plan = json.loads((args.folder / "plan.json").read_text())
    train = {path.stem: pd.read_parquet(path) for path in (args.folder / "train").glob("*.parquet")}
    minutes = {name: args.minutes for name in plan["tables"]}
    minutes |= {k: float(v) for k, v in (item.split("=") for item in args.minutes_for.split(",") if item)}
    started = time.perf_counter()
    synthetic, info = synthesize(train, plan, args.seed, minutes, args.folder / "workspace")
    out = args.folder / "synthetic"
    out.mkdir(exist_ok=True)
    for name, frame in {**synthetic, **{n: train[n] for n in plan["lookups"]}}.items():
        frame.to_parquet(out / f"{name}.parquet", index=False)
    result = {"tables": info, "total_seconds": round(time.perf_counter() - started, 1)}
    (args.folder / "peers_multitable.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

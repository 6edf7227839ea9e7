"""Independent referees for one benchmark split (runs in bench/.peers-venv).

    bench/.peers-venv/bin/python bench/referees.py <split_dir>

Scores every candidate found in <split_dir> (ours.parquet, argn.parquet, gaussian_copula.parquet and
perfect.parquet, the real rows nobody trained on) against the same train.parquet and holdout.parquet:

- mostlyai-qa: overall accuracy, DCR share, discriminator AUC (training vs synthetic);
- SDMetrics: the single-table QualityReport score (train vs candidate);
- an XGBoost TSTR: the same booster trained on the candidate's rows and on the real train rows (TRTR),
  both scored on the holdout (ROC AUC for classification, R2 for regression);
- a paired bootstrap over the holdout rows (1,000 resamples) of TSTR ours minus each other candidate:
  "ahead" when the 95% interval lies above 0, "behind" below it, else "tie".

Writes <split_dir>/referees.json. None of this code is the project's.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

CANDIDATES = ("ours", "argn", "gaussian_copula", "perfect")  # the outputs scored, <name>.parquet; ours first
BOOTSTRAP = 1_000


def _as_features(frames: list[pd.DataFrame], columns: list[str]) -> list[pd.DataFrame]:
    """One encoding for every frame: numbers stay numbers, dates become seconds, the rest categories
    with one shared category list (XGBoost's native categorical support)."""
    out = [f[columns].copy() for f in frames]
    for column in columns:
        values = [f[column] for f in out]
        reference = values[0]
        if pd.api.types.is_bool_dtype(reference):
            for f in out:
                f[column] = f[column].astype(float)
        elif pd.api.types.is_numeric_dtype(reference):
            for f in out:
                f[column] = pd.to_numeric(f[column], errors="coerce").astype(float)
        elif pd.api.types.is_datetime64_any_dtype(reference) or _looks_like_dates(reference):
            for f in out:
                stamps = pd.to_datetime(f[column], errors="coerce", utc=True)
                f[column] = (stamps - pd.Timestamp("1970-01-01", tz="UTC")).dt.total_seconds()
        else:
            categories = sorted(set().union(*(set(v.dropna().astype(str)) for v in values)))
            for f in out:
                f[column] = pd.Categorical(f[column].astype("string").astype(object).where(f[column].notna()),
                                           categories=categories)
    return out


def _looks_like_dates(series: pd.Series) -> bool:
    sample = series.dropna().astype(str).head(200)
    if sample.empty or sample.str.len().min() < 8 or not sample.str.match(r"^\d{4}-\d{2}-\d{2}").all():
        return False
    return pd.to_datetime(sample, errors="coerce").notna().mean() > 0.95


def _label_values(series: pd.Series, task: str, positive: str | None) -> np.ndarray:
    if task == "regression":
        return pd.to_numeric(series, errors="coerce").to_numpy(dtype=float)
    return (series.astype(str) == positive).to_numpy(dtype=float)


def _score(y: np.ndarray, predicted: np.ndarray, task: str) -> float:
    from sklearn.metrics import r2_score, roc_auc_score

    if task == "regression":
        return float(r2_score(y, predicted))
    return float(roc_auc_score(y, predicted)) if len(np.unique(y)) > 1 else float("nan")


def tstr_predictions(train: pd.DataFrame, holdout: pd.DataFrame, label: str, task: str, seed: int,
                     positive: str | None) -> np.ndarray:
    """Holdout predictions of an XGBoost model trained on `train` (probability of the `positive` class,
    or the value)."""
    import xgboost as xgb

    features = [c for c in holdout.columns if c != label]
    train = train.dropna(subset=[label])
    x_train, x_holdout = _as_features([train, holdout], features)
    y_train = _label_values(train[label], task, positive)
    params = dict(n_estimators=300, max_depth=6, learning_rate=0.05, subsample=0.8, colsample_bytree=0.8,
                  tree_method="hist", enable_categorical=True, max_cat_to_onehot=1, n_jobs=2, random_state=seed)
    if task == "regression":
        model = xgb.XGBRegressor(**params)
        model.fit(x_train, y_train)
        return model.predict(x_holdout)
    if len(np.unique(y_train)) < 2:
        return np.full(len(holdout), float(y_train[0]) if len(y_train) else 0.5)
    model = xgb.XGBClassifier(**params)
    model.fit(x_train, y_train)
    return model.predict_proba(x_holdout)[:, 1]


def bootstrap(y: np.ndarray, ours: np.ndarray, other: np.ndarray, task: str, seed: int) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    diffs = []
    for _ in range(BOOTSTRAP):
        idx = rng.integers(0, len(y), len(y))
        diffs.append(_score(y[idx], ours[idx], task) - _score(y[idx], other[idx], task))
    low, high = np.nanpercentile(diffs, [2.5, 97.5])
    verdict = "ahead" if low > 0 else ("behind" if high < 0 else "tie")
    return {"mean_difference": round(float(np.nanmean(diffs)), 4), "ci95": [round(float(low), 4), round(float(high), 4)],
            "verdict": verdict}


def sdmetrics_quality(train: pd.DataFrame, synthetic: pd.DataFrame) -> float:
    from sdmetrics.reports.single_table import QualityReport

    columns = {}
    for column in train.columns:
        series = train[column]
        if pd.api.types.is_bool_dtype(series):
            columns[column] = {"sdtype": "boolean"}
        elif pd.api.types.is_numeric_dtype(series):
            columns[column] = {"sdtype": "numerical"} if series.nunique() > 10 else {"sdtype": "categorical"}
        else:
            columns[column] = {"sdtype": "categorical"}
    real, syn = train.copy(), synthetic[train.columns].copy()
    for column, meta in columns.items():
        if meta["sdtype"] == "categorical":  # one representation on both sides (e.g. 1 vs 1.0)
            real[column] = real[column].astype("string").astype(object)
            syn[column] = syn[column].astype("string").astype(object)
            if pd.api.types.is_numeric_dtype(train[column]):
                real[column] = pd.to_numeric(train[column]).astype("Float64").astype("string").astype(object)
                syn[column] = pd.to_numeric(synthetic[column], errors="coerce").astype("Float64").astype("string").astype(object)
        elif meta["sdtype"] == "numerical":
            syn[column] = pd.to_numeric(syn[column], errors="coerce")
    report = QualityReport()
    report.generate(real, syn, {"columns": columns}, verbose=False)
    return float(report.get_score())


def mostlyai_qa(train: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame, folder: Path,
                name: str) -> dict[str, Any]:
    from mostlyai import qa

    _, metrics = qa.report(syn_tgt_data=synthetic[train.columns], trn_tgt_data=train, hol_tgt_data=holdout,
                           report_path=folder / f"mostlyai-qa-{name}.html")
    return {"accuracy": metrics.accuracy.overall, "accuracy_max": metrics.accuracy.overall_max,
            "dcr_share": metrics.distances.dcr_share,
            "discriminator_auc": metrics.similarity.discriminator_auc_training_synthetic,
            "discriminator_auc_training_holdout": metrics.similarity.discriminator_auc_training_holdout,
            "ims_training": metrics.distances.ims_training, "ims_holdout": metrics.distances.ims_holdout}


def _align(synthetic: pd.DataFrame, train: pd.DataFrame) -> pd.DataFrame:
    """The candidate's columns in the train rows' order and dtypes where they convert cleanly."""
    synthetic = synthetic[[c for c in train.columns]].copy()
    for column in train.columns:
        if synthetic[column].dtype != train[column].dtype:
            try:
                synthetic[column] = synthetic[column].astype(train[column].dtype)
            except (TypeError, ValueError):
                pass
    return synthetic.reset_index(drop=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("split_dir", type=Path)
    parser.add_argument("--skip", default="", help="referees to skip: qa,sdmetrics")
    parser.add_argument("--rescore", default=",".join(CANDIDATES),
                        help="candidates scored anew; the others keep their scores from referees.json (their "
                             "TSTR predictions are recomputed for the bootstrap: same booster, same seed)")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    folder: Path = args.split_dir
    meta = json.loads((folder / "meta.json").read_text())
    label, task, seed = meta["label"], meta["task"], meta["seed"]
    train = pd.read_parquet(folder / "train.parquet")
    holdout = pd.read_parquet(folder / "holdout.parquet")
    positive = sorted(train[label].dropna().astype(str).unique())[-1] if task == "classification" else None
    y = _label_values(holdout[label], task, positive)
    out: dict[str, Any] = {"label": label, "task": task, "positive_class": positive, "candidates": {}}
    started = time.perf_counter()
    trtr_predictions = tstr_predictions(train, holdout, label, task, seed, positive)
    out["trtr"] = _score(y, trtr_predictions, task)
    predictions: dict[str, np.ndarray] = {}
    skip = set(args.skip.split(","))
    rescore = set(args.rescore.split(","))
    previous = json.loads((folder / "referees.json").read_text()) if (folder / "referees.json").exists() else {}
    for name in CANDIDATES:
        path = folder / f"{name}.parquet"
        if not path.exists():
            continue
        if name not in rescore and name in previous.get("candidates", {}):
            synthetic = _align(pd.read_parquet(path), train)
            predictions[name] = tstr_predictions(synthetic, holdout, label, task, seed, positive)
            out["candidates"][name] = previous["candidates"][name]
            continue
        scores: dict[str, Any] = {}
        try:
            synthetic = _align(pd.read_parquet(path), train)
            predictions[name] = tstr_predictions(synthetic, holdout, label, task, seed, positive)
            scores["tstr"] = _score(y, predictions[name], task)
            scores["tstr_trtr"] = scores["tstr"] / out["trtr"] if out["trtr"] else None
            if "sdmetrics" not in skip:
                scores["sdmetrics_quality"] = sdmetrics_quality(train, synthetic)
            if "qa" not in skip:
                scores.update(mostlyai_qa(train, holdout, synthetic, folder, name))
        except Exception as error:  # a referee's failure on one candidate is recorded, the rest go on
            scores["error"] = repr(error)[:500]
        out["candidates"][name] = scores
        print(name, json.dumps(scores), flush=True)
    out["bootstrap"] = {other: bootstrap(y, predictions["ours"], predictions[other], task, seed)
                        for other in CANDIDATES if other != "ours" and other in predictions and "ours" in predictions}
    out["seconds"] = round(time.perf_counter() - started, 1)
    (folder / "referees.json").write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()

"""What a differentially private release promises (issue 18): secret noise, neighbouring datasets that a
reader of the release cannot tell apart by rerunning the pipeline, keyed split, budget ledger, platform key."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from synthcity.utils.serialization import load_from_file

from synth_pipelines.core.differential_privacy import keyed_split
from synth_pipelines.core.platform_key import PlatformKeyError, key_path, keyed_fingerprint, platform_key
from synth_pipelines.core.privacy_ledger import BudgetExceeded, charge, ledger_summary
from synth_pipelines.core.synthesis import generate_rows, train_synthesizer
from synth_pipelines.core.training_view import TrainingViewError, split_holdout, split_view
from synth_pipelines.spec import GeneratorSpec, TrainingViewSpec

DOMAIN = {"amount": {"minimum": 0, "maximum": 20000}, "term": {"values": [12, 24, 36]},
          "purpose": {"values": ["car", "home", "study"]}, "defaulted": {"values": [0, 1]}}


@pytest.fixture
def rows() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 600
    return pd.DataFrame({"amount": np.round(rng.lognormal(8, 0.4, n), 2), "term": rng.choice([12, 24, 36], n),
                         "purpose": rng.choice(["car", "home", "study"], n).astype(object),
                         "defaulted": rng.integers(0, 2, n)})


def release(train: pd.DataFrame, out: Path, seed: int = 0, epsilon: float = 0.1) -> tuple[pd.DataFrame, list]:
    """Train and generate as the pipeline does with the published seed; the rows and the model's noisy tables."""
    generator = GeneratorSpec(plugin="privbayes", seed=seed, epsilon=epsilon, epsilon_limit=10.0, domain=DOMAIN)
    synthesizer = train_synthesizer(train, generator, label="defaulted", categorical={"defaulted"}, out_dir=out)
    generated = generate_rows(synthesizer, rows=500, batch_rows=500, id_prefix="r", out_dir=out / "rows")
    model = load_from_file(synthesizer.model_path).model
    tables = np.concatenate([model.network.get_cpds(c).get_values().ravel() for c in sorted(model.encoders)])
    return pd.read_parquet(generated.path), tables


def test_neighbouring_datasets_cannot_be_told_apart_by_rerunning_with_the_published_seed(rows, tmp_path):
    # D and D' differ in one row (replace-one). The attacker knows every row of D but the last, the
    # published seed and the code, and reruns the pipeline once per candidate: with secret noise
    # neither candidate reproduces the release, so the reproduction attack learns nothing.
    neighbour = rows.copy()
    neighbour.loc[len(rows) - 1, ["amount", "term", "purpose"]] = [19999.0, 12, "study"]
    published, published_tables = release(rows, tmp_path / "release")
    for name, candidate in (("D", rows), ("D'", neighbour)):
        rerun, rerun_tables = release(candidate, tmp_path / f"attack_{name}")
        assert not rerun.drop(columns="synthetic_id").equals(published.drop(columns="synthetic_id")), name
        assert not np.array_equal(rerun_tables, published_tables), name
    # The same rows and seed again: other noise, other release (the seed does not fix the noise).
    again, again_tables = release(rows, tmp_path / "again")
    assert not np.array_equal(again_tables, published_tables)


def test_the_noise_is_not_in_the_saved_model(rows, tmp_path):
    generator = GeneratorSpec(plugin="privbayes", seed=0, epsilon=1.0, epsilon_limit=1.0, domain=DOMAIN)
    synthesizer = train_synthesizer(rows, generator, label="defaulted", categorical={"defaulted"}, out_dir=tmp_path)
    model = load_from_file(synthesizer.model_path)
    assert not hasattr(model.model, "noise") and model.model.mi_cache == {}
    assert synthesizer.privacy["reproducible_from_seed"] is False


def _view_spec(**fields) -> TrainingViewSpec:
    return TrainingViewSpec(entity_key="id", label="label", sql="SELECT 1", **fields)


def test_keyed_split_moves_only_the_changed_person():
    rng = np.random.default_rng(1)
    view = pd.DataFrame({"id": np.arange(3000), "x": rng.normal(size=3000), "label": rng.integers(0, 2, 3000)})
    flipped = view.copy()
    flipped.loc[17, "label"] = 1 - flipped.loc[17, "label"]
    spec = _view_spec(holdout_fraction=0.2)

    def moved(split_of) -> int:
        before, after = split_of(view), split_of(flipped)
        return len(set(before.holdout["id"]) ^ set(after.holdout["id"]))

    assert moved(lambda v: keyed_split(v, spec, "people")) == 0
    assert moved(lambda v: split_holdout(v, spec, seed=0)) > 100  # stratified: one label moves hundreds
    split = keyed_split(view, spec, "people")
    assert 0.17 < len(split.holdout) / len(view) < 0.23
    assert len(split.train) + len(split.holdout) == len(view)


def test_validate_preview_and_run_share_the_dp_split():
    """split_view is what validate, preview and the holdout_split asset call: under DP it is the keyed
    split, not the seeded one, and a side left empty by the keyed draws is an error, not an empty holdout."""
    rng = np.random.default_rng(2)
    view = pd.DataFrame({"id": np.arange(500), "x": rng.normal(size=500), "label": rng.integers(0, 2, 500)})
    spec = _view_spec(holdout_fraction=0.2)
    dp = GeneratorSpec(plugin="privbayes", seed=0, epsilon=1.0, epsilon_limit=1.0, domain=DOMAIN)
    shared, keyed = split_view(view, spec, dp, "people"), keyed_split(view, spec, "people")
    pd.testing.assert_frame_equal(shared.holdout, keyed.holdout)
    seeded = split_view(view, spec, GeneratorSpec(seed=0), "people")
    pd.testing.assert_frame_equal(seeded.holdout, split_holdout(view, spec, seed=0).holdout)
    with pytest.raises(TrainingViewError, match="too few to split"):
        split_view(view.head(1), spec, dp, "people")  # one keyed draw: one side is always empty


def test_budget_is_accounted_across_releases_and_refused_past_the_limit(tmp_path):
    charge(tmp_path, "loans", epsilon=1.0, limit=2.5, release="features_v1", snapshot_id="2026-12-01")
    second = charge(tmp_path, "loans", epsilon=1.0, limit=2.5, release="features_v1", snapshot_id="2026-12-02")
    assert (second["spent_before"], second["spent_after"]) == (1.0, 2.0)
    with pytest.raises(BudgetExceeded, match=r"generator.epsilon_limit: dataset 'loans' has spent epsilon 2 over "
                                             r"2 trained releases; this run needs 1 more, which passes the limit 2.5"):
        charge(tmp_path, "loans", epsilon=1.0, limit=2.5, release="features_v1", snapshot_id="2026-12-03")
    summary = ledger_summary(tmp_path, "loans", limit=2.5, entry_id=second["id"])
    assert summary["epsilon_spent_total"] == 2.0 and len(summary["entries"]) == 2
    assert summary["this_release_entry"] == second["id"]
    assert ledger_summary(tmp_path, "other", limit=1.0)["epsilon_spent_total"] == 0.0


def test_platform_key_is_private_and_keys_the_fingerprints(tmp_path, monkeypatch):
    key = platform_key()
    assert len(key) == 32 and oct(key_path().stat().st_mode & 0o777) == "0o600"
    digest = hashlib.sha256(b"rows").hexdigest()
    keyed = keyed_fingerprint(digest, "snapshot")
    assert keyed.startswith("hmac-sha256:") and digest not in keyed
    assert keyed == keyed_fingerprint(digest, "snapshot") != keyed_fingerprint(digest, "table:loans")
    monkeypatch.setenv("SYNTH_PIPELINES_PLATFORM_KEY_FILE", str(tmp_path / "other.key"))
    assert keyed_fingerprint(digest, "snapshot") != keyed  # another platform's key: another fingerprint
    os.chmod(key_path(), 0o644)
    with pytest.raises(PlatformKeyError, match="readable by others"):
        platform_key()

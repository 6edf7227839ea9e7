"""QA of many synthetic rows without holding them (parts.py): the checks that read every row give, chunk by
chunk, exactly what they give on all rows at once, planted defects included; the sample is uniform and
reproducible."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from synth_pipelines.core.quality import QAThresholds, run_quality
from synth_pipelines.core.quality.parts import SyntheticParts
from synth_pipelines.core.synthesis import fit_codecs

WHOLE_ROW = ("great_expectations", "privacy_exact_copies")


def _rows(rng: np.random.Generator, n: int) -> pd.DataFrame:
    return pd.DataFrame({"amount": np.round(rng.gamma(2, 500, n), 2), "term": rng.integers(6, 60, n),
                         "purpose": rng.choice(["car", "home", "study", "rare"], n, p=[.4, .4, .19, .01]).astype(object),
                         "label": rng.choice(["yes", "no"], n).astype(object)})


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    rng = np.random.default_rng(11)
    train, holdout = _rows(rng, 600), _rows(rng, 300)
    synthetic = _rows(rng, 3000)
    # 4% verbatim train rows: Fisher's exact test against the 300 holdout rows' 0 copies allows 2.3% (at 2%
    # 300 real rows cannot tell them from real rows that repeat, privacy.exact_share_limit)
    synthetic.loc[300:419, :] = train.iloc[:120].to_numpy()
    synthetic.loc[100:129, "purpose"] = "unheard_of"  # 1% values the real rows never had
    synthetic.loc[200:259, "amount"] = 1e7  # 2% far out of range
    synthetic["synthetic_id"] = [f"s{i}" for i in range(len(synthetic))]
    synthetic.loc[2999, "synthetic_id"] = "s5"  # a key repeated across parts
    folder = tmp_path_factory.mktemp("parts")
    files = []
    for number, start in enumerate(range(0, 3000, 1000)):  # three parts of two chunks each
        files.append(folder / f"part-{number:05d}.parquet")
        synthetic.iloc[start:start + 1000].to_parquet(files[-1], row_group_size=500)
    return train, holdout, synthetic, SyntheticParts(tuple(files), chunk_rows=500)


def test_whole_row_checks_in_chunks_equal_one_pass_over_all_rows(planted):
    train, holdout, synthetic, parts = planted
    codecs = fit_codecs(train, {"purpose", "label"})
    t = QAThresholds(discriminator_rows=300, phik_rows=300, report_max_pairs=1, sample_rows=1000)
    checks = [*WHOLE_ROW, "diversity"]
    at_once = run_quality(train, holdout, synthetic, codecs, "label", "classification", t, checks=checks)
    sample = parts.sample(t.sample_rows, t.seed)
    chunked = run_quality(train, holdout, sample, codecs, "label", "classification", t, checks=checks,
                          all_rows=parts)
    assert chunked.settings["rows"]["synthetic"] == 3000 and chunked.settings["sample"]["rows"] == 1000
    for name in WHOLE_ROW:
        a, b = at_once.check(name), chunked.check(name)
        assert [(m.name, m.value, m.passed) for m in a.metrics] == [(m.name, m.value, m.passed) for m in b.metrics]
    ge = chunked.check("great_expectations").metrics[0].details
    failed = {(f["expectation"], f["column"]): f["unexpected_count"] for f in ge["failures"]}
    assert failed == {(f["expectation"], f["column"]): f["unexpected_count"]
                      for f in at_once.check("great_expectations").metrics[0].details["failures"]}
    assert failed[("expect_column_values_to_be_unique", "synthetic_id")] == 2  # found across parts
    assert ("expect_column_values_to_be_in_set", "purpose") in failed and ("expect_column_values_to_be_between",
                                                                          "amount") in failed
    assert not chunked.check("privacy_exact_copies").passed  # 4% copies, none among the holdout rows
    coverage = {m.name: m.value for m in chunked.check("diversity").metrics if m.name.endswith("coverage")}
    assert coverage == {m.name: m.value for m in at_once.check("diversity").metrics if m.name.endswith("coverage")}


def test_the_sample_is_uniform_reproducible_and_read_in_chunks(planted):
    _, _, synthetic, parts = planted
    first, again = parts.sample(1000, 3), parts.sample(1000, 3)
    pd.testing.assert_frame_equal(first, again)
    assert len(first) == 1000 and first["synthetic_id"].nunique() >= 999
    # Every part about in proportion: 333 of each, +- 4 standard errors (about 15 each)
    counts = np.bincount(np.minimum(first["synthetic_id"].str[1:].astype(int) // 1000, 2), minlength=3)
    assert all(abs(c - 333) < 60 for c in counts), counts
    assert parts.rows == 3000 and len(parts.sample(5000, 3)) == 3000  # fewer rows than asked: all of them

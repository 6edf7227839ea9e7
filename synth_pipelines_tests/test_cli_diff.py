"""`synth-pipelines diff RELEASE_A RELEASE_B` over real release folders made by the local publisher."""

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from synth_pipelines.cli import main
from synth_pipelines.console import ExitCode
from synth_pipelines.core.publish import publish_local
from synth_pipelines_tests.test_cli_releases import published_manifest

A, B = "demo_loans/features_v1/snapshot=2026-10-01", "demo_loans/features_v1/snapshot=2026-11-01"


@pytest.fixture
def two_releases(tmp_path, demo_spec_data, write_spec, storage_home):
    """Two snapshots of one dataset: in the second, `amount` doubled; `segment` is unchanged."""
    from synth_pipelines.spec import load_spec

    spec_path = write_spec(demo_spec_data)
    loaded = load_spec(spec_path)
    rng = np.random.default_rng(0)
    for snapshot_id, scale, dcr in (("2026-10-01", 1.0, 0.5), ("2026-11-01", 2.0, 0.55)):
        rows = pd.DataFrame({"synthetic_id": [f"{snapshot_id}-{i}" for i in range(400)],
                             "amount": rng.lognormal(8, 0.5, 400) * scale,
                             "segment": rng.choice(["a", "b"], 400).astype(object)})
        features = tmp_path / f"{snapshot_id}.parquet"
        rows.to_parquet(features)
        manifest = published_manifest(loaded, snapshot_id, features)
        manifest["qa"] = {"checks": [{"name": "privacy_dcr", "metrics": [{"name": "dcr_share", "value": dcr}]}]}
        publish_local(features_path=features, attachments=[], manifest=manifest, root=storage_home / "releases",
                      dataset="demo_loans", release_name="features_v1", snapshot_id=snapshot_id, rows=len(rows))
    return spec_path


def test_diff_json_names_the_moved_column_and_the_qa_change(two_releases):
    result = CliRunner().invoke(main, ["diff", A, B, "--spec", str(two_releases), "--json"])
    assert result.exit_code == ExitCode.OK, result.output
    document = json.loads(result.stdout)
    assert document["a"] == A and document["b"] == B
    assert document["moved"]["columns"] == ["amount"] and document["moved_most"][0] == "amount"
    assert document["column_distance"]["segment"] < 0.1
    assert document["qa"] == [{"check": "privacy_dcr", "metric": "dcr_share", "a": 0.5, "b": 0.55, "change": 0.05}]


def test_diff_prints_a_table_and_an_unknown_release_is_one_line(two_releases):
    result = CliRunner().invoke(main, ["diff", A, B, "--spec", str(two_releases)])
    assert result.exit_code == ExitCode.OK, result.output
    assert any(line.split("\t")[0].strip() == "amount" and line.endswith("MOVED") for line in result.stdout.splitlines())
    assert "privacy_dcr.dcr_share\t0.5 -> 0.55" in result.stdout
    missing = CliRunner().invoke(main, ["diff", A, "demo_loans/features_v9", "--spec", str(two_releases)])
    assert missing.exit_code == ExitCode.INVALID_INPUT and "Traceback" not in missing.output
    assert "no release 'demo_loans/features_v9'" in missing.stderr

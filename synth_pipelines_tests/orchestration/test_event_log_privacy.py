"""No real row reaches the Dagster event log (issue 14): everyone with UI access reads it, and in
production it is kept for good. The demo is materialized into a real SQLite-backed instance in a
temporary DAGSTER_HOME, then every file of that instance is scanned for real values of the source."""

import sqlite3

import dagster as dg
import pytest

from synth_pipelines.orchestration.resources import MIN_CATEGORY_ROWS, SynthStorage, real_frame_metadata
from synth_pipelines.orchestration.runner import materialize_dataset
from synth_pipelines.spec import load_spec

pytestmark = pytest.mark.slow


def test_real_row_metadata_is_aggregate_only():
    import pandas as pd
    frame = pd.DataFrame({"key": [f"K{i}" for i in range(30)], "city": ["Oslo"] * 25 + ["Tiny"] * 5,
                          "income": [float(i) for i in range(30)]})
    metadata = real_frame_metadata(frame, entity_key="key")
    assert "preview" not in metadata
    assert metadata["dagster/row_count"].value == 30
    counts = metadata["category_counts"].value
    assert counts == {"city": {"Oslo": 25, f"(values held by fewer than {MIN_CATEGORY_ROWS} rows)": 5}}
    assert "K0" not in str({k: v.value for k, v in metadata.items() if k != "dagster/column_schema"})


def test_materialized_demo_leaves_no_real_value_in_the_instance(demo_spec_data, demo_db, write_spec, tmp_path,
                                                                storage_home, monkeypatch):
    # Entity keys that cannot occur by chance in the instance's files: LN9400001, LN9400002, ...
    demo_spec_data["training_view"]["sql"] = demo_spec_data["training_view"]["sql"].replace(
        "l.loan_id,", "'LN' || CAST(l.loan_id + 9400000 AS VARCHAR) AS loan_id,", 1)
    loaded = load_spec(write_spec(demo_spec_data))
    home = tmp_path / "dagster_home"
    home.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with dg.DagsterInstance.get() as instance:
        assert not instance.is_ephemeral
        outcome = materialize_dataset(loaded, instance, SynthStorage(root=str(storage_home)))
        assert outcome.success, outcome.error or outcome.failed_checks
        records = instance.fetch_materializations(dg.AssetKey(["demo_loans", "train_rows"]), limit=1).records
        assert records and "category_counts" in records[0].asset_materialization.metadata

    with sqlite3.connect(demo_db) as source:
        people = source.execute("SELECT full_name, email, phone FROM customers").fetchall()
        loans = [row[0] for row in source.execute("SELECT loan_id FROM loans")]
    real = {f"LN{loan + 9400000}" for loan in loans}
    real |= {value for person in people for value in person if value and len(str(value)) >= 6}
    files = [path for path in home.rglob("*") if path.is_file()]
    assert any(path.suffix == ".db" for path in files), [str(p) for p in files]
    blob = b"\n".join(path.read_bytes() for path in files).decode("utf-8", errors="replace")
    assert "category_counts" in blob and "synthetic_id" in blob  # the scan reads the event log's metadata
    found = sorted(value for value in real if str(value) in blob)
    assert not found, f"{len(found)} real values in the Dagster instance, e.g. {found[:5]}"

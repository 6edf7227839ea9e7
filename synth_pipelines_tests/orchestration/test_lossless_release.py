"""Issue 13: a DECIMAL column of the view reaches the release with its type and scale (it was a
float with as many decimals as the generator made), through the real Dagster job."""

from decimal import Decimal

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from synth_pipelines.orchestration.resources import SynthStorage
from synth_pipelines.orchestration.runner import materialize_dataset
from synth_pipelines.spec import load_spec

pytestmark = pytest.mark.slow
DAY = "2026-11-22"


def test_a_decimal_column_is_published_as_decimal(demo_spec_data, write_spec, storage_home):
    view = demo_spec_data["training_view"]
    assert "l.amount," in view["sql"]
    view["sql"] = view["sql"].replace("l.amount,", "CAST(l.amount AS DECIMAL(12, 2)) AS amount,", 1)
    loaded = load_spec(write_spec(demo_spec_data))
    storage = SynthStorage(root=str(storage_home))
    with dg.instance_for_test() as instance:
        outcome = materialize_dataset(loaded, instance, storage, partition_key=DAY)
    assert outcome.release, (outcome.error, outcome.failed_checks, outcome.gate)
    data = pq.read_table(storage_home / "releases" / "demo_loans" / "features_v1" / f"snapshot={DAY}" / "data"
                         / "part-00000.parquet")
    assert data.schema.field("amount").type == pa.decimal128(12, 2)
    amounts = data.column("amount").to_pylist()
    assert all(a is None or a == a.quantize(Decimal("0.01")) for a in amounts)
    assert pa.types.is_floating(data.schema.field("debt_to_income").type)  # computed from the amount

"""Where each feature column comes from: descriptions and input columns for the UI's column lineage."""

from synth_pipelines.core.column_origins import expression_inputs, feature_origins
from synth_pipelines.spec import FeaturesSpec


def test_expression_inputs_come_from_duckdbs_parser():
    assert expression_inputs("round(amount / nullif(annual_income, 0), 4)") == ("amount", "annual_income")
    assert expression_inputs("CASE WHEN \"age at start\" < 18 THEN 'amount' ELSE t.tier END") == ("age at start", "tier")
    assert expression_inputs("42") == ()


def test_each_column_is_synthesized_calculated_masked_or_the_row_id():
    features = FeaturesSpec.model_validate({
        "calculated_columns": [{"name": "band", "expression": "CASE WHEN age < 35 THEN 'young' ELSE 'old' END"}],
        "masked_columns": [{"name": "email", "faker": "email"},
                           {"name": "customer_ref", "faker": "user_name", "consistent_on": "customer_id"}]})
    origins = {o.name: o for o in feature_origins(["synthetic_id", "customer_id", "age", "band", "email",
                                                   "customer_ref"], features, "cart")}
    assert {n: o.origin for n, o in origins.items()} == {
        "synthetic_id": "row_id", "customer_id": "synthesized", "age": "synthesized", "band": "calculated",
        "email": "masked", "customer_ref": "masked"}
    assert origins["band"].inputs == ("age",) and origins["age"].inputs == ("age",)
    assert origins["email"].inputs == () and "random per row" in origins["email"].description
    assert origins["customer_ref"].inputs == ("customer_id",)
    assert "same value for the same customer_id" in origins["customer_ref"].description
    assert origins["synthetic_id"].inputs == () and "cart" in origins["age"].description

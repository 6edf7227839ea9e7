"""What the UI shows (issue 14), read back from the instance after materializing the demo in-process:
check descriptions, a verdict table per check result, the QA report of each run kept and linked (an http
link a browser opens from the UI, served by the report server), column schema with descriptions and
column lineage on the synthetic and published assets, no pickled object's path beside the release."""

import hashlib
import threading
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

import dagster as dg
import pytest
import yaml

from synth_pipelines.core.quality.thresholds import ASSET_CHECK_NAMES, RELEASE_REGRESSION
from synth_pipelines.core.report_links import report_server
from synth_pipelines.orchestration.code_location import build_definitions
from synth_pipelines.orchestration.factory import today_partition
from synth_pipelines.orchestration.resources import ORIGIN_TAG, SynthStorage
from synth_pipelines.orchestration.runner import materialize_dataset, publish_partition
from synth_pipelines.spec import load_spec
from synth_pipelines_tests.conftest import shipped_demo_data, with_fast_generator

pytestmark = pytest.mark.slow
NAME = "demo_loans"


def key(stage: str) -> dg.AssetKey:
    return dg.AssetKey([NAME, stage])


@pytest.fixture(scope="module")
def demo(demo_db, tmp_path_factory):
    """The demo materialized and published once, then its QA checks run again in a second run; the storage
    served by the report server (`synth-pipelines reports serve`) on a free port, as `make dev` does."""
    folder = tmp_path_factory.mktemp("ui_metadata")
    spec_path = folder / "demo_loans.yaml"
    spec_path.write_text(yaml.safe_dump(with_fast_generator(shipped_demo_data(demo_db)), sort_keys=False))
    (folder / "home").mkdir()
    server = report_server(folder / "home", port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with pytest.MonkeyPatch.context() as env, dg.instance_for_test() as instance, server:
        env.setenv("SYNTH_PIPELINES_HOME", str(folder / "home"))
        loaded = load_spec(spec_path)
        storage = SynthStorage(root=str(folder / "home"), reports_url=f"http://127.0.0.1:{server.server_port}")
        partition = today_partition(loaded)
        first = materialize_dataset(loaded, instance, storage, partition_key=partition, publish=False)
        assert first.error is None and not first.failed_checks, (first.error, first.failed_checks)  # QA'd
        published = publish_partition(loaded, instance, storage, partition_key=partition)
        assert published.success, (published.error, published.gate)
        reports = {path: hashlib.sha256(path.read_bytes()).hexdigest() for path in report_files(instance, first.run_id)}
        rerun = build_definitions([loaded], storage).resolve_job_def(f"{NAME}_refresh").execute_in_process(
            instance=instance, partition_key=partition, asset_selection=[key("synthetic_features")])
        assert rerun.success
        yield {"instance": instance, "defs": build_definitions([loaded], storage), "first": first.run_id,
               "rerun": rerun.run_id, "first_reports": reports}
        server.shutdown()


def check_evaluations(instance: dg.DagsterInstance, run_id: str) -> dict[str, dict]:
    events = instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
    return {e.dagster_event.event_specific_data.check_name: e.dagster_event.event_specific_data.metadata
            for e in events}


def report_files(instance: dg.DagsterInstance, run_id: str) -> set[Path]:
    """The HTML, PDF and JSON report files the run's QA check results link to (release_regression writes none)."""
    files = set()
    for name, metadata in check_evaluations(instance, run_id).items():
        if name == RELEASE_REGRESSION:
            continue
        files |= {Path(metadata[kind].value) for kind in ("report_html", "report_pdf", "report_json")}
    return files


def opened(link: dg.MetadataValue) -> tuple[str, str]:
    """What a browser gets for a link in the UI: an http(s) GET, answered with its content type and body."""
    assert isinstance(link, dg.UrlMetadataValue) and urlparse(link.value).scheme in ("http", "https"), link
    with urllib.request.urlopen(link.value, timeout=30) as response:
        return response.headers.get_content_type(), response.read().decode()


def materialization(instance: dg.DagsterInstance, stage: str) -> dict:
    [record] = instance.fetch_materializations(key(stage), limit=1).records
    return record.asset_materialization.metadata


def test_every_check_has_a_description(demo):
    graph = demo["defs"].resolve_asset_graph()
    descriptions = {k.name: graph.get_check_spec(k).description for k in graph.asset_check_keys}
    assert set(descriptions) == set(ASSET_CHECK_NAMES) and all(len(d or "") > 40 for d in descriptions.values())


def test_check_results_carry_a_markdown_verdict_table(demo):
    evaluations = check_evaluations(demo["instance"], demo["first"])
    assert set(evaluations) == set(ASSET_CHECK_NAMES)
    for name, metadata in evaluations.items():
        table = metadata["verdict"].value
        assert isinstance(metadata["verdict"], dg.MarkdownMetadataValue)
        assert table.startswith(f"**{name}: "), table
        if "| metric | value | threshold | verdict |" in table:
            assert len(table.splitlines()) <= 12, table  # short: the gated metrics only
    assert "| dcr_share |" in evaluations["privacy_dcr"]["verdict"].value


def test_a_rerun_keeps_the_report_an_earlier_result_links_to(demo):
    first, rerun = report_files(demo["instance"], demo["first"]), report_files(demo["instance"], demo["rerun"])
    assert len(first) == len(rerun) == 3 and not first & rerun
    assert all(demo["first"] in str(path) for path in first) and all(demo["rerun"] in str(path) for path in rerun)
    for path, digest in demo["first_reports"].items():  # still there, unchanged
        assert hashlib.sha256(path.read_bytes()).hexdigest() == digest

def test_each_result_links_the_report_of_its_own_run_and_the_link_opens(demo):
    for run in ("first", "rerun"):
        for name, metadata in check_evaluations(demo["instance"], demo[run]).items():
            if name == RELEASE_REGRESSION:
                continue
            kind, page = opened(metadata["qa_report"])
            assert kind == "text/html" and page == Path(metadata["report_html"].value).read_text(), name
            assert demo[run] in metadata["qa_report"].value
            kind, docs = opened(metadata["data_docs"])  # GX Data Docs, linked too
            assert kind == "text/html" and "<html" in docs.lower()


def schema_and_lineage(instance: dg.DagsterInstance, stage: str) -> tuple[dict, dict]:
    metadata = materialization(instance, stage)
    columns = {c.name: c for c in metadata["dagster/column_schema"].value.columns}
    lineage = {column: {(dep.asset_key.path[-1], dep.column_name) for dep in deps}
               for column, deps in metadata["dagster/column_lineage"].value.deps_by_column.items()}
    return columns, lineage


def test_synthetic_rows_columns_come_from_the_train_rows(demo):
    columns, lineage = schema_and_lineage(demo["instance"], "synthetic_rows")
    assert all(c.description for c in columns.values())
    assert columns["synthetic_id"].tags[ORIGIN_TAG] == "row_id" and "synthetic_id" not in lineage
    assert lineage["annual_income"] == {("train_rows", "annual_income")}
    assert columns["annual_income"].tags[ORIGIN_TAG] == "synthesized"


def test_synthetic_features_show_calculated_inputs_and_masked_columns(demo):
    columns, lineage = schema_and_lineage(demo["instance"], "synthetic_features")
    assert all(c.description for c in columns.values())
    assert lineage["age_band"] == {("synthetic_rows", "age_at_application")}
    assert lineage["debt_to_income"] == {("synthetic_rows", "amount"), ("synthetic_rows", "annual_income")}
    assert columns["debt_to_income"].tags[ORIGIN_TAG] == "calculated"
    assert "round(amount / nullif(annual_income, 0), 4)" in columns["debt_to_income"].description
    for masked in ("applicant_name", "applicant_email"):
        assert columns[masked].tags[ORIGIN_TAG] == "masked" and masked not in lineage  # random per row
        assert columns[masked].description.startswith("Masked: a Faker")
    assert lineage["amount"] == {("synthetic_rows", "amount")}


def test_no_stage_shows_the_io_managers_pickle(demo):
    """Each stage's materialization names where its data is (`location`), never the file its descriptor
    was pickled to for the next step (Dagster's IO managers add it as `path`, or `uri` in a bucket)."""
    stages = [key.path[-1] for key in demo["defs"].resolve_asset_graph().get_all_asset_keys()]
    assert len(stages) == 8
    for stage in stages:
        metadata = materialization(demo["instance"], stage)
        assert not {"path", "uri"} & set(metadata), stage
        assert "/io/" not in str({k: v.value for k, v in metadata.items() if not k.startswith("dagster/column")}), stage
        if stage != "synthesizer":  # the model names its files under model_path
            assert "location" in metadata, stage


def test_the_release_shows_its_columns_and_no_pickled_object(demo):
    metadata = materialization(demo["instance"], "published_features")
    assert set(metadata) == {"release", "location", "dagster/row_count", "manifest", "qa_report", "spec_hash",
                             "dagster/column_schema", "dagster/column_lineage"}
    assert "/io/" not in str({k: v.value for k, v in metadata.items() if not k.startswith("dagster/column")})
    columns, lineage = schema_and_lineage(demo["instance"], "published_features")
    features, _ = schema_and_lineage(demo["instance"], "synthetic_features")
    assert set(columns) == set(features) == set(lineage)
    assert all(lineage[name] == {("synthetic_features", name)} for name in columns)
    assert columns["applicant_name"].tags[ORIGIN_TAG] == "masked"

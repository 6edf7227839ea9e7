"""`synth-pipelines validate`: OK lines and exit 0 for good specs, file/field/fix lines and exit 2 otherwise."""

from __future__ import annotations

import copy
import sqlite3
import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from synth_pipelines.cli import main
from synth_pipelines.console import ExitCode

WriteSpec = Callable[[dict[str, Any], str], Path]


def validate(*args: str | Path) -> Result:
    return CliRunner().invoke(main, ["validate", *map(str, args)], catch_exceptions=False)


def test_good_spec(demo_spec_data: dict[str, Any], write_spec: WriteSpec, demo_db: Path) -> None:
    before = hashlib.sha256(demo_db.read_bytes()).hexdigest()
    path = write_spec(demo_spec_data, "demo.yaml")
    result = validate(path)
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"OK {path}: demo_loans v1; source rows ")
    assert "customers=1500" in result.output
    ok_line = result.output.splitlines()[0]
    assert "feature columns:" in ok_line and "debt_to_income" in ok_line
    assert "collection_date" not in ok_line  # leakage columns are not features
    # The train rows' assessment follows: size, kinds, estimate, the excluded leakage columns with their reason.
    assert "assessment: 1440 train rows x 19 columns: product_type (category, 5 levels)" in result.output
    assert "estimate for 'bayesian_network'" in result.output and "MB" in result.output
    assert "excluded (leakage_columns): collection_date: set only after a loan defaults" in result.output
    assert "no findings" in result.output
    assert "INVALID" not in result.output
    assert hashlib.sha256(demo_db.read_bytes()).hexdigest() == before


def test_bad_spec_against_source(demo_spec_data: dict[str, Any], write_spec: WriteSpec) -> None:
    data = copy.deepcopy(demo_spec_data)
    data["training_view"]["label"] = "is_default"
    path = write_spec(data, "bad.yaml")
    result = validate(path)
    assert result.exit_code == ExitCode.INVALID_INPUT
    assert f"INVALID {path}: training_view.label: " in result.output
    assert "'is_default'" in result.output
    assert "Fix: select it in training_view.sql" in result.output
    assert "OK " not in result.output
    assert "Traceback" not in result.output


def test_assessment_findings(demo_spec_data: dict[str, Any], write_spec: WriteSpec) -> None:
    data = copy.deepcopy(demo_spec_data)
    data["training_view"]["leakage_columns"] = []  # the post-outcome columns reach the train rows
    result = validate(write_spec(data, "leaky.yaml"))
    assert result.exit_code == 0, result.output  # warnings do not fail validation
    assert "WARNING: training_view.leakage_columns: column 'collection_date' is set only in rows" in result.output

    data["training_view"]["sql"] = data["training_view"]["sql"].replace(
        "l.loan_id,", "l.loan_id, 'ref-' || CAST(l.loan_id AS VARCHAR) AS reference,", 1)
    path = write_spec(data, "identifier.yaml")
    result = validate(path)
    assert result.exit_code == ExitCode.INVALID_INPUT
    assert f"INVALID {path}: training_view.sql: column 'reference' is identifier-like" in result.stderr
    assert "Fix: exclude it" in result.stderr


def test_bad_spec_file(demo_spec_data: dict[str, Any], write_spec: WriteSpec) -> None:
    data = copy.deepcopy(demo_spec_data)
    data["generator"]["plugin"] = "tvea"
    path = write_spec(data, "bad.yaml")
    result = validate(path)
    assert result.exit_code == ExitCode.INVALID_INPUT
    assert f"INVALID {path}: generator.plugin: unknown synthcity plugin 'tvea'. Fix: use one of:" in result.output


def test_bad_spec_goes_to_stderr(demo_spec_data: dict[str, Any], write_spec: WriteSpec) -> None:
    data = copy.deepcopy(demo_spec_data)
    data["synthetic"]["rows"] = 0
    path = write_spec(data, "bad.yaml")
    result = validate(path)
    assert result.exit_code == ExitCode.INVALID_INPUT
    assert f"INVALID {path}: synthetic.rows: " in result.stderr
    assert result.stdout == ""


def test_missing_spec_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    result = validate(path)
    assert result.exit_code == ExitCode.INVALID_INPUT
    assert f"INVALID {path}: spec file not found. Fix:" in result.output


def test_every_spec_is_reported(demo_spec_data: dict[str, Any], write_spec: WriteSpec) -> None:
    good = write_spec(demo_spec_data, "good.yaml")
    data = copy.deepcopy(demo_spec_data)
    data["features"]["drop_columns"] = ["nonexistent"]
    bad = write_spec(data, "bad.yaml")
    result = validate(bad, good)
    assert result.exit_code == ExitCode.INVALID_INPUT
    assert f"INVALID {bad}: features.drop_columns[0]: " in result.output
    assert f"OK {good}: demo_loans v1" in result.output


def test_unreachable_source_hides_the_password(demo_spec_data: dict[str, Any], write_spec: WriteSpec) -> None:
    pytest.importorskip("psycopg2")
    data = copy.deepcopy(demo_spec_data)
    data["source"]["url"] = "postgresql+psycopg2://nobody:s3cret@127.0.0.1:1/none"
    result = validate(write_spec(data, "pg.yaml"))
    assert result.exit_code == ExitCode.INVALID_INPUT
    assert "source.url: cannot read the source database" in result.output
    assert "s3cret" not in result.output


def test_offline_does_not_touch_the_database(demo_spec_data: dict[str, Any], write_spec: WriteSpec,
                                             tmp_path: Path) -> None:
    missing = tmp_path / "not_there" / "bank.sqlite"
    data = copy.deepcopy(demo_spec_data)
    data["source"]["url"] = f"sqlite:///{missing}"
    path = write_spec(data, "offline.yaml")

    result = validate("--offline", path)
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"OK {path}: demo_loans v1 (file only)"
    assert not missing.exists() and not missing.parent.exists()

    # Without --offline the same spec fails on the source.
    online = validate(path)
    assert online.exit_code == ExitCode.INVALID_INPUT
    assert f"INVALID {path}: source.url: cannot read the source database" in online.output
    assert not missing.exists()


def test_offline_does_not_read_the_view_sql(demo_spec_data: dict[str, Any], write_spec: WriteSpec,
                                            tmp_path: Path) -> None:
    data = copy.deepcopy(demo_spec_data)
    data["source"]["url"] = f"sqlite:///{tmp_path / 'missing.sqlite'}"
    data["training_view"]["sql"] = "SELEC nothing"  # only checked against the source
    result = validate("--offline", write_spec(data, "offline.yaml"))
    assert result.exit_code == 0, result.output


def test_offline_still_checks_the_file(demo_spec_data: dict[str, Any], write_spec: WriteSpec) -> None:
    data = copy.deepcopy(demo_spec_data)
    data["source"]["url"] = "not a url"
    path = write_spec(data, "offline.yaml")
    result = validate("--offline", path)
    assert result.exit_code == ExitCode.INVALID_INPUT
    assert f"INVALID {path}: source.url: not a SQLAlchemy URL. Fix: " in result.output


def test_shipped_demo_spec_offline() -> None:
    from synth_pipelines.cli import DEMO_SPEC

    result = validate("--offline", DEMO_SPEC)
    assert result.exit_code == 0, result.output
    assert "demo_loans v1 (file only)" in result.output


def test_validate_needs_a_spec() -> None:
    result = CliRunner().invoke(main, ["validate"])
    assert result.exit_code == 2
    assert "Missing argument" in result.output


# Issue 13: a spec's SQL sees its own snapshot tables and nothing else, in `validate` as everywhere.
_PASSWD = "(SELECT string_agg(column0, '|') FROM read_csv('/etc/passwd', header=false, sep='\t')) AS leak"


@pytest.mark.parametrize(("field", "sql", "message"), [
    ("sql", "SELECT {passwd}, * FROM loans", "file system operations are disabled"),
    ("sql", "COPY (SELECT 'x') TO '{source}' (FORMAT csv); SELECT * FROM loans", "holds 2 statements"),
    ("sql", "COPY (SELECT 'x') TO '{elsewhere}' (FORMAT csv)", "a COPY statement is not allowed"),
    ("sql", "SELECT * FROM read_parquet('{home}/snapshots/*/*/*.parquet')", "file system operations are disabled"),
    ("sql", "INSTALL httpfs", "a LOAD statement is not allowed"),
    ("sql", "ATTACH '{source}' AS src (TYPE sqlite)", "a ATTACH statement is not allowed"),
    ("sql", "SELECT * FROM sqlite_scan('{source}', 'loans')", "sqlite_scan"),
    ("holdout_sql", "SELECT {passwd}, * FROM loans", "file system operations are disabled"),
    ("holdout_sql", "EXPORT DATABASE '{elsewhere}'", "a EXPORT statement is not allowed"),
    ("holdout_sql", "SELECT * FROM loans; COPY (SELECT 1) TO '{source}'", "holds 2 statements"),
])
def test_view_sql_escapes_are_refused(field: str, sql: str, message: str, demo_spec_data: dict[str, Any],
                                      write_spec: WriteSpec, demo_db: Path, tmp_path: Path,
                                      storage_home: Path) -> None:
    source = tmp_path / "source.sqlite"
    source.write_bytes(demo_db.read_bytes())  # a copy: an escape must not be able to hurt the shared one
    before = hashlib.sha256(source.read_bytes()).hexdigest()
    other = storage_home / "snapshots" / "other_dataset" / "2026-01-01"
    other.mkdir(parents=True)
    (other / "loans.parquet").write_bytes(b"another dataset's rows")
    elsewhere = tmp_path / "written_elsewhere"
    data = copy.deepcopy(demo_spec_data)
    data["source"]["url"] = f"sqlite:///{source}"
    data["training_view"][field] = sql.format(passwd=_PASSWD, source=source, elsewhere=elsewhere, home=storage_home)
    path = write_spec(data, "escape.yaml")
    result = validate(path)
    assert result.exit_code == ExitCode.INVALID_INPUT, result.output
    assert f"INVALID {path}: training_view.{field}: " in result.stderr
    assert message in result.stderr
    assert "Fix: " in result.stderr
    assert "root:" not in result.output and "Traceback" not in result.output
    assert hashlib.sha256(source.read_bytes()).hexdigest() == before
    assert not elsewhere.exists()


def test_calculated_column_escape_is_refused(demo_spec_data: dict[str, Any], write_spec: WriteSpec) -> None:
    data = copy.deepcopy(demo_spec_data)
    data["features"]["calculated_columns"] = [{"name": "leak", "expression": _PASSWD.removesuffix(" AS leak")}]
    path = write_spec(data, "escape.yaml")
    result = validate(path)
    assert result.exit_code == ExitCode.INVALID_INPUT, result.output
    assert f"INVALID {path}: features.calculated_columns[0].expression: " in result.stderr
    assert "file system operations are disabled" in result.stderr


# Issue 13: bad input that got a traceback or failed late is an error at `validate` naming file, field and fix.
def _sql(data: dict[str, Any], old: str, new: str) -> None:
    assert old in data["training_view"]["sql"]
    data["training_view"]["sql"] = data["training_view"]["sql"].replace(old, new, 1)


def _source_edit(statement: str) -> Callable[[dict[str, Any], Path], None]:
    def edit(data: dict[str, Any], source: Path) -> None:
        with sqlite3.connect(source) as conn:
            conn.execute(statement)
    return edit


BAD_INPUTS: dict[str, tuple[Callable[[dict[str, Any], Path], None], str, str, str]] = {
    # case: (change to the spec (and its copy of the source), field, problem fragment, fix fragment)
    "empty source table": (_source_edit("DELETE FROM loans"), "source.tables.loans",
                           "is empty (0 rows)", "point source.url at the database that holds the data"),
    "view with no rows": (lambda d, s: _sql(d, "FROM loans l", "FROM (SELECT * FROM loans WHERE false) l"),
                          "training_view.sql", "returns 0 rows, too few to split", "select more rows"),
    "view with one row": (lambda d, s: d["training_view"].update(sql=d["training_view"]["sql"] + " LIMIT 1"),
                          "training_view.sql", "returns 1 rows, too few to split", "select more rows"),
    "mixed-type column": (_source_edit("UPDATE customers SET credit_score = 'unknown' WHERE customer_id = 3"),
                          "source.tables.customers", "column 'credit_score' is declared as int64 but holds values of "
                          "another type (e.g. str 'unknown')", "exclude_columns"),
    "mistyped plugin setting": (lambda d, s: d["generator"]["settings"].update(struct_max_indegree="many"),
                                "generator.settings.struct_max_indegree", "'many' is not a valid value: plugin "
                                "'bayesian_network' declares struct_max_indegree as int", "of type int"),
    "unknown Faker locale": (lambda d, s: d["features"]["masked_columns"][0].update(locale="en_XX"),
                             "features.masked_columns.0.locale", "'en_XX' is not a Faker locale", "en_GB"),
    "unknown time zone": (lambda d, s: d.setdefault("refresh", {}).update(timezone="Europe/Atlantis"),
                          "refresh.timezone", "'Europe/Atlantis' is not a time zone", "IANA time zone name"),
    "start_date in the future": (lambda d, s: d.setdefault("refresh", {}).update(start_date="2999-01-01"),
                                 "refresh.start_date", "2999-01-01 is in the future", "use a date on or before"),
    "all-NULL column": (lambda d, s: _sql(d, "c.education,", "CAST(NULL AS VARCHAR) AS education,"),
                        "training_view.sql", "column 'education' is empty (NULL) in every train row",
                        "drop it from the view"),
    "text regression label": (lambda d, s: d["training_view"].update(task="regression", label="purpose"),
                              "training_view.label", "'purpose' is string, but a regression label must be a number",
                              "training_view.task: classification"),
    "holdout_sql overlapping the view": (
        lambda d, s: d["training_view"].update(holdout_sql=d["training_view"]["sql"] + " LIMIT 50"),
        "training_view.holdout_sql", "returns 50 rows whose loan_id training_view.sql returns too",
        "make the two queries disjoint"),
    "rebalance value that never occurs": (
        lambda d, s: d["synthetic"].update(rebalance={"column": "defaulted", "proportions": {0: 0.5, 7: 0.5}}),
        "synthetic.rebalance.proportions.7", "'7' never occurs in 'defaulted' of the train rows (values: 0, 1)",
        "list values that occur"),
    "S3 bucket name": (lambda d, s: d.update(destination={"kind": "s3", "bucket": "ML_Releases"}),
                       "destination.s3.bucket", "'ML_Releases' is not a valid S3 bucket name",
                       "use 3 to 63 lowercase letters, digits, '.' and '-', starting and ending with a letter or "
                       "digit, not shaped like an IP address, e.g. 'ml-releases'"),
    "integers beyond 2^53": (lambda d, s: _sql(d, "l.amount,", "l.amount, CAST(l.amount * 1e13 AS BIGINT) AS cents,"),
                             "training_view.sql", "column 'cents' holds integers beyond 2^53",
                             "CAST it to VARCHAR"),
    "destination path climbing out": (lambda d, s: d.update(destination={"kind": "local", "path": "../../../x"}),
                                      "destination.local.path", "'../../../x' climbs out of its folder",
                                      "write a folder under SYNTH_PIPELINES_HOME"),
}


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_bad_input_is_a_clear_error_at_validate(case: str, demo_spec_data: dict[str, Any], write_spec: WriteSpec,
                                                demo_db: Path, tmp_path: Path) -> None:
    change, field, problem, fix = BAD_INPUTS[case]
    source = tmp_path / "source.sqlite"
    source.write_bytes(demo_db.read_bytes())
    data = copy.deepcopy(demo_spec_data)
    data["source"]["url"] = f"sqlite:///{source}"
    change(data, source)
    path = write_spec(data, "bad.yaml")
    result = CliRunner().invoke(main, ["validate", str(path)])  # exceptions caught: a traceback fails below
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == ExitCode.INVALID_INPUT, result.output
    assert f"INVALID {path}: {field}: " in result.stderr, result.stderr
    assert problem in result.stderr
    message = result.stderr[result.stderr.index(f"{field}: "):]
    assert fix in message.split(". Fix: ", 1)[1]


def test_a_password_with_at_signs_is_encoded_and_masked(demo_spec_data: dict[str, Any], write_spec: WriteSpec,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    # Issue 13: 'user:***@cd-Secret@host' showed the password's tail; the host must stay the host too.
    pytest.importorskip("psycopg2")
    monkeypatch.setenv("SYNTH_TEST_PW", "ab@cd-Secret@x")
    data = copy.deepcopy(demo_spec_data)
    data["source"]["url"] = "postgresql+psycopg2://nobody:${SYNTH_TEST_PW}@127.0.0.1:1/none"
    result = validate(write_spec(data, "pg.yaml"))
    assert result.exit_code == ExitCode.INVALID_INPUT
    assert "source.url: cannot read the source database postgresql+psycopg2://***@127.0.0.1:1/none" in result.output
    assert "Secret" not in result.output and "ab@" not in result.output

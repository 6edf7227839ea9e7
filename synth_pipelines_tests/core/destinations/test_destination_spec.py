"""The `destination:` section of a spec: S3 and SQL destinations, no credentials in the file, and
never the source database; every error names the file, the field and the fix."""

from __future__ import annotations

import pytest

from synth_pipelines.core.manifest import _spec_without_secrets
from synth_pipelines.spec import S3Destination, SpecError, SqlDestination, load_spec, same_database

PROD = "postgresql+psycopg2://reader:${SOURCE_PASSWORD:-src-secret}@db.internal:5432/bank"


def load(demo_spec_data, write_spec, destination, source_url=None):
    data = {**demo_spec_data, "destination": destination}
    if source_url:
        data["source"] = {**data["source"], "url": source_url}
    return load_spec(write_spec(data))


def error(demo_spec_data, write_spec, destination, source_url=None) -> str:
    with pytest.raises(SpecError) as excinfo:
        load(demo_spec_data, write_spec, destination, source_url)
    return str(excinfo.value)


def test_s3_destination_loads(demo_spec_data, write_spec) -> None:
    spec = load(demo_spec_data, write_spec, {"kind": "s3", "bucket": "ml-releases", "prefix": "/synthetic/",
                                             "region": "eu-west-1", "endpoint_url": "http://minio.internal:9000"}).spec
    assert spec.destination == S3Destination(kind="s3", bucket="ml-releases", prefix="synthetic", region="eu-west-1",
                                             endpoint_url="http://minio.internal:9000")


@pytest.mark.parametrize("field", ["aws_access_key_id", "aws_secret_access_key", "secret_key", "session_token",
                                   "password"])
def test_s3_credentials_in_the_spec_are_refused(demo_spec_data, write_spec, field) -> None:
    message = error(demo_spec_data, write_spec, {"kind": "s3", "bucket": "ml-releases", field: "AKIA-or-secret"})
    assert f": destination.s3.{field}: '{field}' looks like a credential" in message
    assert "Fix: remove it" in message and "AWS_ACCESS_KEY_ID" in message and "AKIA-or-secret" not in message


def test_s3_endpoint_with_credentials_is_refused(demo_spec_data, write_spec) -> None:
    message = error(demo_spec_data, write_spec, {"kind": "s3", "bucket": "ml-releases",
                                                 "endpoint_url": "http://admin:minio-secret@minio:9000"})
    assert "destination.s3.endpoint_url:" in message and "Fix: " in message and "minio-secret" not in message


def test_s3_bucket_name_is_checked(demo_spec_data, write_spec) -> None:
    message = error(demo_spec_data, write_spec, {"kind": "s3", "bucket": "Not_A_Bucket"})
    assert "destination.s3.bucket:" in message


def test_sql_destination_loads_and_hides_its_url(demo_spec_data, write_spec, monkeypatch) -> None:
    monkeypatch.setenv("DEST_PASSWORD", "dest-secret")
    spec = load(demo_spec_data, write_spec, {"kind": "sql", "schema": "features",
                                             "url": "mysql+pymysql://writer:${DEST_PASSWORD}@features-db:3306/ml"}).spec
    assert isinstance(spec.destination, SqlDestination) and spec.destination.db_schema == "features"
    assert spec.destination.url == "mysql+pymysql://writer:dest-secret@features-db:3306/ml"
    assert "dest-secret" not in repr(spec)


@pytest.mark.parametrize(("url", "fragment"), [
    ("sqlite:///releases.sqlite", "'sqlite' is not a supported destination driver"),
    ("postgresql+pg8000://w@h/db", "'postgresql+pg8000' is not a supported destination driver"),
    ("mysql+pymysql://w@h:3306/", "names no database"),
    ("not a url", "not a SQLAlchemy URL"),
])
def test_unsupported_sql_destinations(demo_spec_data, write_spec, url, fragment) -> None:
    message = error(demo_spec_data, write_spec, {"kind": "sql", "url": url})
    assert "destination.sql.url: " in message and fragment in message and "Fix: " in message


@pytest.mark.parametrize("destination_url", [
    "postgresql+psycopg2://writer:w-secret@db.internal/bank",  # default port
    "postgresql+psycopg2://writer:w-secret@DB.internal:5432/bank",  # host case
    # Issue 13: query parameters override the URL's parts; the driver connects to the source.
    "postgresql+psycopg2://writer:w-secret@db.internal:5432/dst?dbname=bank",
    "postgresql+psycopg2://writer:w-secret@features-db:5432/bank?host=db.internal",
    "postgresql+psycopg2://writer:w-secret@db.internal:6543/bank?port=5432",
    "postgresql+psycopg2://writer:w-secret@features-db:6543/dst?host=db.internal&port=5432&dbname=bank",
])
def test_the_source_database_is_refused_as_destination(demo_spec_data, write_spec, destination_url) -> None:
    message = error(demo_spec_data, write_spec, {"kind": "sql", "url": destination_url}, source_url=PROD)
    assert "destination.url: postgresql+psycopg2://***@" in message and "is the source database" in message
    assert "Fix: publish to a separate database" in message and "w-secret" not in message


@pytest.mark.parametrize(("source_url", "destination_url"), [
    ("mysql+pymysql://root@127.0.0.1:3306/bank", "mysql+pymysql://root@127.0.0.1:3306/dst?database=bank"),
    ("mysql+pymysql://root@db:3306/bank", "mysql+pymysql://root@other:3306/bank?host=db"),
    ("postgresql+psycopg2://postgres@127.0.0.1:5432/bank", "postgresql+psycopg2://postgres@/bank?host=localhost"),
    ("postgresql+psycopg2://postgres@db/bank?dbname=src", "postgresql+psycopg2://postgres@db/src"),
])
def test_source_overrides_are_compared_as_the_driver_sees_them(demo_spec_data, write_spec, source_url,
                                                               destination_url) -> None:
    message = error(demo_spec_data, write_spec, {"kind": "sql", "url": destination_url}, source_url=source_url)
    assert "destination.url: " in message and "is the source database" in message


@pytest.mark.parametrize("destination_url", [
    "postgresql+psycopg2://writer@features-db/ml?service=features",
    "mysql+pymysql://writer@features-db/ml?read_default_file=/etc/my.cnf",
])
def test_a_target_hidden_in_a_service_or_option_file_is_refused(demo_spec_data, write_spec,
                                                                 destination_url) -> None:
    message = error(demo_spec_data, write_spec, {"kind": "sql", "url": destination_url}, source_url=PROD)
    assert "destination.url: " in message and "takes the server or database from outside the URL" in message
    assert "Fix: write the host, port and database in the URL itself" in message


def test_another_database_on_the_source_server_is_allowed(demo_spec_data, write_spec) -> None:
    spec = load(demo_spec_data, write_spec, {"kind": "sql", "url": "postgresql+psycopg2://w@db.internal/features"},
                source_url=PROD).spec
    assert spec.destination.kind == "sql"


@pytest.mark.parametrize(("a", "b", "schema", "same"), [
    ("postgresql://u@localhost/db", "postgresql+psycopg2://v:p@127.0.0.1:5432/db", None, True),
    ("postgresql://u@localhost/db", "postgresql://u@localhost:5433/db", None, False),
    ("postgresql://u@localhost/db", "postgresql://u@localhost/other", None, False),
    ("postgresql://u@localhost/db", "postgresql://u@localhost/other", "db", False),  # a PostgreSQL schema is inside
    ("mysql+pymysql://u@h/db", "mariadb+pymysql://u@h:3306/db", None, True),
    ("mysql+pymysql://u@h/other", "mysql+pymysql://u@h/db", "db", True),  # a MySQL "schema" is a database
    ("mysql+pymysql://u@h/db", "postgresql://u@h/db", None, False),
    ("postgresql://u@localhost/other?dbname=db", "postgresql://u@localhost/db", None, True),
    ("postgresql://u@h2:5433/db?host=localhost&port=5432", "postgresql://u@localhost/db", None, True),
    ("postgresql://u@h1,localhost/db", "postgresql://u@localhost/db", None, True),  # libpq multi-host
    ("mysql+pymysql://u@h/other?database=db", "mysql+pymysql://u@h/db", None, True),
    ("postgresql://u@localhost/db?service=x", "postgresql://u@localhost/other", None, True),  # cannot tell: same
])
def test_same_database(a, b, schema, same) -> None:
    assert same_database(a, b, schema) is same


def test_the_manifest_masks_the_destination_url() -> None:
    raw = {"source": {"url": "postgresql://r:src-secret@h/db"},
           "destination": {"kind": "sql", "url": "postgresql://w:dest-secret@h2/db"}}
    masked = _spec_without_secrets(raw)
    assert masked["destination"]["url"] == "postgresql://***@h2/db" and "secret" not in str(masked)
    assert raw["destination"]["url"].endswith("dest-secret@h2/db")  # the input is left alone

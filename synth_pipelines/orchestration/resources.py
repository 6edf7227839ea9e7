"""Resources and metadata helpers shared by the asset factory."""

from __future__ import annotations

import mimetypes
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal

import dagster as dg
import pandas as pd
from dagster_aws.s3 import S3Resource
from pydantic import PrivateAttr

from synth_pipelines.core.column_origins import ColumnOrigin
from synth_pipelines.core.object_store import ObjectMirror
from synth_pipelines.core.report_links import REPORTS_URL_ENV, report_url, reports_base_url
from synth_pipelines.core.shards import part_files
from synth_pipelines.paths import storage_root

ORIGIN_TAG = "synth_pipelines/origin"  # synthesized, calculated, masked or row_id, on each column of the schema
# A presigned report link's lifetime: a week, the most S3's SigV4 signature allows. Signed with temporary
# credentials (a role's session), it ends with the session, which is often sooner.
REPORT_LINK_SECONDS = 7 * 24 * 3600


class SynthStorage(dg.ConfigurableResource):
    """Where snapshots and working files live (releases go to the spec's destination).

    `kind: local` (the default): under `root` (default SYNTH_PIPELINES_HOME). `kind: s3`: in a bucket,
    so a step can run on any worker; `root` is then this worker's local copy (core/object_store.py):
    the folders a step asks for (`work`, `snapshots`) and the files its inputs name are pulled before
    it uses them, and what it wrote is pushed when the step ends (teardown_after_execution).

    `reports_url`: the http(s) address at which `root` is served (`synth-pipelines reports serve`), so the
    QA check results link their reports; unset, an s3 storage links a presigned URL and a local one none."""

    root: str = ""
    kind: Literal["local", "s3"] = "local"
    bucket: str = ""
    prefix: str = "synth-pipelines"
    endpoint_url: str | None = None
    region: str | None = None
    reports_url: str | None = None
    _touched: set = PrivateAttr(default_factory=set)

    @classmethod
    def from_env(cls) -> SynthStorage:
        """SYNTH_PIPELINES_STORAGE=s3://bucket/prefix (and SYNTH_PIPELINES_STORAGE_ENDPOINT_URL for an
        S3-compatible server) puts the storage in a bucket; unset, the local disk. SYNTH_PIPELINES_REPORTS_URL
        sets `reports_url`."""
        url = os.environ.get("SYNTH_PIPELINES_STORAGE", "")
        reports_url = reports_base_url(os.environ.get(REPORTS_URL_ENV))
        if not url:
            return cls(reports_url=reports_url)
        if not url.startswith("s3://"):
            raise ValueError(f"SYNTH_PIPELINES_STORAGE={url!r}: write s3://bucket/prefix, or unset it for the local disk")
        bucket, _, prefix = url[len("s3://"):].partition("/")
        return cls(kind="s3", bucket=bucket, prefix=prefix.strip("/") or "synth-pipelines",
                   endpoint_url=os.environ.get("SYNTH_PIPELINES_STORAGE_ENDPOINT_URL") or None, reports_url=reports_url)

    def base(self) -> Path:
        return Path(self.root).resolve() if self.root else storage_root()

    def snapshots(self, dataset: str) -> Path:
        return self._shared(self.base() / "snapshots" / dataset)

    def work(self, dataset: str, snapshot_id: str, stage: str, pull: bool = True) -> Path:
        """A stage's working folder; `pull=False`: the step only adds files (a shard its part)."""
        path = self.base() / "work" / dataset / snapshot_id / stage
        path.mkdir(parents=True, exist_ok=True)
        return self._shared(path, pull)

    def report_link(self, path: Path) -> str | None:
        """An http(s) link to `path` (a QA report file this step wrote) that a browser on the Dagster UI opens:
        under `reports_url` when set; else, in a bucket, a presigned URL of its object (it is pushed when
        the step ends; valid REPORT_LINK_SECONDS); else None (a file:// link would not open from the UI)."""
        if self.reports_url:
            return report_url(self.reports_url, self.base(), path)
        mirror = self.mirror()
        if mirror is None:
            return None
        # Objects are uploaded without a content type: the link names it, so the browser shows the page.
        params = {"Bucket": self.bucket, "Key": mirror.key(path),
                  "ResponseContentType": mimetypes.guess_type(str(path))[0] or "application/octet-stream"}
        return mirror.client.generate_presigned_url("get_object", Params=params, ExpiresIn=REPORT_LINK_SECONDS)

    def s3(self) -> S3Resource:
        return S3Resource(endpoint_url=self.endpoint_url, region_name=self.region)

    def mirror(self) -> ObjectMirror | None:
        if self.kind != "s3":
            return None
        return ObjectMirror(self.bucket, self.prefix, self.base(), self.s3().get_client())

    def _shared(self, path: Path, pull: bool = True) -> Path:
        """`path` with the bucket's current files in it; what the step writes there is pushed at its end."""
        mirror = self.mirror()
        if mirror is not None:
            if pull:
                mirror.pull(path)
            self._touched.add(path)
        return path

    def pull(self, path: Path) -> None:
        """`path` (a file or folder another step wrote, named by an input) as the bucket has it."""
        mirror = self.mirror()
        if mirror is not None and Path(path).is_relative_to(self.base()):
            mirror.pull(Path(path))

    def push(self) -> None:
        mirror = self.mirror()
        for path in sorted(self._touched) if mirror is not None else []:
            if path.exists():
                mirror.push(path)

    def approvals(self, dataset: str) -> Path:
        """The approvals root, with `dataset`'s approvals as the bucket has them (an approval recorded on any
        machine counts); only that dataset's folder is pulled, as a gate reads one dataset's."""
        root = self.base() / "approvals"
        (root / dataset).mkdir(parents=True, exist_ok=True)
        self._shared(root / dataset)
        return root

    def save_now(self, path: Path) -> None:
        """Push `path` at once (a command outside a step, e.g. `approve`, has no step end to push at)."""
        mirror = self.mirror()
        if mirror is not None:
            mirror.push(Path(path))

    def privacy_ledger(self, dataset: str) -> dict:
        """The dataset's privacy ledger: a file under `root`, or one object in the bucket every worker shares."""
        from synth_pipelines.core.privacy_ledger import read_ledger, read_ledger_in_bucket

        if self.kind == "s3":
            return read_ledger_in_bucket(self.s3().get_client(), self.bucket, self.prefix, dataset)
        return read_ledger(self.base(), dataset)

    def charge_privacy(self, dataset: str, **charge: object) -> dict:
        """Record a DP model's epsilon in the dataset's ledger or raise BudgetExceeded (privacy_ledger.charge)."""
        from synth_pipelines.core.privacy_ledger import charge as charge_file, charge_in_bucket

        if self.kind == "s3":
            return charge_in_bucket(self.s3().get_client(), self.bucket, self.prefix, dataset, **charge)
        return charge_file(self.base(), dataset, **charge)

    def clear_parts(self, folder: Path) -> None:
        """Remove the parts an earlier run left in `folder`, here and in the bucket."""
        mirror = self.mirror()
        for part in part_files(folder) if folder.is_dir() else []:
            mirror.remove(part) if mirror is not None else part.unlink(missing_ok=True)

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        self.push()  # per step under a multiprocess or Celery executor, per run in process


# A category value is named in real-row metadata only when at least this many rows hold it (the
# published QA report's MIN_CELL_ROWS): a rarer value can single out a person.
MIN_CATEGORY_ROWS = 10
MAX_CATEGORY_LEVELS = 20


def _schema(frame: pd.DataFrame) -> dict[str, dg.MetadataValue]:
    schema = dg.TableSchema(columns=[dg.TableColumn(name=str(c), type=str(t)) for c, t in frame.dtypes.items()])
    return {"dagster/row_count": dg.MetadataValue.int(len(frame)),
            "dagster/column_schema": dg.MetadataValue.table_schema(schema),
            "columns": dg.MetadataValue.int(frame.shape[1])}


def frame_metadata(frame: pd.DataFrame, preview_rows: int = 5, origins: Sequence[ColumnOrigin] = (),
                   upstream: dg.AssetKey | None = None) -> dict[str, dg.MetadataValue]:
    """Synthetic rows: row count, column schema and a preview, under Dagster's standard keys where they
    exist; with `origins`, the schema describes each column and the lineage leads to `upstream`."""
    metadata = {**_schema(frame), "preview": dg.MetadataValue.md(frame.head(preview_rows).to_markdown(index=False))}
    if origins and upstream is not None:
        metadata.update(column_metadata({str(c): str(t) for c, t in frame.dtypes.items()}, origins, upstream))
    return metadata


def column_metadata(types: Mapping[str, str], origins: Sequence[ColumnOrigin],
                    upstream: dg.AssetKey) -> dict[str, dg.MetadataValue]:
    """Column schema with each column's description and origin tag, and column lineage: each column from
    its input columns of `upstream` (a random masked column or the row id has none)."""
    by_name = {o.name: o for o in origins}
    schema = dg.TableSchema(columns=[
        dg.TableColumn(name, type=kind, description=by_name[name].description if name in by_name else None,
                       tags={ORIGIN_TAG: by_name[name].origin} if name in by_name else None)
        for name, kind in types.items()])
    lineage = dg.TableColumnLineage({o.name: [dg.TableColumnDep(upstream, column) for column in o.inputs]
                                     for o in origins if o.inputs and o.name in types})
    return {"dagster/column_schema": dg.MetadataValue.table_schema(schema),
            "dagster/column_lineage": dg.MetadataValue.column_lineage(lineage)}


def real_frame_metadata(frame: pd.DataFrame, entity_key: str | None = None) -> dict[str, dg.MetadataValue]:
    """Real rows: aggregates only, never a row or a single person's value. The Dagster event log is
    readable by everyone with UI access and kept for good (PostgreSQL in production).

    Row count, schema, each column's missing share, and category counts for columns of at most
    MAX_CATEGORY_LEVELS values, naming only values held by at least MIN_CATEGORY_ROWS rows (the rest
    are one count). No extremes, no examples, no entity keys."""
    missing = {str(c): round(float(frame[c].isna().mean()), 4) for c in frame.columns}
    categories: dict[str, dict[str, int]] = {}
    for column in frame.columns:
        if column == entity_key or pd.api.types.is_float_dtype(frame[column]):
            continue
        counts = frame[column].value_counts(dropna=True)
        if len(counts) > MAX_CATEGORY_LEVELS:
            continue
        named = {str(value): int(n) for value, n in counts.items() if n >= MIN_CATEGORY_ROWS}
        rare = int(counts[counts < MIN_CATEGORY_ROWS].sum())
        if rare:
            named[f"(values held by fewer than {MIN_CATEGORY_ROWS} rows)"] = rare
        categories[str(column)] = named
    return {**_schema(frame), "missing_share": dg.MetadataValue.json(missing),
            "category_counts": dg.MetadataValue.json(categories)}

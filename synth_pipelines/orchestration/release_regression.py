"""The release regression check: a snapshot's synthetic features against the latest published release of
the same dataset (an earlier snapshot, or an earlier feature version), as core.quality.release_diff
compares them. Advisory unless the spec sets qa.release_regression_blocking; then the gate (factory.
release_gate) also waits for its result, which names the rows it judged so regenerated rows need a new one."""


import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd

from synth_pipelines.core.files import write_atomically
from synth_pipelines.core.quality.parts import SyntheticParts
from synth_pipelines.core.quality.release_diff import DIFF_ROWS
from synth_pipelines.core.shards import part_files, parts_sha256
from synth_pipelines.core.quality.thresholds import RELEASE_REGRESSION
from synth_pipelines.core.releases import ReleasesNotListed
from synth_pipelines.orchestration.resources import SynthStorage
from synth_pipelines.spec import LoadedSpec

CHECK_NAME = RELEASE_REGRESSION
DESCRIPTION = ("Per-column distance between these synthetic features and the latest published release of the "
               "dataset, against what chance gives for the row counts (release_diff); associations and QA figures "
               "side by side. Fails when a column moved more than qa.max_release_drift; advisory unless "
               "qa.release_regression_blocking.")


def result_path(storage: SynthStorage, dataset: str, snapshot_id: str) -> Path:
    return storage.work(dataset, snapshot_id, CHECK_NAME) / "result.json"


def regression_outcome(storage: SynthStorage, dataset: str, snapshot_id: str, features: Path) -> bool | None:
    """The check's verdict on exactly these feature rows (`features`: their folder of parts), or None when
    it has not judged them."""
    path = result_path(storage, dataset, snapshot_id)
    if not path.is_file() or not part_files(features):
        return None
    result = json.loads(path.read_text())
    return result["passed"] if result["features_sha256"] == parts_sha256(features) else None


def _previous_release(loaded: LoadedSpec, snapshot_id: str) -> Any | None:
    """The newest published release of the dataset other than the one these features would become."""
    from synth_pipelines.core.releases import list_destination_releases

    spec = loaded.spec
    releases = [r for r in list_destination_releases(spec.destination, spec.dataset)
                if (r.release_name, r.snapshot_id) != (spec.release_name, snapshot_id)]
    return max(releases, key=lambda r: r.created_at, default=None)


def compare_with_previous(loaded: LoadedSpec, snapshot_id: str, read_features: Callable[[], pd.DataFrame]) -> Any:
    """A PreviousRelease: these synthetic features (`read_features`, read only when there is a release to
    compare with) against the dataset's newest other release, or the reason nothing was compared (the
    first release, a destination whose releases are not read back)."""
    import tempfile

    from synth_pipelines.core.quality.release_diff import PreviousRelease, compare_releases
    from synth_pipelines.core.releases import release_rows

    spec = loaded.spec
    try:
        release = _previous_release(loaded, snapshot_id)
    except ReleasesNotListed as exc:  # a SQL destination
        return PreviousRelease(f"not compared: {exc}", max_release_drift=spec.qa.max_release_drift)
    if release is None:
        return PreviousRelease("first release of the dataset: nothing to compare with",
                               max_release_drift=spec.qa.max_release_drift)
    with tempfile.TemporaryDirectory() as scratch:
        before = release_rows(release, spec.destination, Path(scratch), sample=DIFF_ROWS, seed=spec.qa.seed)
    diff = compare_releases(before, read_features(), before_name=release.name,
                            after_name=f"{spec.dataset}/{spec.release_name}/snapshot={snapshot_id}", seed=spec.qa.seed)
    return PreviousRelease("", diff, release.read_manifest().get("qa"), spec.qa.max_release_drift)


def previous_release_section(loaded: LoadedSpec, snapshot_id: str, features: pd.DataFrame, log: Any) -> Any:
    """The QA report's comparison with the previous release; a release that cannot be read is a note in the
    report, not a failed QA run (the release_regression check reports it as its own failure)."""
    from synth_pipelines.core.quality.release_diff import PreviousRelease

    try:
        return compare_with_previous(loaded, snapshot_id, lambda: features)
    except Exception as exc:  # noqa: BLE001 - an unreadable earlier release must not stop this QA
        note = f"not compared: the previous release could not be read ({type(exc).__name__}: {str(exc)[:200]})"
        log.warning(note)
        return PreviousRelease(note, max_release_drift=loaded.spec.qa.max_release_drift)


def release_regression_check(loaded: LoadedSpec, partitions: dg.PartitionsDefinition) -> dg.AssetChecksDefinition:
    spec = loaded.spec
    features_key = dg.AssetKey([spec.dataset, "synthetic_features"])

    @dg.asset_check(asset=features_key, name=CHECK_NAME, description=DESCRIPTION, partitions_def=partitions,
                    blocking=spec.qa.release_regression_blocking)
    def _check(context: dg.AssetCheckExecutionContext, storage: SynthStorage) -> dg.AssetCheckResult:
        from synth_pipelines.core.quality.verdict import verdict_markdown

        snapshot_id = context.partition_key
        features = storage.work(spec.dataset, snapshot_id, "synthetic_features")  # its part-*.parquet
        severity = dg.AssetCheckSeverity.ERROR if spec.qa.release_regression_blocking else dg.AssetCheckSeverity.WARN
        # QA figures side by side are the report's and `synth-pipelines diff`'s: this run's QA may not
        # have finished yet.
        previous = compare_with_previous(  # a sample is what compare_releases compares
            loaded, snapshot_id, lambda: SyntheticParts(tuple(part_files(features))).sample(DIFF_ROWS, spec.qa.seed))
        diff = previous.diff
        if diff is None:
            passed, metadata = True, {"summary": f"passed: {previous.note}", "verdict": dg.MetadataValue.md(
                verdict_markdown({"name": CHECK_NAME, "passed": True, "note": previous.note, "metrics": []}))}
        else:
            metric = diff.metric(spec.qa.max_release_drift)
            passed = metric.passed
            summary = f"{'passed' if passed else 'failed'}: {metric.describe()} against {diff.before}"
            check = {"name": CHECK_NAME, "passed": passed, "summary": summary,
                     "metrics": [{"name": metric.name, "value": metric.value, "threshold": metric.threshold,
                                  "bound": metric.bound, "passed": passed, "hint": metric.hint}]}
            metadata = {"summary": summary + (f"; {metric.hint}" if metric.hint else ""),
                        "verdict": dg.MetadataValue.md(verdict_markdown(check)),
                        "compared_with": diff.before, "moved_columns": dg.MetadataValue.json(metric.details["moved_columns"]),
                        # `details` as every QA check has it (metric name -> its figures: runner reads it)
                        "details": dg.MetadataValue.json({metric.name: check["metrics"][0] | {
                            "implementation": metric.implementation}}),
                        "release_diff": dg.MetadataValue.json(json.loads(json.dumps(diff.to_dict(), default=str)))}
        path = result_path(storage, spec.dataset, snapshot_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, json.dumps({"passed": passed, "features_sha256": parts_sha256(features),
                                           "summary": metadata["summary"]}).encode())
        return dg.AssetCheckResult(passed=passed, severity=severity, metadata=metadata)

    return _check

"""Plants known bugs, one at a time, in a temporary copy of the checkout and runs the tests meant to catch each.

    .venv/bin/python bench/mutation_check.py                  # every mutant
    .venv/bin/python bench/mutation_check.py exact_copy_default snapshot_writable   # some of them
    .venv/bin/python bench/mutation_check.py --baseline       # first check the tests pass unmutated

Each mutant is an exact text replacement in one file (it must match exactly once, so a refactoring
that moves the code makes the mutant an error, not a silent pass). A mutant is "caught" when its tests
fail (pytest exit status 1), "NOT caught" when they pass. The copy is a sibling of `shared/` (a
symlink), as the QA tests read `../shared/data`. Prints a table; exits 1 when a mutant was not caught.
Add a row to MUTANTS with the test that catches it whenever a README promise gets its test.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
T = "synth_pipelines_tests/"


@dataclass(frozen=True)
class Mutant:
    name: str
    path: str
    old: str
    new: str
    tests: tuple[str, ...]
    what: str


MUTANTS = [
    Mutant("publish_skips_gate", "synth_pipelines/orchestration/factory.py",
           "        if not decision.open:\n            raise dg.Failure(description=f\"publication gate closed",
           "        if False:\n            raise dg.Failure(description=f\"publication gate closed",
           (T + "orchestration/test_publication_gate.py::"
                "test_failed_check_keeps_the_gate_closed_and_a_direct_publish_job_publishes_nothing",),
           "the publish asset no longer re-checks the gate"),
    Mutant("exact_copy_default", "synth_pipelines/core/quality/thresholds.py",
           "max_exact_copy_excess: float = Field(0.01,", "max_exact_copy_excess: float = Field(0.3,",
           (T + "core/quality/test_default_thresholds.py",),
           "default max_exact_copy_excess 0.01 -> 0.3"),
    Mutant("snapshot_writable", "synth_pipelines/core/snapshot.py",
           "        with read_only_connection(spec.source.url) as conn:",
           "        with sa.create_engine(spec.source.url).connect() as conn:",
           (T + "core/test_snapshot.py::test_snapshot_session_is_read_only_sqlite",
            T + "core/test_snapshot.py::test_snapshot_session_is_read_only_postgresql",
            T + "core/test_snapshot.py::test_snapshot_session_is_read_only_mariadb"),
           "take_snapshot reads through a plain writable session"),
    Mutant("ttl_ignored", "synth_pipelines/core/manifest.py",
           '"expires_at": (created + timedelta(days=ttl)).isoformat() if ttl else None,',
           '"expires_at": (created + timedelta(days=90)).isoformat() if ttl else None,',
           (T + "orchestration/test_publication_gate.py::test_release_waits_for_approval_then_publishes_with_it",),
           "expires_at ignores refresh.release_ttl_days (always 90 days)"),
    Mutant("run_ignores_existing_release", "synth_pipelines/cli.py",
           "    if existing:\n        return _already_published(loaded, partition, existing, data)",
           "    if False:\n        return _already_published(loaded, partition, existing, data)",
           (T + "test_cli_releases.py::test_run_stops_early_when_todays_release_exists",),
           "`run` trains again when today's release exists"),
    Mutant("lookup_keys_unchecked", "synth_pipelines/core/lookups.py",
           "        unknown = values - allowed\n", "        unknown = set()\n",
           (T + "core/test_lookups.py",),
           "synthetic keys missing from the lookup snapshot pass"),
    Mutant("seed_from_hash", "synth_pipelines/core/synthesis.py",
           "model.generate(count=count, random_state=synthesizer.seed + batch)",
           "model.generate(count=count, random_state=(synthesizer.seed + batch + hash(id_prefix)) % 2**31)",
           (T + "core/test_synthesis.py::test_default_generator_output_is_byte_identical_across_processes",),
           "batch seed depends on the process (hash randomization)"),
    Mutant("all_plugins_imported", "synth_pipelines/core/synthcity_plugins.py",
           "    quiet_synthcity()\n    with root_logging_kept():",
           "    quiet_synthcity()\n    for other in available_plugins():\n        with __import__('contextlib').suppress(Exception):"
           "\n            importlib.import_module(_module_name(other))\n    with root_logging_kept():",
           (T + "core/test_synthesis.py::test_default_generator_output_is_byte_identical_across_processes",),
           "loading a plugin imports every synthcity plugin"),
    Mutant("masking_uncached", "synth_pipelines/core/features.py",
           "        made = cache.get(text)\n", "        made = None\n",
           (T + "core/test_features.py::test_consistent_masking_of_100k_rows_draws_once_per_customer",),
           "consistent masking draws Faker once per row, not per key"),
    Mutant("leakage_unsampled", "synth_pipelines/core/leakage.py",
           "    return frame if len(frame) <= SAMPLE_ROWS else frame.sample(SAMPLE_ROWS, random_state=seed)",
           "    return frame",
           (T + "core/test_leakage.py::test_a_million_rows_are_judged_on_a_sample",),
           "leakage heuristics run on every row, not a sample"),
    Mutant("wide_table_searches_every_column", "synth_pipelines/core/leakage.py",
           "    candidates = _combination_candidates(numbers)\n", "    candidates = set(numbers.columns)\n",
           (T + "core/test_leakage.py::test_a_wide_table_searches_only_the_columns_a_combination_reproduces",),
           "the leakage heuristic runs the sparse search for every column of a wide table"),
    Mutant("generation_keeps_batches", "synth_pipelines/core/synthesis.py",
           "            writer.write_table(table)\n",
           "            writer.write_table(table)\n            globals().setdefault('_KEPT', []).append(frame)\n",
           (T + "core/test_synthesis.py::test_generation_memory_stays_flat_as_the_batch_count_grows",),
           "generate_rows keeps every batch alive (memory grows with the batch count)"),
    Mutant("jobs_without_dataset_tag", "synth_pipelines/orchestration/factory.py",
           "selection=dg.AssetSelection.groups(name) - published,\n                               tags={DATASET_TAG: name},",
           "selection=dg.AssetSelection.groups(name) - published,\n                               tags={},",
           (T + "orchestration/test_run_queue.py",),
           "the refresh job lacks the dataset tag the run queue limits by"),
    Mutant("manifest_source_unmasked", "synth_pipelines/core/manifest.py",
           '"source": {"url": masked_url(spec.source.url),', '"source": {"url": spec.source.url,',
           (T + "orchestration/test_source_password_masked.py",),
           "the manifest records the source URL with its password"),
    Mutant("snapshot_source_unmasked", "synth_pipelines/core/snapshot.py",
           "path=str(final), source=masked_url(spec.source.url),", "path=str(final), source=spec.source.url,",
           (T + "orchestration/test_source_password_masked.py",),
           "snapshot.json records the source URL with its password"),
    Mutant("backfill_stops_at_first_failure", "synth_pipelines/cli.py",
           "        codes = {key: _run(spec, key, Progress(progress), tags).code for key in keys}\n",
           "        codes = {}\n        for key in keys:\n"
           "            codes[key] = _run(spec, key, Progress(progress), tags).code\n"
           "            if codes[key] not in (ExitCode.OK, ExitCode.ALREADY_PUBLISHED):\n                break\n",
           (T + "test_cli_backfill_demo.py::test_backfill_fails_for_a_day_it_cannot_read_and_still_visits_the_rest",),
           "backfill gives up the rest of the range after a failed day"),
    Mutant("backfill_unrecorded", "synth_pipelines/cli.py",
           "_run(spec, key, Progress(progress), tags).code",
           "_run(spec, key, Progress(progress)).code",
           (T + "test_cli_backfill_demo.py::test_backfill_of_a_new_version_reuses_retained_snapshots_and_skips_"
                "published_days",),
           "backfill runs are not filed under the Dagster backfill the UI lists"),
    Mutant("regression_gate_ignored", "synth_pipelines/orchestration/factory.py",
           "    if spec.qa.release_regression_blocking:\n        regression = regression_outcome(",
           "    if False:\n        regression = regression_outcome(",
           (T + "orchestration/test_release_regression.py",),
           "the gate ignores a blocking release_regression verdict"),
    Mutant("demo_never_builds_source", "synth_pipelines/cli.py",
           "    if not demo_database_path().exists():\n", "    if False:\n",
           (T + "test_cli_backfill_demo.py::test_demo_builds_the_demo_source_when_missing_and_stops_early_when_"
                "todays_release_exists",),
           "demo runs without building a missing demo source"),
    Mutant("ledger_unconditional_write", "synth_pipelines/core/privacy_ledger.py",
           'ContentType="application/json", **condition)', 'ContentType="application/json")',
           (T + "orchestration/test_object_storage.py::test_workers_on_different_machines_share_one_privacy_ledger",),
           "the bucket's privacy ledger is written without the conditional write (concurrent charges pass the limit)"),
]


def copy_checkout(into: Path) -> Path:
    """The working tree's tracked and untracked (not ignored) files, beside a link to ../shared."""
    repo = into / "repo"
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                           check=True, capture_output=True).stdout.decode().split("\0")
    for name in filter(None, files):
        source = ROOT / name
        if source.is_file():
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, repo / name)
    if (ROOT.parent / "shared").exists():
        (into / "shared").symlink_to(ROOT.parent / "shared")
    return repo


def run_tests(repo: Path, tests: tuple[str, ...], timeout: int) -> tuple[int, float]:
    env = {**os.environ, "PYTHONPATH": str(repo), "PYTHONDONTWRITEBYTECODE": "1"}
    started = time.monotonic()
    try:
        done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *tests],
                              cwd=repo, env=env, capture_output=True, timeout=timeout)
        status = done.returncode
    except subprocess.TimeoutExpired:
        status = -1
    return status, time.monotonic() - started


def verdict(status: int) -> str:
    return {0: "NOT caught", 1: "caught", -1: "timeout"}.get(status, f"error (pytest exit {status})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help=f"mutants to run (default all): {[m.name for m in MUTANTS]}")
    parser.add_argument("--baseline", action="store_true", help="run each mutant's tests unmutated first")
    parser.add_argument("--timeout", type=int, default=900, help="seconds per pytest run")
    args = parser.parse_args()
    unknown = set(args.names) - {m.name for m in MUTANTS}
    if unknown:
        parser.error(f"unknown mutants {sorted(unknown)}")
    chosen = [m for m in MUTANTS if not args.names or m.name in args.names]
    rows = []
    with tempfile.TemporaryDirectory(prefix="mutation_check_") as tmp:
        repo = copy_checkout(Path(tmp))
        for mutant in chosen:
            target = repo / mutant.path
            original = target.read_text()
            if original.count(mutant.old) != 1:
                rows.append((mutant, "error (text to mutate not found once)", 0.0, ""))
                continue
            base = ""
            if args.baseline:
                status, _ = run_tests(repo, mutant.tests, args.timeout)
                base = "pass" if status == 0 else verdict(status).replace("caught", "FAILS")
            target.write_text(original.replace(mutant.old, mutant.new))
            try:
                status, seconds = run_tests(repo, mutant.tests, args.timeout)
            finally:
                target.write_text(original)
            rows.append((mutant, verdict(status), seconds, base))
            print(f"{mutant.name}: {verdict(status)} ({seconds:.0f} s)", file=sys.stderr, flush=True)
    print(f"| mutant | planted bug | tests | {'unmutated | ' if args.baseline else ''}result | seconds |")
    print(f"|---|---|---|{'---|' if args.baseline else ''}---|---|")
    for mutant, result, seconds, base in rows:
        tests = ", ".join(t.split("/")[-1] for t in mutant.tests)
        print(f"| {mutant.name} | {mutant.what} | {tests} | {base + ' | ' if args.baseline else ''}"
              f"{result} | {seconds:.0f} |")
    return 0 if all(r[1] == "caught" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())

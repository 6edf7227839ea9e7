"""The provenance manifest that travels with every release.

A release may leave the platform, so the manifest holds no unkeyed hash of real data (the snapshot
fingerprints are HMACs under the platform key, core/platform_key.py), only the per-column fields
`_published_codec` names (no real extremes or medians), and `qa` is the published QA report's data.
For a differentially private generator it records the DP record with its assumptions, the dataset's
privacy ledger, what is published beyond epsilon (`differential_privacy.not_covered_by_epsilon`), and
`generator.reproducible_from_seed: false`; the real shares of a rebalanced column are left out.
"""

from __future__ import annotations

import platform
from datetime import datetime, timedelta, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from synth_pipelines import __version__
from synth_pipelines.core.shards import part_files
from synth_pipelines.core.snapshot import Snapshot
from synth_pipelines.core.synthesis import Synthesizer
from synth_pipelines.spec import LoadedSpec, masked_url

_PACKAGES = ("synth-pipelines", "synthcity", "torch", "numpy", "pandas", "pyarrow", "duckdb", "dagster",
             "great-expectations", "scikit-learn", "sqlalchemy")


def package_versions() -> dict[str, str]:
    versions = {}
    for package in _PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return versions


def build_manifest(loaded: LoadedSpec, *, snapshot: Snapshot, synthesizer: Synthesizer, features_path: Path,
                   rows: int, qa: dict[str, Any], rebalance: dict[str, Any] | None = None,
                   privacy: dict[str, Any] | None = None) -> dict[str, Any]:
    """`rebalance`: what generate_rows recorded (GeneratedRows.rebalance), when synthetic.rebalance is set;
    `qa`: the published QA report's data; `privacy`: differential_privacy.published_privacy (the DP
    record with the dataset's ledger), None when the generator is not DP."""
    spec = loaded.spec
    dp = synthesizer.privacy is not None
    schema = pq.read_schema(part_files(features_path)[0])  # every shard's part has this schema
    return {
        **release_header(loaded, snapshot),
        "rows": rows,
        "schema": {field.name: str(field.type) for field in schema},
        "generator": {"plugin": synthesizer.plugin, "settings": synthesizer.settings, "seed": synthesizer.seed,
                      # DP: the noise comes from a secret source, so the seed does not reproduce the release.
                      "reproducible_from_seed": not dp,
                      "plugin_kwargs": synthesizer.plugin_kwargs,
                      "train_rows": synthesizer.train_rows, "training_seconds": synthesizer.training_seconds,
                      "columns": [_published_codec(c, synthesizer.relations) for c in synthesizer.codecs]},
        # Budget, delta, epsilon spent, assumptions, what is not covered and the ledger; null when not DP.
        "differential_privacy": privacy,
        "leakage_columns_excluded": {c.column: c.reason for c in spec.training_view.leakage_columns},
        **_data_treatment(loaded, synthesizer, qa, rebalance),
        "qa": qa,
        **code_versions(),
    }


def release_header(loaded: LoadedSpec, snapshot: Snapshot) -> dict[str, Any]:
    """What every release's manifest opens with (one table or several): dataset, version, dates, the
    spec and the source snapshot."""
    from synth_pipelines.core.platform_key import keyed_fingerprint

    spec = loaded.spec
    created = datetime.now(timezone.utc)
    ttl = spec.refresh.release_ttl_days
    return {
        "dataset": spec.dataset,
        "feature_version": spec.version,
        "release_name": spec.release_name,
        "created_at": created.isoformat(),
        "expires_at": (created + timedelta(days=ttl)).isoformat() if ttl else None,
        "spec_file": str(loaded.path),
        "spec_hash": loaded.spec_hash,
        "spec": _spec_without_secrets(loaded.raw),
        # Keyed (HMAC-SHA256 under the platform key): comparable between releases on this platform, but
        # nobody without the key can test a guess of the source rows against them.
        "source": {"url": masked_url(spec.source.url), "snapshot_id": snapshot.snapshot_id,
                   "fingerprint": keyed_fingerprint(snapshot.fingerprint, "snapshot"), "taken_at": snapshot.taken_at,
                   "tables": {name: {"rows": t.rows, "fingerprint": keyed_fingerprint(t.fingerprint, f"table:{name}")}
                              for name, t in snapshot.tables.items()},
                   # A backfilled day without a retained snapshot: rebuilt from the source with these filters.
                   "reconstructed": snapshot.reconstructed},
    }


def code_versions() -> dict[str, Any]:
    return {"code_version": __version__, "packages": package_versions(), "python": platform.python_version()}


def _spec_without_secrets(raw: dict[str, Any]) -> dict[str, Any]:
    """The spec as written (${VAR} stays a placeholder), with any password in the URL masked."""
    masked = dict(raw)
    for section in ("source", "destination"):  # a SQL destination has a URL too
        part = raw.get(section)
        if isinstance(part, dict) and isinstance(part.get("url"), str):
            masked[section] = {**part, "url": masked_url(part["url"])}
    return masked


def _data_treatment(loaded: LoadedSpec, synthesizer: Synthesizer, qa: dict[str, Any],
                    rebalance: dict[str, Any] | None) -> dict[str, Any]:
    """Masked columns (never trained on), lookup tables and keys, and the rebalancing of the release."""
    from synth_pipelines.core.lookups import lookup_foreign_keys, lookup_tables

    spec = loaded.spec
    masked = {m.name: {"faker": m.faker, "locale": m.locale, "training": False, "consistent": bool(m.consistent_on),
                       "consistent_on": m.consistent_on, "key_env": m.key_env if m.consistent_on else None,
                       "replaces": m.replaces}
              for m in spec.features.masked_columns if m.name not in spec.features.drop_columns}
    section: dict[str, Any] = {"masked_columns": masked}
    if lookup_tables(spec.source):
        section["lookups"] = {"tables": lookup_tables(spec.source),
                              "keys": lookup_foreign_keys(spec.source, [c.name for c in synthesizer.codecs])}
    if spec.synthetic.rebalance is not None:
        # Real shares are a statistic of the real rows epsilon does not cover: left out under DP.
        real = None if synthesizer.privacy else qa.get("settings", {}).get("rebalance", {}).get("real_proportions")
        section["rebalance"] = {"column": spec.synthetic.rebalance.column,
                                "target_proportions": dict(spec.synthetic.rebalance.proportions),
                                "achieved_proportions": (rebalance or {}).get("achieved_proportions"),
                                "real_proportions": real,
                                "generated_rows": (rebalance or {}).get("generated_rows")}
    return section


def _published_codec(codec: Any, relations: list[Any]) -> dict[str, Any]:
    """A column as the release writes it: type, categories, value format (value_formats.py) and, for a
    column computed from two others (arithmetic.py), how. Its exact real statistics (extremes, fill
    value, the value set's values) stay in synthesizer.json, unpublished: a column's extremes are single
    people's values."""
    computed = next((r.describe() for r in relations if r.result == codec.name), None)
    return {"name": codec.name, "categories": codec.categories, **codec.describe_format(),
            **({"computed_as": computed} if computed else {})}

"""What a differentially private release promises, and the parts of the pipeline that keep the promise.

The guarantee (generator `privbayes`, generators/plugin_privbayes.py): the synthetic rows, the model's
noisy tables and everything computed only from them are epsilon-DP with respect to the train rows,
under these assumptions (also in `privacy_record`, the README and docs/synthcity-dp-audit.md):
- neighbours are replace-one: two train sets of the same size that differ in one row. The row count
  is public (the manifest publishes it); under add/remove-one neighbours publishing it would break
  the guarantee;
- the unit of privacy is one row of the training view: one person when each person has one row.
  Under DP the train/holdout split is an HMAC of the entity key (`keyed_split`), so changing one
  person's row moves no other row between train and holdout;
- the domain is public and declared in the spec (`generator.domain`): each column's value set or
  bounds and whether it may be missing. Nothing about the domain is read from the rows
  (`codecs_from_domain`); numbers outside the bounds are clipped, a value outside a declared set or
  a missing value in a column declared not nullable is an error (the run stops, nothing is published);
- the mechanism's randomness is secret: the noise and the exponential mechanism draw from the OS
  CSPRNG (`secrets`), which is never stored or published. The public `generator.seed` only drives
  sampling from the noisy model and decoding (post-processing), so a DP release is NOT reproducible
  byte for byte from its seed (`reproducible_from_seed: false` in the manifest);
- releases compose: every release of a dataset spends its epsilon from the dataset's budget
  (`generator.epsilon_limit`, core/privacy_ledger.py).
Settings that make synthcity read the real rows outside the mechanism are refused (`generator_settings.REFUSED_SETTINGS`).
What a DP release still publishes about the real rows beyond epsilon is listed in `DISCLOSURE`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from synth_pipelines.core.platform_key import keyed_uniforms
from synth_pipelines.core.synthesis import MISSING, ColumnCodec, as_number, column_kind

if TYPE_CHECKING:
    from synth_pipelines.core.training_view import Split
    from synth_pipelines.spec import ColumnDomain, TrainingViewSpec

# Statistics of the real rows that a DP release publishes and epsilon does not cover.
DISCLOSURE = (
    "the number of train rows and of source rows (assumed public: replace-one neighbours)",
    "the pass/fail of each QA check, blocking and advisory, computed on the real train and holdout rows (one "
    "bit per check; a release exists only when every blocking check passed)",
    "the column names and types of the training view (schema, assumed public)",
    "the training time in seconds (it depends on the row count and the declared domain, barely on the values)",
)
UNIT_OF_PRIVACY = "one row of the training view (one person when each person has one row)"
NEIGHBOURS = "replace-one: two train sets of the same size that differ in one row (the row count is public)"
NOISE_SOURCE = "OS CSPRNG (Python secrets), never stored or published; the public seed drives only sampling"
SPLIT_PURPOSE = "dp-train-holdout-split"


class DomainError(ValueError):
    """The declared domain does not fit the view; the message names the field and the fix."""


def domain_problem(spec: Any, view_columns: list[str]) -> tuple[str, str, str] | None:
    """(field, problem, fix) when a DP spec's declared domain does not name exactly the synthesized columns
    of the view (its columns minus the entity key and the columns masked columns replace); for `validate`."""
    replaced = {m.replaces for m in spec.features.masked_columns if m.replaces}
    synthesized = [c for c in view_columns if c != spec.training_view.entity_key and c not in replaced]
    declared = spec.generator.domain
    missing = [c for c in synthesized if c not in declared]
    unknown = sorted(set(declared) - set(synthesized))
    if not missing and not unknown:
        return None
    problem = "; ".join(part for part in (
        f"no declared domain for {', '.join(missing)}" if missing else "",
        f"{', '.join(unknown)} not synthesized (synthesized: {', '.join(synthesized)})" if unknown else "") if part)
    return ("generator.domain", problem, "declare `values` or `minimum`/`maximum` (and `nullable`) for every "
                                         "synthesized column and no other")


def _bound_number(value: Any, kind: str, column: str) -> float:
    if kind in ("date", "datetime"):
        if isinstance(value, (int, float)):
            raise DomainError(f"generator.domain.{column}: '{column}' holds {kind}s, the bound {value} is a number. "
                              f"Fix: write the bounds as dates (2020-01-01) or timestamps")
        return float(as_number(pd.Series([value]), kind).iloc[0])
    if not isinstance(value, (int, float)):
        raise DomainError(f"generator.domain.{column}: '{column}' holds numbers, the bound {value} is not one. "
                          "Fix: write numeric bounds")
    return float(value)


def _declared_dtype(series: pd.Series, nullable: bool) -> str:
    if pd.api.types.is_bool_dtype(series):
        return "boolean"
    if pd.api.types.is_integer_dtype(series) and (nullable or str(series.dtype)[0] == "I"):
        return "Int64"
    return str(series.dtype)


def codecs_from_domain(train: pd.DataFrame, domain: dict[str, ColumnDomain], *, categorical: set[str],
                       numeric: set[str] = frozenset()) -> list[ColumnCodec]:
    """Codecs whose categories, bounds, fill value and nullability all come from the declared domain.

    The rows are only checked against it (and only the column types, a schema property, are read).
    `categorical` columns (a classification label, lookup keys) must be declared with `values`,
    `numeric` ones (a regression label) with bounds."""
    missing = [c for c in train.columns if c not in domain]
    unknown = sorted(set(domain) - set(train.columns))
    if missing or unknown:
        problem = []
        if missing:
            problem.append(f"no declared domain for {', '.join(missing)}")
        if unknown:
            problem.append(f"{', '.join(unknown)} {'is' if len(unknown) == 1 else 'are'} not synthesized "
                           f"(synthesized: {', '.join(train.columns)})")
        raise DomainError(f"generator.domain: {'; '.join(problem)}. Fix: declare every synthesized column "
                          "(e.g. `purpose: {values: [car, home]}` or `amount: {minimum: 0, maximum: 50000}`) and "
                          "no other")
    codecs = []
    for name in train.columns:
        series, declared = train[name], domain[name]
        nullable = declared.nullable
        if series.isna().any() and not nullable:
            raise DomainError(f"generator.domain.{name}: '{name}' has missing values but is declared not nullable. "
                              f"Fix: set `nullable: true` for it, or filter or fill them in training_view.sql")
        if declared.values is not None:
            if name in numeric:
                raise DomainError(f"generator.domain.{name}: '{name}' is the regression label, a number. "
                                  "Fix: declare `minimum` and `maximum` for it")
            categories = list(declared.values)
            outside = ~series.dropna().isin(categories)
            if outside.any():
                raise DomainError(f"generator.domain.{name}.values: {int(outside.sum())} train rows of '{name}' hold "
                                  "a value that is not declared. Fix: add the missing values to the declared list "
                                  "(check the column's type: 1 and '1' differ), or map them in training_view.sql")
            codecs.append(ColumnCodec(name=name, kind="category", has_missing=nullable, categories=categories,
                                      dtype=_declared_dtype(series, nullable)))
            continue
        if name in categorical:
            raise DomainError(f"generator.domain.{name}: '{name}' is synthesized as a category (a classification "
                              "label or lookup key). Fix: declare its `values`")
        kind = column_kind(series, learn_formats=False)  # the column's type only, nothing from its values
        if kind == "category":
            raise DomainError(f"generator.domain.{name}: '{name}' holds text, not numbers, dates or timestamps. "
                              "Fix: declare its `values` instead of bounds")
        low, high = _bound_number(declared.minimum, kind, name), _bound_number(declared.maximum, kind, name)
        dtype = _declared_dtype(series, nullable) if kind in ("integer", "float") else str(series.dtype)
        codecs.append(ColumnCodec(name=name, kind=kind, has_missing=nullable, fill=low, minimum=low, maximum=high,
                                  dtype=dtype))
    return codecs


def plugin_domain(codecs: list[ColumnCodec]) -> dict[str, dict[str, Any]]:
    """The declared domain of each column of the encoded frame (synthesis.encode), for the DP plugin:
    `values` (the labels a category column is encoded to) or `bounds` and `integer`."""
    domain: dict[str, dict[str, Any]] = {}
    for codec in codecs:
        if codec.kind == "category":
            domain[codec.name] = {"values": codec.labels() + ([MISSING] if codec.has_missing else [])}
            continue
        if codec.has_missing:
            domain[codec.missing_flag] = {"values": [0, 1]}
        domain[codec.name] = {"bounds": [codec.minimum, codec.maximum],
                              "integer": codec.kind in ("integer", "date")}
    return domain


def privacy_record(plugin: str, model: Any, epsilon: float) -> dict[str, Any]:
    """The DP budget, how it was spent, and the conditions under which the guarantee holds
    (privbayes is the one DP plugin offered, see generator_settings.DP_ARGUMENTS)."""
    if plugin != "privbayes":
        raise ValueError(f"no differential-privacy accounting for plugin '{plugin}'")
    from synth_pipelines.generators.plugin_privbayes import STRUCTURE_SHARE

    return {"plugin": plugin, "epsilon_budget": epsilon, "delta": None, "epsilon_spent": epsilon,
            "accounting": f"configured budget, pure epsilon-DP under the assumptions listed: {STRUCTURE_SHARE:g} of "
                          "it chooses the network (exponential mechanism), the rest noises the conditionals "
                          "(Laplace over every cell of the declared domain)",
            "neighbouring_datasets": NEIGHBOURS, "unit_of_privacy": UNIT_OF_PRIVACY,
            "domain": "declared in the spec (generator.domain), public, never read from the rows",
            "noise_source": NOISE_SOURCE, "reproducible_from_seed": False,
            "train_holdout_split": "HMAC of the entity key with the platform key (one person's change moves only "
                                   "that person), unless training_view.holdout_sql selects the holdout",
            "not_covered_by_epsilon": list(DISCLOSURE)}


def keyed_split(view: pd.DataFrame, view_spec: TrainingViewSpec, dataset: str) -> Split:
    """Train/holdout by an HMAC of each row's entity key: a row is in the holdout when its keyed number
    is below holdout_fraction. Unlike a stratified split, one person's row (its label included) decides
    only where that person goes, and nobody without the platform key knows where anyone went."""
    from synth_pipelines.core.training_view import Split

    draws = keyed_uniforms(view[view_spec.entity_key].tolist(), f"{SPLIT_PURPOSE}:{dataset}")
    holdout = draws < view_spec.holdout_fraction
    return Split(train=view[~holdout].reset_index(drop=True), holdout=view[holdout].reset_index(drop=True))


def published_privacy(privacy: dict[str, Any] | None, ledger: dict[str, Any] | None) -> dict[str, Any] | None:
    """The manifest's and published report's `differential_privacy`: the record plus the dataset's ledger."""
    if privacy is None:
        return None
    return {**privacy, "ledger": ledger}


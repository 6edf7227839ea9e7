"""A preview of a dataset's run: the same pipeline on a small sample with less training work, so a
spec author sees problems, timings and QA in a minute or two before committing to the full run.

`preview_spec` is a plain spec transformation; the orchestration runs the user's own job with it,
on a separate storage root, and publishes nothing.

- rows: the view SQL is wrapped in a seeded DuckDB reservoir sample sized so that about
  PREVIEW_TRAIN_ROWS remain after the holdout split (all rows when the view is smaller);
- work: every work setting in PREVIEW_WORK that the plugin accepts (synthcity's n_iter epochs,
  arf's num_trees, ...) is capped, from the spec's value or else the plugin's default; plugins
  without one (e.g. bayesian_network's structure search has only struct_learning_n_iter) run as is;
- output: PREVIEW_SYNTHETIC_ROWS synthetic rows; every QA check is advisory (reported, not gating).
"""

from __future__ import annotations

import math
from typing import Any

from synth_pipelines.core.sql import single_select
from synth_pipelines.core.quality.thresholds import CHECK_NAMES
from synth_pipelines.core.synthcity_plugins import plugin_arguments, plugin_defaults
from synth_pipelines.spec import FieldError, GeneratorSpec, LoadedSpec

PREVIEW_TRAIN_ROWS = 2_000
PREVIEW_SYNTHETIC_ROWS = 500
# Caps on the settings that scale synthcity plugins' training work; a smaller value is kept.
PREVIEW_WORK = {
    "n_iter": 50,  # epochs of the neural plugins (tvae, ctgan, ddpm, nflow, ...): defaults 1000-10000
    "n_iter_baseline": 100,  # decaf's baseline epochs
    "num_trees": 10,  # arf: trees per adversarial round (default 30)
    "max_iters": 3,  # arf: adversarial rounds (default 10)
    "struct_learning_n_iter": 100,  # bayesian_network/decaf: hill-climbing steps (default 1000)
}


def reduced_settings(generator: GeneratorSpec) -> dict[str, Any]:
    """The generator's settings with every work setting the plugin accepts capped for a preview."""
    accepted, defaults = plugin_arguments(generator.plugin), plugin_defaults(generator.plugin)
    settings = dict(generator.settings)
    for name, cap in PREVIEW_WORK.items():
        value = settings.get(name, defaults.get(name))
        if name in accepted and isinstance(value, int | float) and value > cap:
            settings[name] = cap
    # Early stopping must not demand more epochs than the preview runs.
    minimum = settings.get("n_iter_min", defaults.get("n_iter_min"))
    if "n_iter_min" in accepted and isinstance(minimum, int) and "n_iter" in settings and minimum > settings["n_iter"]:
        settings["n_iter_min"] = settings["n_iter"]
    return settings


def preview_spec(loaded: LoadedSpec, train_rows: int = PREVIEW_TRAIN_ROWS,
                 synthetic_rows: int = PREVIEW_SYNTHETIC_ROWS) -> LoadedSpec:
    """The spec of a preview run: sampled view, reduced training work, few rows, QA advisory only."""
    spec = loaded.spec
    view = spec.training_view
    view_rows = math.ceil(train_rows / (1 - view.holdout_fraction))
    try:  # the one statement the sandbox accepts, so the sample wraps exactly that query
        sql = single_select(view.sql, "training_view.sql")
    except FieldError as exc:
        raise loaded.error_from(exc) from None
    sampled = (f"SELECT * FROM (\n{sql}\n) AS preview_view "
               f"USING SAMPLE reservoir({view_rows} ROWS) REPEATABLE ({spec.generator.seed})")
    rows = min(synthetic_rows, spec.synthetic.rows)
    preview = spec.model_copy(update={
        "training_view": view.model_copy(update={"sql": sampled}),
        "generator": spec.generator.model_copy(update={"settings": reduced_settings(spec.generator)}),
        "synthetic": spec.synthetic.model_copy(update={"rows": rows, "batch_rows": min(spec.synthetic.batch_rows, rows)}),
        "qa": spec.qa.model_copy(update={"advisory_checks": list(CHECK_NAMES), "require_approval": False}),
    })
    return LoadedSpec(path=loaded.path, spec=preview, raw=loaded.raw)


def work_ratio(full: GeneratorSpec, preview: GeneratorSpec) -> float:
    """How many times more training work the full settings do than the preview's (1 when none was cut)."""
    from synth_pipelines.core.assessment import work_setting

    full_work, preview_work = work_setting(full), work_setting(preview)
    ratio = full_work[1] / preview_work[1] if full_work and preview_work and preview_work[1] else 1.0
    if "max_iters" in preview.settings:  # arf's rounds multiply its trees (early stopping may cut them)
        defaults = plugin_defaults(full.plugin)
        ratio *= full.settings.get("max_iters", defaults.get("max_iters", 1)) / preview.settings["max_iters"]
    return ratio


def preview_limits(full: Any, preview: Any, *, train_rows: int, synthetic_rows: int, discriminator_rows: int | None,
                   full_train_rows: int) -> list[str]:
    """What a preview cannot tell about the full run, with the sizes the preview actually judged.

    `full`/`preview` are the two specs; the row counts are those the preview's records show
    (synthesizer.json, the QA report); `full_train_rows` the assessment's count of the full train rows."""
    full_discriminator = min(full_train_rows, full.synthetic.rows, full.qa.discriminator_rows)
    seen = f" (the discriminator saw {discriminator_rows} rows per side)" if discriminator_rows else ""
    lines = [f"QA verdicts: the preview judged {synthetic_rows} synthetic rows against {train_rows} train rows{seen}; "
             f"the full run judges {full.synthetic.rows} against {full_train_rows} (the discriminator sees "
             f"{full_discriminator} per side). More rows make synthetic rows easier to tell apart and widen "
             "thresholds on sampled estimates less, so a check that passes here can fail in the full run"]
    if preview.generator.settings != full.generator.settings:
        lines.append(f"model quality: the preview trained with {preview.generator.settings}; the full settings "
                     f"({full.generator.settings or 'the plugin defaults'}) may fit the rows more closely, or "
                     "copy them more")
    lines.append("QA time: not estimated (its samples are capped by qa.discriminator_rows, qa.privacy_index_rows, ...)")
    return lines

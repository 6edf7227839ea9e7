"""Typed generator settings (`generator.epochs`, `generator.epsilon`, ...) mapped onto each synthcity
plugin's own argument names, read from synthcity 0.2.12's plugin sources.

Pure: plugin arguments and defaults come from `synthcity_plugins` (by AST), never from importing
synthcity. `check_settings` runs when a spec loads; `resolve_plugin_kwargs` runs at training time,
when the row count, the free memory and the CUDA devices are known. Plugin arguments that need
synthcity objects (ddpm's callbacks and validation metric) are described here as plain data and
built by `core.synthcity_callbacks`, so the resolved keyword arguments can go in the manifest.
"""

from __future__ import annotations

import math
from typing import Any

from synth_pipelines.core.synthcity_plugins import plugin_defaults

# Plugins that train torch models; the others ignore `device`.
TORCH_PLUGINS = ("adsgan", "ctgan", "ddpm", "nflow", "rtvae", "tvae")
# Maximum epochs/iterations: n_iter for the torch plugins, arf's
# adversarial loop max_iters. bayesian_network's struct_learning_n_iter bounds a structure search, not training.
EPOCHS_ARGUMENT = {**{p: "n_iter" for p in TORCH_PLUGINS}, "arf": "max_iters"}
# Plugins that evaluate (validation loss or a detection metric on a fixed 20% split) every n_iter_print
# epochs, log a loss line there, and stop after `patience` evaluations without improvement past n_iter_min.
INTERVAL_CHECKED = ("adsgan", "ctgan", "nflow", "rtvae", "tvae")
EARLY_STOPPING = (*INTERVAL_CHECKED, "ddpm")  # ddpm: synthcity's EarlyStopping callback, every epoch
PROGRESS = ("adsgan", "ctgan", "ddpm", "rtvae", "tvae")  # those with per-epoch loss lines
# Differentially private plugins and their argument for each typed DP setting. synthcity's dpgan,
# pategan and aim are refused (synthcity_plugins.UNSUPPORTED): they do not deliver the DP they claim.
DP_ARGUMENTS = {
    "privbayes": {"epsilon": "epsilon"},  # this project's PrivBayes (generators/plugin_privbayes.py)
}
# Plugin settings refused under differential privacy: each touches the real rows outside the mechanism.
REFUSED_SETTINGS = {
    "compress_dataset": "synthcity then trains XGBoost models on the real rows outside the mechanism and uses "
                        "them when generating",
    "strict": "synthcity then filters generated rows against ranges and value counts read from the real rows "
              "and drops duplicates",
    "mi_thresh": "it tests the exact mutual information of the real rows, a decision no budget pays for",
    "domain": "the domain comes from generator.domain in the spec, validated there",
}
# ddpm's early stopping score on the validation rows: cheap, and minimized.
DDPM_VALIDATION_METRIC = ("stats", "jensenshannon_dist")
DDPM_DEFAULT_VALIDATION_FRACTION = 0.2

# Why a plugin lacks a setting, where there is more to say than "it has no such argument".
_WHY_NOT = {
    ("validation_fraction", INTERVAL_CHECKED): "synthcity always validates it on a fixed 20% of the train rows",
    ("early_stopping.min_relative_improvement", INTERVAL_CHECKED):
        "synthcity counts any improvement of its validation score, however small",
    ("early_stopping", ("arf",)): "arf only has a yes/no `early_stop` (stop when accuracy stops improving; "
                                  "settings.early_stop), no patience",
    ("progress_every", ("nflow",)): "synthcity's nflow logs no per-epoch loss",
    ("delta", ("privbayes",)): "privbayes is pure epsilon-DP, it has no delta",
    ("epsilon", ("adsgan",)): "adsgan's identifiability penalty is not formal differential privacy and has no "
                              "epsilon (use privbayes for a DP guarantee)",
    ("noise_multiplier", tuple(DP_ARGUMENTS)): "privbayes calibrates its Laplace noise from epsilon; no DP-SGD "
                                               "generator is offered (synthcity's dpgan is not DP, see BENCHMARKS.md)",
    ("max_grad_norm", tuple(DP_ARGUMENTS)): "privbayes is not trained by gradient descent; no DP-SGD generator is "
                                            "offered (synthcity's dpgan is not DP, see BENCHMARKS.md)",
}


class SettingProblem(ValueError):
    """A typed setting the plugin cannot take; `field` is relative to `generator`."""

    def __init__(self, field: str, problem: str, fix: str) -> None:
        super().__init__(field, problem, fix)
        self.field, self.problem, self.fix = field, problem, fix

    def __str__(self) -> str:
        return f"generator.{self.field}: {self.problem}. Fix: {self.fix}"


def supporting_plugins(field: str) -> tuple[str, ...]:
    top = field.split(".")[0]
    if field == "early_stopping.min_relative_improvement":
        return ("ddpm",)
    if top == "validation_fraction":
        return ("ddpm",)
    if top in ("epsilon", "delta", "max_grad_norm", "noise_multiplier"):
        return tuple(sorted(p for p, arguments in DP_ARGUMENTS.items() if top in arguments))
    table = {"epochs": tuple(EPOCHS_ARGUMENT), "learning_rate": TORCH_PLUGINS, "batch_size": TORCH_PLUGINS,
             "device": TORCH_PLUGINS, "early_stopping": EARLY_STOPPING, "progress_every": PROGRESS}
    return tuple(sorted(table[top]))


def _unsupported(field: str, plugin: str) -> SettingProblem:
    reason = next((why for (name, plugins), why in _WHY_NOT.items() if name == field and plugin in plugins), None)
    supported = supporting_plugins(field)
    problem = f"plugin '{plugin}' does not support {field}" + (f": {reason}" if reason else "")
    fix = (f"remove it, or use a plugin that supports it: {', '.join(supported)}" if supported
           else "remove it")
    return SettingProblem(field, problem, fix)


def typed_fields_set(generator: Any) -> list[str]:
    """The typed settings a spec's generator section sets (dotted names for early stopping)."""
    names = [name for name in ("epochs", "learning_rate", "batch_size", "validation_fraction", "early_stopping",
                               "device", "progress_every", "epsilon", "delta", "max_grad_norm", "noise_multiplier")
             if getattr(generator, name) is not None]
    stopping = generator.early_stopping
    if stopping is not None and stopping.min_relative_improvement is not None:
        names.append("early_stopping.min_relative_improvement")
    return names


# Arguments the pipeline sets itself (ddpm's progress callback and the loss history it reads).
ALWAYS_SET = {"callbacks", "validation_metric", "log_interval"}


def controlled_arguments(plugin: str) -> dict[str, str]:
    """Plugin argument -> the typed setting that owns it (a raw `settings` entry must not set it)."""
    owned = {EPOCHS_ARGUMENT[plugin]: "epochs"} if plugin in EPOCHS_ARGUMENT else {}
    if plugin in TORCH_PLUGINS:
        owned |= {"lr": "learning_rate", "batch_size": "batch_size", "device": "device"}
    if plugin in INTERVAL_CHECKED:
        owned |= {"n_iter_print": "progress_every", "patience": "early_stopping", "n_iter_min": "early_stopping"}
    if plugin == "ddpm":
        owned |= {"validation_size": "validation_fraction", "validation_metric": "validation_fraction",
                  "callbacks": "early_stopping", "log_interval": "progress_every"}
    owned |= {argument: field for field, argument in DP_ARGUMENTS.get(plugin, {}).items()}
    return owned


def check_settings(generator: Any) -> None:
    """Raise SettingProblem for a typed setting the plugin lacks, a missing epsilon, or a raw duplicate."""
    plugin = generator.plugin
    for field in typed_fields_set(generator):
        if plugin not in supporting_plugins(field):
            raise _unsupported(field, plugin)
    if plugin in DP_ARGUMENTS and generator.epsilon is None:
        raise SettingProblem("epsilon", f"plugin '{plugin}' is differentially private and needs a privacy budget",
                             "set generator.epsilon (e.g. 1.0; smaller is more private)")
    owned = controlled_arguments(plugin)
    typed = {field.split(".")[0] for field in typed_fields_set(generator)}
    for key in generator.settings:
        # A raw argument is refused when its typed setting is set too, or when the pipeline always sets it.
        if key in owned and (owned[key] in typed or key in ALWAYS_SET):
            raise SettingProblem(f"settings.{key}", f"'{key}' is set by the typed setting generator.{owned[key]}",
                                 f"remove it from settings and use generator.{owned[key]}")
    check_dp_declarations(generator)


def check_dp_declarations(generator: Any) -> None:
    """Raise SettingProblem for a privacy declaration that does not fit the generator (core/differential_privacy.py
    says why each is needed)."""
    if not generator.differentially_private:
        for field in ("epsilon_limit", "domain"):
            if getattr(generator, field):
                raise SettingProblem(field, f"only a differentially private generator takes `{field}` (plugin "
                                     f"'{generator.plugin}' is not)", "remove it, or use plugin privbayes")
        return
    if generator.epsilon is None:
        return  # check_settings already says that epsilon is needed
    for name in sorted(set(generator.settings) & set(REFUSED_SETTINGS)):
        raise SettingProblem(f"settings.{name}", f"refused under differential privacy: {REFUSED_SETTINGS[name]}",
                             f"remove settings.{name}")
    if generator.epsilon_limit is None:
        raise SettingProblem("epsilon_limit", "a differentially private dataset needs a total budget for all its "
                                              "releases (their epsilons add up)",
                             f"set generator.epsilon_limit, e.g. {10 * generator.epsilon:g} for ten releases")
    if generator.epsilon > generator.epsilon_limit:
        raise SettingProblem("epsilon", f"{generator.epsilon:g} is more than generator.epsilon_limit "
                                        f"{generator.epsilon_limit:g}", "lower epsilon or raise the limit")
    if not generator.domain:
        raise SettingProblem("domain", "a differentially private generator needs the domain of every synthesized "
                                       "column declared (the domain is public and must not be read from the rows)",
                             "add generator.domain with, per column, `values: [...]` or `minimum`/`maximum`, and "
                             "`nullable: true` where it may be missing")


def auto_batch_size(train_rows: int, encoded_columns: int, free_memory_bytes: int) -> int:
    """About ten optimizer steps per epoch, as a power of two from 32 to 4096, never more than the rows,
    and small enough that one batch's float32 inputs and two 500-unit hidden layers, with their
    gradients, take at most 1% of the free memory of the training device."""
    size = 32
    while size * 2 <= min(train_rows // 10, 4096):
        size *= 2
    bytes_per_row = 4 * (encoded_columns + 2 * 500) * 2
    memory_cap = max(1, free_memory_bytes // 100 // bytes_per_row)
    return max(1, min(size, memory_cap, train_rows))


def resolve_device(requested: str, cuda_available: bool) -> str:
    if requested == "auto":
        return "cuda" if cuda_available else "cpu"
    if requested == "cuda" and not cuda_available:
        raise SettingProblem("device", "cuda was asked for but torch finds no CUDA device on this machine "
                             "(torch.cuda.is_available() is False)",
                             "use device: auto (cuda when present, else cpu) or cpu, or run on a machine with an "
                             "NVIDIA GPU and a CUDA build of torch")
    return requested


def resolve_plugin_kwargs(generator: Any, *, train_rows: int, encoded_columns: int, cuda_available: bool,
                          free_memory_bytes: int) -> dict[str, Any]:
    """The keyword arguments the plugin gets: the raw `settings` plus the typed settings under the
    plugin's own names. JSON-able; ddpm's `callbacks`/`validation_metric` are descriptions."""
    check_settings(generator)
    plugin = generator.plugin
    kwargs = dict(generator.settings)
    defaults = plugin_defaults(plugin)
    if generator.epochs is not None:
        kwargs[EPOCHS_ARGUMENT[plugin]] = generator.epochs
    epochs_argument = EPOCHS_ARGUMENT.get(plugin, "")
    epochs = kwargs.get(epochs_argument, defaults.get(epochs_argument, 0))
    if generator.learning_rate is not None:
        kwargs["lr"] = generator.learning_rate
    if generator.batch_size == "auto":
        kwargs["batch_size"] = auto_batch_size(train_rows, encoded_columns, free_memory_bytes)
    elif generator.batch_size is not None:
        kwargs["batch_size"] = generator.batch_size
    if generator.device is not None:
        kwargs["device"] = resolve_device(generator.device, cuda_available)
    # One line (and, for INTERVAL_CHECKED, one validation check) every `every` epochs: ~10 per run.
    every = generator.progress_every or max(1, epochs // 10)
    stopping = generator.early_stopping
    if plugin in INTERVAL_CHECKED:
        kwargs["n_iter_print"] = every = kwargs.get("n_iter_print", every)
        if stopping is not None:
            kwargs["patience"] = math.ceil(stopping.patience / every)  # synthcity counts checks, not epochs
            kwargs["n_iter_min"] = stopping.min_epochs
    if plugin == "ddpm":
        callbacks: list[dict[str, Any]] = [{"kind": "progress", "every": every}]
        kwargs["log_interval"] = 1  # ddpm's loss history: one entry per step, for the progress lines
        if stopping is not None or generator.validation_fraction is not None:
            kwargs["validation_size"] = generator.validation_fraction or DDPM_DEFAULT_VALIDATION_FRACTION
            kwargs["validation_metric"] = {"metric": list(DDPM_VALIDATION_METRIC)}
        if stopping is not None:
            callbacks.append({"kind": "early_stopping", "patience": stopping.patience,
                              "min_epochs": stopping.min_epochs,
                              "min_relative_improvement": stopping.min_relative_improvement or 0.0})
        kwargs["callbacks"] = callbacks
    for field, argument in DP_ARGUMENTS.get(plugin, {}).items():
        value = getattr(generator, field)
        if value is not None:
            kwargs[argument] = value
    return kwargs

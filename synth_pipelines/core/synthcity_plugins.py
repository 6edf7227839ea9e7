"""Finding and loading synthcity plugins one at a time.

`synthcity.plugins.Plugins()` imports every plugin module on each call, which costs seconds and
floods the terminal with import errors from plugins nobody asked for (goggle needs dgl, great
needs a model hub). We import only the chosen plugin's module and keep synthcity's loguru output
in Python logging, where Dagster and the CLI decide what to show.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import logging
import os
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

# Plugin folders holding tabular generators that fit a plain DataFrame.
TABULAR_CATEGORIES = ("generic", "privacy")
# Present in synthcity 0.2.12 but unusable here, with the reason shown to the user.
UNSUPPORTED = {
    "goggle": "needs dgl and torch_geometric, which have no build for the pinned torch",
    "great": "downloads a language model from a model hub at training time",
    # Differential privacy claimed but not delivered by synthcity 0.2.12 (source audit, see BENCHMARKS.md).
    "dpgan": "not differentially private in synthcity 0.2.12: only the discriminator is trained with DP-SGD, while "
             "the generator's conditional loss, the row sampler and the encoder read the real rows directly; "
             "use privbayes for a DP guarantee",
    "pategan": "not differentially private in synthcity 0.2.12: its student discriminator trains on the real rows, "
               "bypassing the PATE teachers; use privbayes for a DP guarantee",
    "aim": "synthcity 0.2.12 re-runs the whole AIM mechanism on the raw rows at every generate call (the pipeline "
           "generates in batches), spending the budget again each time, and keeps the raw rows in the model; use "
           "privbayes for a DP guarantee",
}
# Arguments every synthcity plugin takes (synthcity.plugins.core.plugin.Plugin.__init__).
_BASE_ARGUMENTS = {"random_state", "device", "workspace", "compress_dataset", "sampling_patience",
                   "sampling_strategy", "strict"}
# Set by the pipeline itself; a spec must not set them (the seed has its own field; cart's label kind
# and missing flag come from the label's codec).
RESERVED_SETTINGS = {"random_state", "workspace", "label_kind", "label_missing_flag"}

log = logging.getLogger("synth_pipelines.synthcity")
# synthcity's per-epoch lines, logged at loguru DEBUG (pategan's at INFO): "[12/100]\tLoss_D: ...",
# "[12/100] Loss: ...", "[12/100] Privacy budget: ...", "[12/100] Early stopping", "[pategan it 3] epsilon_hat ...".
_PROGRESS_LINE = re.compile(r"^\s*\[(\d+/\d+|pategan it \d+)\]")


# This project's own synthcity plugins (synth_pipelines/generators/plugin_<name>.py).
OWN_PLUGINS = Path(__file__).resolve().parents[1] / "generators"


@cache
def _plugin_files() -> dict[str, Path]:
    spec = importlib.util.find_spec("synthcity")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("synthcity is not installed; run `make install`")
    root = Path(list(spec.submodule_search_locations)[0]) / "plugins"
    files = [file for category in TABULAR_CATEGORIES for file in sorted((root / category).glob("plugin_*.py"))]
    return {file.stem.removeprefix("plugin_"): file for file in files + sorted(OWN_PLUGINS.glob("plugin_*.py"))}


def _module_name(name: str) -> str | None:
    file = _plugin_files().get(name)
    if file is None:
        return None
    if file.parent == OWN_PLUGINS:
        return f"synth_pipelines.generators.{file.stem}"
    return f"synthcity.plugins.{file.parent.name}.{file.stem}"


def available_plugins() -> list[str]:
    """Tabular plugin names, found from synthcity's files without importing them."""
    return sorted(name for name in _plugin_files() if name not in UNSUPPORTED)


def quiet_synthcity_env() -> None:
    """Mute third-party import chatter; call before synthcity (and tqdm) are imported."""
    os.environ.setdefault("KEOPS_VERBOSE", "0")  # else pykeops prints a CUDA warning on CPU machines
    os.environ.setdefault("TQDM_DISABLE", "1")  # per-epoch bars flood logs; stages log progress themselves
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    # Worker processes (joblib/loky, used by pgmpy and sklearn) start with default warning filters.
    os.environ.setdefault("PYTHONWARNINGS", "ignore::UserWarning,ignore::FutureWarning,ignore::DeprecationWarning")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", category=UserWarning, module=r"(torch|sklearn|synthcity|pykeops|geomloss)")


@contextmanager
def muted_library_warnings() -> Iterator[None]:
    """Silence library warnings while a plugin trains or samples (e.g. sklearn's, raised through pgmpy
    on every fit). Our own problems are raised as errors, not warnings, so nothing of ours is lost."""
    with warnings.catch_warnings():
        for category in (UserWarning, FutureWarning, DeprecationWarning, RuntimeWarning):
            warnings.simplefilter("ignore", category)
        yield


@contextmanager
def root_logging_kept() -> Iterator[None]:
    """Undo what imports inside the block do to the root logger. opacus (imported by synthcity's data
    loader) and pgmpy call logging.basicConfig on import: the stderr handler it adds printed every
    pipeline INFO line a second time ("12/02/2026 ...:INFO:cart: training with {...}"), after the
    copy Dagster or the CLI already showed."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield
    finally:
        for handler in [h for h in root.handlers if h not in handlers]:
            root.removeHandler(handler)
        root.setLevel(level)


@cache
def quiet_synthcity() -> None:
    """Route synthcity's loguru sink to Python logging, where Dagster and the CLI decide what to show.

    Call before importing anything from synthcity: the modules that configure root logging on import
    are imported here, once, with the root logger restored after."""
    quiet_synthcity_env()
    with root_logging_kept():
        import synthcity.logger as synthcity_logger
        import synthcity.plugins.core.dataloader  # noqa: F401 - imports opacus
        from loguru import logger as loguru_logger

        try:
            import pgmpy.global_vars  # noqa: F401 - bayesian_network's and privbayes' dependency
        except ImportError:
            pass

    synthcity_logger.remove()
    # pgmpy logs a WARNING for every rounding of probabilities to sum to 1 while sampling.
    logging.getLogger("pgmpy").setLevel(logging.ERROR)

    def to_python_logging(message: Any) -> None:
        record = message.record
        if record["level"].no >= 30:
            level = logging.WARNING
        elif _PROGRESS_LINE.match(record["message"]):
            level = logging.INFO  # training progress: shown in the CLI and the Dagster run log
        else:
            level = logging.DEBUG
        log.log(level, "%s", record["message"])

    # DEBUG: synthcity logs its epoch and loss lines at DEBUG.
    loguru_logger.add(to_python_logging, level="DEBUG", format="{message}")


def load_plugin_class(name: str) -> type:
    if name in UNSUPPORTED:
        raise ValueError(f"synthcity plugin '{name}' is not supported here: {UNSUPPORTED[name]}")
    module_name = _module_name(name)
    if module_name is None:
        raise ValueError(f"unknown synthcity plugin '{name}'; use one of: {', '.join(available_plugins())}")
    quiet_synthcity()
    with root_logging_kept():  # a plugin's own dependencies may configure root logging too
        plugin_class = importlib.import_module(module_name).plugin
    if module_name.startswith("synthcity."):  # every generated row kept (generators/keep_duplicates.py)
        from synth_pipelines.generators.keep_duplicates import keeping_duplicates

        return keeping_duplicates(plugin_class)
    return plugin_class


@cache  # parsed once: defaults, arguments and types all read it (and never change the tree)
def _plugin_init(name: str) -> ast.FunctionDef:
    tree = ast.parse(_plugin_files()[name].read_text())
    class_name = next(node.value.id for node in tree.body if isinstance(node, ast.Assign)
                      and any(getattr(t, "id", None) == "plugin" for t in node.targets))
    plugin_class = next(node for node in tree.body if isinstance(node, ast.ClassDef) and node.name == class_name)
    return next(node for node in plugin_class.body if isinstance(node, ast.FunctionDef) and node.name == "__init__")


@cache
def plugin_defaults(name: str) -> dict[str, Any]:
    """The literal default values of a plugin's __init__ arguments (e.g. n_iter), read from its source."""
    init = _plugin_init(name)
    positional = init.args.args[len(init.args.args) - len(init.args.defaults):]
    pairs = list(zip(positional, init.args.defaults)) + [
        (arg, default) for arg, default in zip(init.args.kwonlyargs, init.args.kw_defaults) if default is not None]
    defaults = {}
    for arg, node in pairs:
        try:
            defaults[arg.arg] = ast.literal_eval(node)
        except (ValueError, TypeError, SyntaxError):
            continue  # not a literal (e.g. DEVICE)
    return defaults


def plugin_arguments(name: str) -> set[str]:
    """The settings a plugin accepts, read from its source without importing synthcity (~20 s).

    synthcity plugins swallow unknown keyword arguments, so a typo would silently do nothing.
    """
    init = _plugin_init(name)
    own = {arg.arg for arg in init.args.args + init.args.kwonlyargs} - {"self"}
    return own | _BASE_ARGUMENTS


def unsupported_settings(name: str, settings: dict[str, Any]) -> list[str]:
    accepted = plugin_arguments(name)
    return sorted(key for key in settings if key not in accepted or key in RESERVED_SETTINGS)



# Names a plugin's __init__ annotations use, as types pydantic can check a setting's value against.
_ANNOTATION_TYPES: dict[str, Any] = {"int": int, "float": float, "str": str, "bool": bool, "list": list,
                                     "dict": dict, "tuple": tuple, "List": list, "Dict": dict, "Tuple": tuple,
                                     "None": type(None)}


def _annotation_type(node: ast.expr | None) -> Any:
    """The type an annotation written in a plugin's source stands for; None when it is not one of the
    plain types above (a library class, Any, a string): such settings are not type-checked here."""
    from typing import Optional, Union

    if isinstance(node, ast.Constant) and node.value is None:
        return type(None)
    if isinstance(node, ast.Name):
        return _ANNOTATION_TYPES.get(node.id)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        left, right = _annotation_type(node.left), _annotation_type(node.right)
        return None if left is None or right is None else Union[left, right]
    if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name):
        inner = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        types = [_annotation_type(item) for item in inner]
        if any(t is None for t in types):
            return None
        if node.value.id == "Optional":
            return Optional[types[0]]
        if node.value.id == "Union":
            return Union[tuple(types)]
        if node.value.id in ("List", "list"):
            return list[types[0]]
    return None


def mistyped_settings(name: str, settings: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(setting, the type the plugin declares, why the value does not fit) for each `settings` value
    that the plugin's own argument validation would refuse when training starts."""
    from pydantic import TypeAdapter, ValidationError

    init = _plugin_init(name)
    annotations = {arg.arg: arg.annotation for arg in init.args.args + init.args.kwonlyargs}
    found = []
    for key, value in settings.items():
        expected = _annotation_type(annotations.get(key))
        if expected is None:
            continue
        try:
            TypeAdapter(expected).validate_python(value)
        except ValidationError as exc:
            found.append((key, ast.unparse(annotations[key]), exc.errors()[0]["msg"]))
    return found

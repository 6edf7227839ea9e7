"""What every CLI command shares: one table of exit codes, one-line errors, `--json` output and
progress lines on a terminal.

Light on purpose (click and the standard library only): every command, `--help` included, imports it.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

import click

DEBUG_ENV = "SYNTH_PIPELINES_DEBUG"
_JSON_KEY = "synth_pipelines.json"


class ExitCode(IntEnum):
    """The exit status of every command, for the same outcome the same number (README: "Exit codes")."""

    OK = 0
    INTERNAL_ERROR = 1  # a bug or an environment failure (a stage crashed); the message says where
    INVALID_INPUT = 2  # spec, argument or input file; click's own usage errors exit 2 as well
    GATE_CLOSED = 3  # a blocking QA check failed (or QA has not run): nothing published
    AWAITING_APPROVAL = 4  # QA passed; the spec requires an approval that is not recorded (for these rows)
    ALREADY_PUBLISHED = 5  # releases are immutable: that release exists and was left as it was


class CliError(click.ClickException):
    """An error the user can fix, shown as one line on stderr (no usage text, no traceback)."""

    def __init__(self, message: str, code: ExitCode = ExitCode.INVALID_INPUT) -> None:
        super().__init__(message)
        self.code = code
        self.exit_code = int(code)

    def show(self, file: Any = None) -> None:
        click.echo(f"Error: {self.format_message()}", err=True)


@dataclass
class Outcome:
    """What a command ends with: its exit code and, for --json, the document printed on stdout."""

    code: ExitCode = ExitCode.OK
    data: dict[str, Any] = field(default_factory=dict)


def _guarded(function: Callable[..., Outcome], args: tuple, kwargs: dict[str, Any]) -> Outcome:
    """The command's outcome; an exception becomes a one-line message on stderr and its exit code."""
    try:
        return function(*args, **kwargs)
    except CliError as exc:
        exc.show()
        return Outcome(exc.code, {"error": exc.format_message()})
    except click.ClickException:
        raise
    except Exception as exc:
        from synth_pipelines.spec import SpecError  # here: importing the spec costs every --help

        if isinstance(exc, SpecError):
            click.echo(f"INVALID {exc}", err=True)
            return Outcome(ExitCode.INVALID_INPUT, {"error": str(exc)})
        if os.environ.get(DEBUG_ENV):
            raise
        message = f"{type(exc).__name__}: {exc}"
        click.echo(f"internal error: {message} (set {DEBUG_ENV}=1 to see the traceback)", err=True)
        return Outcome(ExitCode.INTERNAL_ERROR, {"error": message})


def command(json_flag: bool = False) -> Callable[[Callable[..., Outcome]], Callable[..., None]]:
    """Wrap a function returning an Outcome as a command body: errors as one line, exit with the code.

    With `json_flag`, the command takes --json: every message it (or a library) prints goes to stderr
    and stdout gets one JSON document: {"status", "exit_code", ...the outcome's data}."""

    def decorate(function: Callable[..., Outcome]) -> Callable[..., None]:
        @functools.wraps(function)
        def body(*args: Any, as_json: bool = False, **kwargs: Any) -> None:
            click.get_current_context().meta[_JSON_KEY] = as_json
            stdout = sys.stdout
            with contextlib.redirect_stdout(sys.stderr) if as_json else contextlib.nullcontext():
                outcome = _guarded(function, args, kwargs)
            if as_json:
                document = {"status": outcome.code.name.lower(), "exit_code": int(outcome.code), **outcome.data}
                stdout.write(json.dumps(document, indent=2, default=str) + "\n")
                stdout.flush()
            sys.exit(int(outcome.code))

        if json_flag:
            body = click.option("--json", "as_json", is_flag=True,
                                help="Print one JSON document on stdout; every message goes to stderr.")(body)
        return body

    return decorate


def json_mode() -> bool:
    """Whether the running command prints JSON (then text meant only for people can be left out)."""
    context = click.get_current_context(silent=True)
    return bool(context and context.meta.get(_JSON_KEY))


def progress_option(function: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--progress/--no-progress", "progress", default=None,
                        help="A line per stage and QA check on stderr. Default: when stderr is a terminal.")(function)


class Progress:
    """Progress of long work as one stderr line per stage, QA check or batch, while a person watches:
    when stderr is a terminal (or --progress). Nothing when not (logs stay quiet). Warnings always show."""

    def __init__(self, enabled: bool | None = None) -> None:
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.started = time.monotonic()

    def __call__(self, stage: str, message: str | None = None, level: int = logging.INFO) -> None:
        if level >= logging.WARNING:
            click.echo(f"warning: {stage}: {message}", err=True)
        elif self.enabled:
            elapsed = time.monotonic() - self.started
            click.echo(f"[{elapsed:4.0f} s] {stage}" + (f": {message}" if message else " ..."), err=True)

    @contextlib.contextmanager
    def from_logging(self, stage: str, logger: str = "synth_pipelines") -> Iterator[None]:
        """While the block runs, INFO lines that core code logs (e.g. the QA check being computed) are progress."""
        if not self.enabled:
            yield
            return
        target, handler = logging.getLogger(logger), _ProgressHandler(self, stage)
        previous = target.level
        target.addHandler(handler)
        target.setLevel(min(previous or logging.INFO, logging.INFO))
        try:
            yield
        finally:
            target.removeHandler(handler)
            target.setLevel(previous)


class _ProgressHandler(logging.Handler):
    def __init__(self, progress: Progress, stage: str) -> None:
        super().__init__(logging.INFO)
        self.progress, self.stage = progress, stage

    def emit(self, record: logging.LogRecord) -> None:
        self.progress(self.stage, record.getMessage(), record.levelno)

"""console: the exit-code table, one-line errors, --json documents and progress lines."""

from __future__ import annotations

import json
import logging

import click
from click.testing import CliRunner

from synth_pipelines.console import CliError, ExitCode, Outcome, Progress, command, progress_option


def test_exit_codes_are_one_table() -> None:
    assert {c.name: int(c) for c in ExitCode} == {"OK": 0, "INTERNAL_ERROR": 1, "INVALID_INPUT": 2,
                                                   "GATE_CLOSED": 3, "AWAITING_APPROVAL": 4,
                                                   "ALREADY_PUBLISHED": 5}


def _demo_command():
    @click.command()
    @click.option("--fail", type=click.Choice(["cli", "bug", "none"]), default="none")
    @progress_option
    @command(json_flag=True)
    def demo(fail: str, progress: bool | None) -> Outcome:
        print("a library printing to stdout")
        Progress(progress)("stage", "working")
        if fail == "cli":
            raise CliError("--x: bad. Fix: use a good one", ExitCode.INVALID_INPUT)
        if fail == "bug":
            raise RuntimeError("boom")
        click.echo("human text")
        return Outcome(ExitCode.GATE_CLOSED, {"answer": 42})

    return demo


def test_json_is_the_only_thing_on_stdout() -> None:
    result = CliRunner().invoke(_demo_command(), ["--json"])
    assert result.exit_code == ExitCode.GATE_CLOSED
    assert json.loads(result.stdout) == {"status": "gate_closed", "exit_code": 3, "answer": 42}
    assert "a library printing to stdout" in result.stderr and "human text" in result.stderr


def test_without_json_text_goes_to_stdout() -> None:
    result = CliRunner().invoke(_demo_command(), [])
    assert result.exit_code == ExitCode.GATE_CLOSED
    assert result.stdout == "a library printing to stdout\nhuman text\n"


def test_errors_are_one_line_with_their_code() -> None:
    result = CliRunner().invoke(_demo_command(), ["--fail", "cli"])
    assert result.exit_code == ExitCode.INVALID_INPUT
    assert result.stderr == "Error: --x: bad. Fix: use a good one\n"
    as_json = CliRunner().invoke(_demo_command(), ["--fail", "cli", "--json"])
    assert json.loads(as_json.stdout)["error"] == "--x: bad. Fix: use a good one"

    bug = CliRunner().invoke(_demo_command(), ["--fail", "bug"])
    assert bug.exit_code == ExitCode.INTERNAL_ERROR
    assert bug.stderr.strip() == "internal error: RuntimeError: boom (set SYNTH_PIPELINES_DEBUG=1 to see the traceback)"


def test_progress_is_silent_when_stderr_is_not_a_terminal() -> None:
    result = CliRunner().invoke(_demo_command(), [])  # CliRunner's stderr is no terminal
    assert result.stderr == ""
    forced = CliRunner().invoke(_demo_command(), ["--progress"])
    assert forced.stderr.endswith("] stage: working\n") and forced.stderr.startswith("[")


def test_progress_follows_the_terminal(monkeypatch) -> None:
    import io
    import sys

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(sys, "stderr", Terminal())
    assert Progress().enabled
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert not Progress().enabled


def test_progress_from_core_logging(capsys) -> None:
    progress = Progress(enabled=True)
    with progress.from_logging("qa"):
        logging.getLogger("synth_pipelines.core.quality.runner").info("QA: computing %s", "fidelity")
        logging.getLogger("synth_pipelines.core.quality.runner").debug("not shown")
    logging.getLogger("synth_pipelines.core.quality.runner").info("after the block: not shown")
    assert capsys.readouterr().err.splitlines()[-1].endswith("] qa: QA: computing fidelity")

    quiet = Progress(enabled=False)
    with quiet.from_logging("qa"):
        logging.getLogger("synth_pipelines.core.quality.runner").info("QA: computing %s", "utility")
    assert capsys.readouterr().err == ""

"""Loading synthcity plugins leaves Python logging as it was (issue 15: a stray duplicate log line)."""

import logging

import pytest

from synth_pipelines.core.synthcity_plugins import root_logging_kept


def test_a_library_calling_basic_config_on_import_leaves_no_root_handler(monkeypatch: pytest.MonkeyPatch) -> None:
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [])  # as in a fresh CLI process (pytest's own handlers restored after)
    monkeypatch.setattr(root, "level", logging.WARNING)
    with root_logging_kept():
        # What opacus (imported by synthcity) and pgmpy do when imported.
        logging.basicConfig(format="%(asctime)s:%(levelname)s:%(message)s", level=logging.INFO)
        assert root.handlers  # it did configure the root logger
    assert root.handlers == [] and root.level == logging.WARNING

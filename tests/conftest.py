"""Shared fixtures: every test gets its own, empty little_pipelines home folder."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def lp_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point LITTLE_PIPELINES_HOME at a fresh, empty folder so no test touches the real home."""
    home = tmp_path_factory.mktemp("lp_home")
    monkeypatch.setenv("LITTLE_PIPELINES_HOME", str(home))
    return home


def pytest_configure(config: pytest.Config) -> None:
    """Give Ctrl-C back its default action when the suite was started with it ignored.

    A suite started in the background (`pytest &`, some CI runners) inherits SIGINT ignored,
    every `lp` it starts would inherit that too, and lp keeps an ignored signal ignored (as
    `nohup` expects): the tests that press Ctrl-C would then test nothing.
    """
    import signal

    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)

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

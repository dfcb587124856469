"""The sample's report and the docs site, loaded in headless Chromium where it is installed.

A reader opens both from disk with no network: each must load without a script error, a
failed load, or a request that leaves the file system.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from browser import chromium, file_url, load
from e2e_helpers import Project

REPO = Path(__file__).resolve().parent.parent
BROWSER = chromium()
pytestmark = pytest.mark.skipif(BROWSER is None, reason="no Chromium on this machine")


def offline(requests: list[str]) -> list[str]:
    """The requests that would need a network."""
    return [url for url in requests if not url.startswith(("file://", "data:"))]


def test_the_sample_report_renders_its_charts_offline(tmp_path: Path) -> None:
    assert BROWSER
    project = Project(tmp_path, "transit")
    ignore = shutil.ignore_patterns(".little_pipelines", "output", "__pycache__")
    shutil.copytree(REPO / "sample_project", project.root, dirs_exist_ok=True, ignore=ignore)
    assert project.run()["ok"]
    charts = "[...document.querySelectorAll('svg')].filter(s => s.getBBox().width > 100).length"
    page = load(BROWSER, file_url(project.root / "output" / "report.html"), charts)
    assert page.errors == []
    assert offline(page.requests) == []
    assert page.value == 2  # both charts drawn, with a size


@pytest.mark.skipif(
    importlib.util.find_spec("material") is None, reason="the docs extra is not installed"
)
def test_the_docs_site_renders_and_searches_offline(tmp_path: Path) -> None:
    assert BROWSER
    site = tmp_path / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    build = [sys.executable, "-m", "mkdocs", "build", "-q", "-d", str(site)]
    subprocess.run(build, cwd=REPO, env=env, check=True, capture_output=True)
    for page_path in ("index.html", "reference/cli.html", "reference/api.html"):
        page = load(BROWSER, file_url(site / page_path), "document.querySelector('h1').textContent")
        assert page.errors == [], page_path
        assert offline(page.requests) == [], page_path
        assert page.value
    assert any(url.endswith("search/search_index.js") for url in page.requests)

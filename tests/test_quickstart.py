"""The README's quick start, exactly as written, on a fresh clone in a fresh venv.

It installs packages and runs the whole suite again, so it runs only when LP_QUICKSTART=1 (CI
sets it); the inner suite does not set it, so it does not run itself.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.skipif(
    os.environ.get("LP_QUICKSTART") != "1", reason="set LP_QUICKSTART=1 to try the quick start"
)


def quick_start_commands() -> list[str]:
    """The commands of the README's quick start block, in order."""
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Quick start", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    assert block, "the quick start has no bash block"
    return [line for line in block[1].splitlines() if line.strip() and not line.startswith("#")]


def clean_env() -> dict[str, str]:
    """This environment without the venv the outer suite runs in, and without LP_QUICKSTART."""
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env.pop("LP_QUICKSTART", None)
    ours = Path(sys.prefix).resolve()
    path = [
        p
        for p in env.get("PATH", "").split(os.pathsep)
        if not Path(p).resolve().is_relative_to(ours)
    ]
    env["PATH"] = os.pathsep.join(path)
    return env


def test_the_readme_quick_start_works_on_a_fresh_clone(tmp_path: Path) -> None:
    install_and_run, install_and_test = quick_start_commands()
    clone = tmp_path / "little_pipelines"
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
    env = clean_env()

    first = subprocess.run(
        ["bash", "-c", install_and_run], cwd=clone, env=env, capture_output=True, text=True
    )
    assert first.returncode == 0, first.stderr
    report = clone / "sample_project" / "output" / "report.html"
    assert "<svg" in report.read_text()

    tests = subprocess.run(
        ["bash", "-c", install_and_test], cwd=clone, env=env, capture_output=True, text=True
    )
    assert tests.returncode == 0, tests.stdout[-3000:] + tests.stderr[-3000:]
    assert re.search(r"\d+ passed", tests.stdout)
    assert "failed" not in tests.stdout.splitlines()[-1]

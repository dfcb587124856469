"""A cache lp may only read, and folders it cannot read, through real `lp` processes.

File modes only bind a process without the capabilities that override them, so when the
tests run as root, `lp` is started through `setpriv` with those capabilities dropped: the
process is still root (and owns the files), but the modes now apply to it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
from e2e_helpers import Project, Result, lp_command, make_env

_DROP = ["setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner", "--"]


def _prefix() -> list[str] | None:
    """How to start a process that file modes bind (None when this machine cannot)."""
    if not sys.platform.startswith("linux"):
        return None
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        return None
    probe = subprocess.run([*_DROP, "true"], capture_output=True)
    return _DROP if probe.returncode == 0 else None


PREFIX = _prefix()
pytestmark = pytest.mark.skipif(PREFIX is None, reason="cannot drop the override of file modes")

TASKS = """
    def task_a():
        return 1

    def task_b(a):
        return a + 1
"""


def bound(project: Project, *args: str) -> Result:
    """`lp ARGS` in `project`, as a process that its file modes bind."""
    assert PREFIX is not None
    proc = subprocess.run(
        [*PREFIX, *lp_command(), *args],
        cwd=project.root,
        env=make_env(project.home),
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def set_writable(folder: os.PathLike[str], writable: bool) -> None:
    """Add or take away the write bits of `folder` and everything in it."""
    for path, dirs, files in os.walk(folder):
        for name in [path, *(os.path.join(path, f) for f in dirs + files)]:
            mode = os.lstat(name).st_mode
            os.chmod(name, mode | 0o200 if writable else mode & ~0o222)


@pytest.fixture
def read_only(tmp_path):
    """A project that ran once, whose state folder was then made read-only."""
    project = Project(tmp_path)
    project.write("tasks_main.py", TASKS)
    project.run()
    set_writable(project.state, False)
    yield project
    set_writable(project.state, True)


def test_reading_commands_work_on_a_read_only_cache(read_only):
    listing = bound(read_only, "list", "--json")
    assert listing.rc == 0, str(listing)
    assert {row["name"]: row["state"] for row in listing.json["tasks"]} == {
        "a": "fresh",
        "b": "fresh",
    }
    shown = bound(read_only, "show", "b")
    assert (shown.rc, shown.out.strip()) == (0, "2"), str(shown)
    why = bound(read_only, "why", "b")
    assert why.rc == 0 and "'b' (tasks_main.py:4) is fresh" in why.out, str(why)
    graph = bound(read_only, "graph")
    assert graph.rc == 0 and "b [fresh]" in graph.out, str(graph)
    dry = bound(read_only, "run", "-n", "--json")
    assert dry.rc == 0, str(dry)
    assert {t["name"]: t["status"] for t in dry.json["tasks"]} == {"a": "cached", "b": "cached"}


@pytest.mark.parametrize("command", [("run",), ("clean",)])
def test_writing_to_a_read_only_cache_says_so_and_loses_nothing(read_only, command):
    result = bound(read_only, *command)
    state = read_only.state
    assert result.rc == 2, str(result)
    assert result.flat_err == (
        f"error: cannot write to the cache at {state}: it is read-only"
        f" (make it writable: chmod -R u+w {state})"
    )
    set_writable(state, True)
    assert read_only.statuses() == {"a": ("cached", None), "b": ("cached", None)}


def test_a_folder_that_cannot_be_read_is_skipped_with_a_warning(tmp_path):
    project = Project(tmp_path)
    project.write("tasks_main.py", TASKS)
    project.write("locked/tasks_locked.py", "def task_hidden():\n    return 0\n")
    project.write("listed_only/tasks_other.py", "def task_other():\n    return 0\n")
    (project.root / "locked").chmod(0)
    (project.root / "listed_only").chmod(0o311)  # may be entered, not listed
    warnings = [
        "cannot read the folder listed_only/; lp skipped any tasks files in it",
        "cannot read the folder locked/; lp skipped any tasks files in it",
    ]
    try:
        listing = bound(project, "list")
        assert listing.rc == 0, str(listing)
        assert sorted(listing.err.strip().splitlines()) == [f"warning: {w}" for w in warnings]
        ran = bound(project, "run", "--json")
        assert ran.rc == 0, str(ran)
        assert {t["name"] for t in ran.json["tasks"]} == {"a", "b"}
        assert sorted(ran.json["warnings"]) == warnings
    finally:
        (project.root / "locked").chmod(0o700)
        (project.root / "listed_only").chmod(0o700)

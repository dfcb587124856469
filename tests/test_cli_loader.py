"""Real `lp` processes run the source they fingerprinted, and tasks files never share a module."""

from __future__ import annotations

import json
import os
import py_compile
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from e2e_helpers import Project, executed, lp_command, make_env

SECOND = int(time.time()) - 100  # both saves land in this whole second


def save(p: Project, rel: str, text: str, fraction_ns: int) -> Path:
    """Write a file and pin its mtime inside SECOND; the pyc check compares whole seconds."""
    path = p.write(rel, text)
    stamp = SECOND * 1_000_000_000 + fraction_ns
    os.utime(path, ns=(stamp, stamp))
    return path


def compile_stale(*paths: Path) -> None:
    """The pyc files Python writes on import (the test environment may disable writing them)."""
    for path in paths:
        py_compile.compile(str(path), invalidation_mode=py_compile.PycInvalidationMode.TIMESTAMP)


TASKS = """
import helpers

def task_pair():
    return ("{mine}", helpers.f())
"""
HELPERS = """
def f():
    return "{theirs}"
"""


@pytest.mark.parametrize("jobs", [[], ["-j", "2"]], ids=["inline", "workers"])
def test_a_same_size_save_within_one_second_runs_the_new_code(
    tmp_path: Path, jobs: list[str]
) -> None:
    p = Project(tmp_path)
    tasks = save(p, "tasks_a.py", TASKS.format(mine="v1"), 100_000_000)
    helpers = save(p, "helpers.py", HELPERS.format(theirs="h1"), 100_000_000)
    assert executed(p.run(*jobs)) == {"pair"}
    compile_stale(tasks, helpers)

    save(p, "tasks_a.py", TASKS.format(mine="v2"), 600_000_000)  # same size, same second
    save(p, "helpers.py", HELPERS.format(theirs="h2"), 600_000_000)
    assert executed(p.run(*jobs)) == {"pair"}
    assert p.lp("show", "pair").out.strip() == "('v2', 'h2')"


BOX = """
class Box:
    def __init__(self, who):
        self.who = who

    def __repr__(self):
        return f"Box({{self.who!r}})"

def task_{name}():
    return Box("{name}")
"""


def test_tasks_files_whose_names_sanitise_alike_keep_their_own_results(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write("tasks_a-b.py", BOX.format(name="dash"))
    p.write("tasks_a_b.py", BOX.format(name="underscore"))
    assert executed(p.run()) == {"dash", "underscore"}
    shown = p.lp_many(("show", "dash"), ("show", "underscore"))
    assert [r.out.strip() for r in shown] == ["Box('dash')", "Box('underscore')"]
    script = (
        "import little_pipelines as lp\n"
        "dash, under = lp.load('dash'), lp.load('underscore')\n"
        "print(dash.who, under.who, type(dash).__module__ != type(under).__module__)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        cwd=p.root,
        env=make_env(p.home),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.split() == ["dash", "underscore", "True"]


def test_watch_runs_the_new_code_after_same_size_saves_within_one_second(tmp_path: Path) -> None:
    p = Project(tmp_path)
    tasks = save(p, "tasks_a.py", TASKS.format(mine="v1"), 100_000_000)
    helpers = save(p, "helpers.py", HELPERS.format(theirs="h1"), 100_000_000)
    compile_stale(tasks, helpers)
    lines: queue.Queue[str] = queue.Queue()
    proc = subprocess.Popen(
        [*lp_command(), "watch", "--json"],
        cwd=p.root,
        env=make_env(p.home),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        text=True,
    )

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)

    threading.Thread(target=read, daemon=True).start()

    def rerun_of(rel: str) -> None:
        """Wait for the run a save of `rel` caused (a save may arrive as two events)."""
        while True:
            run = json.loads(lines.get(timeout=30))
            if rel in run["trigger"] and executed(run) == {"pair"}:
                return

    try:
        first = json.loads(lines.get(timeout=30))
        assert executed(first) == {"pair"}
        save(p, "helpers.py", HELPERS.format(theirs="h2"), 600_000_000)  # same size and second
        rerun_of("helpers.py")
        assert p.lp("show", "pair").out.strip() == "('v1', 'h2')"
        save(p, "tasks_a.py", TASKS.format(mine="v2"), 900_000_000)
        rerun_of("tasks_a.py")
        assert p.lp("show", "pair").out.strip() == "('v2', 'h2')"
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0

"""`lp watch`: a real process, real file edits, real watchfiles events, read through --json."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from little_pipelines.runner import Project
from little_pipelines.watch import Watcher, relevant

TIMEOUT = 20  # seconds to wait for one run's line; generous for slow CI machines


class WatchProcess:
    """`lp watch --json` in a project, with its JSON lines readable one run at a time."""

    def __init__(self, root: Path, *args: str) -> None:
        env = {**os.environ, "NO_COLOR": "1", "LITTLE_PIPELINES_HOME": str(root / ".home")}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "little_pipelines", "watch", "--json", *args],
            cwd=root,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)

    def next_run(self) -> dict:
        try:
            return json.loads(self.lines.get(timeout=TIMEOUT))
        except queue.Empty:
            self.proc.kill()
            raise AssertionError("no run reported; stderr:\n" + self.proc.stderr.read()) from None

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGINT)
        return self.proc.wait(timeout=TIMEOUT)


def statuses(run: dict) -> dict[str, tuple[str, str | None]]:
    return {t["name"]: (t["status"], t["reason"]) for t in run["tasks"]}


def write(path: Path, text: str) -> None:
    path.write_text(textwrap.dedent(text))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    write(
        tmp_path / "tasks_main.py",
        """
        def task_a():
            return 1

        def task_b(a):
            return a + 1

        def task_c():
            return "independent"
        """,
    )
    return tmp_path


@pytest.fixture
def watching(project: Path):
    proc = WatchProcess(project)
    yield proc
    if proc.proc.poll() is None:
        proc.proc.kill()
        proc.proc.wait()


def test_edit_reruns_only_the_edited_task_and_its_dependents(project, watching):
    first = watching.next_run()
    assert first["trigger"] == []
    assert {s for s, _ in statuses(first).values()} == {"executed"}

    source = (project / "tasks_main.py").read_text()
    (project / "tasks_main.py").write_text(source.replace("return 1", "return 2"))
    second = watching.next_run()
    assert second["trigger"] == ["tasks_main.py"]
    assert statuses(second) == {
        "a": ("executed", "code"),
        "b": ("executed", "upstream"),
        "c": ("cached", None),
    }
    assert watching.stop() == 0


def test_error_is_reported_and_the_next_good_save_runs(project, watching):
    watching.next_run()
    (project / "tasks_main.py").write_text("def task_a(:\n    return 1\n")
    broken = watching.next_run()
    assert broken["ok"] is False
    assert broken["error"]["file"] == "tasks_main.py"
    assert broken["error"]["line"] == 1

    write(
        project / "tasks_main.py",
        """
        def task_a():
            return 1

        def task_b(a):
            return a + 10
        """,
    )
    fixed = watching.next_run()
    assert fixed["ok"] is True
    assert statuses(fixed) == {"a": ("cached", None), "b": ("executed", "code")}
    assert watching.stop() == 0


def test_new_tasks_file_and_helper_edit_are_picked_up(project, watching):
    watching.next_run()
    write(project / "helpers.py", "FACTOR = 2\n")
    write(
        project / "tasks_more.py",
        """
        from helpers import FACTOR

        def task_d(b):
            return b * FACTOR
        """,
    )
    run = watching.next_run()
    # a burst of two saves may arrive as one run or two; the last one must include d
    while "d" not in statuses(run):
        run = watching.next_run()
    assert statuses(run)["d"] == ("executed", "new")

    write(project / "helpers.py", "FACTOR = 3\n")
    run = watching.next_run()
    assert run["trigger"] == ["helpers.py"]
    assert statuses(run)["d"] == ("executed", "code")
    assert statuses(run)["a"] == ("cached", None)
    assert watching.stop() == 0


def test_rename_over_original_is_seen(project, watching):
    watching.next_run()
    tmp = project / ".tasks_main.py.swp"
    tmp.write_text((project / "tasks_main.py").read_text().replace('"independent"', '"x"'))
    os.replace(tmp, project / "tasks_main.py")
    run = watching.next_run()
    assert statuses(run)["c"] == ("executed", "code")
    assert statuses(run)["a"] == ("cached", None)
    assert watching.stop() == 0


def test_relevant_paths(tmp_path):
    root = tmp_path
    assert relevant(root, [], set(), root / "tasks_x.py")
    assert relevant(root, [], set(), root / "pkg" / "helpers.py")
    assert not relevant(root, [], set(), root / ".venv" / "lib" / "x.py")
    assert not relevant(root, [], set(), root / "node_modules" / "x.py")
    assert not relevant(root, ["scratch"], set(), root / "scratch" / "tasks_x.py")
    assert not relevant(root, [], set(), root / "data" / "orders.csv")
    assert relevant(root, [], {"data/*.csv"}, root / "data" / "orders.csv")


def test_scripted_changes_coalesce_and_stop(tmp_path):
    """The watcher with an injected change source: a burst of batches becomes one run."""
    write(tmp_path / "tasks_main.py", "def task_a():\n    return 1\n")
    project = Project(tmp_path)
    stop = threading.Event()
    runs: list[list[str]] = []
    edited = threading.Event()

    def changes(stop_event: threading.Event):
        edited.wait(TIMEOUT)
        write(tmp_path / "tasks_main.py", "def task_a():\n    return 2\n")
        yield {tmp_path / "tasks_main.py"}
        yield {tmp_path / "tasks_main.py"}

    def on_run(report, trigger):
        runs.append([f"{t.name}:{t.status}" for t in report.tasks])
        edited.set()

    watcher = Watcher(project, on_run=on_run, changes=changes, stop_event=stop)
    watcher.run()
    assert runs[0] == ["a:executed"]
    assert ["a:executed"] in runs[1:]
    assert len(runs) <= 3


def test_two_quick_ctrl_c_still_exit_cleanly(project, watching):
    watching.next_run()
    watching.proc.send_signal(signal.SIGINT)
    watching.proc.send_signal(signal.SIGINT)
    assert watching.proc.wait(timeout=TIMEOUT) == 0

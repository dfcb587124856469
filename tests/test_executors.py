"""Where tasks run: the in-process guard's marker and threads, and the worker pool's close."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest
from proc_helpers import alive, wait_for_file

from little_pipelines.engine.execute import RemoteCall
from little_pipelines.engine.executors import ProcessExecutor
from little_pipelines.engine.guard import InProcess
from little_pipelines.project.loader import worker_modules


def test_the_marker_names_the_running_task_only_while_it_runs(tmp_path: Path) -> None:
    guard = InProcess(tmp_path)
    seen = {}

    def task() -> int:
        seen["locked"] = guard.leftover()
        seen["unlocked"] = guard.leftover(unless_alive=True)  # we are alive: it is running
        return 1

    assert guard.call("clean", task) == 1
    assert seen == {"locked": "clean", "unlocked": None}
    assert guard.leftover() is None  # cleared when the task returned
    guard.close()
    assert not guard.path.exists()


def test_a_marker_left_by_a_dead_process_names_its_task(tmp_path: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], text=True,
                          capture_output=True, check=True)  # fmt: skip
    (tmp_path / "running").write_text(f"{dead.stdout.strip()} report")
    assert InProcess(tmp_path).leftover(unless_alive=True) == "report"
    (tmp_path / "running").write_text("garbage")
    assert InProcess(tmp_path).leftover() is None


def test_a_marker_that_cannot_be_written_does_not_fail_the_task(tmp_path: Path) -> None:
    guard = InProcess(tmp_path / "missing" / "folder")
    assert guard.call("a", lambda: 2) == 2
    guard.close()


def test_threads_a_task_leaves_running_are_recorded_with_their_task(tmp_path: Path) -> None:
    guard = InProcess(tmp_path)
    release = threading.Event()
    daemon = threading.Thread(target=release.wait, daemon=True)

    def task() -> None:
        threading.Thread(target=release.wait, name="poller").start()
        daemon.start()  # daemon threads do not keep a process alive: not reported

    guard.call("spawner", task)
    guard.call("quiet", lambda: None)
    release.set()
    assert guard.threads == {"spawner": ["poller"]}


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
def test_closing_the_pool_during_a_task_kills_its_worker(tmp_path: Path) -> None:
    tasks = tmp_path / "tasks_block.py"
    tasks.write_text(
        "import os, time\n"
        "from pathlib import Path\n\n"
        "def task_block():\n"
        "    Path(__file__).with_name('pid').write_text(str(os.getpid()))\n"
        "    time.sleep(120)\n"
    )
    call = RemoteCall(
        "block", str(tmp_path), str(tasks), "task_block", False, modules=worker_modules
    )
    executor = ProcessExecutor(1)
    future = executor.submit(call, {})
    queued = executor.submit(call, {})
    worker = int(wait_for_file(tmp_path / "pid"))
    executor.close()  # as an interrupted run does: returns at once, the worker is gone
    assert alive([worker]) == []
    assert future.done()
    assert queued.cancelled()  # never started

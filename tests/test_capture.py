"""Capture, as in pytest: what a task prints goes to its log and shows with its failure.

`-s` lets it through to the terminal instead. Warnings a task raises are shown with the
task's name and counted in the totals line.
"""

from __future__ import annotations

from pathlib import Path

from e2e_helpers import Project

TALKY = """\
import os
import sys
import warnings


def task_chatty():
    print("loading 3 rows")
    print("a note on stderr", file=sys.stderr)
    return 3


def task_broken(chatty):
    print(f"about to divide {chatty} rows")
    os.write(2, b"written by C code\\n")  # past sys.stderr: the file descriptor
    return chatty / 0


def task_old():
    warnings.warn("use new_api() instead", DeprecationWarning)
    return 1
"""


def test_printed_output_goes_to_the_log_and_shows_with_a_failure(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write("tasks_x.py", TALKY)
    result = p.lp("run")
    assert result.rc == 1
    assert "loading 3 rows" not in result.out + result.err  # a task that worked: its log only
    log = p.read(".little_pipelines/logs/chatty.log")
    assert "captured stdout:\nloading 3 rows" in log
    assert "captured stderr:\na note on stderr" in log
    failure = result.err[result.err.index("✗ broken failed") :]
    assert "ZeroDivisionError: division by zero" in failure
    assert "----- captured stdout -----\nabout to divide 3 rows" in failure
    assert "about to divide 3 rows" in p.read(".little_pipelines/logs/broken.log")


def test_a_worker_captures_at_the_file_descriptors(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write("tasks_x.py", TALKY)
    result = p.lp("run", "-j", "2", "--force")
    assert result.rc == 1
    failure = result.err[result.err.index("✗ broken failed") :]
    assert "----- captured stderr -----\nwritten by C code" in failure
    assert "loading 3 rows" in p.read(".little_pipelines/logs/chatty.log")


def test_s_lets_output_through(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write("tasks_x.py", TALKY)
    result = p.lp("run", "-s")
    assert result.rc == 1
    assert "loading 3 rows" in result.out
    assert "a note on stderr" in result.err
    failure = result.err[result.err.index("✗ broken failed") :]
    assert "captured stdout" not in failure


def test_warnings_show_with_the_task_and_are_counted(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write("tasks_x.py", TALKY)
    result = p.lp("run", "old")
    assert result.rc == 0
    assert "task 'old': tasks_x.py:19: DeprecationWarning: use new_api() instead" in result.err
    assert "1 executed, 0 cached, 0 failed, 1 warning in" in result.err
    assert "DeprecationWarning: use new_api() instead" in p.read(".little_pipelines/logs/old.log")


ODD = """\
import subprocess
import sys


def task_child():
    subprocess.run([sys.executable, "-c", "print('from a child')"], stdout=sys.stdout, check=True)
    sys.stdout.buffer.write(b"raw bytes\\n")
    print("then closed")
    sys.stdout.close()
    return 1
"""


def test_captured_streams_work_for_children_bytes_and_closing(tmp_path: Path) -> None:
    """Code that hands sys.stdout to a child process, writes bytes, or closes it, works."""
    p = Project(tmp_path)
    p.write("tasks_x.py", ODD)
    result = p.lp("run")
    assert result.rc == 0, result.err
    log = p.read(".little_pipelines/logs/child.log")
    for line in ("from a child", "raw bytes", "then closed"):
        assert line in log

"""What a person at a terminal sees, through a real pseudo-terminal (pty)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from e2e_helpers import Project
from pty_helpers import Terminal

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="no pty on Windows")

SLOW = """\
import time

import little_pipelines as lp


def task_slow(this):
    this.logger.warning("halfway there")
    (this.root / "started").write_text("yes")
    time.sleep(30)
    return 1


def task_after(slow):
    return slow
"""


def started(p: Project, term: Terminal) -> None:
    """Wait until the slow task has begun (it writes a file), reading the terminal meanwhile."""
    term.expect(r"halfway there")
    while not (p.root / "started").exists():
        term.expect(r"halfway there")  # (keeps reading; the file follows the log line)


@pytest.mark.parametrize("command", ["run", "watch"])
def test_ctrl_c_in_a_task_shows_it_interrupted_and_ends(tmp_path: Path, command: str) -> None:
    p = Project(tmp_path)
    p.write("tasks_slow.py", SLOW)
    term = Terminal(command, cwd=p.root, home=p.home)
    started(p, term)
    term.send(b"\x03")
    code = term.wait()
    assert code == (130 if command == "run" else 0)  # Ctrl-C is how watch is left
    screen = term.text
    assert "0 executed, 0 cached, 0 failed, 1 interrupted, 1 skipped" in screen
    assert "╭" not in screen and "KeyboardInterrupt" not in screen  # no failure box
    after = screen[screen.index("1 interrupted") :]
    assert "watching" not in after  # it does not say it goes on watching


def test_a_task_log_line_is_printed_above_the_live_display(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write("tasks_slow.py", SLOW)
    term = Terminal("run", "-v", cwd=p.root, home=p.home)
    started(p, term)
    term.send(b"\x03")
    term.wait()
    [line] = [line for line in term.text.splitlines() if "halfway there" in line]
    assert "━" not in line and "0:00" not in line  # not glued onto the progress bar
    assert line.startswith(("WARNING", "slow")) or "| WARNING" in line


def test_lp_why_colours_its_diff_on_a_terminal_only(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write("tasks_a.py", "def task_a():\n    return 1\n")
    p.run()
    p.replace("tasks_a.py", "return 1", "return 2")
    term = Terminal("why", "a", cwd=p.root, home=p.home)
    assert term.wait() == 0
    raw = term.raw.decode()
    assert "\x1b[31m  -    return 1" in raw and "\x1b[32m  +    return 2" in raw
    piped = p.lp("why", "a").out
    assert "\x1b[" not in piped and "  -    return 1" in piped


@pytest.mark.parametrize("command", [None, "run", "graph"])
def test_help_is_wrapped_to_the_terminal_width(tmp_path: Path, command: str | None) -> None:
    term = Terminal(
        *([command] if command else []), "--help", cwd=tmp_path, home=tmp_path, columns=60
    )
    assert term.wait() == 0
    assert max(len(line) for line in term.text.splitlines()) <= 60
    assert term.text.startswith(f"Usage: lp {command or ''}".rstrip())

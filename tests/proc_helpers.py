"""Helpers for tests about processes: `lp` started in the background, and what it leaves.

Every process started here carries a tag in its environment, which its workers (and their
children) inherit: `survivors(tag)` finds any of them still running, by reading /proc.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
import uuid
from pathlib import Path

from e2e_helpers import Project, lp_command, make_env

__all__ = ["Background", "alive", "survivors", "wait_for_file"]

_TAG = "LP_TEST_PROCESS_TAG"


def _running(pid: int) -> bool:
    """True while `pid` exists and is not a zombie (a dead process not yet reaped)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")


def alive(pids: list[int], timeout: float = 5.0) -> list[int]:
    """The pids still running once `timeout` has passed (or as soon as none is)."""
    deadline = time.monotonic() + timeout
    while True:
        left = [pid for pid in pids if _running(pid)]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.02)


def _tagged(tag: str) -> list[int]:
    marker = f"{_TAG}={tag}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if marker in environ.split(b"\0"):
            found.append(int(entry.name))
    return found


def survivors(tag: str, timeout: float = 5.0) -> list[int]:
    """Processes carrying `tag` that are still running after `timeout` (or none sooner)."""
    deadline = time.monotonic() + timeout
    while True:
        left = [pid for pid in _tagged(tag) if _running(pid)]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.02)


def wait_for_file(path: Path, timeout: float = 30.0) -> str:
    """The non-empty text of `path`, once a task has written it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            text = path.read_text()
        except FileNotFoundError:
            text = ""
        if text:
            return text
        time.sleep(0.01)
    raise AssertionError(f"{path} was never written")


class Background:
    """`lp ARGS` started in the background in project `p`, output to files, tagged."""

    def __init__(self, p: Project, *args: str) -> None:
        self.tag = uuid.uuid4().hex
        env = make_env(p.home)
        env[_TAG] = self.tag
        name = uuid.uuid4().hex[:8]
        self._out = p.tmp / f"out-{name}.txt"
        self._err = p.tmp / f"err-{name}.txt"
        with self._out.open("w") as out, self._err.open("w") as err:
            self.proc = subprocess.Popen(
                [*lp_command(), *args],
                cwd=p.root,
                env=env,
                stdout=out,
                stderr=err,
                stdin=subprocess.DEVNULL,
            )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def signal(self, signum: int) -> None:
        os.kill(self.proc.pid, signum)

    def wait(self, timeout: float = 60) -> int:
        """The exit code (negative: killed by that signal), killing lp if it hangs."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise

    @property
    def out(self) -> str:
        return self._out.read_text()

    @property
    def err(self) -> str:
        return self._err.read_text()

    def __str__(self) -> str:
        return f"exit {self.proc.returncode}\n--- stdout\n{self.out}\n--- stderr\n{self.err}"

    def cleanup(self) -> None:
        """Kill lp and anything it left, so a failing test leaks no process."""
        import signal

        for pid in [self.proc.pid, *_tagged(self.tag)]:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        self.proc.wait(10)

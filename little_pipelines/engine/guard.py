"""A guard around tasks that run in lp's own process: what a task that ends it leaves behind.

`InProcess` notes the running task in the state folder before it is called and clears the
note after, so that when a task ends the process (os._exit(), a crash) the next run knows
which task it was; it also names threads a task left running.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from little_pipelines.engine.execute import call_guarded

__all__ = ["InProcess"]


def _alive(pid: int) -> bool:
    import os

    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # someone else's process: it exists
        return True
    return True


class InProcess:
    """Guards tasks called in the `lp` process itself against forking or ending it.

    While a task runs, a marker file in the state folder names it: if the process ends
    inside the task (os._exit, a crash, SIGKILL), the next run finds the marker and reports
    the task as failed (`leftover`). A marker file rather than a failure record in the cache:
    writing one name to an open file costs two system calls per task, and a task's previous
    result stays in use if it is only forced and then completes.
    """

    def __init__(self, state_dir: Path) -> None:
        self.path = Path(state_dir) / "running"
        self._fd: int | None = None
        self._broken = False
        self.threads: dict[str, list[str]] = {}

    def leftover(self, *, unless_alive: bool = False) -> str | None:
        """The task that was running when an earlier `lp` process ended, if one was.

        With `unless_alive` (a reader that does not hold the run lock), a marker whose process
        is still running means that task is running now, not that it failed.
        """
        import os

        try:
            fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except OSError:
            return None
        try:
            text = os.read(fd, 65536).decode("utf-8", "replace")
        finally:
            os.close(fd)
        pid, _, name = text.partition(" ")
        if not name or not pid.isdigit():
            return None
        if unless_alive and _alive(int(pid)):
            return None
        return name

    def call(self, name: str, invoke: Callable[[], Any]) -> Any:
        """Run `invoke()` as task `name`; a process the task forked never comes back out."""
        import os
        import threading

        before = set(threading.enumerate())
        self._mark(f"{os.getpid()} {name}".encode())
        try:
            return call_guarded(invoke)
        finally:
            self._mark(b"")
            left = [
                t.name
                for t in threading.enumerate()
                if t not in before and t.is_alive() and not t.daemon
            ]
            if left:
                self.threads[name] = left

    def thread_warnings(self) -> list[str]:
        """A warning for each task that left threads running when it returned."""
        return [
            f"task '{name}' left {len(threads)} thread(s) running ({', '.join(threads)});"
            " lp does not wait for them"
            for name, threads in self.threads.items()
        ]

    def _mark(self, data: bytes) -> None:
        """Write (or, with no data, clear) the marker; a marker that cannot be written is
        skipped: it only improves the next run's report, and must never fail a task."""
        import os

        if self._broken:
            return
        try:
            if self._fd is None:
                if not data:
                    return
                flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
                self._fd = os.open(self.path, flags, 0o600)
            os.ftruncate(self._fd, 0)
            if data:
                os.pwrite(self._fd, data, 0)
        except OSError:
            self._broken = True

    def close(self) -> None:
        """The run is over: no task is running."""
        import os

        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)

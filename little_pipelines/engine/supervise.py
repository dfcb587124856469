"""What surrounds a task's call: its tries, its timeout, and the capture of what it prints.

`perform` (execute.py) calls a task inside these, in lp's process and in a worker alike:
`Attempts` says how often to try and how long each try may take (`_deadline` raises
`TaskTimeout` by a signal where one can reach), and `capturing` takes what the task prints,
at sys.stdout and sys.stderr in lp's process or at the file descriptors in a worker.
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Attempts", "Captured", "TaskTimeout", "capturing", "deadline", "real_stream", "where"]


@dataclass(frozen=True, slots=True)
class Attempts:
    """How a task is tried: `retries` more times after a failure, `delay` seconds apart,
    each try stopped after `timeout` seconds (`@lp.task(retries=, retry_delay=, timeout=)`)."""

    retries: int = 0
    delay: float = 0.0
    timeout: float | None = None

    def limit(self) -> float | None:
        """The longest all tries may take, pauses included (None: no timeout)."""
        if self.timeout is None:
            return None
        return self.timeout * (self.retries + 1) + self.delay * self.retries


class TaskTimeout(BaseException):
    """A task ran past its timeout. Not an Exception: a task's `except Exception` lets it by."""


def where(filename: str) -> str:
    """A warning's file, relative to the current folder (the project's root) when below it."""
    try:
        return str(Path(filename).relative_to(Path.cwd()))
    except ValueError:
        return filename


class _Sink(io.TextIOBase):
    """What a task writes to sys.stdout or sys.stderr while captured, kept in memory.

    `lp_replaced` is the stream it stands in for, where lp's own output (task log lines)
    still goes. Code that asks for a file descriptor (`subprocess.run(stdout=sys.stdout)`)
    gets one of a temporary file, read back with the rest; a task that closes the stream
    loses nothing it wrote.
    """

    def __init__(self, replaced: Any) -> None:
        super().__init__()
        self.lp_replaced = replaced
        self._parts: list[str] = []
        self._file: Any = None  # the temporary file behind fileno(), once asked for
        self.buffer = _BinarySink(self._parts)

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if self.closed:
            raise ValueError("I/O operation on closed file.")
        self._parts.append(text)
        return len(text)

    def fileno(self) -> int:
        if self._file is None:
            import tempfile

            self._file = tempfile.TemporaryFile()  # noqa: SIM115 (closed by text())
        fd: int = self._file.fileno()
        return fd

    def isatty(self) -> bool:
        return False

    def text(self) -> str:
        written = "".join(self._parts)
        if self._file is not None:
            self._file.seek(0)
            written += self._file.read().decode("utf-8", "replace")
            self._file.close()
        return written


class _BinarySink:
    """`sys.stdout.buffer` of a captured stream: bytes written are kept as text."""

    def __init__(self, parts: list[str]) -> None:
        self._parts = parts

    def write(self, data: bytes) -> int:
        self._parts.append(bytes(data).decode("utf-8", "replace"))
        return len(data)

    def flush(self) -> None:
        pass


def real_stream(stream: Any) -> Any:
    """The stream behind a task's capture (or `stream` itself, when not captured)."""
    return getattr(stream, "lp_replaced", stream)


@dataclass(slots=True)
class Captured:
    stdout: str = ""
    stderr: str = ""


@contextlib.contextmanager
def capturing(how: str | None, box: Captured) -> Iterator[None]:
    """Take what is printed meanwhile into `box` (see perform's `capture`)."""
    import sys

    if how is None:
        yield
        return
    if how == "fd":
        with _fd_capture(box):
            yield
        return
    saved = sys.stdout, sys.stderr
    sinks = [_Sink(stream) for stream in saved]
    sys.stdout, sys.stderr = sinks
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved
        box.stdout, box.stderr = (sink.text() for sink in sinks)


@contextlib.contextmanager
def _fd_capture(box: Captured) -> Iterator[None]:
    """Capture at the file descriptors: also what C code and child processes write."""
    import sys
    import tempfile

    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        saved = [os.dup(1), os.dup(2)]
        os.dup2(out.fileno(), 1)
        os.dup2(err.fileno(), 2)
        try:
            yield
        finally:
            for stream in (sys.stdout, sys.stderr):
                with contextlib.suppress(Exception):
                    stream.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
            texts = []
            for file in (out, err):
                file.seek(0)
                texts.append(file.read().decode("utf-8", "replace"))
            box.stdout, box.stderr = texts


@contextlib.contextmanager
def deadline(name: str, seconds: float | None) -> Iterator[None]:
    """Raise TaskTimeout in the task after `seconds`, where a signal can (the main thread on
    POSIX: lp's own, or a worker process's); elsewhere the task runs unbounded."""
    import signal
    import threading

    if (
        seconds is None
        or not hasattr(signal, "setitimer")
        or threading.current_thread() is not threading.main_thread()
    ):
        yield
        return

    def expired(signum: int, frame: Any) -> None:
        raise TaskTimeout(f"task '{name}' ran longer than its timeout of {seconds:g}s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        try:
            signal.setitimer(signal.ITIMER_REAL, 0)  # (an alarm due right now may still fire)
        finally:
            signal.signal(signal.SIGALRM, previous)

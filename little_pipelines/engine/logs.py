"""Per-task log files: one loguru sink for a whole run, dispatching records by task name.

Nothing is configured at import. `TaskLogs` adds its sink once a task is about to log
(`listen()`), and when left removes it and closes every file it opened, so logs are open
exactly around a run, and a run whose tasks never log never imports loguru.

With `every_task=False` (the runner) a task's log file is made the first time the task has
something of its own to say: a record, or a failure. Until then the engine's notes (started,
finished) wait in memory, and are written in front of that first record. Once a task has a
log file, every later run of it is noted there. Making a file costs far more than writing
one (0.7 ms each on some disks): a cold run of 1,000 quiet tasks must not make 1,000.
"""

from __future__ import annotations

import io
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from little_pipelines.store.private import NOFOLLOW, make_dirs, open_private

if TYPE_CHECKING:
    from loguru import Logger

__all__ = ["TaskLogs", "task_logger"]

_KEY = "lp_task"
_FORMAT = "{time:YYYY-MM-DD HH:mm:ss.SSS} | {level: <8} | {message}"  # loguru adds the traceback


def _line(when: float, level: str, text: str) -> str:
    """A note as a log line, stamped as loguru stamps the task's own records."""
    from datetime import datetime

    stamp = datetime.fromtimestamp(when).isoformat(sep=" ", timespec="milliseconds")
    return f"{stamp} | {level: <8} | {text}\n"


def task_logger(name: str) -> Logger:
    """A loguru logger bound to task `name`; its records reach that task's log file."""
    from loguru import logger

    return logger.bind(**{_KEY: name})


class TaskLogs:
    """A context manager that writes each task's records to `<log_dir>/<task>.log`."""

    def __init__(
        self,
        log_dir: Path,
        level: str = "DEBUG",
        warnings: list[str] | None = None,
        *,
        every_task: bool = True,
        on_listen: Callable[[], None] | None = None,
    ) -> None:
        self.log_dir = Path(log_dir)
        self.level = level
        # A log is a convenience: one that cannot be written is a warning, never a failed task.
        self.warnings = [] if warnings is None else warnings
        self.every_task = every_task
        self.on_listen = on_listen  # called once, before loguru first carries a record
        self._files: dict[str, IO[str]] = {}
        # the notes of tasks that have no log file yet: (time, level, text)
        self._waiting: dict[str, list[tuple[float, str, str]]] = {}
        self._present: set[str] | None = None  # the log files there were, once looked at
        self._sink_id: int | None = None
        self._made_dir: bool | None = False  # None: the folder cannot be made

    def __enter__(self) -> TaskLogs:
        return self

    def listen(self) -> None:
        """Send the records of task loggers to the task's files from now on (once)."""
        if self._sink_id is not None:
            return
        if self.on_listen is not None:
            self.on_listen()
        from loguru import logger

        self._sink_id = logger.add(
            self._write,
            level=self.level,
            format=_FORMAT,
            filter=lambda record: _KEY in record["extra"],
            colorize=False,
            catch=True,
        )

    def __exit__(self, *exc_info: object) -> None:
        if self._sink_id is not None:
            from loguru import logger

            logger.remove(self._sink_id)
            self._sink_id = None
        for handle in self._files.values():  # flushes the engine's notes too
            handle.close()
        self._files.clear()
        self._waiting.clear()

    def path(self, name: str) -> Path:
        """Where task `name` logs."""
        return self.log_dir / f"{name}.log"

    def note(self, name: str, level: str, text: str) -> None:
        """Write one line of the engine's own (start, finish, failure) to a task's log."""
        note = (time.time(), level, text)
        handle = self._files.get(name)
        if handle is None and name not in self._waiting:
            handle = self._existing(name)
        if handle is None and (self.every_task or level in ("ERROR", "WARNING", "OUTPUT")):
            handle = self._handle(name)
        if handle is None:
            self._waiting.setdefault(name, []).append(note)  # written if the task logs
        else:
            handle.write(_line(*note))

    def done(self, name: str) -> None:
        """Close a task's log file when it finishes (a large run must not hold thousands open)."""
        self._waiting.pop(name, None)
        handle = self._files.pop(name, None)
        if handle is not None:
            handle.close()

    def _handle(self, name: str) -> IO[str]:
        handle = self._files.get(name)
        if handle is None:
            handle = self._files[name] = self._open(name)
            handle.writelines(_line(*note) for note in self._waiting.pop(name, ()))
        return handle

    def _existing(self, name: str) -> IO[str] | None:
        """The task's log file if it exists already (appending to one is cheap), else None."""
        if self.every_task or self._made_dir is None:
            return None
        if self._present is None:  # one listing, not one failed open per quiet task
            try:
                self._present = set(os.listdir(self.log_dir))
            except OSError:
                self._present = set()
        if f"{name}.log" not in self._present:
            return None
        try:
            fd = os.open(self.path(name), os.O_WRONLY | os.O_APPEND | NOFOLLOW)
        except FileNotFoundError:
            return None
        except OSError:  # a folder or a link in its place: `_open` says so, or replaces it
            return self._handle(name)
        handle = self._files[name] = os.fdopen(fd, "a", encoding="utf-8")
        return handle

    def _open(self, name: str) -> IO[str]:
        """The task's log file, or a throwaway buffer (and one warning) if it cannot be written."""
        if self._made_dir is None:
            return io.StringIO()
        target = self.log_dir
        try:
            if not self._made_dir:
                make_dirs(self.log_dir)
                self._made_dir = True
            target = self.path(name)
            # owner-only, and a symlink planted in place of a log is not written through
            return open_private(target, "a", encoding="utf-8")
        except OSError as exc:
            if target == self.log_dir:
                self._made_dir = None  # no log at all this run: say so once
            what = "the task logs" if target == self.log_dir else f"the log of '{name}'"
            self.warnings.append(
                f"cannot write {what} at {target}: {exc.strerror or exc} "
                f"(to reset it: rm -r {target})"
            )
            return io.StringIO()

    def _write(self, message: Any) -> None:
        handle = self._handle(message.record["extra"][_KEY])
        handle.write(message)
        handle.flush()

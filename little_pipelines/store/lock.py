"""The run lock of a state folder: one run at a time, other processes and threads wait.

An exclusive lock on `run.lock`, with `run.holder` saying who holds it, for the message of
whoever waits. Neither file is followed if it is a link. On POSIX the lock is `fcntl.flock`
(what filelock does there too, without its import, which costs a no-op run a seventh of its
time); elsewhere it is `filelock`.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from little_pipelines.errors import CacheError
from little_pipelines.store.private import NOFOLLOW, make_dirs, read_file

__all__ = ["RunLock"]


class RunLock:
    """The run lock of `directory`; errors are made by `corrupt(exc)` and `read_only()`."""

    def __init__(
        self,
        directory: Path,
        *,
        corrupt: Callable[[BaseException], CacheError],
        read_only: Callable[[], CacheError],
    ) -> None:
        self.directory = directory
        self._corrupt = corrupt
        self._read_only = read_only
        self._lock_owner: int | None = None  # the thread holding the lock through us
        self._lock_depth = 0

    @contextlib.contextmanager
    def hold(self, on_wait: Callable[[str], None] | None = None) -> Iterator[None]:
        """Hold the project's run lock; call `on_wait` with a message if another holds it.

        Re-entrant on the thread that holds it (a task may execute a pipeline of its own);
        other threads and processes wait.
        """
        me = threading.get_ident()
        if self._lock_owner == me:
            self._lock_depth += 1
            try:
                yield
            finally:
                self._lock_depth -= 1
            return
        try:
            make_dirs(self.directory)
        except OSError as exc:
            raise self._corrupt(exc) from exc
        path = self.directory / "run.lock"
        holder = self.directory / "run.holder"
        for planted in (path, holder):
            if planted.is_symlink():
                raise CacheError(
                    f"{planted} is a symbolic link; lp does not follow links in its state folder"
                    f" (to reset it: rm -r {planted})",
                    file=str(planted),
                )
        try:
            release = _acquire(path, on_wait, holder)
        except OSError as exc:
            if _read_only_file(path):
                raise self._read_only() from exc
            raise CacheError(
                f"cannot take the run lock {path}: {exc} (to reset it: rm -r {path})",
                file=str(path),
            ) from exc
        try:
            _write_holder(holder)
            self._lock_owner, self._lock_depth = me, 1
            yield
        finally:
            self._lock_owner, self._lock_depth = None, 0
            with contextlib.suppress(OSError):
                holder.unlink()
            release()


def _acquire(path: Path, on_wait: Callable[[str], None] | None, holder: Path) -> Callable[[], None]:
    """Take the lock on `path`, waiting (and saying so) while another holds it; the release."""

    def waiting() -> None:
        if on_wait is not None:
            who = _read_holder(holder) or "another process"
            on_wait(f"waiting for another lp process ({who}) to finish with {path}")

    if os.name != "posix":
        from filelock import FileLock, Timeout

        lock = FileLock(str(path), mode=0o600)
        try:
            lock.acquire(timeout=0)
        except Timeout:
            waiting()
            lock.acquire()
        return lambda: lock.release()
    import fcntl

    fd = os.open(path, os.O_RDWR | os.O_CREAT | NOFOLLOW, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            waiting()
            fcntl.flock(fd, fcntl.LOCK_EX)  # a signal still interrupts the wait
    except BaseException:
        os.close(fd)
        raise

    def release() -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)

    return release


def _read_only_file(path: Path) -> bool:
    """True when `path` (or its folder, if it does not exist) may be read but not written."""
    target = path if path.exists() else path.parent
    return os.access(target, os.R_OK) and not os.access(target, os.W_OK)


def _read_holder(path: Path) -> str:
    try:
        return read_file(str(path)).decode("utf-8", "replace").strip()
    except OSError:
        return ""


def _write_holder(path: Path) -> None:
    """Say who holds the run lock, for the message of whoever waits next."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | NOFOLLOW
    with contextlib.suppress(OSError):
        fd = os.open(path, flags, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(f"pid {os.getpid()}")

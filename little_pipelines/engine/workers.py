"""The worker processes of the process pool: one slot per job, each with its own process.

A slot's thread takes the next task off the shared queue, sends it to its worker process and
waits for the answer or the process's death; a dead worker fails only its task and a new one
is started for the next. A worker never outlives the `lp` process that started it.
"""

from __future__ import annotations

import contextlib
from typing import Any

from little_pipelines.engine.execute import Outcome, RemoteCall, run_remote
from little_pipelines.errors import LittlePipelinesError

__all__ = ["STARTED", "Slot", "TimedOut", "WorkerDied"]

STARTED = "started"  # a worker's word that a task with a timeout is now being called


class WorkerDied(LittlePipelinesError):
    """The worker process running a task ended before it answered (os._exit, crash, kill)."""

    def __init__(self, task: str, exitcode: int | None) -> None:
        if exitcode is not None and exitcode < 0:
            how = f"killed by {_signal_name(-exitcode)}"
        else:
            how = f"exit code {exitcode}"
        super().__init__(
            f"task '{task}' ended its worker process ({how}) before returning;"
            " the other tasks go on in a new worker"
        )
        self.task = task
        self.exitcode = exitcode


class TimedOut(WorkerDied):
    """A task in a worker ran past its timeout where the worker could not stop it itself."""

    def __init__(self, task: str, limit: float) -> None:
        LittlePipelinesError.__init__(
            self,
            f"task '{task}' ran past its timeout ({limit:g}s in all) where it could not be"
            " interrupted, so its worker process was stopped",
        )
        self.task = task
        self.exitcode = None


def _signal_name(number: int) -> str:
    import signal

    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _die_with_parent(parent_pid: int) -> None:
    """End this worker as soon as the `lp` process that started it is gone, however it went.

    On Linux the kernel sends SIGKILL when the parent dies (PR_SET_PDEATHSIG); the parent may
    have died before that call, hence the check of our parent's pid. Elsewhere (and as a
    second line) a thread waits on the pipe the parent holds open and ends us at its EOF.
    """
    import os
    import sys
    import threading

    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent_pid:
        os._exit(1)
    import multiprocessing
    from multiprocessing.connection import wait

    parent = multiprocessing.parent_process()
    if parent is not None and parent.sentinel is not None:
        sentinel = parent.sentinel

        def watch() -> None:
            wait([sentinel])
            os._exit(1)

        threading.Thread(target=watch, name="lp-parent-watch", daemon=True).start()


def _worker_main(conn: Any, parent_pid: int) -> None:
    """A worker process: run the tasks that arrive on `conn` one by one, until told to stop.

    Ctrl-C at a terminal reaches the whole process group; the `lp` process decides what an
    interruption means and ends its workers, so here SIGINT does nothing (a Python handler,
    not SIG_IGN, so that programs a task starts still get Ctrl-C as usual).
    """
    import os
    import signal
    import sys

    _die_with_parent(parent_pid)
    signal.signal(signal.SIGINT, lambda *_: None)
    from loguru import logger

    logger.remove()  # task logs go to their files; the worker's own stderr stays quiet
    importers: dict[str, Any] = {}  # this worker's importer of each project root
    logs: dict[str, Any] = {}  # and its task logs of each log folder
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            break
        if job is None:
            break
        call, upstream = job
        timed = call.attempts is not None and call.attempts.timeout is not None
        on_start = (lambda: conn.send(STARTED)) if timed else None
        conn.send(run_remote(call, upstream, importers, logs, on_start))
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(0)  # threads a task left behind must not keep the worker alive


class Slot:
    """One worker process at a time and the thread that feeds it one task at a time.

    A worker that dies fails only the task it was running (WorkerDied); the next task
    starts a new worker. Once `abort` is set, no task starts and the worker is killed.
    """

    def __init__(self, jobs: Any, context: Any, abort: Any) -> None:
        import threading

        self._jobs = jobs
        self._context = context
        self._abort = abort
        self._lock = threading.Lock()  # starting a worker vs. killing it
        self._process: Any = None
        self._conn: Any = None
        self._thread = threading.Thread(target=self._serve, name="lp-worker-slot", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        from concurrent.futures import CancelledError

        with contextlib.suppress(Exception):  # (a start that fails is retried by the first task)
            self._start()  # the worker starts before its first task arrives
        while True:
            job = self._jobs.get()
            if job is None:
                break
            future, call, upstream = job
            if not future.set_running_or_notify_cancel():
                continue
            try:
                outcome = self._run(call, upstream)
            except BaseException as exc:
                future.set_exception(CancelledError() if self._abort.is_set() else exc)
            else:
                future.set_result(outcome)
        self._stop()

    def _start(self) -> None:
        import os
        from concurrent.futures import CancelledError

        with self._lock:
            if self._abort.is_set():
                raise CancelledError
            parent_end, child_end = self._context.Pipe()
            process = self._context.Process(
                target=_worker_main, args=(child_end, os.getpid()), name="lp-worker"
            )
            process.start()
            child_end.close()
            self._process, self._conn = process, parent_end

    def _run(self, call: RemoteCall, upstream: dict[str, Any]) -> Outcome:
        from multiprocessing.connection import wait

        if self._process is not None and not self._process.is_alive():
            self._reap()  # it died while idle (killed from outside): not this task's doing
        for attempt in (1, 2):
            if self._process is None or self._abort.is_set():
                self._start()
            try:
                self._conn.send((call, upstream))
                break
            except OSError:  # the same, found out by sending
                self._reap()
                if attempt == 2:
                    raise
        limit = call.attempts.limit() if call.attempts is not None else None
        patience: float | None = None  # until the call starts (imports take their time)
        while True:
            # the worker stops a try at its timeout itself; one stuck where no signal
            # reaches (in C code) is stopped from here, a little after
            if not wait([self._conn, self._process.sentinel], patience):
                self.kill()
                self._reap()
                raise TimedOut(call.name, limit or 0.0)
            try:
                if self._conn.poll():
                    answer: Any = self._conn.recv()
                    if answer == STARTED:
                        patience = None if limit is None else limit + 2
                        continue
                    outcome: Outcome = answer
                    return outcome
            except (EOFError, OSError):
                pass
            raise WorkerDied(call.name, self._reap())

    def _reap(self) -> int | None:
        """Forget a dead (or doomed) worker; its exit code."""
        process, self._process = self._process, None
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if process is None:
            return None
        process.join(5)
        if process.exitcode is None:
            process.kill()
            process.join()
        code: int | None = process.exitcode
        return code

    def kill(self) -> None:
        """End the worker now: the run was interrupted, its task's result is not wanted."""
        with self._lock:
            process = self._process
            if process is not None:
                with contextlib.suppress(Exception):
                    process.kill()

    def _stop(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(OSError):
                self._conn.send(None)
        self._reap()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)

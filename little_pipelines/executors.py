"""Where tasks execute: in the engine's own process, or in a pool of worker processes.

A task that can run elsewhere carries a `RemoteCall` (a picklable address of its function);
the worker imports the tasks file by path, calls the function, and sends back the pickled
result, so the cache, fingerprints and output stay with the `lp` process.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

__all__ = ["DaskExecutor", "ProcessExecutor", "RemoteCall", "RemoteOutcome"]


@dataclass(frozen=True, slots=True)
class RemoteCall:
    """How a worker finds and calls a runner task: its file, function and parameters."""

    name: str
    root: str
    path: str
    function: str
    wants_this: bool
    log_dir: str | None = None


@dataclass(frozen=True, slots=True)
class RemoteOutcome:
    """What a worker sends back: the result's bytes and canonical digest, or the error."""

    data: bytes | None
    duration_s: float
    error: tuple[str, str, str] | None = None  # type, message, traceback
    digest: str | None = None  # values.value_digest of the result


def _worker_started() -> None:
    """Task logs go to their files; the worker's own stderr stays quiet."""
    from loguru import logger

    logger.remove()


@cache
def _modules(root: str) -> Any:
    """One importer per worker process and project (a worker lives for one run)."""
    from .loader import Modules

    return Modules(Path(root))


def _upstream_values(
    modules: Any, upstream: Mapping[str, tuple[bytes, str | None]]
) -> dict[str, Any]:
    """Unpickle upstream results here, importing the tasks file a result's class lives in."""
    import pickle

    values = {}
    for name, (data, path) in upstream.items():
        try:
            values[name] = pickle.loads(data)
        except ModuleNotFoundError:
            if path is None:
                raise
            modules.load(Path(path))
            values[name] = pickle.loads(data)
    return values


def run_remote(call: RemoteCall, upstream: Mapping[str, tuple[bytes, str | None]]) -> RemoteOutcome:
    """Run one task in a worker process; never raises for the task's own errors.

    `upstream` maps each dependency to its stored bytes and the tasks file that made it.
    """
    from .cache import serialize
    from .logs import TaskLogs, task_logger
    from .outcomes import TaskError
    from .spec import TaskContext
    from .values import value_digest

    started = time.perf_counter()
    logs = TaskLogs(Path(call.log_dir)) if call.log_dir else None
    try:
        if logs is not None:
            logs.__enter__()
        modules = _modules(call.root)
        func = getattr(modules.load(Path(call.path)), call.function)
        kwargs = _upstream_values(modules, upstream)
        if call.wants_this:
            kwargs["this"] = TaskContext(call.name, task_logger(call.name), Path(call.root))
        value = func(**kwargs)
    except (Exception, SystemExit) as exc:
        error = TaskError.from_exception(exc)
        outcome = (error.type, error.message, error.traceback)
        return RemoteOutcome(None, time.perf_counter() - started, outcome)
    finally:
        if logs is not None:
            logs.__exit__(None, None, None)
    duration = time.perf_counter() - started
    try:
        data = serialize(value)
    except Exception as exc:
        message = (
            f"task '{call.name}' returned a {type(value).__qualname__}, which cannot be sent"
            f" back from a worker process or stored: {exc}"
        )
        return RemoteOutcome(None, duration, (type(exc).__name__, message, ""))
    return RemoteOutcome(data, duration, digest=value_digest(value, data))


class ProcessExecutor:
    """Runs tasks in `jobs` worker processes (started fresh, so no state leaks in)."""

    def __init__(self, jobs: int) -> None:
        self.jobs = jobs
        self._pool: Any = None

    def submit(
        self, call: RemoteCall, upstream: Mapping[str, tuple[bytes, str | None]]
    ) -> Future[RemoteOutcome]:
        if self._pool is None:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            context = multiprocessing.get_context("spawn")
            self._pool = ProcessPoolExecutor(
                max_workers=self.jobs, mp_context=context, initializer=_worker_started
            )
        return self._pool.submit(run_remote, call, dict(upstream))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


class DaskExecutor:
    """Runs tasks on an existing Dask distributed cluster (`pip install "little-pipelines[dask]"`).

    Workers import the tasks files by path, so they must see the project at the same path
    (the same machine, or a shared file system). Results come back to the `lp` process,
    which keeps the cache.
    """

    def __init__(self, address: str) -> None:
        try:
            from distributed import Client
        except ImportError:
            from .errors import ConfigError

            raise ConfigError(
                "--executor dask needs the dask extra: pip install 'little-pipelines[dask]'"
            ) from None
        try:
            self._client = Client(address, timeout=5)
        except OSError as exc:
            from .errors import ConfigError

            raise ConfigError(f"cannot reach the Dask scheduler at {address}: {exc}") from None
        self.jobs = max(1, sum(self._client.nthreads().values()))

    def submit(
        self, call: RemoteCall, upstream: Mapping[str, tuple[bytes, str | None]]
    ) -> Future[RemoteOutcome]:
        future: Future[RemoteOutcome] = Future()
        remote = self._client.submit(run_remote, call, dict(upstream), pure=False)

        def done(finished: Any) -> None:
            try:
                future.set_result(finished.result())
            except BaseException as exc:  # the worker died or the cluster went away
                future.set_exception(exc)

        remote.add_done_callback(done)
        return future

    def close(self) -> None:
        self._client.close()

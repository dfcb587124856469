"""Where tasks execute: in the engine's own process, or in a pool of worker processes.

A task that can run elsewhere carries a `RemoteCall` (a picklable address of its function);
the worker imports the tasks file by path, through the importer the front door named in the
call, calls the function, and sends back the pickled result, so the cache, fingerprints and
output stay with the `lp` process.
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import Future
from typing import Any

from little_pipelines.engine.execute import Outcome, Payload, RemoteCall
from little_pipelines.engine.workers import Slot

__all__ = ["DaskExecutor", "ProcessExecutor"]


class ProcessExecutor:
    """Runs tasks in up to `jobs` worker processes, started fresh so no state leaks in.

    Each worker runs one task at a time. A worker that dies fails only its task; a worker
    never outlives the `lp` process (see workers.py). A task whose unchanged code ran in
    under 2 ms last time runs in lp's process: a round trip to a worker costs more.
    """

    inline_below_s: float | None = 0.002

    def __init__(self, jobs: int) -> None:
        self.jobs = jobs
        self._jobs: Any = None
        self._slots: list[Slot] = []
        self._futures: list[Future[Outcome]] = []
        self._abort: Any = None

    def start(self) -> None:
        """Start the workers now, so that they are ready when the first tasks come."""
        if self._jobs is None:
            import multiprocessing
            import queue
            import threading

            context = multiprocessing.get_context("spawn")
            self._jobs = queue.SimpleQueue()
            self._abort = threading.Event()
            self._slots = [Slot(self._jobs, context, self._abort) for _ in range(self.jobs)]

    def submit(self, call: RemoteCall, upstream: Mapping[str, Payload]) -> Future[Outcome]:
        """Queue one task for the next free worker; the future holds its Outcome."""
        self.start()
        future: Future[Outcome] = Future()
        self._futures = [f for f in self._futures if not f.done()]
        self._futures.append(future)
        self._jobs.put((future, call, dict(upstream)))
        return future

    def close(self) -> None:
        """Stop the workers; if tasks are still queued or running (an interrupted run), they
        are cancelled and their workers killed."""
        if self._jobs is None:
            return
        if any(not f.done() for f in self._futures):
            self._abort.set()
            for future in self._futures:
                future.cancel()  # those still queued; running ones end with their worker
            for slot in self._slots:
                slot.kill()
        for _ in self._slots:
            self._jobs.put(None)
        for slot in self._slots:
            slot.join(10)
        self._jobs, self._slots, self._futures = None, [], []


class DaskExecutor:
    """Runs tasks on an existing Dask distributed cluster (`pip install "little-pipelines[dask]"`).

    Workers import the tasks files by path, so they must see the project at the same path
    (the same machine, or a shared file system). Results come back to the `lp` process,
    which keeps the cache.
    """

    inline_below_s: float | None = None  # the cluster's workers may be the point of it

    def __init__(self, address: str) -> None:
        try:
            from distributed import Client
        except ImportError:
            from little_pipelines.errors import ConfigError

            raise ConfigError(
                "--executor dask needs the dask extra: pip install 'little-pipelines[dask]'"
            ) from None
        try:
            self._client = Client(address, timeout=5)
        except (OSError, ValueError, TypeError) as exc:
            error: Exception | None = _no_cluster(address, exc)
        else:
            error = None
        if error is not None:
            # collect the half-made client now, out of the `except` that holds it: its
            # `__del__` takes a lock that every client's start holds in distributed, so
            # collected later, during the next client's start in this process, it would
            # hang that run for ever
            import gc

            gc.collect()
            raise error
        from little_pipelines.engine.dask_worker import PLUGIN, Importers

        self._client.register_plugin(Importers(), name=PLUGIN)
        self.jobs = max(1, sum(self._client.nthreads().values()))

    def start(self) -> None:
        """The cluster's workers are running already."""

    def submit(self, call: RemoteCall, upstream: Mapping[str, Payload]) -> Future[Outcome]:
        future: Future[Outcome] = Future()
        from little_pipelines.engine.dask_worker import run_on_worker

        remote = self._client.submit(run_on_worker, call, dict(upstream), pure=False)

        def done(finished: Any) -> None:
            try:
                future.set_result(finished.result())
            except BaseException as exc:  # the worker died or the cluster went away
                future.set_exception(exc)

        remote.add_done_callback(done)
        return future

    def close(self) -> None:
        self._client.close()


def _no_cluster(address: str, exc: Exception) -> Exception:
    """The error for a Dask address that gave no client: unreachable, or not an address."""
    from little_pipelines.errors import ConfigError

    if isinstance(exc, OSError):
        return ConfigError(f"cannot reach the Dask scheduler at {address}: {exc}")
    return ConfigError(
        f"--address {address!r} is not a Dask scheduler address ({exc}); write it as tcp://HOST:PORT"
    )

"""What lp keeps on a Dask worker: its importers, held by a worker plugin.

A Dask worker outlives one task (and one `lp` run), so the importer of the project's files
that its first task makes is kept for the next ones, on the worker itself. Imported only
when Dask is used: it needs `distributed`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from distributed import WorkerPlugin, get_worker

from little_pipelines.engine.execute import Outcome, Payload, RemoteCall, run_remote

__all__ = ["PLUGIN", "Importers", "run_on_worker"]

PLUGIN = "little-pipelines-importers"


class Importers(WorkerPlugin):
    """A worker's importer of each project root; registering it again starts afresh."""

    def __init__(self) -> None:
        self.importers: dict[str, Any] = {}
        self.logs: dict[str, Any] = {}  # the task logs of each log folder (see run_remote)

    def teardown(self, worker: Any) -> None:
        """Replaced by the next run's: what these importers ran must not serve it."""
        for modules in self.importers.values():
            modules.unimport()
            modules.close()
        self.importers.clear()
        for logs in self.logs.values():
            logs.__exit__(None, None, None)
        self.logs.clear()


def run_on_worker(call: RemoteCall, upstream: Mapping[str, Payload]) -> Outcome:
    """Run one task on this Dask worker with the worker's own importers."""
    plugin = get_worker().plugins[PLUGIN]
    assert isinstance(plugin, Importers)
    return run_remote(call, upstream, plugin.importers, plugin.logs)

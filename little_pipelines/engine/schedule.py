"""The order of work: one loop over a task graph, for one process or many.

`Schedule.run` starts each name once everything it depends on is done. Among the names that
are ready it takes the earliest in the given order, so with no work sent elsewhere the run
follows that order exactly. Work that `start` sends elsewhere comes back as a Future, and at
most `slots` of those are out at once. The loop knows nothing of tasks, caches or reports:
the run (run.py) decides what starting and finishing a name means.
"""

from __future__ import annotations

import graphlib
import heapq
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from typing import Any

__all__ = ["Schedule"]


class Schedule:
    """The names of `order` with their dependencies among them (others are ignored)."""

    def __init__(self, order: Sequence[str], deps: Mapping[str, Iterable[str]]) -> None:
        chosen = set(order)
        self.order = list(order)
        self._index = {name: i for i, name in enumerate(order)}
        self._sorter: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter(
            {name: [d for d in deps[name] if d in chosen] for name in order}
        )
        self.running: dict[Future[Any], str] = {}  # what is out now (seen after an interrupt)
        self.started: set[str] = set()

    def run(
        self,
        start: Callable[[str], Future[Any] | None],
        finish: Callable[[str, Future[Any]], None],
        *,
        slots: int = 1,
        halted: Callable[[], bool] = lambda: False,
    ) -> list[str]:
        """Start every name in dependency order; the names never started (when halted).

        `start(name)` does the work here and returns None, or returns a Future for work done
        elsewhere; `finish(name, future)` is called once that future is done. `halted()` is
        asked before each start: once it says True, nothing more starts, and what is out is
        still waited for.
        """
        sorter = self._sorter
        sorter.prepare()
        ready: list[tuple[int, str]] = []
        while sorter.is_active():
            for name in sorter.get_ready():
                heapq.heappush(ready, (self._index[name], name))
            if ready and len(self.running) < slots and not halted():
                _, name = heapq.heappop(ready)
                self.started.add(name)
                future = start(name)
                if future is None:
                    sorter.done(name)
                else:
                    self.running[future] = name
                continue
            if not self.running:
                break  # halted, with nothing out
            finished, _ = wait(self.running, return_when=FIRST_COMPLETED)
            for future in finished:
                name = self.running.pop(future)
                finish(name, future)
                sorter.done(name)
        return [name for name in self.order if name not in self.started]

"""The order of work: one loop over a task graph, for one process or many.

The graph is a checked one (graph.py): no cycles, so a count of the dependencies each name
still waits for is all the bookkeeping there is.

`Schedule.run` starts each name once everything it depends on is done. Among the names that
are ready it takes the earliest in the given order, so with no work sent elsewhere the run
follows that order exactly. Work that `start` sends elsewhere comes back as a Future, and at
most `slots` of those are out at once. The loop knows nothing of tasks, caches or reports:
the run (run.py) decides what starting and finishing a name means.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from concurrent.futures import Future

__all__ = ["Schedule"]


class Schedule:
    """The names of `order` with their dependencies among them (others are ignored)."""

    def __init__(self, order: Sequence[str], deps: Mapping[str, Iterable[str]]) -> None:
        index = {name: i for i, name in enumerate(order)}
        self.order = list(order)
        # how many of its dependencies each name waits for, and who waits for each
        self._waiting = [0] * len(self.order)
        self._children: list[list[int]] = [[] for _ in self.order]
        for i, name in enumerate(self.order):
            for dep in set(deps[name]):
                if dep in index:
                    self._waiting[i] += 1
                    self._children[index[dep]].append(i)
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
        asked at every turn: once it says True, nothing more starts, and what is out is still
        waited for.
        """
        order, waiting, children = self.order, list(self._waiting), self._children
        ready = [i for i, count in enumerate(waiting) if count == 0]  # a heap of indexes
        heapq.heapify(ready)
        at: dict[str, int] = {}

        def done(i: int) -> None:
            for child in children[i]:
                waiting[child] -= 1
                if waiting[child] == 0:
                    heapq.heappush(ready, child)

        while ready or self.running:
            stopping = halted()  # asked every turn: a stop while only workers are out counts
            if ready and len(self.running) < slots and not stopping:
                i = heapq.heappop(ready)
                name = order[i]
                self.started.add(name)
                future = start(name)
                if future is None:
                    done(i)
                else:
                    self.running[future] = name
                    at[name] = i
                continue
            if not self.running:
                break  # halted, with nothing out
            from concurrent.futures import FIRST_COMPLETED, wait  # (only once work is out)

            finished, _ = wait(self.running, return_when=FIRST_COMPLETED)
            for future in finished:
                name = self.running.pop(future)
                finish(name, future)
                done(at.pop(name))
        return [name for name in order if name not in self.started]

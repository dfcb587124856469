"""The task graph, built and validated once: order, upstream and downstream selection."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator

from little_pipelines.engine.spec import TaskSpec
from little_pipelines.errors import (
    CycleError,
    DuplicateTaskError,
    TaskNotFoundError,
    UnknownDependencyError,
    did_you_mean,
)

__all__ = ["TaskGraph", "topological_order"]


class TaskGraph:
    """Validated tasks in a fixed execution order.

    Raises DuplicateTaskError, UnknownDependencyError or CycleError (a subclass each of
    PipelineValidationError) on construction, so a graph that exists is runnable.
    """

    def __init__(self, specs: Iterable[TaskSpec]) -> None:
        self.specs: dict[str, TaskSpec] = {}
        for spec in specs:
            first = self.specs.get(spec.name)
            if first is not None:
                raise DuplicateTaskError(
                    spec.name,
                    first.where or "(library task)",
                    spec.where or "(library task)",
                    file=spec.file,
                    line=spec.line,
                )
            self.specs[spec.name] = spec
        for spec in self.specs.values():
            for dep in spec.deps:
                if dep not in self.specs:
                    raise UnknownDependencyError(
                        spec.name, dep, self.specs, file=spec.file, line=spec.line
                    )
        self.order: list[str] = self._sort()
        self._position = {name: i for i, name in enumerate(self.order)}
        self.downstream: dict[str, list[str]] = {name: [] for name in self.specs}
        for spec in self.specs.values():
            for dep in spec.deps:
                self.downstream[dep].append(spec.name)

    def with_specs(self, specs: list[TaskSpec]) -> TaskGraph:
        """A graph of `specs`: this one's order, when they are the same tasks with the same
        dependencies, listed alike (a watch rebuilds the graph on every save); else built
        and checked anew."""
        if [s.name for s in specs] != list(self.specs) or any(
            s.deps != self.specs[s.name].deps for s in specs
        ):
            return TaskGraph(specs)
        graph = object.__new__(TaskGraph)
        graph.specs = {spec.name: spec for spec in specs}
        graph.order, graph._position, graph.downstream = self.order, self._position, self.downstream
        return graph

    def _sort(self) -> list[str]:
        deps = {n: s.deps for n, s in self.specs.items()}
        order = topological_order(deps)
        if order is not None:
            return order
        import graphlib  # there is a cycle: graphlib names it

        try:
            list(graphlib.TopologicalSorter(deps).static_order())
        except graphlib.CycleError as exc:
            cycle = list(reversed(exc.args[1]))
            spec = self.specs[cycle[0]]
            where = [f"{n} at {self.specs[n].where}" for n in cycle[:-1] if self.specs[n].where]
            raise CycleError(cycle, where, file=spec.file, line=spec.line) from None
        raise AssertionError("topological_order found a cycle that graphlib did not")

    def __len__(self) -> int:
        return len(self.specs)

    def __contains__(self, name: object) -> bool:
        return name in self.specs

    def __iter__(self) -> Iterator[TaskSpec]:
        return (self.specs[name] for name in self.order)

    def __getitem__(self, name: str) -> TaskSpec:
        try:
            return self.specs[name]
        except KeyError:
            raise self.not_found(name) from None

    @functools.cached_property
    def groups(self) -> dict[str, list[str]]:
        """The tasks of each group (a parametrized function's instances), in graph order."""
        found: dict[str, list[str]] = {}
        for name in self.order:
            group = self.specs[name].group
            if group:
                found.setdefault(group, []).append(name)
        return found

    def not_found(self, name: str) -> TaskNotFoundError:
        """The error for an unknown task name, with a suggestion."""
        members = self.groups.get(name)
        if members:
            shown = ", ".join(members[:5]) + (", ..." if len(members) > 5 else "")
            return TaskNotFoundError(
                f"'{name}' is parametrized: name one of its {len(members)} tasks ({shown}),"
                f" e.g. '{members[0]}' (see: lp list)"
            )
        return TaskNotFoundError(
            f"no task named '{name}'{did_you_mean(name, self.specs)} (see: lp list)"
        )

    def check(self, names: Iterable[str]) -> list[str]:
        """The names, each checked to exist (TaskNotFoundError otherwise); a group's name
        (a parametrized function's) stands for all its tasks, as in `lp run clean`."""
        out: list[str] = []
        for name in names:
            if name in self.specs:
                out.append(name)
            elif name in self.groups:
                out.extend(self.groups[name])
            else:
                raise self.not_found(name)
        return out

    def upstream(self, targets: Iterable[str], *, include_targets: bool = True) -> list[str]:
        """Targets and everything they need, in execution order."""
        wanted: set[str] = set()
        chosen = self.check(targets)
        stack = list(chosen)
        while stack:
            name = stack.pop()
            if name in wanted:
                continue
            wanted.add(name)
            stack.extend(self.specs[name].deps)
        if not include_targets:
            wanted -= set(chosen)
        return sorted(wanted, key=self._position.__getitem__)

    def first(self, order: list[str], early: Iterable[str]) -> list[str]:
        """`order` with `early` and what they need moved to the front, each part in order."""
        chosen = set(order)
        front = set(self.upstream(n for n in early if n in chosen)) & chosen
        return [n for n in order if n in front] + [n for n in order if n not in front]

    def downstream_of(self, names: Iterable[str]) -> list[str]:
        """The names and every task that needs one of them, in execution order."""
        reached: set[str] = set()
        stack = self.check(names)
        while stack:
            name = stack.pop()
            if name not in reached:
                reached.add(name)
                stack.extend(self.downstream[name])
        return sorted(reached, key=self._position.__getitem__)

    def dependents(self, names: Iterable[str]) -> list[str]:
        """The named tasks and everything downstream of them, in execution order."""
        found: set[str] = set()
        stack = self.check(names)
        while stack:
            name = stack.pop()
            if name in found:
                continue
            found.add(name)
            stack.extend(self.downstream[name])
        return sorted(found, key=self._position.__getitem__)


def topological_order(deps: dict[str, tuple[str, ...]]) -> list[str] | None:
    """The order graphlib's `static_order` gives, or None when there is a cycle.

    The same first-ready-first-out walk, without graphlib's separate search for a cycle
    (a third of sorting 10,000 tasks): a cycle is what the walk never reaches.
    """
    waiting: dict[str, int] = {}  # what each node still waits for, in graphlib's order
    successors: dict[str, list[str]] = {}
    for node, preds in deps.items():
        waiting[node] = waiting.get(node, 0) + len(preds)
        if node not in successors:
            successors[node] = []
        for pred in preds:
            if pred not in waiting:
                waiting[pred] = 0
                successors[pred] = []
            successors[pred].append(node)
    order = [node for node, count in waiting.items() if count == 0]
    for node in order:  # (the list grows as it is walked)
        for succ in successors[node]:
            waiting[succ] -= 1
            if waiting[succ] == 0:
                order.append(succ)
    return order if len(order) == len(waiting) else None

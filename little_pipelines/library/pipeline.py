"""The library front door: `Pipeline`, as in the original README (its `Task` is in task.py).

A pipeline is a plain object: creating one touches no disk and adds no log sink.
`Pipeline.execute` builds engine specs from its tasks and runs them on the shared engine.
"""

from __future__ import annotations

import os
import types
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from little_pipelines.engine.spec import TaskSpec
from little_pipelines.errors import DuplicateTaskError, TaskNotFoundError, did_you_mean
from little_pipelines.fingerprint.code import SourceIndex
from little_pipelines.library.task import Task

if TYPE_CHECKING:
    import diskcache

    from little_pipelines.engine.graph import TaskGraph
    from little_pipelines.outcomes import Reporter, RunReport
    from little_pipelines.store.cache import ResultCache

__all__ = ["Pipeline", "Task", "find_tasks", "home_dir"]


def home_dir() -> Path:
    """`$LITTLE_PIPELINES_HOME`, else `~/.little_pipelines`."""
    configured = os.environ.get("LITTLE_PIPELINES_HOME")
    return Path(configured).expanduser() if configured else Path.home() / ".little_pipelines"


class Pipeline:
    """Tasks run in dependency order, with results cached under the pipeline's home folder."""

    def __init__(self, name: str, *, home: Path | None = None) -> None:
        self.name = name
        self._home = home
        self._tasks: dict[str, Task] = {}
        # Results as stored: name -> (digest of the bytes, bytes); the digest is "" for a
        # result of `Task.run()` called outside the cache. Every read unpickles a copy.
        self._results: dict[str, tuple[str, bytes]] = {}
        self._cache: ResultCache | None = None

    def __repr__(self) -> str:
        return f"<Pipeline: {self.name} ({self.ntasks} tasks)>"

    @property
    def home(self) -> Path:
        """The folder of the cache and `logs/`: `<home_dir()>/<name>` unless given."""
        return self._home or home_dir() / self.name

    @property
    def log_dir(self) -> Path:
        return self.home / "logs"

    @property
    def result_cache(self) -> ResultCache:
        if self._cache is None:
            from little_pipelines.store.cache import ResultCache

            self._cache = ResultCache(self.home)
        return self._cache

    @property
    def cache(self) -> diskcache.Cache:
        """The `diskcache.Cache` holding the results."""
        return self.result_cache.raw

    @property
    def ntasks(self) -> int:
        return len(self._tasks)

    def add(self, *tasks: Task) -> Pipeline:
        """Add tasks, in any order."""
        for task in tasks:
            known = self._tasks.get(task.name)
            if known is not None and known is not task:
                raise DuplicateTaskError(task.name, repr(known), repr(task))
            self._tasks[task.name] = task
            task.join(self)
        return self

    def get_task(self, name: str) -> Task:
        try:
            return self._tasks[name]
        except KeyError:
            raise TaskNotFoundError(
                f"pipeline '{self.name}' has no task '{name}'{did_you_mean(name, self._tasks)}"
            ) from None

    def get_result(self, name: str) -> Any:
        """A fresh copy of the task's result (from this run, else the cache), else None.

        Each call unpickles the stored bytes again, so a caller that mutates what it gets
        changes nothing that another caller sees, as in the original library.
        """
        import warnings

        from little_pipelines.store.cache import DamagedResult

        self.get_task(name)
        held = self._results.get(name)
        if held is not None and not held[0]:  # from Task.run(), outside the cache
            return self.result_cache.loads(name, held[1])
        if self._cache is None and not self.home.exists():
            return None
        cache = self.result_cache
        entry = cache.entry(name)
        if entry is None:
            if name in cache.lost:
                warnings.warn(
                    f"the stored result of '{name}' is {cache.lost[name]}: it runs again on"
                    " the next execute()",
                    stacklevel=2,
                )
            return None
        if held is None or held[0] != entry.data:
            try:
                data = cache.load_bytes(name, entry)
            except DamagedResult as exc:
                cache.forget_damaged(name, entry)
                warnings.warn(f"{exc}: it runs again on the next execute()", stacklevel=2)
                return None
            held = self._results[name] = (entry.data, data)
        return cache.loads(name, held[1])

    def remember(self, name: str, value: Any) -> None:
        """Keep the bytes of a result made by `Task.run()`, for `get_result` to copy."""
        from little_pipelines.store.cache import serialize

        try:
            self._results[name] = ("", serialize(value))
        except Exception:  # not picklable: get_result falls back to the cache
            self._results.pop(name, None)

    @property
    def tasks(self) -> Iterator[Task]:
        """The tasks in dependency order."""
        return (self._tasks[name] for name in self._graph().order)

    @property
    def is_complete(self) -> bool:
        """True when every task has run (or was served from cache) or was skipped."""
        return all(t.is_executed or t.is_skipped for t in self._tasks.values())

    def validate_tasks(self) -> None:
        """Raise if a task lacks its `run` process or the graph is invalid."""
        for task in self._tasks.values():
            if "run" not in task._processes:
                raise AttributeError(f"task '{task.name}' is missing 'run' process")
        self._graph()

    def _graph(self, indexes: dict[Path, SourceIndex] | None = None) -> TaskGraph:
        from little_pipelines.engine.graph import TaskGraph

        if indexes is None:
            specs = [
                TaskSpec(t.name, t._invoke, "", tuple(t.dependency_names))
                for t in self._tasks.values()
            ]
        else:
            specs = [t.to_spec(indexes) for t in self._tasks.values()]
        return TaskGraph(specs)

    def execute(
        self,
        force: bool = False,
        force_tasks: Iterable[str] | None = None,
        skip_tasks: Iterable[str] | None = None,
        single_task: str = "",
        *,
        reporter: Reporter | None = None,
    ) -> RunReport:
        """Run what is not fresh; serve the rest from the cache. Returns the run's report."""
        from little_pipelines.engine import run as engine
        from little_pipelines.engine.options import RunOptions

        self.validate_tasks()
        graph = self._graph({})
        for name in [*(force_tasks or ()), *(skip_tasks or ())]:
            self.get_task(name)
        if single_task:
            self.get_task(single_task)
        own_reporter = reporter is None
        if reporter is None:
            reporter = _default_reporter()
        for task in self._tasks.values():
            task.is_executed = False
            task.is_skipped = task.is_skipped and task.name in set(skip_tasks or ())
        for name in [n for n, (held, _) in self._results.items() if not held]:
            del self._results[name]  # results of Task.run() calls do not enter a run
        # The same run lock as `lp run`: a second execute() of this pipeline, in this process
        # or another, waits for the first instead of running every task again beside it.
        with self.result_cache.lock(reporter.waiting):
            if force:
                self.result_cache.clear()
                self._results.clear()
            options = RunOptions.of(
                [single_task] if single_task else None,
                force=force_tasks or (),
                skip=skip_tasks or (),
            )
            try:
                report = engine.run(
                    graph,
                    self.result_cache,
                    options,
                    reporter=reporter,
                    log_dir=self.log_dir,
                    results=self._results,
                )
            finally:
                if own_reporter:
                    reporter.close()  # the display ends; warnings not shown yet show now
        from little_pipelines.outcomes import Status

        for task_report in report.tasks:
            task = self._tasks[task_report.name]
            task.is_executed = task_report.status in (Status.EXECUTED, Status.CACHED)
            # as in the original, a task served from the cache counts as skipped too
            task.is_skipped = task_report.status in (Status.SKIPPED, Status.CACHED)
        if report.interrupted:
            raise KeyboardInterrupt
        return report


def _default_reporter() -> Reporter:
    """Plain progress lines on stderr, as the original printed its progress."""
    from little_pipelines.ui.console import make_console, make_reporter

    return make_reporter(make_console())


def find_tasks(namespace: Mapping[str, Any], nested: bool = True) -> set[Task]:
    """The Tasks among a namespace's values (such as `locals()`), and in its modules if nested."""
    found = {v for v in namespace.values() if isinstance(v, Task)}
    if nested:
        for value in namespace.values():
            if isinstance(value, types.ModuleType):
                found |= {v for v in vars(value).values() if isinstance(v, Task)}
    return found

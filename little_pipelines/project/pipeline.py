"""The project seen as a pipeline: what `lp shell` and the `lp.Task` objects of a project use.

The shell works on anything with a pipeline's reading methods (name, tasks, get_task,
get_result, execute, ...); this class gives a project those methods, beside the library's
`lp.Pipeline` rather than on top of it. An `lp.Task` in a tasks file calls back into it
(`this.pipeline.get_result("x")`) as it would into its own pipeline.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from little_pipelines.errors import TaskNotFoundError
from little_pipelines.outcomes import Reporter, RunReport, Status

if TYPE_CHECKING:
    import diskcache

    from little_pipelines.engine.spec import TaskSpec
    from little_pipelines.project.project import Project
    from little_pipelines.store.cache import ResultCache

__all__ = ["FunctionTask", "ProjectPipeline"]


class FunctionTask:
    """A `task_` function of the project, with the reading side of an `lp.Task`."""

    def __init__(self, pipeline: ProjectPipeline, spec: TaskSpec) -> None:
        self.name = spec.name
        self.spec = spec
        self.pipeline = pipeline
        self.is_executed = False
        self.is_skipped = False

    def __repr__(self) -> str:
        return f"<Task ('{self.name}')>"

    @property
    def dependencies(self) -> dict[str, Any]:
        return {name: self.pipeline.get_task(name) for name in self.spec.deps}

    @property
    def result(self) -> Any:
        return self.pipeline.get_result(self.name)

    @property
    def info(self) -> str | None:
        """The docstring of the tasks file that defines the task, read without importing it."""
        path = self.pipeline.project.root / (self.spec.file or "")
        try:
            return ast.get_docstring(ast.parse(path.read_bytes()))
        except (OSError, SyntaxError):
            return None


class ProjectPipeline:
    """A project's tasks, results and runs, through the methods of an `lp.Pipeline`."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self._views: dict[str, Any] = {}
        self._graph_seen: object = None

    def __repr__(self) -> str:
        return f"<Pipeline: {self.name} ({self.ntasks} tasks)>"

    @property
    def name(self) -> str:
        return self.project.config.name

    @property
    def home(self) -> Path:
        return self.project.config.state_dir

    @property
    def log_dir(self) -> Path:
        return self.project.log_dir

    @property
    def result_cache(self) -> ResultCache:
        return self.project.cache

    @property
    def cache(self) -> diskcache.Cache:
        return self.project.cache.raw

    @property
    def ntasks(self) -> int:
        return len(self.project.graph)

    def _tasks(self) -> dict[str, Any]:
        """Each task's view: an `lp.Task` object as it is, a `task_` function as FunctionTask."""
        graph = self.project.graph
        if self._graph_seen is not graph:  # read again: keep the views of the same tasks
            old = self._views
            self._views = {}
            for spec in graph:
                known: Any = self.project.objects.get(spec.name)
                if known is None:
                    view = old.get(spec.name)
                    keep = isinstance(view, FunctionTask) and view.spec is spec
                    known = view if keep else FunctionTask(self, spec)
                self._views[spec.name] = known
            self._graph_seen = graph
        return self._views

    @property
    def tasks(self) -> Iterator[Any]:
        """The tasks in dependency order."""
        views = self._tasks()
        return (views[name] for name in self.project.graph.order)

    def get_task(self, name: str) -> Any:
        views = self._tasks()
        if name not in views:
            raise self.project.graph.not_found(name)
        return views[name]

    def get_result(self, name: str) -> Any:
        """A fresh copy of the task's cached result, else None (as `lp.Pipeline` does)."""
        self.get_task(name)
        try:
            return self.project.result(name)
        except TaskNotFoundError:
            return None

    def remember(self, name: str, value: Any) -> None:
        """A project keeps results in its cache only: what `Task.run()` returns stays there."""

    @property
    def is_complete(self) -> bool:
        """True when every task ran (or was served from cache) or was skipped."""
        return all(t.is_executed or t.is_skipped for t in self._tasks().values())

    def validate_tasks(self) -> None:
        """Read the project again: a load error or an invalid graph raises."""
        self.project.reload()

    def execute(
        self,
        force: bool = False,
        force_tasks: Iterable[str] | None = None,
        skip_tasks: Iterable[str] | None = None,
        single_task: str = "",
        *,
        reporter: Reporter | None = None,
    ) -> RunReport:
        """Run the project like `lp run` (force=True forces every selected task)."""
        from little_pipelines.engine.options import RunOptions

        options = RunOptions.of(
            [single_task] if single_task else None,
            force=True if force else set(force_tasks or ()),
            skip=skip_tasks or (),
        )
        report = self.project.run(options, reporter=reporter)
        views = self._tasks()
        for task in views.values():
            task.is_executed = task.is_skipped = False
        for line in report.tasks:
            task = views.get(line.name)
            if task is not None:
                task.is_executed = line.status in (Status.EXECUTED, Status.CACHED)
                # as in the original, a task served from the cache counts as skipped too
                task.is_skipped = line.status in (Status.SKIPPED, Status.CACHED)
        return report

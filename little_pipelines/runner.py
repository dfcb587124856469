"""The file-convention runner: a project on disk, its task graph, cache and runs.

`Project` ties discovery, the cache and the engine together for the `lp` command, watch mode
and the shell; `task` is the decorator for runner task options and `load` reads a runner
task's cached result from a notebook or script.
"""

from __future__ import annotations

import ast
import contextlib
import sqlite3
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, overload

from . import engine
from .cache import DamagedResult, ResultCache
from .config import Config, find_root, load_config
from .discovery import ReadCache, TaskDef, dependencies, function_spec, read_project
from .errors import CacheError, DiscoveryError, TaskNotFoundError, syntax_message
from .executors import DaskExecutor, InProcess, ProcessExecutor
from .expire import never
from .fingerprint import SourceIndex
from .graph import TaskGraph
from .loader import Modules
from .outcomes import Reporter, RunReport
from .paths import find_task_files
from .pipeline import Pipeline
from .spec import TaskSpec

__all__ = ["Project", "TaskOptions", "load", "task"]


@dataclass(frozen=True, slots=True)
class TaskOptions:
    """Options of a runner task, set with `@lp.task(...)`."""

    expire: Any = None
    inputs: tuple[str, ...] = ()
    cache: bool = True


@overload
def task(func: Callable[..., Any], /) -> Callable[..., Any]: ...
@overload
def task(
    *, expire: Any = None, inputs: Iterable[str] | str = (), cache: bool = True
) -> Callable[[Callable[..., Any]], Callable[..., Any]]: ...
def task(
    func: Callable[..., Any] | None = None,
    /,
    *,
    expire: Any = None,
    inputs: Iterable[str] | str = (),
    cache: bool = True,
) -> Any:
    """Set a runner task's options: `@lp.task(expire=..., inputs=[...], cache=True)`.

    `inputs` are paths or globs relative to the project root whose contents count towards the
    task's freshness; `cache=False` runs the task every time. Write the options as literals:
    they are read from the file without importing it.
    """
    paths = (inputs,) if isinstance(inputs, str) else inputs
    if isinstance(paths, Iterable):
        paths = tuple(paths)
    if not isinstance(paths, tuple) or not all(isinstance(p, str) for p in paths):
        raise TypeError(f"@lp.task inputs must be a path or a list of paths, not {inputs!r}")
    options = TaskOptions(expire, paths, cache)

    def mark(f: Callable[..., Any]) -> Callable[..., Any]:
        f.__lp_task__ = options  # type: ignore[attr-defined]
        return f

    return mark(func) if func is not None else mark


class FunctionTask:
    """A runner function task seen through the library's Task interface (for the shell)."""

    def __init__(self, project: Project, spec: TaskSpec) -> None:
        self.name = spec.name
        self.spec = spec
        self._project = project
        self.is_executed = False
        self.is_skipped = False

    def __repr__(self) -> str:
        return f"<Task ('{self.name}')>"

    @property
    def dependencies(self) -> dict[str, Any]:
        return {name: self._project.pipeline._tasks.get(name) for name in self.spec.deps}

    @property
    def result(self) -> Any:
        return self._project.pipeline.get_result(self.name)

    @property
    def info(self) -> str | None:
        """The docstring of the tasks file that defines the task, read without importing it."""
        path = self._project.config.root / (self.spec.file or "")
        try:
            return ast.get_docstring(ast.parse(path.read_bytes()))
        except (OSError, SyntaxError):
            return None


class ProjectPipeline(Pipeline):
    """The discovered project as an `lp.Pipeline`, so the shell and `lp.Task` objects work."""

    def __init__(self, project: Project) -> None:
        super().__init__(project.config.name, home=project.config.state_dir)
        self.project = project
        self._cache = project.cache

    def validate_tasks(self) -> None:
        self.project.reload()

    def get_task(self, name: str) -> Any:
        self.project.graph  # noqa: B018 (reading the project fills the task table)
        return super().get_task(name)

    @property
    def ntasks(self) -> int:
        return len(self.project.graph)

    def _graph(self, indexes: Any = None) -> TaskGraph:
        return self.project.graph

    def execute(  # type: ignore[override]
        self,
        force: bool = False,
        force_tasks: Iterable[str] | None = None,
        skip_tasks: Iterable[str] | None = None,
        single_task: str = "",
        *,
        reporter: Reporter | None = None,
    ) -> RunReport:
        """Run the project like `lp run` (force=True forces every selected task)."""
        return self.project.run(
            targets=[single_task] if single_task else None,
            force=True if force else set(force_tasks or ()),
            skip=skip_tasks or (),
            reporter=reporter,
        )


class Project:
    """A project root with its configuration, tasks files, task graph and result cache."""

    def __init__(self, root: Path | None = None, *, config: Config | None = None) -> None:
        self.config = config or load_config(root if root is not None else find_root())
        self.root = self.config.root
        self.index = SourceIndex(self.root)
        self.modules = Modules(self.root)
        self.cache = ResultCache(
            self.config.state_dir, import_module=self._import_named, reset_command="lp clean"
        )
        self.results: dict[str, Any] = {}
        self._graph: TaskGraph | None = None
        self._pipeline: ProjectPipeline | None = None
        self.defs: dict[str, TaskDef] = {}
        # What reading the project warns about (a folder it cannot read), for every command.
        self.notices: list[str] = []

    @property
    def log_dir(self) -> Path:
        return self.config.state_dir / "logs"

    @property
    def graph(self) -> TaskGraph:
        """The task graph, read on first use (errors: DiscoveryError, PipelineValidationError)."""
        if self._graph is None:
            self.reload()
        assert self._graph is not None
        return self._graph

    @property
    def pipeline(self) -> ProjectPipeline:
        if self._pipeline is None:
            self._pipeline = ProjectPipeline(self)
            self._pipeline._results = self.results
        return self._pipeline

    def reload(self, files: list[Path] | None = None) -> TaskGraph:
        """Read the tasks files again (parsing only those that changed) and rebuild the graph."""
        self.modules.refresh()  # a helper changed since it was imported: run it anew
        read_cache = ReadCache(self.cache, self.root)
        unreadable: list[Path] = []
        try:
            defs, objects = read_project(
                self.config, self.index, self.modules, files, read_cache, unreadable
            )
        except (SyntaxError, OSError) as exc:  # a file changed (or vanished) while being read
            raise _unreadable(exc, self.root) from None
        known = {d.name for d in defs} | {t.name for t in objects}
        specs = [
            function_spec(d, dependencies(d, known), self._function, self.index, str(self.log_dir))
            for d in defs
        ]
        for spec, definition in zip(specs, defs, strict=True):
            spec.expire = never()
            spec.prepare = self._preparer(definition, spec)
            if spec.source is not None:
                spec.source = _tolerant(spec.source)
        pipeline = self.pipeline
        indexes = {self.root: self.index}
        for obj in objects:
            pipeline._tasks[obj.name] = obj
            obj.pipeline = pipeline
            spec = obj._spec(indexes)
            spec.input_root = self.root
            if spec.file and Path(spec.file).is_relative_to(self.root):
                spec.file = Path(spec.file).relative_to(self.root).as_posix()
            specs.append(spec)
        self.defs = {d.name: d for d in defs}
        if files is None:  # a reload of some files keeps what the last full walk found
            self.notices = [_unreadable_notice(folder, self.root) for folder in unreadable]
        graph = TaskGraph(specs)
        self._graph = graph
        for spec in specs:
            if spec.name in self.defs:
                pipeline._tasks[spec.name] = FunctionTask(self, spec)  # type: ignore[assignment]
        return graph

    def invalidate(self) -> None:
        """Read the tasks files again on next use (watch mode calls this after a change)."""
        self._graph = None
        if self._pipeline is not None:
            self._pipeline._tasks.clear()

    def _function(self, definition: TaskDef) -> Callable[..., Any]:
        """The task's function, imported; a file changed since it was read is a load error."""
        if definition.live is not None:
            return definition.live
        try:
            module = self.modules.load(definition.path)
        except OSError as exc:
            raise _unreadable(exc, self.root) from None
        func = getattr(module, definition.function, None)
        if not callable(func):
            raise DiscoveryError.at(
                f"the file no longer defines {definition.function}() (task"
                f" '{definition.name}'): it changed while lp was reading it; save it again",
                definition.rel,
                definition.line,
            )
        return func

    def _preparer(self, definition: TaskDef, spec: TaskSpec) -> Callable[[], None]:
        def prepare() -> None:
            options = getattr(self._function(definition), "__lp_task__", None)
            if options is not None and options.expire is not None:
                spec.expire = options.expire

        return prepare

    def _import_named(self, module_name: str) -> bool:
        """Import the tasks file that a pickled result refers to by its unique module name."""
        for path in find_task_files(self.config):
            if self.modules.module_name(path) == module_name:
                self.modules.load(path)
                return module_name in sys.modules
        return False

    def run(
        self,
        targets: Sequence[str] | None = None,
        *,
        force: bool | Iterable[str] = False,
        skip: Iterable[str] = (),
        no_upstream: bool = False,
        dry_run: bool = False,
        exitfirst: bool = False,
        reporter: Reporter | None = None,
        on_wait: Callable[[str], None] | None = None,
        stop: Callable[[], bool] | None = None,
        jobs: int | None = None,
        dask_address: str | None = None,
        on_warning: Callable[[str], None] | None = None,
    ) -> RunReport:
        """Run the project (or `targets` and their upstream) holding the project's run lock.

        `jobs` (default: the `jobs` setting) above 1 runs independent tasks in that many
        worker processes; `dask_address` runs them on that Dask cluster instead. `on_warning`
        hears at once of a task that ended the previous run's process.
        """
        graph = self.graph
        if targets:
            graph.check(targets)
        if dry_run:
            report = engine.run(
                graph, self.cache, targets=targets, force=force, skip=skip,
                no_upstream=no_upstream, dry_run=True, reporter=reporter, root=self.root,
            )  # fmt: skip
            report.warnings[:0] = self.notices
            return report
        jobs = jobs or self.config.jobs
        executor: Any = None
        if dask_address:
            executor = DaskExecutor(dask_address)
        elif jobs > 1:
            executor = ProcessExecutor(jobs)
        guard = InProcess(self.config.state_dir)
        try:
            with self.cache.lock(on_wait):
                self.cache.reopen_if_replaced()  # `lp clean` in another process, since the last run
                notice = self._claim_leftover(guard)
                if notice is not None and on_warning is not None:
                    on_warning(notice)  # now: the same task may end this process too
                try:
                    report = engine.run(
                        graph, self.cache, targets=targets, force=force, skip=skip,
                        no_upstream=no_upstream, exitfirst=exitfirst, reporter=reporter,
                        log_dir=self.log_dir, root=self.root, results=self.results, stop=stop,
                        executor=executor, guard=guard,
                    )  # fmt: skip
                finally:
                    guard.close()
        finally:
            if executor is not None:
                executor.close()
        if notice is not None:
            report.warnings.insert(0, notice)
        report.warnings[:0] = self.notices
        for name, threads in guard.threads.items():
            report.warnings.append(
                f"task '{name}' left {len(threads)} thread(s) running ({', '.join(threads)});"
                " lp does not wait for them"
            )
        return report

    def _claim_leftover(self, guard: InProcess) -> str | None:
        """Record as failed a task during which an earlier run's process ended; a notice."""
        name = guard.leftover()
        if name is None:
            return None
        guard.close()
        if name not in self.graph:
            return None
        self.cache.mark_failed(name, time.time())
        return (
            f"the last run ended inside task '{name}' (os._exit(), a crash, or a kill):"
            " it counts as failed and runs again"
        )

    def reasons(self) -> dict[str, Any]:
        """Each task's reason to run now (None when fresh), deciding without running anything."""
        return engine.decide(self.graph, self.cache)

    def result(self, name: str) -> Any:
        """The cached result of task `name` (TaskNotFoundError with a hint when missing)."""
        graph = self.graph
        if name not in graph:
            raise graph.not_found(name)
        self.modules.ensure_importable()  # a result may hold instances of project classes
        entry = self.cache.entry(name)
        try:
            data = self.cache.load_bytes(name, entry)
        except KeyError:
            raise TaskNotFoundError(
                f"task '{name}' has no cached result yet; run it first: lp run {name}"
            ) from None
        except DamagedResult as exc:
            if entry is not None:  # drop it, so that the next run executes the task again
                with contextlib.suppress(CacheError, OSError, sqlite3.Error):
                    self.cache.forget_damaged(name, entry)
            raise TaskNotFoundError(
                f"{exc} (a value file of the cache was deleted or changed), so it counts as no"
                f" result; run the task again: lp run {name}"
            ) from None
        return self.cache.loads(name, data)

    def names(self) -> Iterator[str]:
        return iter(self.graph.order)


def _unreadable(exc: SyntaxError | OSError, root: Path) -> DiscoveryError:
    """A tasks or helper file that could not be read as it was changing, as a load error."""
    path = Path(exc.filename) if exc.filename else None
    if path is None:
        rel = "a project file"
    else:
        rel = path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)
    if isinstance(exc, SyntaxError):
        return DiscoveryError.at(syntax_message(exc), rel, exc.lineno)
    return DiscoveryError.at(f"cannot read: {exc.strerror or exc}", rel, None)


def _tolerant(source: Callable[[], str]) -> Callable[[], str]:
    """`source` for `lp why`'s diff, with a note instead of an error if the file is changing."""

    def read() -> str:
        try:
            return source()
        except (SyntaxError, OSError):
            return "# (the source could not be read: the file was changing)"

    return read


def load(name: str, root: str | Path | None = None) -> Any:
    """A runner task's cached result, for notebooks and scripts.

    The project root is `root`, else found upward from the current folder as `lp` finds it.
    Raises TaskNotFoundError (with a hint) when the task or its result does not exist.
    """
    project = Project(Path(root).expanduser() if root is not None else None)
    try:
        return project.result(name)
    finally:
        project.cache.close()


def _unreadable_notice(folder: Path, root: Path) -> str:
    """The warning for a folder below the root that lp could not look into."""
    rel = folder.relative_to(root).as_posix() if folder.is_relative_to(root) else str(folder)
    return f"cannot read the folder {rel}/; lp skipped any tasks files in it"

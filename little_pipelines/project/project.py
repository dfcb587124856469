"""The file-convention runner: a project on disk, its task graph, cache and runs.

`Project` ties discovery, the cache and the engine together for the `lp` command, watch mode
and the shell; `load` reads a runner task's cached result from a notebook or script.
"""

from __future__ import annotations

import contextlib
import sqlite3
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from little_pipelines.engine import run as engine
from little_pipelines.engine.execute import Executor
from little_pipelines.engine.graph import TaskGraph
from little_pipelines.engine.guard import InProcess
from little_pipelines.engine.options import RunOptions
from little_pipelines.engine.plan import decide, process_session
from little_pipelines.engine.spec import SpecSource, TaskSpec
from little_pipelines.errors import CacheError, DiscoveryError, TaskNotFoundError, syntax_message
from little_pipelines.fingerprint.code import SourceIndex
from little_pipelines.outcomes import Reason, Reporter, RunReport
from little_pipelines.project.config import Config, find_root, load_config
from little_pipelines.project.discovery import find_task_files, read_project
from little_pipelines.project.instances import Names, dependencies
from little_pipelines.project.loader import Modules
from little_pipelines.project.memo import ReadCache
from little_pipelines.project.outputs import made_before, producers
from little_pipelines.project.params import Binding
from little_pipelines.project.specs import TaskDef, function_spec
from little_pipelines.store import formats
from little_pipelines.store.cache import DamagedResult, ResultCache

if TYPE_CHECKING:
    from little_pipelines.project.pipeline import ProjectPipeline

__all__ = ["Project", "load"]

# a task's upstream tasks: those its parameters name, those whose outputs it reads, and
# how its call is filled from them (None: each parameter from its task)
Links = tuple[tuple[str, ...], tuple[str, ...], Binding | None]


class Project:
    """A project root with its configuration, tasks files, task graph and result cache."""

    def __init__(
        self, root: Path | None = None, *, config: Config | None = None, session: str | None = None
    ) -> None:
        self.config = config or load_config(root if root is not None else find_root())
        self.root = self.config.root
        # the process that `after_session` results belong to: this one, unless told
        self.session = session if session is not None else process_session()
        self.index = SourceIndex(self.root)
        self.modules = Modules(self.root)
        self.cache = ResultCache(
            self.config.state_dir, import_module=self._import_named, reset_command="lp clean"
        )
        self.results: dict[str, Any] = {}
        self._graph: TaskGraph | None = None
        # what the last reload read and built, reused while unchanged (watch rereads often)
        self._readings: dict[Path, Any] = {}
        self._specs: dict[str, tuple[TaskDef, Links, TaskSpec]] = {}
        self._known: set[str] = set()  # the task names of the last reading
        self._made: dict[Path, TaskDef] = {}  # and its output files, with who writes them
        self._built: TaskGraph | None = None  # the last graph, kept after `invalidate`
        self._pipeline: ProjectPipeline | None = None
        self.defs: dict[str, TaskDef] = {}
        self.objects: dict[str, SpecSource] = {}  # the `lp.Task` objects of its tasks files
        # What reading the project warns about (a folder it cannot read), for every command.
        self.notices: list[str] = []
        # The tasks files the last full reading imported (their syntax could not say), and why.
        self.imported: dict[Path, str] = {}

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
        """The project seen as a pipeline, as `lp shell` and `lp.Task` objects use it."""
        if self._pipeline is None:
            from little_pipelines.project.pipeline import ProjectPipeline

            self._pipeline = ProjectPipeline(self)
        return self._pipeline

    def reload(self, files: list[Path] | None = None) -> TaskGraph:
        """Read the tasks files again (parsing only those that changed) and rebuild the graph."""
        self.modules.refresh()  # a helper changed since it was imported: run it anew
        read_cache = ReadCache(self.cache, self.root, self.index, self._readings)
        unreadable: list[Path] = []
        imported: dict[Path, str] = {}
        try:
            defs, objects = read_project(
                self.config, self.index, self.modules, files, read_cache, unreadable, imported
            )
        except (SyntaxError, OSError) as exc:  # a file changed (or vanished) while being read
            raise _unreadable(exc, self.root) from None
        known = {d.name for d in defs} | {t.name for t in objects}
        paths = self.config.path_filter
        log_dir = str(self.log_dir)
        specs = []
        built: dict[str, tuple[TaskDef, Links, TaskSpec]] = {}
        made = producers(defs, self.root)
        # then a reading kept as it was has the same dependencies
        same = known == self._known and made == self._made
        names: Names | None = None  # made when a task's dependencies must be found
        for d in defs:
            kept = self._specs.get(d.name)
            if kept is not None and kept[0] is d and same:
                links, spec = kept[1], kept[2]  # the same reading of the same file: the same spec
            else:
                names = names or Names.of(known, defs)
                deps, binding = dependencies(d, names)
                links = deps, made_before(d, made, self.root, paths, deps), binding
                if kept is not None and kept[0] is d and kept[1] == links:
                    spec = kept[2]
                else:
                    spec = function_spec(
                        d, deps, self._function, self.index, log_dir, paths, links[1], binding
                    )
            built[d.name] = (d, links, spec)
            specs.append(spec)
        self._specs, self._known, self._made = built, known, made
        indexes = {self.root: self.index}
        for obj in objects:
            obj.join(self.pipeline)
            specs.append(obj.to_spec(indexes, paths))
        self.objects = {obj.name: obj for obj in objects}
        self.defs = {d.name: d for d in defs}
        if files is None:  # a reload of some files keeps what the last full walk found
            self.notices = [_unreadable_notice(folder, self.root) for folder in unreadable]
            self.imported = imported
        graph = self._built.with_specs(specs) if self._built is not None else TaskGraph(specs)
        self._graph = self._built = graph
        return graph

    def invalidate(self) -> None:
        """Read the tasks files again on next use (watch mode calls this after a change)."""
        self._graph = None

    def _function(self, definition: TaskDef) -> Callable[..., Any]:
        """The task's function, imported; a file changed since it was read is a load error."""
        if definition.live is not None:
            return definition.live
        try:
            module = self.modules.load(definition.path)
        except OSError as exc:
            raise _unreadable(exc, self.root) from None
        func: object = getattr(module, definition.function, None)
        if not callable(func):
            raise DiscoveryError.at(
                f"the file no longer defines {definition.function}() (task"
                f" '{definition.name}'): it changed while lp was reading it; save it again",
                definition.rel,
                definition.line,
            )
        return func

    def _import_named(self, module_name: str) -> bool:
        """Import the tasks file that a pickled result refers to by its unique module name."""
        for path in find_task_files(self.config):
            if self.modules.module_name(path) == module_name:
                self.modules.load(path)
                return module_name in sys.modules
        return False

    def run(
        self,
        options: RunOptions | None = None,
        *,
        reporter: Reporter | None = None,
        stop: Callable[[], bool] | None = None,
        jobs: int | None = None,
        dask_address: str | None = None,
        executor: Executor | None = None,
    ) -> RunReport:
        """Run what `options` select (all tasks by default) holding the project's run lock.

        `jobs` (default: the `jobs` setting) above 1 runs independent tasks in that many
        worker processes; `dask_address` runs them on that Dask cluster instead. The reporter
        hears of waiting for the lock, and at once of a task that ended the previous run's
        process. A caller that runs many times (watch) passes its own `executor`, built
        once with `make_executor`; it is then left open.
        """
        reporter = reporter or Reporter()
        options = options or RunOptions()
        graph = self.graph
        if options.targets:
            graph.check(options.targets)
        if options.dry_run:
            return engine.run(
                graph, self.cache, options, reporter=reporter, root=self.root,
                session=self.session, notices=self.notices,
            )  # fmt: skip
        owned = executor is None
        if owned:
            executor = self.make_executor(jobs, dask_address)
        guard = InProcess(self.config.state_dir)
        try:
            with self.cache.lock(reporter.waiting):
                self.cache.reopen_if_replaced()  # `lp clean` in another process, since the last run
                notices = list(self.notices)
                notice = self._claim_leftover(guard)
                if notice is not None:
                    reporter.warning(notice)  # now: the same task may end this process too
                    notices.append(notice)
                try:
                    report = engine.run(
                        graph, self.cache, options, reporter=reporter, log_dir=self.log_dir,
                        log_every_task=False, root=self.root, results=self.results, stop=stop,
                        executor=executor, guard=guard, session=self.session, notices=notices,
                    )  # fmt: skip
                finally:
                    guard.close()
        finally:
            if owned and executor is not None:
                executor.close()
        return report

    def make_executor(
        self, jobs: int | None = None, dask_address: str | None = None
    ) -> Executor | None:
        """Where tasks run besides this process: a Dask cluster, a pool of `jobs` (default:
        the `jobs` setting) worker processes, or None for this process alone."""
        from little_pipelines.engine.executors import DaskExecutor, ProcessExecutor

        jobs = jobs or self.config.jobs
        if dask_address:
            return DaskExecutor(dask_address)
        return ProcessExecutor(jobs) if jobs > 1 else None

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

    def reasons(self) -> dict[str, Reason | None]:
        """Each task's reason to run now (None when fresh), deciding without running anything."""
        return decide(self.graph, self.cache, session=self.session)

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
        store = entry.extra.get("store", "pickle") if entry is not None else "pickle"
        kept = entry.extra.get("format") if entry is not None else None
        stored_by = formats.stored_by(kept, self.root) if kept is not None else None
        definition = self.defs.get(name)
        if definition is not None and not formats.known(store, stored_by):
            self._function(definition)  # its tasks file registers the format
        return self.cache.loads(name, data, store, stored_by)

    def close(self) -> None:
        """Close the cache and take the project's importer off sys.path and sys.meta_path."""
        self.cache.close()
        self.modules.close()

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


def load(name: str, root: str | Path | None = None) -> Any:
    """A runner task's cached result, for notebooks and scripts.

    The project root is `root`, else found upward from the current folder as `lp` finds it.
    Raises TaskNotFoundError (with a hint) when the task or its result does not exist.
    """
    project = Project(Path(root).expanduser() if root is not None else None)
    try:
        return project.result(name)
    finally:
        # the importer stays: the value's own code may import project modules later
        project.cache.close()


def _unreadable_notice(folder: Path, root: Path) -> str:
    """The warning for a folder below the root that lp could not look into."""
    rel = folder.relative_to(root).as_posix() if folder.is_relative_to(root) else str(folder)
    return f"cannot read the folder {rel}/; lp skipped any tasks files in it"

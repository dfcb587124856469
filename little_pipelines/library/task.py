"""The library's task: `lp.Task` with its `@task.process` functions, as in the original README.

A task is a plain object: creating one touches no disk and adds no log sink. It joins a host
(an `lp.Pipeline`, or the project whose tasks file defines it) that it calls back for other
tasks' results, and gives the engine its spec (`to_spec`).
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from little_pipelines import expire as _expire
from little_pipelines.engine.spec import OnUpstreamError, TaskContext, TaskSpec
from little_pipelines.errors import TaskNotFoundError
from little_pipelines.fingerprint.code import SourceIndex, digest, object_code_digest

if TYPE_CHECKING:
    import ast
    import types

    from loguru import Logger

    from little_pipelines.paths import PathFilter

__all__ = ["Task", "TaskHost"]


class TaskHost(Protocol):
    """What a task calls back: its pipeline, or the project whose tasks file defines it."""

    @property
    def log_dir(self) -> Path: ...

    def get_task(self, name: str) -> Any: ...

    def get_result(self, name: str) -> Any: ...

    def remember(self, name: str, value: Any) -> None:
        """Keep what `Task.run()` returned outside a run (a host may ignore it)."""


class Task:
    """A named unit of work whose `run` process produces a result.

    Processes are functions registered with `@task.process`; each receives the task as `this`,
    and `this.<process>(...)` calls another one.
    """

    def __init__(
        self,
        name: str,
        dependencies: Iterable[str] | None = None,
        expire_results: Callable[[], int | None] | None = None,
        if_upstream_errors: str = "FAIL",
        input_files: Iterable[str | os.PathLike[str]] | os.PathLike[str] | None = None,
        hash_inputs: bool = True,
    ) -> None:
        try:
            self.if_upstream_errors = OnUpstreamError(str(if_upstream_errors).lower())
        except ValueError:
            raise ValueError(
                f"if_upstream_errors must be 'FAIL' or 'SKIP', not {if_upstream_errors!r}"
            ) from None
        self.name = name
        self.dependency_names: list[str] = list(dependencies or [])
        self.expire_results = expire_results or _expire.after_session(name)
        self.input_files = input_files  # as given (Path objects stay Path objects)
        self.hash_inputs = hash_inputs
        self.pipeline: TaskHost | None = None
        self.logger: Logger | None = None  # a task logger, once the task is in a pipeline
        self.is_executed = False
        self.is_skipped = False
        self._result: Any = None
        self._processes: dict[str, Callable[..., Any]] = {}
        self._module = sys._getframe(1).f_globals.get("__name__")

    def __repr__(self) -> str:
        return f"<Task ('{self.name}')>"

    def process(self, func: Callable[..., Any]) -> Callable[..., Any]:
        """Register `func` as a process of this task (the one named `run` is required)."""
        self._processes[func.__name__] = func
        return func

    def __getattr__(self, name: str) -> Any:
        processes = self.__dict__.get("_processes", {})
        if name in processes:
            return functools.partial(processes[name], self)
        raise AttributeError(f"task '{self.__dict__.get('name')}' has no attribute {name!r}")

    def run(self) -> Any:
        """Call the `run` process now, outside the cache, and keep its result."""
        if "run" not in self._processes:
            raise AttributeError(f"task '{self.name}' is missing 'run' process")
        self._result = self._processes["run"](self)
        self.is_executed = True
        if self.pipeline is not None:
            self.pipeline.remember(self.name, self._result)
        return self._result

    @property
    def result(self) -> Any:
        """This task's result (a copy of its own): from this run, else the cache, else None."""
        if self.pipeline is not None:
            value = self.pipeline.get_result(self.name)
            if value is not None:
                return value
        return self._result

    @property
    def dependencies(self) -> dict[str, Any] | None:
        """Dependency name -> Task once the task is in a pipeline (None if unknown), else None."""
        if self.pipeline is None:
            return None
        found: dict[str, Any] = {}
        for name in self.dependency_names:
            try:
                found[name] = self.pipeline.get_task(name)
            except TaskNotFoundError:
                found[name] = None
        return found

    def join(self, host: TaskHost) -> None:
        """Belong to `host`: an `lp.Pipeline`, or the project whose tasks file defines it."""
        from little_pipelines.engine.logs import task_logger

        self.pipeline = host
        self.logger = task_logger(self.name)

    @property
    def log_dir(self) -> Path | None:
        return None if self.pipeline is None else self.pipeline.log_dir

    @property
    def info(self) -> str | None:
        """The docstring of the module that defined the task."""
        module = sys.modules.get(self._module or "")
        if module is None:  # getattr(None, "__doc__") is NoneType's docstring on 3.13
            return None
        return module.__doc__

    def _code(self, indexes: dict[Path, SourceIndex]) -> str:
        parts = [",".join(self.dependency_names), str(self.if_upstream_errors)]
        for name in sorted(self._processes):
            parts.append(name + ":" + _function_digest(self._processes[name], indexes))
        return digest(*parts)

    def to_spec(
        self, indexes: dict[Path, SourceIndex], paths: PathFilter | None = None
    ) -> TaskSpec:
        """The engine's spec of this task; inputs and `file` relative to `paths.root` if given."""
        code = getattr(self._processes.get("run"), "__code__", None)
        file = code.co_filename if code else None
        root = paths.root if paths is not None else None
        if file and root is not None and Path(file).is_relative_to(root):
            file = Path(file).relative_to(root).as_posix()
        return TaskSpec(
            name=self.name,
            invoke=self._invoke,
            code=self._code(indexes),
            deps=tuple(self.dependency_names),
            inputs=_input_patterns(self.input_files) if self.hash_inputs else (),
            input_root=root or Path.cwd(),
            paths=paths,
            expire=self.expire_results,
            on_upstream_error=self.if_upstream_errors,
            file=file,
            line=code.co_firstlineno if code else None,
            source=functools.partial(self._source, indexes),
        )

    def _source(self, indexes: dict[Path, SourceIndex]) -> str:
        """What `_code` hashes, as text: each process with the code it reaches (for lp why)."""
        parts = [f"# depends on: {', '.join(self.dependency_names) or 'nothing'}"]
        parts += [f"# if upstream errors: {self.if_upstream_errors}"]
        for name in sorted(self._processes):
            parts += [f"# process {name}", _function_source(self._processes[name], indexes)]
        return "\n".join(parts)

    def _invoke(self, upstream: Mapping[str, Any], this: TaskContext) -> Any:
        return self._processes["run"](self)


def _input_patterns(given: Any) -> tuple[str, ...]:
    """A task's `input_files` as the engine takes them: a tuple of path strings."""
    if given is None:
        return ()
    if isinstance(given, str | os.PathLike):  # one path, not a sequence of characters
        return (os.fspath(given),)
    return tuple(os.fspath(p) if isinstance(p, os.PathLike) else str(p) for p in given)


def _function_digest(func: Callable[..., Any], indexes: dict[Path, SourceIndex]) -> str:
    """Code hash of a process: from its source file's syntax tree, else its code object."""
    code = getattr(func, "__code__", None)
    if code is None:
        return digest(repr(func))
    found = _function_node(code, indexes)
    if found is not None:
        return found[0].code_digest([found[1:]])
    return object_code_digest(code)


def _function_source(func: Callable[..., Any], indexes: dict[Path, SourceIndex]) -> str:
    """The source `_function_digest` hashes, or a note of what it hashed instead."""
    code = getattr(func, "__code__", None)
    found = None if code is None else _function_node(code, indexes)
    if found is None:
        return f"# (no source: its compiled code is compared) {func!r}"
    return found[0].code_source([found[1:]])


def _function_node(
    code: types.CodeType, indexes: dict[Path, SourceIndex]
) -> tuple[SourceIndex, Path, ast.AST] | None:
    """The index, file and syntax node of a function's definition, if its file can be read."""
    path = Path(code.co_filename)
    if not path.is_file():
        return None
    index = next((i for r, i in indexes.items() if path.is_relative_to(r)), None)
    if index is None:  # a script outside any known project: its folder is the project
        index = indexes[path.parent] = SourceIndex(path.parent)
    try:
        node = index.function_at(path, code.co_firstlineno)
    except (OSError, SyntaxError):
        return None
    return None if node is None else (index, path, node)

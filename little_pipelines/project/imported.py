"""Tasks read off an imported tasks file: for files that reading the syntax cannot finish.

A file that builds tasks by code, holds `lp.Task` objects, or gives `@lp.task` options that
are not literals is imported, and its tasks are read off the module. Tasks written as a
top-level `def` keep the code digest read from the syntax; tasks built by code count the
whole file (and all the project code it reaches) as their code: coarser, and safe.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

from little_pipelines.engine.spec import SpecSource
from little_pipelines.errors import DiscoveryError
from little_pipelines.fingerprint.code import SourceIndex, digest
from little_pipelines.project.discovery import TASK_PREFIX
from little_pipelines.project.instances import instances
from little_pipelines.project.loader import Modules
from little_pipelines.project.params import ATTRIBUTE, Mark
from little_pipelines.project.specs import FileTasks, TaskDef

__all__ = ["tasks_by_import"]


_BUILT = "its tasks file builds tasks by code, so the whole file counts"


def tasks_by_import(
    modules: Modules, index: SourceIndex, found: FileTasks, root: Path
) -> list[Any]:
    """Import a tasks file static reading could not finish, and read its tasks off the module.

    Tasks defined by a top-level `def` keep the code read statically (options come from the
    imported function when they are not literals); only tasks built by code count the file whole.
    """
    path = found.path
    module = modules.load(path)
    rel = path.relative_to(root).as_posix()
    static: dict[str, list[TaskDef]] = {}
    for t in found.tasks:
        static.setdefault(t.function, []).append(t)
    whole: tuple[str, tuple[str, ...]] | None = None  # the file's digest, and its notes
    tasks: list[Any] = []
    for attr, value in vars(module).items():
        if isinstance(value, SpecSource) and not isinstance(value, type):  # an lp.Task
            tasks.append(value)
            continue
        if not attr.startswith(TASK_PREFIX) or not inspect.isfunction(value):
            continue
        options = getattr(value, "__lp_task__", None)
        read = static.get(attr)
        if read is not None:
            known = read[0]
            if known.live_options and options is not None:
                known.inputs, known.cache = tuple(options.inputs), options.cache
                known.tags, known.outputs = options.tags, options.outputs
                known.retries, known.retry_delay = options.retries, options.retry_delay
                known.timeout, known.store = options.timeout, options.store
            tasks.extend(_expanded(known, value) if known.live_marks else read)
        elif value.__module__ == module.__name__:  # (imported from elsewhere: not a task here)
            whole = whole or _whole_file(index, path, rel)
            tasks.extend(_expanded(_built_task(index, path, rel, attr, value, whole), value))
    return tasks


def _expanded(task: TaskDef, func: Any) -> list[TaskDef]:
    """A function's tasks, from the parametrize marks the imported function carries."""
    marks = getattr(func, ATTRIBUTE, ())
    if not isinstance(marks, tuple) or not all(isinstance(m, Mark) for m in marks):
        raise DiscoveryError.at(
            f"{task.function}.{ATTRIBUTE} was changed by hand; use @lp.task.parametrize",
            task.rel,
            task.line,
        )
    try:
        return instances(task, marks)
    except ValueError as exc:
        raise DiscoveryError.at(f"task '{task.name}': {exc}", task.rel, task.line) from None


def _whole_file(index: SourceIndex, path: Path, rel: str) -> tuple[str, tuple[str, ...]]:
    """The digest of a whole file, with every project definition it reaches, and its notes."""
    info = index.module(path)
    closure = index.closure_of([(path, info.whole), *((path, d) for d in info.defs.values())])
    return index.closure_digest(closure), (f"{rel}: {_BUILT}", *index.closure_notes(closure))


def _built_task(
    index: SourceIndex,
    path: Path,
    rel: str,
    attr: str,
    value: Any,
    whole: tuple[str, tuple[str, ...]],
) -> TaskDef:
    """A task function that code built: it counts by the whole file's digest."""
    sig = inspect.signature(value)
    for param in sig.parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD, param.POSITIONAL_ONLY):
            raise DiscoveryError.at(
                f"task '{attr[5:]}' has a {param.kind.description} parameter"
                f" '{param.name}'; parameters are filled by name from upstream tasks",
                rel,
                value.__code__.co_firstlineno,
            )
    options = getattr(value, "__lp_task__", None)
    first = value.__code__.co_firstlineno  # the first decorator's line, if any
    node = index.function_at(path, first) if value.__code__.co_filename == str(path) else None
    return TaskDef(
        name=attr[len(TASK_PREFIX) :],
        path=path,
        rel=rel,
        line=node.lineno if node is not None else first,
        function=attr,
        params=list(sig.parameters),
        defaults={p.name for p in sig.parameters.values() if p.default is not p.empty},
        code=digest(whole[0], attr),
        inputs=tuple(options.inputs) if options else (),
        cache=options.cache if options else True,
        tags=options.tags if options else (),
        outputs=options.outputs if options else (),
        retries=options.retries if options else 0,
        retry_delay=options.retry_delay if options else 0.0,
        timeout=options.timeout if options else None,
        store=options.store if options else None,
        dynamic=True,
        live=value,
        notes=whole[1],
    )

"""A task as read from its file, and the engine's frozen spec made of it.

`TaskDef` is what discovery (or an import, imported.py) found; `function_spec` turns it into
a `TaskSpec` once its dependencies are known, with the calls that import its function only
when it must run.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from little_pipelines.engine.execute import RemoteCall
from little_pipelines.engine.spec import TaskContext, TaskSpec
from little_pipelines.engine.supervise import Attempts
from little_pipelines.errors import UnknownDependencyError
from little_pipelines.fingerprint.code import Definition, SourceIndex
from little_pipelines.paths import PathFilter
from little_pipelines.project.loader import worker_modules

__all__ = ["FileTasks", "TaskDef", "dependencies", "function_spec", "task_closure"]


@dataclass(slots=True)
class TaskDef:
    """A task as read from its file, before dependencies are resolved against the project."""

    name: str
    path: Path
    rel: str
    line: int
    function: str
    params: list[str]
    defaults: set[str]
    code: str
    inputs: tuple[str, ...] = ()
    cache: bool = True
    expire_text: str = ""
    tags: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    retries: int = 0
    retry_delay: float = 0.0
    timeout: float | None = None
    dynamic: bool = False  # built by code: the imported function is the task
    live: Callable[..., Any] | None = None
    notes: tuple[str, ...] = ()  # where reading its code fell back to something coarser
    live_options: bool = False  # options that are not literals: read after importing


@dataclass(slots=True)
class FileTasks:
    """What one tasks file provides: task definitions, or `dynamic` when it must be imported."""

    path: Path
    tasks: list[TaskDef] = field(default_factory=list)
    dynamic: bool = False
    why: str = ""  # why it must be imported, when it must
    uses: set[Path] = field(default_factory=set)  # the project files its tasks' code reaches


def task_closure(index: SourceIndex, path: Path, node: ast.AST) -> list[tuple[Path, Definition]]:
    """A task function's code: its definition (with every other binding of its name, and
    whatever changes it) and all the project code that reaches."""
    module = index.module(path)
    definition = module.defs.get(getattr(node, "name", ""))
    if definition is None or node not in _statements(definition.node):
        definition = Definition.of(node, module.lines)
    return index.closure_of([(path, definition)])


def _statements(node: ast.AST) -> list[ast.AST]:
    """The statements a (possibly merged) definition stands for."""
    if isinstance(node, ast.Module):
        return [s for part in node.body for s in _statements(part)]
    return [node]


def dependencies(task: TaskDef, known: Collection[str]) -> tuple[str, ...]:
    """The upstream tasks a function task names; a parameter with a default may name none."""
    deps = []
    for param in task.params:
        if param == "this":
            continue
        if param in known:
            deps.append(param)
        elif param not in task.defaults:
            raise UnknownDependencyError(task.name, param, known, file=task.rel, line=task.line)
    return tuple(deps)


def function_spec(
    task: TaskDef,
    deps: tuple[str, ...],
    load: Callable[[TaskDef], Callable[..., Any]],
    index: SourceIndex,
    log_dir: str | None = None,
    paths: PathFilter | None = None,
    after: tuple[str, ...] = (),
) -> TaskSpec:
    """The engine spec of a function task; `load` imports its function when it must run.

    `deps` are the tasks its parameters name; `after` those whose outputs its inputs name,
    which it runs after and is decided by as by any upstream task, without receiving them.
    """
    remote = None
    attempts = None
    if task.retries or task.timeout is not None:
        attempts = Attempts(task.retries, task.retry_delay, task.timeout)
    if not task.dynamic:
        wants_this = "this" in task.params
        args = (task.name, str(index.root), str(task.path), task.function, wants_this, log_dir)
        remote = RemoteCall(*args, modules=worker_modules, attempts=attempts)
    call = _FunctionCall(task, deps, load, index)
    return TaskSpec(
        name=task.name,
        invoke=call.invoke,
        code=task.code,
        deps=deps + after,
        arguments=deps if after else None,
        inputs=task.inputs,
        outputs=task.outputs,
        attempts=attempts,
        input_root=index.root,
        paths=paths,
        expire_of=call.expire,
        cache=task.cache,
        tags=task.tags,
        file=task.rel,
        line=task.line,
        meta={"expire_text": task.expire_text, "dynamic": task.dynamic, "notes": task.notes},
        prepare=call.prepare,
        source=call.source,
        remote=remote,
    )


class _FunctionCall:
    """A function task's function, imported when it must run, and what it says of itself.

    Its expiry is read off the imported function (`@lp.task(expire=...)` may be any
    expression): `prepare`, which the engine calls before a task runs, imports it and notes
    the policy; until then it is None (never), which no freshness decision reads.
    """

    def __init__(
        self,
        task: TaskDef,
        deps: tuple[str, ...],
        load: Callable[[TaskDef], Callable[..., Any]],
        index: SourceIndex,
    ) -> None:
        self.task, self.deps, self.load, self.index = task, deps, load, index
        self.wants_this = "this" in task.params
        self.policy: Any = None  # the expiry policy of the imported function, once prepared

    def prepare(self) -> None:
        options = getattr(self.load(self.task), "__lp_task__", None)
        self.policy = options.expire if options is not None else None

    def expire(self) -> Any:
        return self.policy  # None (never) until prepared

    def source(self) -> str:
        task, index = self.task, self.index
        try:
            node = None if task.dynamic else index.function_at(task.path, task.line)
            if node is None:
                return ast.unparse(index.module(task.path).tree)
            return index.closure_source(task_closure(index, task.path, node))
        except (SyntaxError, OSError):  # for `lp why`'s diff: a note, not an error
            return "# (the source could not be read: the file was changing)"

    def invoke(self, upstream: Mapping[str, Any], this: TaskContext) -> Any:
        kwargs = {name: upstream[name] for name in self.deps}
        if self.wants_this:
            kwargs["this"] = this
        return self.load(self.task)(**kwargs)

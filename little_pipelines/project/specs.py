"""A task as read from its file, and the engine's frozen spec made of it.

`TaskDef` is what discovery (or an import, imported.py) found; `function_spec` turns it into
a `TaskSpec` once its dependencies are known, with the calls that import its function only
when it must run.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from little_pipelines.engine.execute import RemoteCall
from little_pipelines.engine.spec import TaskContext, TaskSpec
from little_pipelines.engine.supervise import Attempts
from little_pipelines.errors import DiscoveryError
from little_pipelines.fingerprint.code import Definition, SourceIndex
from little_pipelines.paths import PathFilter
from little_pipelines.project.loader import worker_modules
from little_pipelines.project.marks import is_mark, without_marks
from little_pipelines.project.params import Binding
from little_pipelines.store import formats
from little_pipelines.store.formats import STORE_CHOICES

__all__ = [
    "FileTasks",
    "TaskDef",
    "function_spec",
    "task_closure",
]


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
    store: str | None = None  # its result's format (None: chosen by the value)
    dynamic: bool = False  # built by code: the imported function is the task
    live: Callable[..., Any] | None = None
    notes: tuple[str, ...] = ()  # where reading its code fell back to something coarser
    live_options: bool = False  # options that are not literals: read after importing
    live_marks: bool = False  # parametrize marks that are not literals: expanded after importing
    # an instance of a parametrized function: the function's task name (`clean` of
    # `clean[east]`), its id and position, the parameters its values fill, and those values
    group: str = ""
    instance_id: str = ""
    bound: tuple[str, ...] = ()
    values_text: str = ""
    values_code: str = ""  # the digest of its values ("" when they cannot be digested)
    marked_code: str = ""  # the function's code with its parametrize marks (see `instances`)


@dataclass(slots=True)
class FileTasks:
    """What one tasks file provides: task definitions, or `dynamic` when it must be imported."""

    path: Path
    tasks: list[TaskDef] = field(default_factory=list)
    dynamic: bool = False
    why: str = ""  # why it must be imported, when it must
    uses: set[Path] = field(default_factory=set)  # the project files its tasks' code reaches


def task_closure(
    index: SourceIndex, path: Path, node: ast.AST, *, strip: bool = True
) -> list[tuple[Path, Definition]]:
    """A task function's code: its definition (with every other binding of its name, and
    whatever changes it) and all the project code that reaches. A parametrized function's
    marks are left out (`strip`) when it is bound once: each instance counts its own values."""
    module = index.module(path)
    definition = module.defs.get(getattr(node, "name", ""))
    if definition is None or node not in _statements(definition.node):
        definition = Definition.of(node, module.lines)
    elif (
        strip
        and definition.node is node
        and isinstance(node, ast.FunctionDef)
        and any(is_mark(d) for d in node.decorator_list)
    ):
        definition = index.variant(path, node, without_marks)  # type: ignore[arg-type]
    return index.closure_of([(path, definition)])


def _statements(node: ast.AST) -> list[ast.AST]:
    """The statements a (possibly merged) definition stands for."""
    if isinstance(node, ast.Module):
        return [s for part in node.body for s in _statements(part)]
    return [node]


def function_spec(
    task: TaskDef,
    deps: tuple[str, ...],
    load: Callable[[TaskDef], Callable[..., Any]],
    index: SourceIndex,
    log_dir: str | None = None,
    paths: PathFilter | None = None,
    after: tuple[str, ...] = (),
    binding: Binding | None = None,
) -> TaskSpec:
    """The engine spec of a function task; `load` imports its function when it must run.

    `deps` are the tasks its parameters name; `after` those whose outputs its inputs name,
    which it runs after and is decided by as by any upstream task, without receiving them.
    `binding` fills the call when its parameters are not each one upstream task's result.
    """
    remote = None
    attempts = None
    if task.retries or task.timeout is not None:
        attempts = Attempts(task.retries, task.retry_delay, task.timeout)
    if not task.dynamic:
        wants_this = "this" in task.params
        args = (task.name, str(index.root), str(task.path), task.function, wants_this, log_dir)
        remote = RemoteCall(
            *args, modules=worker_modules, attempts=attempts, bind=binding, store=task.store
        )
    call = _FunctionCall(task, deps, load, index, binding)
    return TaskSpec(
        name=task.name,
        invoke=call.invoke,
        code=task.code,
        deps=deps + after,
        arguments=deps if after else None,
        ordered=binding is not None and binding.ordered,
        inputs=task.inputs,
        outputs=task.outputs,
        attempts=attempts,
        input_root=index.root,
        paths=paths,
        expire_of=call.expire,
        cache=task.cache,
        tags=task.tags,
        group=task.group,
        store=task.store,
        file=task.rel,
        line=task.line,
        meta={
            "expire_text": task.expire_text,
            "dynamic": task.dynamic,
            "notes": task.notes,
            "values": task.values_text,
        },
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
        binding: Binding | None = None,
    ) -> None:
        self.task, self.deps, self.load, self.index = task, deps, load, index
        self.binding = binding
        self.wants_this = "this" in task.params
        self.policy: Any = None  # the expiry policy of the imported function, once prepared

    def prepare(self) -> None:
        options = getattr(self.load(self.task), "__lp_task__", None)
        self.policy = options.expire if options is not None else None
        store = self.task.store  # a format its tasks file registers is known once imported
        if store is not None and store not in STORE_CHOICES and not formats.known(store):
            raise DiscoveryError.at(
                f"@lp.task store='{store}' is no format (formats: {', '.join(STORE_CHOICES)},"
                " and those registered with lp.register_format in the tasks file or a module"
                " it imports)",
                self.task.rel,
                self.task.line,
            )

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
        func = self.load(self.task)
        if self.binding is not None:
            kwargs = self.binding(func, upstream)
        else:
            kwargs = {name: upstream[name] for name in self.deps}
        if self.wants_this:
            kwargs["this"] = this
        return func(**kwargs)

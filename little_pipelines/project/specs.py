"""A task as read from its file, and the engine's frozen spec made of it.

`TaskDef` is what discovery (or an import, imported.py) found; `function_spec` turns it into
a `TaskSpec` once its dependencies are known, with the calls that import its function only
when it must run.
"""

from __future__ import annotations

import ast
import dataclasses
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from little_pipelines.engine.execute import RemoteCall
from little_pipelines.engine.spec import TaskContext, TaskSpec
from little_pipelines.engine.supervise import Attempts
from little_pipelines.errors import DiscoveryError, UnknownDependencyError
from little_pipelines.fingerprint.code import Definition, SourceIndex, digest
from little_pipelines.paths import PathFilter
from little_pipelines.project.loader import worker_modules
from little_pipelines.project.params import (
    FIELD,
    Binding,
    Mark,
    Source,
    expand,
    fill,
    instance_name,
    is_mark,
    values_digest,
    without_marks,
)
from little_pipelines.store import formats
from little_pipelines.store.formats import STORE_CHOICES

__all__ = [
    "FileTasks",
    "Names",
    "TaskDef",
    "dependencies",
    "function_spec",
    "instances",
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


def instances(task: TaskDef, marks: Sequence[Mark]) -> list[TaskDef]:
    """The tasks a parametrized function makes, `name[id]` each, with its own code digest
    (the function's and its values'), inputs and outputs; [task] itself without marks.
    ValueError for marks that do not fit the function."""
    if not marks:
        return [task]
    named = {name for mark in marks for name in mark.names}
    for path in (*task.inputs, *task.outputs):
        unknown = sorted(set(FIELD.findall(path)) - named)
        if unknown:
            raise ValueError(
                f"{path!r} names {{{unknown[0]}}}, which is not a parametrized name"
                f" ({', '.join(sorted(named))})"
            )
    out = []
    for instance in expand(marks, task.params):
        values, note = values_digest(instance)
        shown = ", ".join(f"{k}={v!r}" for k, v in instance.values.items())
        # values that are plain data count as themselves; any other (a function, a class,
        # an object) also counts by the code the marks reach, which its digest does not hold
        plain = all(_plain(v) for v in instance.values.values())
        code = task.code if plain else (task.marked_code or task.code)
        out.append(
            dataclasses.replace(
                task,
                name=instance_name(task.name, instance.id),
                code=digest(code, "values", values),
                inputs=fill(task.inputs, instance.values),
                outputs=fill(task.outputs, instance.values),
                group=task.name,
                instance_id=instance.id,
                bound=tuple(instance.values),
                values_text=shown if len(shown) <= 120 else shown[:119] + "…",
                values_code="" if note is not None else values,
                notes=task.notes if note is None else (*task.notes, note),
            )
        )
    return out


_PLAIN = (str, bytes, int, float, complex, bool, type(None))


def _plain(value: Any, depth: int = 0) -> bool:
    """Whether a value is data alone (what a literal can be), so its digest is all of it."""
    if type(value) in _PLAIN:
        return True
    if depth > 50:
        return False
    if type(value) in (tuple, list, frozenset, set):
        return all(_plain(v, depth + 1) for v in value)
    if type(value) is dict:
        return all(_plain(k, depth + 1) and _plain(v, depth + 1) for k, v in value.items())
    return False


def _statements(node: ast.AST) -> list[ast.AST]:
    """The statements a (possibly merged) definition stands for."""
    if isinstance(node, ast.Module):
        return [s for part in node.body for s in _statements(part)]
    return [node]


@dataclass(frozen=True, slots=True)
class Names:
    """The project's task names as a parameter can name them: a task, every instance of a
    parametrized function (by the function's name), or one instance (by its id alone)."""

    tasks: frozenset[str]
    groups: Mapping[str, tuple[tuple[str, str], ...]]  # function's task name: (id, instance)
    ids: Mapping[str, tuple[str, ...]]  # an instance's id: the instances with that id

    @classmethod
    def of(cls, names: Collection[str], defs: Collection[TaskDef]) -> Names:
        groups: dict[str, list[tuple[str, str]]] = {}
        ids: dict[str, list[str]] = {}
        for d in defs:
            if d.group:
                groups.setdefault(d.group, []).append((d.instance_id, d.name))
                if d.instance_id.isidentifier():
                    ids.setdefault(d.instance_id, []).append(d.name)
        return cls(
            frozenset(names),
            {g: tuple(m) for g, m in groups.items()},
            {i: tuple(n) for i, n in ids.items() if i not in names and i not in groups},
        )


def dependencies(task: TaskDef, names: Names) -> tuple[tuple[str, ...], Binding | None]:
    """The upstream tasks a function task names, and how its call is filled from them when
    that is more than each parameter from its task (None); a parameter with a default may
    name none. A parameter named like a parametrized function gets `{id: result}`."""
    deps: list[str] = []
    sources: list[tuple[str, Source]] = []
    plain, grouped = True, False
    for param in task.params:
        if param == "this" or param in task.bound:
            continue
        if param in names.tasks:
            deps.append(param)
            sources.append((param, param))
        elif param in names.groups:
            members = names.groups[param]
            deps.extend(name for _, name in members)
            sources.append((param, members))
            plain, grouped = False, True
        elif param in names.ids:
            found = names.ids[param]
            if len(found) > 1:
                raise DiscoveryError.at(
                    f"parameter '{param}' of task '{task.name}' is the id of several"
                    f" parametrized tasks ({', '.join(found)}); name the function instead"
                    " to receive {id: result} of every instance",
                    task.rel,
                    task.line,
                )
            deps.append(found[0])
            sources.append((param, found[0]))
            plain = False
        elif param not in task.defaults:
            known = names.tasks | names.groups.keys()
            raise UnknownDependencyError(task.name, param, known, file=task.rel, line=task.line)
    binding = None
    if not plain or task.group:
        instance = (task.instance_id, task.values_code or None) if task.group else None
        binding = Binding(task.name, tuple(sources), instance, grouped)
    return (tuple(deps) if plain else tuple(dict.fromkeys(deps))), binding


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

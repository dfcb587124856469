"""A parametrized function's tasks, and how a task's parameters name its upstream tasks.

`instances` turns one function read from its file into its tasks `name[id]`; `Names` and
`dependencies` resolve parameters: a task, every instance of a function (`{id: result}`),
or one instance by its id.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from little_pipelines.errors import DiscoveryError, UnknownDependencyError
from little_pipelines.fingerprint.code import digest
from little_pipelines.project.params import (
    FIELD,
    Binding,
    Mark,
    Source,
    expand,
    fill,
    instance_name,
    values_digest,
)
from little_pipelines.project.specs import TaskDef

__all__ = ["Names", "dependencies", "instances"]


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

"""`@lp.task.parametrize(...)`: one task function, many tasks, as `pytest.mark.parametrize`.

Each mark gives parameter names, rows of values and an id per row; stacked marks multiply
(the mark nearest the `def` first, as in pytest), and each combination is the task
`name[id]`. Discovery reads literal marks from the file's syntax; the imported function
carries them as `__lp_parametrize__`, which is where a call always takes its values from.
"""

from __future__ import annotations

import copy
import enum
import itertools
import re
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "FIELD",
    "Binding",
    "Instance",
    "Mark",
    "expand",
    "fill",
    "instance_name",
    "make_mark",
]

ATTRIBUTE = "__lp_parametrize__"  # the marks on a function, nearest the `def` first
_EXPANDED = "__lp_instances__"  # (its marks, their instances), made by the first call

# an id names a task, its log file and a cache key: no path separators, brackets or controls
_UNSAFE = re.compile(r"[/\\\[\]\x00-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class Mark:
    """One `parametrize`: parameter names, a row of values per instance and each row's id."""

    names: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Instance:
    """One combination of a parametrized function's values: its id and its position."""

    id: str
    index: int
    values: Mapping[str, Any]


def make_mark(names: Any, values: Any, ids: Any = None) -> Mark:
    """A mark from `parametrize`'s arguments, checked (ValueError or TypeError saying what)."""
    if isinstance(names, str):
        split = tuple(n.strip() for n in names.split(","))
    elif isinstance(names, list | tuple) and all(isinstance(n, str) for n in names):
        split = tuple(names)
    else:
        raise TypeError(
            f"@lp.task.parametrize names must be a name, 'a, b' or a list of names, not {names!r}"
        )
    for name in split:
        if name == "this":
            raise ValueError(
                "@lp.task.parametrize cannot fill 'this': lp fills it (the task's context)"
            )
        if not name.isidentifier():
            raise ValueError(f"@lp.task.parametrize name {name!r} is not a parameter's name")
    if len(set(split)) < len(split):
        raise ValueError(f"@lp.task.parametrize names {', '.join(split)} repeat a name")
    if isinstance(values, str | bytes) or not isinstance(values, Iterable):
        raise TypeError(f"@lp.task.parametrize values must be a list, not {values!r}")
    if isinstance(values, set | frozenset):  # its order differs from one process to the next
        raise TypeError(
            "@lp.task.parametrize values must be a list, not a set (a set's order changes from"
            " one process to the next): write a list, or sorted(...)"
        )
    rows: list[tuple[Any, ...]] = []
    for value in values:
        if len(split) == 1:
            rows.append((value,))
            continue
        if not isinstance(value, list | tuple) or len(value) != len(split):
            raise ValueError(
                f"@lp.task.parametrize({', '.join(split)!r}, ...) needs a row of"
                f" {len(split)} values for each task, not {value!r}"
            )
        rows.append(tuple(value))
    if not rows:
        raise ValueError(
            f"@lp.task.parametrize({', '.join(split)!r}, ...) has no values: it would make no task"
        )
    return Mark(split, tuple(rows), _ids(split, rows, ids))


def _ids(names: tuple[str, ...], rows: list[tuple[Any, ...]], ids: Any) -> tuple[str, ...]:
    """Each row's id: given, made by `ids(value)`, or from its values (pytest's rules)."""
    given: list[Any] = [None] * len(rows)
    if ids is not None and not callable(ids):
        if isinstance(ids, str) or not isinstance(ids, Iterable):
            raise TypeError(f"@lp.task.parametrize ids must be a list of ids, not {ids!r}")
        given = list(ids)
        if len(given) != len(rows):
            raise ValueError(
                f"@lp.task.parametrize has {len(rows)} rows of values but {len(given)} ids"
            )
    out = []
    for index, (row, chosen) in enumerate(zip(rows, given, strict=True)):
        if chosen is not None:
            if not isinstance(chosen, str) or not chosen or _UNSAFE.search(chosen):
                raise ValueError(
                    f"@lp.task.parametrize id {chosen!r} is not a usable id (a non-empty"
                    " string without / \\ [ ] or control characters)"
                )
            out.append(chosen)
            continue
        parts = []
        for name, value in zip(names, row, strict=True):
            made = ids(value) if callable(ids) else None
            if isinstance(made, str) and made and _UNSAFE.search(made):
                raise ValueError(
                    f"@lp.task.parametrize ids gave {made!r} for {value!r}, which is not a usable"
                    " id (a non-empty string without / \\ [ ] or control characters)"
                )
            parts.append(made if isinstance(made, str) and made else _id_of(value, name, index))
        out.append("-".join(parts))
    return tuple(out)


def _id_of(value: Any, name: str, index: int) -> str:
    """pytest's id of one value: the value itself when it reads as one, else `name<index>`."""
    text: str | None = None
    if isinstance(value, str):
        text = value
    elif value is None or isinstance(value, bool | int | float | complex | enum.Enum):
        text = str(value)
    elif isinstance(getattr(value, "__name__", None), str) and callable(value):
        text = value.__name__
    if not text or _UNSAFE.search(text):
        return f"{name}{index}"
    return text


def expand(marks: Sequence[Mark], params: Sequence[str] = ()) -> list[Instance]:
    """Every combination of stacked marks, nearest the `def` first (ValueError for a name
    given twice, or that is no parameter of the function when `params` are given)."""
    seen: set[str] = set()
    for mark in marks:
        for name in mark.names:
            if name in seen:
                raise ValueError(f"@lp.task.parametrize gives {name!r} twice")
            if params and name not in params:
                raise ValueError(
                    f"@lp.task.parametrize names {name!r}, which is not a parameter of the"
                    " function; add it to the function's parameters"
                )
            seen.add(name)
    combos = list(itertools.product(*(range(len(m.rows)) for m in marks)))
    ids = _unique(["-".join(m.ids[i] for m, i in zip(marks, c, strict=True)) for c in combos])
    out = []
    for index, (combo, id_) in enumerate(zip(combos, ids, strict=True)):
        values: dict[str, Any] = {}
        for mark, row in zip(marks, combo, strict=True):
            values.update(zip(mark.names, mark.rows[row], strict=True))
        out.append(Instance(id_, index, values))
    return out


def _unique(ids: list[str]) -> list[str]:
    """Ids made unique as pytest does: a repeated id gets 0, 1, ... (`_0` after a digit)."""
    counts = Counter(ids)
    if len(counts) == len(ids):
        return ids
    taken = set(ids)
    suffixes: dict[str, int] = defaultdict(int)
    out = []
    for id_ in ids:
        if counts[id_] == 1:
            out.append(id_)
            continue
        joint = "_" if id_[-1:].isdigit() else ""
        new = f"{id_}{joint}{suffixes[id_]}"
        while new in taken:
            suffixes[id_] += 1
            new = f"{id_}{joint}{suffixes[id_]}"
        suffixes[id_] += 1
        taken.add(new)
        out.append(new)
    return out


def instance_name(base: str, id_: str) -> str:
    return f"{base}[{id_}]"


FIELD = re.compile(r"\{(\w+)\}")


def fill(paths: tuple[str, ...], values: Mapping[str, Any]) -> tuple[str, ...]:
    """`inputs`/`outputs` of one instance: each `{name}` of a parametrized name is its value."""
    if not values:
        return paths
    return tuple(
        FIELD.sub(lambda m: str(values[m[1]]) if m[1] in values else m[0], p) for p in paths
    )


# how a call fills one parameter: from one upstream task, or a dict of a parametrized one's
Source = str | tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Binding:
    """How a function task's parameters are filled from its upstream results (picklable, so a
    worker fills them the same way): each parameter from one task, or from every instance of
    a parametrized task as `{id: result}`; an instance's own values come from the imported
    function's marks (`instance`: its id, and the digest of the values lp read, which they
    must still have; None when they could not be digested)."""

    task: str
    sources: tuple[tuple[str, Source], ...]
    instance: tuple[str, str | None] | None = None
    ordered: bool = False  # it gives a parameter {id: result}, whose order it keeps

    def __call__(self, func: Callable[..., Any], upstream: Mapping[str, Any]) -> dict[str, Any]:
        kwargs: dict[str, Any] = {}
        for param, source in self.sources:
            if isinstance(source, str):
                kwargs[param] = upstream[source]
            else:
                kwargs[param] = {id_: upstream[dep] for id_, dep in source}
        if self.instance is not None:
            kwargs.update(self.values(func))
        return kwargs

    def values(self, func: Callable[..., Any]) -> dict[str, Any]:
        """This instance's values, read off the imported function's marks: a copy of its own
        (a list in the values is not shared by the instances), checked to be those lp read."""
        assert self.instance is not None
        id_, expected = self.instance
        marks = getattr(func, ATTRIBUTE, ())
        known = getattr(func, _EXPANDED, None)  # expanded once for all its instances' calls
        if known is None or known[0] is not marks:
            known = (marks, {i.id: i for i in expand(marks)})
            setattr(func, _EXPANDED, known)
        instance = known[1].get(id_)
        if instance is None:
            raise RuntimeError(
                f"the parametrize of task '{self.task}' changed while lp was reading its file;"
                " save it again"
            )
        if expected is not None and values_digest(instance)[0] != expected:
            raise RuntimeError(
                f"the values of task '{self.task}' are not those lp read from its file: they"
                " differ from one process to the next (a set's order, a random value?); make"
                " them the same in every process, such as a sorted list"
            )
        try:
            return copy.deepcopy(dict(instance.values))
        except Exception:  # (a value that cannot be copied is passed as it is)
            return dict(instance.values)


def values_digest(instance: Instance) -> tuple[str, str | None]:
    """The digest of an instance's values, and a note when they cannot be digested (then
    the digest is new in each process: the instance always runs, never stale)."""
    from little_pipelines.fingerprint.digests import digest
    from little_pipelines.fingerprint.values import value_digest

    try:
        return digest(*(f"{k}={value_digest(v)}" for k, v in sorted(instance.values.items()))), None
    except Exception:
        note = f"the values of [{instance.id}] cannot be hashed, so it runs every time"
        return digest("unhashable", str(time.time_ns()), repr(id(instance))), note

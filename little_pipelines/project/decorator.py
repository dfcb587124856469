"""`@lp.task(...)`: a runner task's options, set on its function.

Discovery reads them from the file's syntax when they are literals; this decorator is what
an imported function carries (`__lp_task__`), for the options that are not.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, overload

__all__ = ["TaskOptions", "task"]


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

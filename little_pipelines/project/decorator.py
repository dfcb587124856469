"""`@lp.task(...)`: a runner task's options, set on its function.

Discovery reads them from the file's syntax when they are literals; this decorator is what
an imported function carries (`__lp_task__`), for the options that are not.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, overload

__all__ = ["TaskDecorator", "TaskOptions", "task"]


@dataclass(frozen=True, slots=True)
class TaskOptions:
    """Options of a runner task, set with `@lp.task(...)`."""

    expire: Any = None
    inputs: tuple[str, ...] = ()
    cache: bool = True
    tags: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    retries: int = 0
    retry_delay: float = 0.0
    timeout: float | None = None
    store: str | None = None


F = TypeVar("F", bound=Callable[..., Any])


class TaskDecorator:
    """`lp.task`: `@lp.task(...)` sets a runner task's options, `@lp.task.parametrize(...)`
    makes one function many tasks."""

    @overload
    def __call__(self, func: F, /) -> F: ...
    @overload
    def __call__(
        self,
        /,
        *,
        expire: Any = None,
        inputs: Iterable[str] | str = (),
        cache: bool = True,
        tags: Iterable[str] | str = (),
        outputs: Iterable[str] | str = (),
        retries: int = 0,
        retry_delay: float = 0.0,
        timeout: float | None = None,
        store: str | None = None,
    ) -> Callable[[F], F]: ...
    def __call__(
        self,
        func: Callable[..., Any] | None = None,
        /,
        *,
        expire: Any = None,
        inputs: Iterable[str] | str = (),
        cache: bool = True,
        tags: Iterable[str] | str = (),
        outputs: Iterable[str] | str = (),
        retries: int = 0,
        retry_delay: float = 0.0,
        timeout: float | None = None,
        store: str | None = None,
    ) -> Any:
        """Set a runner task's options: `@lp.task(expire=..., inputs=[...], outputs=[...], ...)`.

        `inputs` are paths or globs relative to the project root whose contents count towards
        the task's freshness; `outputs` are the files the task writes (it runs again when one
        is missing or changed, and a task whose `inputs` name one runs after it); `cache=False`
        runs the task every time; `tags` are words that `lp run -m EXPR` selects by. A task
        that fails is tried `retries` more times, `retry_delay` seconds apart, and each try
        stops after `timeout` seconds. `store` is the result's format: "pickle", "parquet"
        (a pandas or polars DataFrame), "json", or one registered with `lp.register_format`;
        by default a DataFrame is stored as Parquet (with pyarrow for pandas), anything else
        pickled. In a parametrized task, `{name}` in an input or output is that parameter's
        value. Write the options as literals: they are read from the file without importing it.
        """
        paths = _strings(inputs, "inputs must be a path or a list of paths")
        made = check_outputs(_strings(outputs, OUTPUTS_ARE))
        tries = check_attempts(retries, retry_delay, timeout)
        tagged = check_tags(_strings(tags, TAGS_ARE))
        options = TaskOptions(expire, paths, cache, tagged, made, *tries, check_store(store))

        def mark(f: Callable[..., Any]) -> Callable[..., Any]:
            f.__lp_task__ = options  # type: ignore[attr-defined]
            return f

        return mark(func) if func is not None else mark

    @staticmethod
    def parametrize(
        names: str | Sequence[str],
        values: Iterable[Any],
        ids: Iterable[str | None] | Callable[[Any], str | None] | None = None,
    ) -> Callable[[F], F]:
        """Make one task function many tasks, as `pytest.mark.parametrize`.

        `@lp.task.parametrize("region", ["east", "west"])` on `task_clean(region, raw)` makes
        the tasks `clean[east]` and `clean[west]`, each called with its `region` and cached on
        its own; a downstream parameter named `clean` receives `{"east": ..., "west": ...}`.
        `names` may be `"a, b"` with rows of two values; `ids` names the rows (a list, or a
        function of each value); stacked marks make every combination, ids joined by `-`.
        """
        from little_pipelines.project.params import ATTRIBUTE, make_mark

        made = make_mark(names, values, ids)

        def mark(f: F) -> F:
            setattr(f, ATTRIBUTE, (*getattr(f, ATTRIBUTE, ()), made))
            return f

        return mark

    def __repr__(self) -> str:
        return "lp.task"


task = TaskDecorator()


TAGS_ARE = "tags must be a word or a list of words"
OUTPUTS_ARE = "outputs must be a file's path or a list of them"


def _strings(value: Iterable[str] | str, what: str) -> tuple[str, ...]:
    found = (value,) if isinstance(value, str) else value
    if isinstance(found, Iterable):
        found = tuple(found)
    if not isinstance(found, tuple) or not all(isinstance(v, str) for v in found):
        raise TypeError(f"@lp.task {what}, not {value!r}")
    return found


_A_WEEK = 7 * 24 * 3600  # longer than any timeout or pause meant, and what a timer can hold


def check_attempts(retries: Any, retry_delay: Any, timeout: Any) -> tuple[int, float, float | None]:
    """`retries` (a count), `retry_delay` (seconds, 0 or more) and `timeout` (seconds, more
    than 0, or None) as given, if they are such (ValueError saying which is not)."""

    def number(value: Any) -> bool:
        return isinstance(value, int | float) and not isinstance(value, bool)

    if not number(retries) or not isinstance(retries, int) or retries < 0:
        raise ValueError(f"@lp.task retries must be a whole number, 0 or more, not {retries!r}")
    if not number(retry_delay) or not 0 <= retry_delay <= _A_WEEK:
        raise ValueError(
            f"@lp.task retry_delay must be seconds, 0 to {_A_WEEK:,}, not {retry_delay!r}"
        )
    if timeout is not None and (not number(timeout) or not 0 < timeout <= _A_WEEK):
        raise ValueError(
            f"@lp.task timeout must be seconds, more than 0 and at most {_A_WEEK:,},"
            f" not {timeout!r}"
        )
    return retries, float(retry_delay), None if timeout is None else float(timeout)


def check_outputs(outputs: tuple[str, ...]) -> tuple[str, ...]:
    """Outputs as given, if each is a plain path (a file the task writes, not a pattern)."""
    for output in outputs:
        if not output or any(c in output for c in "*?[") or output.endswith(("/", "\\")):
            raise ValueError(
                f"@lp.task output {output!r} is not a file's path ({OUTPUTS_ARE}:"
                " name each file, without wildcards)"
            )
    return outputs


def check_store(store: Any) -> str | None:
    """`store=` as given, if it names a format (a non-empty string) or is None."""
    if store is not None and (not isinstance(store, str) or not store.strip()):
        raise ValueError(
            "@lp.task store must name a format (pickle, parquet, json, or one registered with"
            f" lp.register_format), not {store!r}"
        )
    return store


def check_tags(tags: tuple[str, ...]) -> tuple[str, ...]:
    """Tags as given, if each is a word `-m` can name (letters, digits, `_`, not a keyword)."""
    for tag in tags:
        if not tag.isidentifier() or tag in ("and", "or", "not"):
            raise ValueError(
                f"@lp.task tag {tag!r} is not a word -m can select by"
                f" ({TAGS_ARE} of letters, digits and _)"
            )
    return tags

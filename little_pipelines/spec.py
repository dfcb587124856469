"""The engine's task model: what a task is, independent of the front door that declared it."""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["OnUpstreamError", "TaskContext", "TaskSpec"]


class OnUpstreamError(enum.StrEnum):
    """What a task does when a task it depends on failed."""

    FAIL = "fail"
    SKIP = "skip"


@dataclass(slots=True)
class TaskContext:
    """What a runner task receives as `this`: its name, its logger and the project root."""

    name: str
    logger: Any
    root: Path | None = None


# `invoke(upstream, this)` runs the task: `upstream` maps dependency names to their results
# (loaded lazily), `this` is the TaskContext. Front doors wrap their callables to this shape.
Invoke = Callable[[Mapping[str, Any], TaskContext], Any]


@dataclass(slots=True, eq=False)
class TaskSpec:
    """One task as the engine sees it.

    `code` is the task's code digest (see fingerprint.py); `inputs` are file paths or globs
    relative to `input_root` whose contents count towards freshness. `prepare`, if set, is
    called before anything executes for each task that will run (the runner imports there, so
    an import error stops the run before anything is stored). `source`, if set, gives the
    normalised code that `code` hashes; it is stored so `lp why` can show a diff.
    """

    name: str
    invoke: Invoke
    code: str
    deps: tuple[str, ...] = ()
    inputs: tuple[str, ...] = ()
    input_root: Path | None = None
    expire: Any = None
    cache: bool = True
    on_upstream_error: OnUpstreamError = OnUpstreamError.FAIL
    file: str | None = None
    line: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    prepare: Callable[[], None] | None = None
    source: Callable[[], str] | None = None
    remote: Any = None  # an executors.RemoteCall when the task can run in a worker process

    @property
    def where(self) -> str:
        """`file:line` for messages, or the empty string."""
        if not self.file:
            return ""
        return f"{self.file}:{self.line}" if self.line else self.file

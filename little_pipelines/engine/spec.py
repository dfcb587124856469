"""The engine's task model: what a task is, independent of the front door that declared it."""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from loguru import Logger

    from little_pipelines.engine.execute import RemoteCall
    from little_pipelines.engine.supervise import Attempts
    from little_pipelines.fingerprint.code import SourceIndex
    from little_pipelines.paths import PathFilter

__all__ = ["OnUpstreamError", "SpecSource", "TaskContext", "TaskSpec"]


class OnUpstreamError(enum.StrEnum):
    """What a task does when a task it depends on failed."""

    FAIL = "fail"
    SKIP = "skip"


class TaskContext:
    """What a runner task receives as `this`: its name, its logger and the project root.

    The logger is made when the task first asks for it: loguru costs its import, and most
    tasks never log.
    """

    __slots__ = ("_logger", "_make_logger", "name", "root")

    def __init__(self, name: str, logger: Callable[[], Logger], root: Path | None = None) -> None:
        self.name, self.root = name, root
        self._make_logger = logger
        self._logger: Logger | None = None

    @property
    def logger(self) -> Logger:
        """A loguru logger whose records go to this task's log file."""
        if self._logger is None:
            self._logger = self._make_logger()
        return self._logger

    def __repr__(self) -> str:
        return f"TaskContext(name={self.name!r}, root={self.root!r})"


# `invoke(upstream, this)` runs the task: `upstream` maps dependency names to their results
# (loaded lazily), `this` is the TaskContext. Front doors wrap their callables to this shape.
Invoke = Callable[[Mapping[str, Any], TaskContext], Any]


@dataclass(frozen=True, slots=True, eq=False)
class TaskSpec:
    """One task as the engine sees it.

    `code` is the task's code digest (see fingerprint/code.py); `inputs` are file paths or
    globs relative to `input_root` whose contents count towards freshness, expanded with the
    skip rules `paths` (a project's; by default those of a plain folder). `prepare`, if set, is
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
    paths: PathFilter | None = None
    expire: Any = None
    expire_of: Callable[[], Any] | None = None  # the policy when known only once imported
    cache: bool = True
    tags: tuple[str, ...] = ()  # words that `-m` selects by
    group: str = ""  # the name that stands for it and its siblings (a parametrized function)
    store: str | None = None  # its result's format (store/formats.py; None: by the value)
    outputs: tuple[str, ...] = ()  # files it writes, relative to `input_root` (or absolute)
    arguments: tuple[str, ...] | None = None  # the deps it receives (None: all of them)
    ordered: bool = False  # it receives its deps in their order (a dict of instances' results)
    attempts: Attempts | None = None  # retries and timeout (None: one try, unbounded)
    on_upstream_error: OnUpstreamError = OnUpstreamError.FAIL
    file: str | None = None
    line: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    prepare: Callable[[], None] | None = None
    source: Callable[[], str] | None = None
    remote: RemoteCall | None = None  # how a worker process finds and calls the task

    def policy(self) -> Any:
        """The expiry policy of this task (None: never)."""
        return self.expire_of() if self.expire_of is not None else self.expire

    @property
    def where(self) -> str:
        """`file:line` for messages, or the empty string."""
        if not self.file:
            return ""
        return f"{self.file}:{self.line}" if self.line else self.file


@runtime_checkable
class SpecSource(Protocol):
    """An object that makes its own spec: how an `lp.Task` in a tasks file joins a project.

    A project finds such objects in its tasks files and asks each for its spec; it never needs
    to know the library door that made them. `host` is what the task's code calls back
    (`this.pipeline.get_result(...)`); `paths` are the project's skip rules, and make inputs
    and `file` relative to its root.
    """

    name: str

    def join(self, host: Any) -> None: ...

    def to_spec(
        self, indexes: dict[Path, SourceIndex], paths: PathFilter | None = None
    ) -> TaskSpec: ...

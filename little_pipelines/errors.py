"""One exception tree. Each error carries what it is about: task, names, file and line."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from typing import Any

__all__ = [
    "CacheError",
    "ConfigError",
    "CycleError",
    "DependencyFailure",
    "DiscoveryError",
    "DuplicateTaskError",
    "LittlePipelinesError",
    "PipelineValidationError",
    "TaskNotFoundError",
    "UnknownDependencyError",
    "did_you_mean",
]


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """Return ` — did you mean 'x'?` for the closest known name, or an empty string."""
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f" — did you mean '{close[0]}'?" if close else ""


def where(file: str | None, line: int | None) -> str:
    """`file:line`, `file`, or an empty string."""
    if not file:
        return ""
    return f"{file}:{line}" if line else str(file)


class LittlePipelinesError(Exception):
    """Base of every error this package raises on purpose."""

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None):
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line

    def to_json(self) -> dict[str, object]:
        return {
            "type": type(self).__name__,
            "message": self.message,
            "file": self.file,
            "line": self.line,
        }


class PipelineValidationError(LittlePipelinesError):
    """The task graph is invalid: unknown dependency, cycle or duplicate name."""


class UnknownDependencyError(PipelineValidationError):
    """A task needs a task that no one provides."""

    def __init__(self, task: str, dependency: str, known: Iterable[str], **where_: Any) -> None:
        loc = where(where_.get("file"), where_.get("line"))
        at = f" ({loc})" if loc else ""
        known = sorted(set(known) - {task})  # a task cannot need itself
        hint = did_you_mean(dependency, known)
        if not hint:
            listed = ", ".join(known[:8]) + (", …" if len(known) > 8 else "")
            hint = f" (tasks: {listed})" if known else " (there are no other tasks)"
        end = "" if hint.endswith("?") else "."  # no `?.`
        super().__init__(
            f"task '{task}'{at} needs '{dependency}', which no task provides{hint}{end}"
            " A parameter that names no task needs a default value.",
            **where_,
        )
        self.task = task
        self.dependency = dependency


class CycleError(PipelineValidationError):
    """The dependencies form a cycle; `cycle` is the path, first name repeated last."""

    def __init__(self, cycle: list[str], locations: Sequence[str] = (), **where_: Any) -> None:
        places = f" ({'; '.join(locations)})" if locations else ""
        super().__init__(
            "dependency cycle: " + " -> ".join(cycle) + places
            + " — each task needs the next; remove one of these dependencies",
            **where_,
        )  # fmt: skip
        self.cycle = cycle


class DuplicateTaskError(PipelineValidationError):
    """Two tasks share one name."""

    def __init__(self, name: str, first: str, second: str, **where_: Any) -> None:
        super().__init__(
            f"task '{name}' is defined twice: {first} and {second} (task names must be unique;"
            " rename one of them)",
            **where_,
        )
        self.name = name


class TaskNotFoundError(LittlePipelinesError, KeyError):
    """A task (or its cached result) was asked for by name and does not exist."""

    def __str__(self) -> str:
        return self.message


class DependencyFailure(LittlePipelinesError):
    """A task did not run because a task it depends on failed."""


class DiscoveryError(LittlePipelinesError):
    """A tasks file could not be read: syntax error, import error, bad task signature."""

    @classmethod
    def at(cls, message: str, rel: str, line: int | None) -> DiscoveryError:
        """The error for `rel:line`, with the place leading the message."""
        place = f"{rel}:{line}" if line else rel
        return cls(f"{place}: {message}", file=rel, line=line)


def syntax_message(exc: SyntaxError) -> str:
    """What to say about a file that does not compile (fingerprint.TooDeepError says it all)."""
    return exc.msg if getattr(exc, "too_deep", False) else f"syntax error: {exc.msg}"


class ConfigError(LittlePipelinesError):
    """`[tool.little_pipelines]` holds an invalid value."""


class CacheError(LittlePipelinesError):
    """The cache folder cannot be read or is corrupt."""

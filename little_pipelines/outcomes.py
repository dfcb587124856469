"""What a run decided and did, as data: statuses, reasons, exit codes and reports."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "ExitCode",
    "PlannedTask",
    "Reason",
    "Reporter",
    "RunReport",
    "Status",
    "TaskError",
    "TaskReport",
    "message_of",
]


class Status(enum.StrEnum):
    """What happened to one task in a run."""

    EXECUTED = "executed"
    CACHED = "cached"
    FAILED = "failed"
    SKIPPED = "skipped"
    UPSTREAM_FAILED = "upstream_failed"
    WOULD_RUN = "would_run"


class Reason(enum.StrEnum):
    """Why a task ran (or would run); a cached task has no reason."""

    NEW = "new"
    CODE = "code"
    UPSTREAM = "upstream"
    INPUTS = "inputs"
    OUTPUTS = "outputs"
    EXPIRED = "expired"
    FORCED = "forced"
    ALWAYS = "always"


class ExitCode(enum.IntEnum):
    """The `lp` command's exit codes (SPEC section 4)."""

    OK = 0
    FAILED = 1
    USAGE = 2
    NO_TASKS = 5  # as pytest's "no tests collected"
    INTERRUPTED = 130


@dataclass(frozen=True, slots=True)
class TaskError:
    """A task's failure: exception type, message and the traceback trimmed to user frames."""

    type: str
    message: str
    traceback: str = ""
    captured: str = ""  # what the task printed (pytest's "Captured stdout"), when taken

    def to_json(self) -> dict[str, str]:
        return {"type": self.type, "message": self.message}

    @classmethod
    def from_exception(cls, exc: BaseException, *, show_locals: bool = False) -> TaskError:
        """The exception with its traceback trimmed to the user's frames (none of ours);
        with `show_locals`, each frame's local variables under it (as pytest's `-l`)."""
        import traceback

        ours = str(Path(__file__).resolve().parent)
        text = "Traceback (most recent call last):\n"
        tb = exc.__traceback__
        while tb is not None:
            frame = tb.tb_frame
            if not frame.f_code.co_filename.startswith(ours):
                summary = traceback.extract_tb(tb, limit=1)
                text += "".join(traceback.format_list(summary))
                if show_locals:
                    text += "".join(f"    {line}\n" for line in _locals(frame.f_locals))
            tb = tb.tb_next
        text += "".join(traceback.format_exception_only(type(exc), exc))
        return cls(type(exc).__name__, message_of(exc), text)


def message_of(exc: BaseException) -> str:
    """`str(exc)`, or a note when the exception's own `__str__` fails too."""
    try:
        return str(exc)
    except Exception as inner:
        return f"(its message could not be shown: {type(inner).__name__} in its __str__)"


def _locals(values: dict[str, Any]) -> list[str]:
    """`name = repr` for a frame's local variables, each repr cut short, as pytest's `-l`."""
    import reprlib

    short = reprlib.Repr()
    short.maxstring = short.maxother = 120
    lines = []
    width = max((len(name) for name in values), default=0)
    for name, value in values.items():
        try:
            shown = short.repr(value)
        except Exception as exc:  # a repr that fails says so instead
            shown = f"<repr failed: {type(exc).__name__}>"
        lines.append(f"{name.ljust(width)} = {shown}")
    return lines


@dataclass(slots=True)
class TaskReport:
    """One task's line in a run report."""

    name: str
    status: Status
    reason: Reason | None = None
    duration_s: float | None = None
    file: str | None = None
    line: int | None = None
    error: TaskError | None = None
    detail: str = ""
    attempts: int | None = None  # how often it was called (for a task with `retries=`)
    warnings: int = 0  # how many warnings it raised

    def to_json(self) -> dict[str, Any]:
        found = {
            "name": self.name,
            "status": str(self.status),
            "reason": None if self.reason is None else str(self.reason),
            "duration_s": None if self.duration_s is None else round(self.duration_s, 6),
            "file": self.file,
            "line": self.line,
            "error": None if self.error is None else self.error.to_json(),
        }
        if self.attempts is not None:
            found["attempts"] = self.attempts
        return found


@dataclass(slots=True)
class RunReport:
    """Everything a run did, in execution order; the engine's only output."""

    tasks: list[TaskReport] = field(default_factory=list)
    duration_s: float = 0.0
    interrupted: bool = False
    cancelled: bool = False
    warnings: list[str] = field(default_factory=list)
    dry_run: bool = False  # nothing ran: the tasks say what would have
    import_s: float = 0.0  # importing the tasks files before the run (not in duration_s)

    @property
    def ok(self) -> bool:
        bad = (Status.FAILED, Status.UPSTREAM_FAILED)
        return not self.interrupted and all(t.status not in bad for t in self.tasks)

    def counts(self) -> dict[str, int]:
        keys = ("executed", "cached", "failed", "skipped", "upstream_failed")
        counts = dict.fromkeys(keys, 0)
        for t in self.tasks:
            key = "executed" if t.status is Status.WOULD_RUN else str(t.status)
            counts[key] += 1
        return counts

    def by_name(self) -> dict[str, TaskReport]:
        return {t.name: t for t in self.tasks}

    @property
    def exit_code(self) -> ExitCode:
        if self.interrupted:
            return ExitCode.INTERRUPTED
        return ExitCode.OK if self.ok else ExitCode.FAILED


@dataclass(frozen=True, slots=True)
class PlannedTask:
    """A task the engine is about to consider, with its duration on the last run if known."""

    name: str
    will_run: bool
    reason: Reason | None = None
    last_duration_s: float | None = None


class TaskState(enum.StrEnum):
    """A task's state in `lp list` and `lp graph` (the `state` of `lp list --json`)."""

    FRESH = "fresh"
    STALE = "stale"
    NEVER_RUN = "never run"
    FAILED = "failed"  # its last run failed (or ended the process): no result
    MISSING = "missing result"  # its entry is there, the stored bytes are not
    DAMAGED = "damaged result"  # its stored bytes differ from those that were stored


class Reporter:
    """Receives the engine's lifecycle events; the base class ignores them all.

    The engine never prints: the rich display, plain lines, `--json` and the watch loop are
    reporters. Events arrive in order on the thread that called the engine.
    """

    def run_started(self, plan: list[PlannedTask]) -> None:
        """The run begins; `plan` lists the selected tasks in execution order."""

    def task_started(self, name: str) -> None:
        """A task starts executing (cached tasks never start)."""

    def logs_started(self) -> None:
        """loguru is about to carry the first task record of this run (set up its sinks now)."""

    def task_finished(self, report: TaskReport) -> None:
        """A task has its final status: executed, cached, failed, skipped or upstream_failed."""

    def run_finished(self, report: RunReport) -> None:
        """The run is over; `report` is what the engine returns."""

    def waiting(self, message: str) -> None:
        """Another run holds the lock; this one waits (`message` says for whom)."""

    def warning(self, message: str) -> None:
        """Something the user should know now, before the run's report (it is in it too)."""

    def close(self) -> None:
        """The front door is done with this reporter, normally or not (stop any display)."""

"""Calling a task: the one step that the engine's own process and a worker process share.

`perform` calls the task, times it, turns any exception into the task's error, and
serializes the result with its canonical digest: an `Outcome`, which the run then stores
or records as a failure in the same way wherever the task ran. A worker gets a task as a
`RemoteCall` (a picklable address of its function) and answers with an `Outcome`.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from little_pipelines.engine.supervise import (
    Attempts,
    Captured,
    capturing,
    deadline,
    where,
)
from little_pipelines.fingerprint.digests import digest
from little_pipelines.fingerprint.values import value_digest
from little_pipelines.outcomes import TaskError, message_of
from little_pipelines.store import formats

if TYPE_CHECKING:
    from concurrent.futures import Future

__all__ = [
    "Executor",
    "Outcome",
    "Payload",
    "RemoteCall",
    "call_guarded",
    "log_lines",
    "perform",
    "run_remote",
]


# an upstream result as sent to a worker: its stored bytes, the tasks file that made it (whose
# import may be needed to read it) and its format (store/formats.py)
Payload = tuple[bytes, str | None, str]


@dataclass(frozen=True, slots=True)
class RemoteCall:
    """How a worker finds and calls a runner task: its file, function and parameters."""

    name: str
    root: str
    path: str
    function: str
    wants_this: bool
    log_dir: str | None = None
    # `modules(root)` makes a worker's importer of the project's files (with `load(path)`,
    # `ensure_importable()` and `refresh()`); a module-level function, so it pickles by name
    modules: Callable[[str], Any] | None = None
    attempts: Attempts | None = None
    show_locals: bool = False  # a failure's traceback shows each frame's locals (`-l`)
    capture: bool = False  # what the task prints is taken (at the file descriptors)
    # `bind(func, upstream) -> kwargs` when the call is not each parameter from its task
    bind: Callable[[Callable[..., Any], Mapping[str, Any]], dict[str, Any]] | None = None
    store: str | None = None  # the result's format (`store=`; None: chosen by the value)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What calling a task gave: the result's bytes and canonical digest, or the error."""

    data: bytes | None
    duration_s: float
    error: tuple[str, str, str] | None = None  # type, message, traceback
    digest: str | None = None  # values.value_digest of the result
    failures: tuple[str, ...] = ()  # how each try before the last failed (`retries=`)
    stdout: str = ""  # what the task printed, when it was captured
    stderr: str = ""
    warnings: tuple[str, ...] = ()  # the warnings it raised: "file:line: Category: message"
    store: str = "pickle"  # the format of `data` (store/formats.py)
    format_source: tuple[str, str] | None = None  # a registered format's file and class


class Executor(Protocol):
    """Where tasks that carry a RemoteCall run besides lp's process (a pool, a cluster).

    Built once by a front door and passed to the run; `jobs` tasks may be out at once.
    A task whose unchanged code last ran in under `inline_below_s` seconds runs in lp's
    own process instead: sending it out would cost more than running it (None: never).
    """

    jobs: int
    inline_below_s: float | None

    def start(self) -> None:
        """Get ready for tasks soon to come (workers start while lp still prepares)."""

    def submit(self, call: RemoteCall, upstream: Mapping[str, Payload]) -> Future[Outcome]: ...

    def close(self) -> None: ...


def call_guarded(invoke: Callable[[], Any]) -> Any:
    """`invoke()`; a child process that a task forked is ended here, before it can store
    results or print a report twice."""
    pid = os.getpid()
    try:
        return invoke()
    finally:
        if os.getpid() != pid:
            os._exit(0)


def perform(
    name: str,
    invoke: Callable[[], Any],
    *,
    in_worker: bool = False,
    prepare: Callable[[], Callable[[], Any]] | None = None,
    attempts: Attempts | None = None,
    show_locals: bool = False,
    post_mortem: Callable[[BaseException], None] | None = None,
    capture: str | None = None,
    store: str | None = None,
) -> Outcome:
    """Call a task and serialize what it returned; its own errors become the outcome's.

    `prepare`, if given, makes the call to time (importing the task's module, loading its
    upstream results): its errors are the task's too, but its time is not the task's.
    `attempts` says how often to try and how long each try may take; the duration counts
    every try and pause. `show_locals` puts each frame's locals in the traceback;
    `post_mortem(exc)` is called with the exception of the last try while its frames are
    alive (`--pdb`). `capture` takes what the task prints: "sys" (sys.stdout and sys.stderr,
    in lp's process), "fd" (the file descriptors too, in a worker) or None (`-s`); warnings
    it raises are kept either way. Ctrl-C (KeyboardInterrupt) stops the run; in a worker,
    which has no Ctrl-C of its own, it fails the task like any other exception. `store`
    names the result's format (store/formats.py; None: chosen by the value).
    """
    import warnings

    box = Captured()
    with capturing(capture, box), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        outcome = _perform(
            name, invoke, in_worker, prepare, attempts, show_locals, post_mortem, store
        )
    found = tuple(
        f"{where(w.filename)}:{w.lineno}: {w.category.__name__}: {w.message}" for w in caught
    )
    return dataclasses.replace(outcome, stdout=box.stdout, stderr=box.stderr, warnings=found)


def _perform(
    name: str,
    invoke: Callable[[], Any],
    in_worker: bool,
    prepare: Callable[[], Callable[[], Any]] | None,
    attempts: Attempts | None,
    show_locals: bool,
    post_mortem: Callable[[BaseException], None] | None,
    store: str | None = None,
) -> Outcome:
    attempts = attempts or Attempts()
    started = time.perf_counter()
    failures: list[str] = []
    try:
        if prepare is not None:
            invoke = prepare()
            started = time.perf_counter()
        while True:
            try:
                if attempts.timeout is None:
                    value = invoke()
                else:
                    with deadline(name, attempts.timeout):
                        value = invoke()
                break
            except KeyboardInterrupt:
                raise
            except BaseException as exc:
                if len(failures) == attempts.retries:
                    raise
                failures.append(f"{type(exc).__name__}: {message_of(exc)}")
                time.sleep(attempts.delay)
    except KeyboardInterrupt:
        if not in_worker:
            raise
        error = TaskError("KeyboardInterrupt", "interrupted")
        return Outcome(None, time.perf_counter() - started, (error.type, error.message, ""))
    except BaseException as exc:  # sys.exit(), GeneratorExit, ...: the task fails alone
        error = TaskError.from_exception(exc, show_locals=show_locals)
        if post_mortem is not None:
            post_mortem(exc)
        trouble = (error.type, error.message, error.traceback)
        return Outcome(None, time.perf_counter() - started, trouble, failures=tuple(failures))
    duration = time.perf_counter() - started
    try:
        fmt, data = formats.dumps(value, store)
    except Exception as exc:
        what = "sent back from a worker process or stored" if in_worker else "stored"
        message = (
            f"task '{name}' returned a {type(value).__qualname__}, which cannot be {what}: {exc}"
        )
        return Outcome(None, duration, (type(exc).__name__, message, ""))
    # a pickle's digest is of the value; another format's, of its data (equal frames, equal
    # files), to which lp's process adds a registered format's code (record.py)
    found = value_digest(value, data) if fmt == formats.PICKLE else "f" + digest(fmt, data)
    return Outcome(
        data,
        duration,
        digest=found,
        failures=tuple(failures),
        store=fmt,
        format_source=formats.source_of(fmt),
    )


def log_lines(outcome: Outcome, attempts: Attempts | None) -> list[tuple[str, str]]:
    """What a call adds to its task's log: the tries that failed before the last one, what
    it printed (when captured) and its warnings, each with its level."""
    total = 1 + (attempts.retries if attempts is not None else 0)
    lines = [
        ("WARNING", f"try {n} of {total} failed: {f}")
        for n, f in enumerate(outcome.failures, start=1)
    ]
    lines += [("WARNING", warning) for warning in outcome.warnings]
    for stream, text in (("stdout", outcome.stdout), ("stderr", outcome.stderr)):
        if text:
            lines.append(("OUTPUT", f"captured {stream}:\n{text.rstrip()}"))
    return lines


def _upstream_values(modules: Any, upstream: Mapping[str, Payload]) -> dict[str, Any]:
    """Read upstream results here, importing the tasks file a result's class (or its format,
    if registered there) lives in.

    A result that does not unpickle raises UnreadableResult, which lp's process answers by
    running that upstream task again (see Inline._remade).
    """
    from little_pipelines.store.entries import UnreadableResult

    values = {}
    for name, (data, path, store) in upstream.items():
        try:
            try:
                values[name] = formats.loads(store, data)
            except (ModuleNotFoundError, LookupError):
                if path is None:
                    raise
                modules.load(Path(path))
                values[name] = formats.loads(store, data)
        except ModuleNotFoundError:
            raise
        except Exception as exc:
            raise UnreadableResult(name, exc) from exc
    return values


def run_remote(
    call: RemoteCall,
    upstream: Mapping[str, Payload],
    importers: MutableMapping[str, Any],
    logs: MutableMapping[str, Any] | None = None,
    on_start: Callable[[], None] | None = None,
) -> Outcome:
    """Run one task in a worker process; never raises for the task's own errors.

    `upstream` maps each dependency to its stored bytes and the tasks file that made it.
    `importers` is the worker's own: its importer of each project root, made by the first
    task from that root and kept for the next ones, which import only what changed since.
    `logs`, when given, is the worker's too: its TaskLogs of each log folder, whose loguru
    sink is added once (adding one costs milliseconds) and kept for the next tasks.
    """
    from little_pipelines.engine.logs import TaskLogs, task_logger
    from little_pipelines.engine.spec import TaskContext

    task_logs: TaskLogs | None = None
    kept = logs is not None
    if call.log_dir:
        task_logs = logs.get(call.log_dir) if logs is not None else None
        if task_logs is None:
            task_logs = TaskLogs(Path(call.log_dir))
            if logs is not None:
                logs[call.log_dir] = task_logs.__enter__()
    entered = kept

    def ready() -> Callable[[], Any]:
        nonlocal entered
        if task_logs is not None:  # (a log that cannot be opened fails the task, saying why)
            if not entered:
                task_logs.__enter__()
                entered = True
            task_logs.listen()
        modules = importers.get(call.root)
        if modules is None:
            assert call.modules is not None, "a RemoteCall names its importer"
            modules = importers[call.root] = call.modules(call.root)
        modules.ensure_importable()
        modules.refresh()  # a helper edited since the worker's last task runs afresh
        func = getattr(modules.load(Path(call.path)), call.function)
        kwargs = _upstream_values(modules, upstream)
        if call.bind is not None:
            kwargs = call.bind(func, kwargs)
        if call.wants_this:
            name = call.name
            kwargs["this"] = TaskContext(name, lambda: task_logger(name), Path(call.root))
        if on_start is not None:  # imported and loaded: the call, and its timeout, start now
            on_start()
        return lambda: call_guarded(lambda: func(**kwargs))

    try:
        outcome = perform(
            call.name,
            lambda: None,
            in_worker=True,
            prepare=ready,
            attempts=call.attempts,
            show_locals=call.show_locals,
            capture="fd" if call.capture else None,
            store=call.store,
        )
        if task_logs is not None and entered:
            for level, line in log_lines(outcome, call.attempts):
                task_logs.note(call.name, level, line)
        return outcome
    finally:
        if task_logs is not None and entered:
            if kept:
                task_logs.done(call.name)  # its file closes; the sink stays for the next
            else:
                task_logs.__exit__(None, None, None)

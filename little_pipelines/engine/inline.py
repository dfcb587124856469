"""Calling a task in this process: its upstream verified and loaded lazily, its log notes.

`Inline` extends the recorder with the call itself. Before a task is called its upstream
results are checked; one found damaged or missing on disk is no result, so its task runs
again here and now (SPEC section 9) and the task about to run never sees garbage.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from little_pipelines.engine.execute import call_guarded, log_lines, perform
from little_pipelines.engine.guard import InProcess
from little_pipelines.engine.logs import TaskLogs, task_logger
from little_pipelines.engine.record import Recorder
from little_pipelines.engine.spec import TaskContext, TaskSpec
from little_pipelines.outcomes import Reason, Reporter, RunReport, Status, TaskError, TaskReport
from little_pipelines.store.cache import DamagedResult, Entry, Loss, UnreadableResult

__all__ = ["Inline", "Interrupted", "interrupted", "locate"]


def locate(task: TaskReport, spec: TaskSpec) -> TaskReport:
    """The report, with the file and line of the task's definition."""
    task.file, task.line = spec.file, spec.line
    return task


def interrupted(name: str, reason: Reason | None = None) -> TaskReport:
    """The report of a task stopped by Ctrl-C (or SIGTERM, SIGHUP)."""
    return TaskReport(
        name, Status.FAILED, reason, error=TaskError("KeyboardInterrupt", "interrupted")
    )


class Interrupted(KeyboardInterrupt):
    """Ctrl-C (or SIGTERM, SIGHUP) while a task ran in this process: its report goes along."""

    def __init__(self, task: TaskReport) -> None:
        super().__init__()
        self.task = task


class _Upstream(Mapping[str, Any]):
    """A task's upstream results, loaded from the cache only when the task reads them."""

    def __init__(self, state: Inline, names: tuple[str, ...]) -> None:
        self._state = state
        self._names = names

    unreadable: str | None = None  # the upstream task whose result no longer unpickles

    def __getitem__(self, name: str) -> Any:
        if name not in self._names:
            raise KeyError(name)
        try:
            return self._state.result(name)
        except UnreadableResult:
            self.unreadable = name
            raise

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


class Inline(Recorder):
    """The recorder, plus calling tasks here (through `guard` when given)."""

    # set by the run once known (they are not part of what the planner decides with)
    logs: TaskLogs | None = None
    show_locals = False  # failures show each frame's locals (-l)
    capture = False  # what tasks print goes to their logs, and with a failure (not -s)
    post_mortem: Callable[[BaseException], None] | None = None  # --pdb
    guard: InProcess | None = None
    report: RunReport | None = None
    reporter: Reporter | None = None
    listening = False  # whether the front door has been told that tasks log
    failed: dict[str, str]  # task -> the failed task it traces back to (set by the run)

    def prepare(self, spec: TaskSpec) -> None:
        """Get a task ready to run (the project imports it, and reads its expiry), once."""
        if spec.prepare is not None and spec.name not in self.prepared:
            spec.prepare()
            self.prepared.add(spec.name)

    def _prepared_or_failed(self, spec: TaskSpec, reason: Reason) -> TaskReport | None:
        """Prepare a task that runs though the plan said it would not (it expired meanwhile,
        or its upstream result was lost); if that fails, the task fails."""
        try:
            self.prepare(spec)
        except Exception as exc:
            return TaskReport(spec.name, Status.FAILED, reason, error=TaskError.from_exception(exc))
        return None

    def _execute(
        self, spec: TaskSpec, reason: Reason, previous: Entry | None, *, again: bool = False
    ) -> TaskReport:
        """Call a task in this process, then store its result or record its failure.

        An upstream result that no longer unpickles (a class in it renamed) is no result:
        that task runs again, then this one, once (`again`).
        """
        context = TaskContext(spec.name, lambda: self._logger(spec.name), self.root)
        if "loguru" in sys.modules:  # the task's module logs through loguru: route it now
            self._listen()
        self._note(spec.name, "INFO", f"started ({reason})")
        upstream = _Upstream(self, spec.deps)

        def call() -> Any:
            return spec.invoke(upstream, context)

        guard = self.guard
        started = time.perf_counter()
        try:
            invoke = (lambda: guard.call(spec.name, call)) if guard else lambda: call_guarded(call)
            outcome = perform(
                spec.name,
                invoke,
                attempts=spec.attempts,
                show_locals=self.show_locals,
                post_mortem=self.post_mortem,
                capture="sys" if self.capture else None,
                store=spec.store,
            )
        except KeyboardInterrupt as exc:  # Ctrl-C (or SIGTERM, SIGHUP): the run stops
            self._forget(spec.name)
            stopped = interrupted(spec.name, reason)
            stopped.duration_s = time.perf_counter() - started
            raise Interrupted(stopped) from exc
        for level, line in log_lines(outcome, spec.attempts):
            self._note(spec.name, level, line)
        if outcome.error is not None:
            trace = outcome.error[2]
            self._note(spec.name, "ERROR", f"failed after {outcome.duration_s:.3f}s\n{trace}")
        else:
            self._note(spec.name, "INFO", f"finished in {outcome.duration_s:.3f}s")
        if self.logs is not None:
            self.logs.done(spec.name)
        dep = upstream.unreadable
        if outcome.error is not None and dep is not None and not again and self._remade(dep):
            return self._execute(spec, reason, previous, again=True)
        return self._settle(spec, reason, outcome)

    def _remade(self, dep: str) -> bool:
        """Run again an upstream task whose result no longer unpickles; True if it ran."""
        if dep not in self.selected or dep in self.skip:
            return False
        return self._redo(self.graph[dep], Loss.UNREADABLE, self.failed).status is Status.EXECUTED

    def _note(self, name: str, level: str, text: str) -> None:
        if self.logs is not None:
            self.logs.note(name, level, text)

    def _logger(self, name: str) -> Any:
        """Task `name`'s logger (for `this.logger`), with its records routed from now on."""
        self._listen()
        return task_logger(name)

    def _listen(self) -> None:
        """loguru is about to carry task records: let the front door set up its own sinks
        (stderr), and send task records to their files."""
        if self.logs is not None:
            self.logs.listen()
        elif not self.listening and self.reporter is not None:
            self.reporter.logs_started()
        self.listening = True

    def _load_upstream(self, spec: TaskSpec, failed: dict[str, str]) -> TaskReport | None:
        """Before a task executes, verify its upstream results; re-execute any found lost.

        Returns the report of `spec` if it cannot run because such a re-execution failed.
        """
        _, reason = self.decide_now(spec)
        if reason is None:
            return None
        for dep in spec.deps:
            if dep in failed or dep not in self.digests:
                continue
            try:
                self.data(dep)
                continue
            except (KeyError, DamagedResult) as exc:
                why = exc.why if isinstance(exc, DamagedResult) else Loss.MISSING
            if dep not in self.selected or dep in self.skip:  # it may not run: neither can this
                error = TaskError(
                    "DamagedResult",
                    f"the stored result of upstream task '{dep}' is {why}; run it first:"
                    f" lp run {dep}",
                )
                failed[dep] = dep
                return TaskReport(spec.name, Status.UPSTREAM_FAILED, error=error)
            redo = self._redo(self.graph[dep], why, failed)
            if redo.status is not Status.EXECUTED:
                error = TaskError("DependencyFailure", f"upstream task '{dep}' failed")
                return TaskReport(spec.name, Status.UPSTREAM_FAILED, error=error)
        return None

    def _redo(self, spec: TaskSpec, why: Loss, failed: dict[str, str]) -> TaskReport:
        """Execute again a task whose stored result turned out lost when it was loaded."""
        entry = self.entries.get(spec.name)
        if entry is not None:
            self.cache.forget_damaged(spec.name, entry, why)
        self._lost_warning(spec.name, why)
        self.entries[spec.name] = None
        self.digests.pop(spec.name, None)
        self.results.pop(spec.name, None)
        task = self._load_upstream(spec, failed)
        if task is None:
            if self.reporter is not None:
                self.reporter.task_started(spec.name)
            task = self._prepared_or_failed(spec, Reason.NEW)
            if task is None:
                task = self._execute(spec, Reason.NEW, None)
        task = locate(task, spec)
        if task.status is Status.UPSTREAM_FAILED:
            failed[spec.name] = failed[next(d for d in spec.deps if d in failed)]
        elif task.status is not Status.EXECUTED:
            failed[spec.name] = spec.name
        if self.report is not None:  # it was reported as cached: it is not any more
            done = self.report.tasks
            at = next((i for i, t in enumerate(done) if t.name == spec.name), None)
            if at is None:
                done.append(task)
            else:
                done[at] = task
        if self.reporter is not None:
            self.reporter.task_finished(task)
        return task

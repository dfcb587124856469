"""The run loop: decide what is fresh, execute the rest in order, store results, report.

The engine never prints and never exits. It emits events to a Reporter and returns a RunReport;
front doors (the library Pipeline, the `lp` command, watch mode) decide what to show.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from little_pipelines.engine.execute import Executor, call_guarded, perform
from little_pipelines.engine.executors import WorkerDied
from little_pipelines.engine.graph import TaskGraph
from little_pipelines.engine.guard import InProcess
from little_pipelines.engine.logs import TaskLogs, task_logger
from little_pipelines.engine.options import RunOptions
from little_pipelines.engine.record import Recorder
from little_pipelines.engine.schedule import Schedule
from little_pipelines.engine.spec import OnUpstreamError, TaskContext, TaskSpec
from little_pipelines.outcomes import (
    Reason,
    Reporter,
    RunReport,
    Status,
    TaskError,
    TaskReport,
)
from little_pipelines.store.cache import DamagedResult, Entry, Loss, ResultCache

__all__ = ["run"]


def run(
    graph: TaskGraph,
    cache: ResultCache,
    options: RunOptions | None = None,
    *,
    reporter: Reporter | None = None,
    clock: Callable[[], float] = time.time,
    log_dir: Path | None = None,
    root: Path | None = None,
    results: dict[str, Any] | None = None,
    stop: Callable[[], bool] | None = None,
    executor: Executor | None = None,
    guard: InProcess | None = None,
) -> RunReport:
    """Run the tasks that `options` select and report each one (see RunOptions).

    `results` holds the stored bytes of results this process has (task name ->
    (digest of the bytes, bytes)); the run adds those it executes or loads, and uses a held
    result only while its entry still names those bytes. Each consumer unpickles its own copy.
    `stop` is asked
    between tasks; when it says True the rest of the plan is dropped (`report.cancelled`).
    `executor` (see executors.py) runs tasks that carry a `remote` call in worker processes,
    independent ones side by side; the rest run here, through `guard` when given (it notes
    the running task, so a task that ends the process is known on the next run).
    """
    options = options or RunOptions()
    state = _Run(graph, cache, clock=clock, root=root, results=results)
    state.guard = guard
    selected = state.select(options.targets or None, no_upstream=options.no_upstream)
    state.selected = set(selected)
    force = options.force
    state.forced = set(selected) if force is True else set(force or ())
    state.skip = set(options.skip) - state.forced
    reporter = reporter or Reporter()
    plan = state.plan(selected)
    if not options.dry_run:
        for planned in plan:  # imports fail here, before anything is stored
            if planned.will_run:
                state.prepare(graph[planned.name])
    reporter.run_started(plan)
    report = RunReport(warnings=state.warnings)
    state.report, state.reporter = report, reporter
    started = time.perf_counter()
    if options.dry_run:
        report.tasks = [
            TaskReport(p.name, Status.WOULD_RUN if p.will_run else Status.CACHED, p.reason)
            for p in plan
        ]
        for task in report.tasks:
            _locate(task, graph[task.name])
            reporter.task_finished(task)
    else:
        state.logs = TaskLogs(log_dir, warnings=state.warnings) if log_dir is not None else None
        try:
            with state.logs or contextlib.nullcontext():
                state.execute(
                    selected, report, reporter, executor, exitfirst=options.exitfirst, stop=stop
                )
        finally:
            state.expire_on_complete(selected)
    report.duration_s = time.perf_counter() - started
    reporter.run_finished(report)
    return report


def _locate(task: TaskReport, spec: TaskSpec) -> TaskReport:
    task.file, task.line = spec.file, spec.line
    return task


class _Interrupted(KeyboardInterrupt):
    """Ctrl-C (or SIGTERM, SIGHUP) while a task ran in this process: its report goes along."""

    def __init__(self, task: TaskReport) -> None:
        super().__init__()
        self.task = task


def _interrupted(name: str, reason: Reason | None = None) -> TaskReport:
    return TaskReport(
        name, Status.FAILED, reason, error=TaskError("KeyboardInterrupt", "interrupted")
    )


class _Upstream(Mapping[str, Any]):
    """A task's upstream results, loaded from the cache only when the task reads them."""

    def __init__(self, state: _Run, names: tuple[str, ...]) -> None:
        self._state = state
        self._names = names

    def __getitem__(self, name: str) -> Any:
        if name not in self._names:
            raise KeyError(name)
        return self._state.result(name)

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


class _Run(Recorder):
    """One run: the planner's knowledge, plus executing, storing and reporting tasks."""

    # set by run() once known (they are not part of what the planner decides with)
    logs: TaskLogs | None = None
    guard: InProcess | None = None
    report: RunReport | None = None
    reporter: Reporter | None = None

    def _load_upstream(self, spec: TaskSpec, failed: dict[str, str]) -> TaskReport | None:
        """Before a task executes, verify its upstream results; re-execute any found lost.

        A value damaged or missing on disk is no result: its task runs again, here and now
        (its own upstream first), so the task about to run never sees garbage. Returns the
        report of `spec` if it cannot run because such a re-execution failed.
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

    def _redo(self, spec: TaskSpec, why: str, failed: dict[str, str]) -> TaskReport:
        """Execute again a task whose stored result turned out lost when it was loaded."""
        entry = self.entries.get(spec.name)
        if entry is not None:
            self.cache.forget_damaged(spec.name, entry)
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
        task = _locate(task, spec)
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

    def execute(
        self,
        selected: list[str],
        report: RunReport,
        reporter: Reporter,
        executor: Executor | None = None,
        *,
        exitfirst: bool,
        stop: Callable[[], bool] | None = None,
    ) -> None:
        """Run the selected tasks in dependency order; with an `executor`, up to
        `executor.jobs` tasks that can run elsewhere do so side by side."""
        failed: dict[str, str] = {}  # task -> the failed task it traces back to
        missing: set[str] = set()  # skipped tasks that left no result behind
        remote: dict[str, Reason] = {}  # tasks out in a worker, with their reason
        current: list[str] = []  # the task being started here
        stopped_at_failure = False

        def finish_task(task: TaskReport) -> None:
            nonlocal stopped_at_failure
            self._record(task, failed, missing, report, reporter)
            stopped_at_failure = stopped_at_failure or (exitfirst and task.status is Status.FAILED)

        def start(name: str) -> Future[Any] | None:
            spec = self.graph[name]
            current[:] = [name]
            task = self._blocked(spec, failed, missing)
            if task is None and executor is not None and spec.remote is not None:
                _, reason = self.decide_now(spec)
                if reason is not None:
                    reporter.task_started(name)
                    task = self._prepared_or_failed(spec, reason)
                    if task is None:
                        try:
                            future = executor.submit(spec.remote, self._payload(spec))
                        except Exception as exc:  # e.g. a pool broken by a dead worker
                            task = self._lost(spec, reason, exc)
                        else:
                            current.clear()  # it is out: a Ctrl-C now reports it as running
                            remote[name] = reason
                            return future
            if task is None:
                task = self._decide_and_run(spec, reporter)
            current.clear()  # (before the report: a Ctrl-C in the reporter adds no second line)
            finish_task(task)
            return None

        def finish(name: str, future: Future[Any]) -> None:
            finish_task(self._complete(self.graph[name], remote.pop(name), future))

        def halted() -> bool:
            if stop is not None and stop():
                report.cancelled = True
            return report.cancelled or stopped_at_failure

        schedule = Schedule(selected, {name: self.graph[name].deps for name in selected})
        slots = executor.jobs if executor is not None else 1
        try:
            rest = schedule.run(start, finish, slots=slots, halted=halted)
        except KeyboardInterrupt as exc:
            report.interrupted = True
            if isinstance(exc, _Interrupted):  # a task running in this process
                report.tasks.append(_locate(exc.task, self.graph[exc.task.name]))
            elif current:
                report.tasks.append(_locate(_interrupted(current[0]), self.graph[current[0]]))
            for name in schedule.running.values():  # the workers are ended when the run closes
                self._forget(name)
                report.tasks.append(_locate(_interrupted(name, remote[name]), self.graph[name]))
            return
        if stopped_at_failure and not report.cancelled:
            self._drop_rest(rest, report, reporter)

    def _record(
        self,
        task: TaskReport,
        failed: dict[str, str],
        missing: set[str],
        report: RunReport,
        reporter: Reporter,
    ) -> None:
        """Book a finished task: what its dependents will see, the report, the reporter."""
        spec = self.graph[task.name]
        if task.status is Status.FAILED:
            failed[task.name] = task.name
        elif task.status is Status.UPSTREAM_FAILED:
            failed[task.name] = failed[next(d for d in spec.deps if d in failed)]
        elif task.status is Status.SKIPPED and task.name not in self.digests:
            missing.add(task.name)
        report.tasks.append(_locate(task, spec))
        reporter.task_finished(task)

    def _drop_rest(self, names: Iterable[str], report: RunReport, reporter: Reporter) -> None:
        for rest in names:
            late = TaskReport(rest, Status.SKIPPED, detail="not run: stopped at first failure")
            report.tasks.append(_locate(late, self.graph[rest]))
            reporter.task_finished(late)

    def _payload(self, spec: TaskSpec) -> dict[str, tuple[bytes, str | None]]:
        """Upstream results as stored (bytes), each with the tasks file that can read it."""
        payload = {}
        for dep in spec.deps:
            remote = self.graph[dep].remote
            payload[dep] = (self.data(dep), remote.path if remote else None)
        return payload

    def _lost(self, spec: TaskSpec, reason: Reason, exc: BaseException) -> TaskReport:
        """A task whose worker died, or could not be reached, fails alone."""
        self._forget(spec.name)
        if isinstance(exc, WorkerDied):
            message = exc.message
        else:
            message = f"the worker running task '{spec.name}' failed: {type(exc).__name__}: {exc}"
        return TaskReport(
            spec.name, Status.FAILED, reason, error=TaskError(type(exc).__name__, message)
        )

    def _complete(self, spec: TaskSpec, reason: Reason, future: Future[Any]) -> TaskReport:
        """Store what a worker sent back, or record its failure (or the worker's own)."""
        try:
            outcome = future.result()
        except Exception as exc:  # the worker process died, or the cluster went away
            return self._lost(spec, reason, exc)
        return self._settle(spec, reason, outcome)

    def _blocked(
        self, spec: TaskSpec, failed: dict[str, str], missing: set[str]
    ) -> TaskReport | None:
        """The report of a task that cannot run because of its upstream, or None."""
        bad = [d for d in spec.deps if d in failed]
        if bad:
            origin = failed[bad[0]]
            if spec.on_upstream_error is OnUpstreamError.SKIP:
                return TaskReport(spec.name, Status.SKIPPED, detail=f"upstream '{origin}' failed")
            error = TaskError("DependencyFailure", f"upstream task '{origin}' failed")
            return TaskReport(spec.name, Status.UPSTREAM_FAILED, error=error)
        if spec.name in self.skip or any(d in missing for d in spec.deps):
            entry = self.entry(spec.name)
            if entry is not None:
                self.digests[spec.name] = entry.result
            return TaskReport(spec.name, Status.SKIPPED)
        return self._load_upstream(spec, failed)

    def _decide_and_run(self, spec: TaskSpec, reporter: Reporter) -> TaskReport:
        entry, reason = self.decide_now(spec)
        if reason is None:
            assert entry is not None
            self.digests[spec.name] = entry.result
            return TaskReport(spec.name, Status.CACHED)
        reporter.task_started(spec.name)
        return self._prepared_or_failed(spec, reason) or self._execute(spec, reason, entry)

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

    def _execute(self, spec: TaskSpec, reason: Reason, previous: Entry | None) -> TaskReport:
        """Call a task in this process, then store its result or record its failure."""
        context = TaskContext(spec.name, task_logger(spec.name), self.root)
        self._note(spec.name, "INFO", f"started ({reason})")
        upstream = _Upstream(self, spec.deps)

        def call() -> Any:
            return spec.invoke(upstream, context)

        guard = self.guard
        started = time.perf_counter()
        try:
            if guard is not None:
                outcome = perform(spec.name, lambda: guard.call(spec.name, call))
            else:
                outcome = perform(spec.name, lambda: call_guarded(call))
        except KeyboardInterrupt as exc:  # Ctrl-C (or SIGTERM, SIGHUP): the run stops
            self._forget(spec.name)
            stopped = _interrupted(spec.name, reason)
            stopped.duration_s = time.perf_counter() - started
            raise _Interrupted(stopped) from exc
        if outcome.error is not None:
            trace = outcome.error[2]
            self._note(spec.name, "ERROR", f"failed after {outcome.duration_s:.3f}s\n{trace}")
        else:
            self._note(spec.name, "INFO", f"finished in {outcome.duration_s:.3f}s")
        if self.logs is not None:
            self.logs.done(spec.name)
        return self._settle(spec, reason, outcome)

    def _note(self, name: str, level: str, text: str) -> None:
        if self.logs is not None:
            self.logs.note(name, level, text)

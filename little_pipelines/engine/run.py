"""The run loop: decide what is fresh, execute the rest in order, store results, report.

The engine never prints and never exits. It emits events to a Reporter and returns a RunReport;
front doors (the library Pipeline, the `lp` command, watch mode) decide what to show.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from little_pipelines.engine.execute import Executor, Payload
from little_pipelines.engine.graph import TaskGraph
from little_pipelines.engine.guard import InProcess
from little_pipelines.engine.inline import Inline, Interrupted, interrupted, locate
from little_pipelines.engine.logs import TaskLogs
from little_pipelines.engine.options import RunOptions
from little_pipelines.engine.schedule import Schedule
from little_pipelines.engine.spec import OnUpstreamError, TaskSpec
from little_pipelines.engine.workers import WorkerDied
from little_pipelines.outcomes import (
    PlannedTask,
    Reason,
    Reporter,
    RunReport,
    Status,
    TaskError,
    TaskReport,
)
from little_pipelines.store.cache import Entry, ResultCache

if TYPE_CHECKING:
    from concurrent.futures import Future

__all__ = ["run"]


def run(
    graph: TaskGraph,
    cache: ResultCache,
    options: RunOptions | None = None,
    *,
    reporter: Reporter | None = None,
    clock: Callable[[], float] = time.time,
    log_dir: Path | None = None,
    log_every_task: bool = True,
    root: Path | None = None,
    results: dict[str, Any] | None = None,
    stop: Callable[[], bool] | None = None,
    executor: Executor | None = None,
    guard: InProcess | None = None,
    session: str | None = None,
    notices: Sequence[str] = (),
) -> RunReport:
    """Run the tasks that `options` select and report each one (see RunOptions).

    `results` holds the stored bytes of results this process has (task name ->
    (digest of the bytes, bytes)); the run adds those it executes or loads, and uses a held
    result only while its entry still names those bytes. Each consumer unpickles its own copy.
    `stop` is asked between tasks; when it says True the rest of the plan is dropped
    (`report.cancelled`). `executor` (see executors.py) runs tasks that carry a `remote` call
    in worker processes, independent ones side by side; the rest run here, through `guard`
    when given (it notes the running task, so a task that ends the process is known on the
    next run). `session` names the process that `after_session` results belong to (the
    one running, by default). With `log_every_task=False` a task's log file is made only once
    it logs or fails (see logs.py). `notices` are the front door's warnings, which the report's
    warnings start with.
    """
    options = options or RunOptions()
    reporter = reporter or Reporter()
    state = _Run(graph, cache, clock=clock, root=root, results=results, session=session)
    state.guard, state.reporter, state.executor, state.stop = guard, reporter, executor, stop
    state.show_locals, state.capture = options.show_locals, options.capture
    if options.pdb:
        state.post_mortem = _post_mortem
    selected, plan = state.start_run(options)
    planned = list(state.warnings)  # what planning found (a stale upstream of --no-upstream)
    state.warnings[:0] = notices
    reporter.run_started(plan)
    for message in planned:  # now, before any task's line, not after the summary
        reporter.warning(message)
    report = state.report = RunReport(warnings=state.warnings, dry_run=options.dry_run)
    report.import_s = state.import_s
    started = time.perf_counter()
    if options.dry_run:
        state.dry_run(plan)
    else:
        if log_dir is not None:
            state.logs = TaskLogs(
                log_dir,
                warnings=state.warnings,
                every_task=log_every_task,
                on_listen=reporter.logs_started,
            )
        try:
            with state.logs or contextlib.nullcontext():
                state.execute(selected, exitfirst=options.exitfirst)
        finally:
            state.expire_on_complete(selected)
        if guard is not None:
            state.warnings.extend(guard.thread_warnings())
    report.duration_s = time.perf_counter() - started
    reporter.run_finished(report)
    return report


def _post_mortem(exc: BaseException) -> None:
    """`--pdb`: the debugger in the frame where the task failed, as pytest's `--pdb`."""
    import pdb
    import sys

    # (to the process's own streams: what the task prints is being captured meanwhile)
    print(f"\n{type(exc).__name__}: {exc}\n(--pdb: the failing task's frame; c goes on)",
          file=sys.__stderr__)  # fmt: skip
    debugger = pdb.Pdb(stdin=sys.__stdin__, stdout=sys.__stdout__)
    debugger.reset()
    debugger.interaction(None, exc.__traceback__)


class _Run(Inline):
    """One run: the planner's knowledge, plus the loop that executes, stores and reports."""

    reporter: Reporter
    report: RunReport
    executor: Executor | None = None
    stop: Callable[[], bool] | None = None
    import_s = 0.0  # importing what will run, before the clock of the run starts

    def start_run(self, options: RunOptions) -> tuple[list[str], list[PlannedTask]]:
        """Select and plan; prepare (import) what will run, before anything is stored."""
        selected = self.select(options.targets or None, no_upstream=options.no_upstream)
        if options.first:
            selected = self.graph.first(selected, options.first)
        self.selected = set(selected)
        force = options.force
        self.forced = set(selected) if force is True else set(force or ())
        self.skip = set(options.skip) - self.forced
        plan = self.plan(selected)
        remote = [p for p in plan if p.will_run and self.graph[p.name].remote is not None]
        if self.executor is not None and remote and not options.dry_run:
            self.executor.start()  # workers start while the tasks files are imported here
        if not options.dry_run:
            started = time.perf_counter()
            for planned in plan:
                if planned.will_run:
                    self.prepare(self.graph[planned.name])
            self.import_s = time.perf_counter() - started
        return selected, plan

    def dry_run(self, plan: list[PlannedTask]) -> None:
        """Report what would run, and run nothing."""
        for p in plan:
            task = TaskReport(p.name, Status.WOULD_RUN if p.will_run else Status.CACHED, p.reason)
            self.report.tasks.append(locate(task, self.graph[p.name]))
            self.reporter.task_finished(task)

    def execute(self, selected: list[str], *, exitfirst: bool) -> None:
        """Run the selected tasks in dependency order; with an executor, up to
        `executor.jobs` tasks that can run elsewhere do so side by side."""
        self.failed: dict[str, str] = {}  # task -> the failed task it traces back to
        self.missing: set[str] = set()  # skipped tasks that left no result behind
        self.remote: dict[str, Reason] = {}  # tasks out in a worker, with their reason
        self.current: list[str] = []  # the task being started here
        self.exitfirst, self.stopped_at_failure = exitfirst, False
        specs = self.graph.specs
        schedule = Schedule(selected, {name: specs[name].deps for name in selected})
        slots = self.executor.jobs if self.executor is not None else 1
        try:
            rest = schedule.run(self._start, self._finish, slots=slots, halted=self._halted)
        except KeyboardInterrupt as exc:
            self._interrupt(exc, schedule.running.values())
            self._never_started(selected, "not run: the run was interrupted")
            return
        if self.stopped_at_failure and not self.report.cancelled:
            self._drop_rest(rest)
        elif self.report.cancelled:
            self._never_started(selected, "not run: a file changed, so the plan was dropped")

    def _never_started(self, selected: list[str], why: str) -> None:
        """The selected tasks a stopped run never reached, as skipped (every selected task
        is in the report, SPEC section 4)."""
        seen = {t.name for t in self.report.tasks}
        for name in selected:
            if name not in seen:
                late = TaskReport(name, Status.SKIPPED, detail=why)
                self.report.tasks.append(locate(late, self.graph[name]))

    def _start(self, name: str) -> Future[Any] | None:
        """Start a task: here (None, once it is done), or in a worker (its Future)."""
        spec = self.graph.specs[name]
        entry = self.fresh.get(name)
        if entry is not None and self._still_fresh(spec, entry):
            self.digests[name] = entry.result
            self._record(TaskReport(name, Status.CACHED))
            return None
        self.current[:] = [name]
        task = self._blocked(spec)
        if task is None and self.executor is not None and spec.remote is not None:
            entry, reason = self.decide_now(spec)
            if reason is not None and not self._quick(reason, entry):
                sent = self._submit(spec, reason, self.executor)
                if not isinstance(sent, TaskReport):
                    self.current.clear()  # it is out: a Ctrl-C now reports it as running
                    self.remote[name] = reason
                    return sent
                task = sent
        if task is None:
            task = self._decide_and_run(spec)
        self.current.clear()  # (before the report: a Ctrl-C in the reporter adds no second line)
        self._record(task)
        return None

    def _still_fresh(self, spec: TaskSpec, entry: Entry) -> bool:
        """Whether a task the plan found fresh still is, at its turn, without deciding again:
        no upstream task ran or failed or left nothing since, and no clock can expire it."""
        if entry.expires_at is not None or self.entries.get(spec.name) is not entry:
            return False
        ran, failed, missing = self.ran, self.failed, self.missing
        if not (ran or failed or missing):
            return True
        return not any(dep in ran or dep in failed or dep in missing for dep in spec.deps)

    def _quick(self, reason: Reason, entry: Entry | None) -> bool:
        """Whether a task is better run here than sent out: its code ran, unchanged, faster
        last time than a round trip to a worker takes (see Executor.inline_below_s)."""
        limit = self.executor.inline_below_s if self.executor is not None else None
        if limit is None or entry is None or reason in (Reason.NEW, Reason.CODE):
            return False
        return entry.duration_s < limit

    def _submit(
        self, spec: TaskSpec, reason: Reason, executor: Executor
    ) -> Future[Any] | TaskReport:
        """Send a task to a worker: its Future, or the report of why it could not go."""
        self.reporter.task_started(spec.name)
        task = self._prepared_or_failed(spec, reason)
        if task is not None:
            return task
        assert spec.remote is not None
        call = spec.remote
        if self.show_locals or self.capture:
            import dataclasses

            call = dataclasses.replace(call, show_locals=self.show_locals, capture=self.capture)
        try:
            return executor.submit(call, self._payload(spec))
        except Exception as exc:  # e.g. a pool broken by a dead worker
            return self._lost(spec, reason, exc)

    def _finish(self, name: str, future: Future[Any]) -> None:
        self._record(self._complete(self.graph[name], self.remote.pop(name), future))

    def _halted(self) -> bool:
        if self.stop is not None and self.stop():
            self.report.cancelled = True
        return self.report.cancelled or self.stopped_at_failure

    def _interrupt(self, exc: KeyboardInterrupt, running: Iterable[str]) -> None:
        """Ctrl-C: report the task running here and those out in workers as interrupted."""
        report = self.report
        report.interrupted = True
        if isinstance(exc, Interrupted):  # a task running in this process
            report.tasks.append(locate(exc.task, self.graph[exc.task.name]))
        elif self.current:
            name = self.current[0]
            report.tasks.append(locate(interrupted(name), self.graph[name]))
        for name in running:  # the workers are ended when the run closes
            self._forget(name)
            report.tasks.append(locate(interrupted(name, self.remote[name]), self.graph[name]))

    def _record(self, task: TaskReport) -> None:
        """Book a finished task: what its dependents will see, the report, the reporter."""
        spec = self.graph.specs[task.name]
        if task.status is Status.FAILED:
            self.failed[task.name] = task.name
        elif task.status is Status.UPSTREAM_FAILED:
            self.failed[task.name] = self.failed[next(d for d in spec.deps if d in self.failed)]
        elif task.status is Status.SKIPPED and task.name not in self.digests:
            self.missing.add(task.name)
        self.report.tasks.append(locate(task, spec))
        self.reporter.task_finished(task)
        if self.exitfirst and task.status is Status.FAILED:
            self.stopped_at_failure = True

    def _drop_rest(self, names: Iterable[str]) -> None:
        for rest in names:
            late = TaskReport(rest, Status.SKIPPED, detail="not run: stopped at first failure")
            self.report.tasks.append(locate(late, self.graph[rest]))
            self.reporter.task_finished(late)

    def _payload(self, spec: TaskSpec) -> dict[str, Payload]:
        """Upstream results as stored (bytes), each with the tasks file that can read it and
        its format."""
        payload = {}
        for dep in spec.deps if spec.arguments is None else spec.arguments:
            remote = self.graph[dep].remote
            data = self.data(dep)
            payload[dep] = (data, remote.path if remote else None, self.store_of(dep))
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
        error = outcome.error
        if error is not None and error[0] == "UnreadableResult":  # an upstream result, stale
            dep = next(
                (d for d in spec.deps if error[1].startswith(f"the stored result of '{d}'")), None
            )
            if dep is not None and self._remade(dep):  # remade here: so is this task, once
                return self._execute(spec, reason, self.entries.get(spec.name), again=True)
        return self._settle(spec, reason, outcome)

    def _blocked(self, spec: TaskSpec) -> TaskReport | None:
        """The report of a task that cannot run because of its upstream, or None."""
        bad = [d for d in spec.deps if d in self.failed]
        if bad:
            origin = self.failed[bad[0]]
            if spec.on_upstream_error is OnUpstreamError.SKIP:
                return TaskReport(spec.name, Status.SKIPPED, detail=f"upstream '{origin}' failed")
            error = TaskError("DependencyFailure", f"upstream task '{origin}' failed")
            return TaskReport(spec.name, Status.UPSTREAM_FAILED, error=error)
        if spec.name in self.skip or any(d in self.missing for d in spec.deps):
            entry = self.entry(spec.name)
            if entry is not None:
                self.digests[spec.name] = entry.result
            return TaskReport(spec.name, Status.SKIPPED)
        return self._load_upstream(spec, self.failed)

    def _decide_and_run(self, spec: TaskSpec) -> TaskReport:
        entry, reason = self.decide_now(spec)
        if reason is None:
            assert entry is not None
            self.digests[spec.name] = entry.result
            return TaskReport(spec.name, Status.CACHED)
        self.reporter.task_started(spec.name)
        return self._prepared_or_failed(spec, reason) or self._execute(spec, reason, entry)

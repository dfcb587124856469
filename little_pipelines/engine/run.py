"""The run loop: decide what is fresh, execute the rest in order, store results, report.

The engine never prints and never exits. It emits events to a Reporter and returns a RunReport;
front doors (the library Pipeline, the `lp` command, watch mode) decide what to show.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from little_pipelines.engine.executors import InProcess, WorkerDied, call_guarded
from little_pipelines.engine.graph import TaskGraph
from little_pipelines.engine.logs import TaskLogs, task_logger
from little_pipelines.engine.spec import OnUpstreamError, TaskContext, TaskSpec
from little_pipelines.errors import LittlePipelinesError
from little_pipelines.fingerprint.inputs import input_file_digests, inputs_digest
from little_pipelines.fingerprint.values import pickle_digest, value_digest
from little_pipelines.outcomes import (
    PlannedTask,
    Reason,
    Reporter,
    RunReport,
    Status,
    TaskError,
    TaskReport,
)
from little_pipelines.store.cache import DamagedResult, Entry, ResultCache, serialize

__all__ = ["decide", "run", "session_id"]


@cache
def session_id() -> str:
    """This process's identity; results that expire `after_session` are tied to it."""
    return uuid.uuid4().hex


def _policy_kind(policy: Any) -> str:
    return "never" if policy is None else getattr(policy, "kind", "time")


def run(
    graph: TaskGraph,
    cache: ResultCache,
    *,
    targets: Sequence[str] | None = None,
    force: bool | Iterable[str] = False,
    skip: Iterable[str] = (),
    no_upstream: bool = False,
    dry_run: bool = False,
    exitfirst: bool = False,
    reporter: Reporter | None = None,
    clock: Callable[[], float] = time.time,
    log_dir: Path | None = None,
    root: Path | None = None,
    results: dict[str, Any] | None = None,
    stop: Callable[[], bool] | None = None,
    executor: Any = None,
    guard: InProcess | None = None,
) -> RunReport:
    """Run the selected tasks (all, or `targets` plus their upstream) and report each one.

    `force` is True for every selected task or a set of names; `skip` names tasks to mark
    skipped. `results` holds the stored bytes of results this process has (task name ->
    (digest of the bytes, bytes)); the run adds those it executes or loads, and uses a held
    result only while its entry still names those bytes. Each consumer unpickles its own copy.
    `stop` is asked
    between tasks; when it says True the rest of the plan is dropped (`report.cancelled`).
    `executor` (see executors.py) runs tasks that carry a `remote` call in worker processes,
    independent ones side by side; the rest run here, through `guard` when given (it notes
    the running task, so a task that ends the process is known on the next run).
    """
    state = _Run(graph, cache, clock=clock, root=root, results=results)
    state.guard = guard
    selected = state.select(targets, no_upstream=no_upstream)
    state.selected = set(selected)
    state.forced = set(selected) if force is True else set(force or ())
    state.skip = set(skip) - state.forced
    reporter = reporter or Reporter()
    plan = state.plan(selected)
    if not dry_run:
        for planned in plan:  # imports fail here, before anything is stored
            prepare = graph[planned.name].prepare
            if planned.will_run and prepare is not None:
                prepare()
    reporter.run_started(plan)
    report = RunReport(warnings=state.warnings)
    state.report, state.reporter = report, reporter
    started = time.perf_counter()
    if dry_run:
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
                if executor is not None:
                    state.execute_parallel(
                        selected, report, reporter, executor, exitfirst=exitfirst, stop=stop
                    )
                else:
                    state.execute(selected, report, reporter, exitfirst=exitfirst, stop=stop)
        finally:
            state.expire_on_complete(selected)
    report.duration_s = time.perf_counter() - started
    reporter.run_finished(report)
    return report


def decide(
    graph: TaskGraph, cache: ResultCache, *, clock: Callable[[], float] = time.time
) -> dict[str, Reason | None]:
    """Each task's reason to run now (None when fresh), without running anything."""
    state = _Run(graph, cache, clock=clock)
    return {p.name: p.reason for p in state.plan(graph.order)}


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


class _Run:
    """The state of one run: entries read, result digests known, values in memory."""

    def __init__(
        self,
        graph: TaskGraph,
        cache: ResultCache,
        *,
        clock: Callable[[], float],
        root: Path | None = None,
        results: dict[str, tuple[str, bytes]] | None = None,
    ) -> None:
        self.graph = graph
        self.cache = cache
        self.clock = clock
        self.root = root
        self.results = results if results is not None else {}
        self.entries: dict[str, Entry | None] = {}
        self.digests: dict[str, str] = {}
        self.inputs: dict[str, tuple[str, dict[str, str]]] = {}
        self.forced: set[str] = set()
        self.skip: set[str] = set()
        self.warnings: list[str] = []
        self.logs: TaskLogs | None = None
        self.ran: set[str] = set()  # tasks executed successfully in this run
        self.guard: InProcess | None = None
        self.report: RunReport | None = None
        self.rehashed: set[str] = set()  # tasks whose inputs were hashed again after upstream ran
        self.selected: set[str] = set(graph.order)
        self.reporter: Reporter | None = None

    def select(self, targets: Sequence[str] | None, *, no_upstream: bool) -> list[str]:
        if not targets:
            return list(self.graph.order)
        if not no_upstream:
            return self.graph.upstream(targets)
        chosen = set(self.graph.check(targets))
        fed = sorted({d for t in chosen for d in self.graph[t].deps if d not in chosen})
        upstream = [n for n in self.graph.upstream(targets) if n not in chosen]
        stale = {p.name for p in self.plan(upstream) if p.will_run}
        for name in fed:
            entry = self.entry(name)
            if entry is None:
                raise LittlePipelinesError(
                    f"--no-upstream: upstream task '{name}' has no cached result;"
                    f" run it first (lp run {name})"
                )
            if name in stale:
                self.warnings.append(f"using the stale cached result of '{name}' (--no-upstream)")
            self.digests[name] = entry.result
        return [n for n in self.graph.order if n in chosen]

    def entry(self, name: str) -> Entry | None:
        if name not in self.entries:
            found = self.entries[name] = self.cache.entry(name)
            if found is None and name in self.cache.lost:
                self._lost_warning(name, self.cache.lost[name])
        return self.entries[name]

    def _lost_warning(self, name: str, why: str) -> None:
        self.warnings.append(
            f"the stored result of '{name}' is {why}: treated as no result, so '{name}' runs again"
        )

    def inputs_of(self, spec: TaskSpec) -> str:
        return self.input_files(spec)[0]

    def input_files(self, spec: TaskSpec) -> tuple[str, dict[str, str]]:
        """The digest of a task's inputs, and each file's digest (for `lp why`)."""
        if not spec.inputs:
            return "", {}
        found = self.inputs.get(spec.name)
        if found is None:
            root = spec.input_root or self.root or Path.cwd()
            files = input_file_digests(root, spec.inputs, spec.paths)
            found = self.inputs[spec.name] = (inputs_digest(files), files)
        return found

    def reason(self, spec: TaskSpec, entry: Entry | None) -> Reason | None:
        """Why `spec` must run now, given what its upstream tasks produced; None if fresh."""
        if spec.name in self.forced:
            return Reason.FORCED
        if not spec.cache:
            return Reason.ALWAYS
        if entry is None:
            return Reason.NEW
        if entry.code != spec.code:
            return Reason.CODE
        if entry.inputs != self.inputs_of(spec):
            return Reason.INPUTS
        for dep in spec.deps:
            current = self.digests.get(dep)
            if current is None or entry.upstream.get(dep) != current:
                return Reason.UPSTREAM
        if entry.session is not None and entry.session != session_id():
            return Reason.EXPIRED
        if entry.expires_at is not None and self.clock() >= entry.expires_at:
            return Reason.EXPIRED
        return None

    def plan(self, selected: list[str]) -> list[PlannedTask]:
        """Decide every selected task as if upstream tasks that must run change their result."""
        known = dict(self.digests)
        plan = []
        for name in selected:
            spec = self.graph[name]
            entry = self.entry(name)
            reason = None if name in self.skip else self.reason(spec, entry)
            if reason is None and entry is not None:
                self.digests[name] = entry.result
            last = entry.duration_s if entry is not None else None
            plan.append(PlannedTask(name, reason is not None, reason, last))
        self.digests = known
        return plan

    def data(self, name: str) -> bytes:
        """The stored bytes of `name`'s result, verified (KeyError, DamagedResult)."""
        entry = self.entry(name)
        held = self.results.get(name)
        if held is not None and entry is not None and held[0] == entry.data:
            return held[1]
        data = self.cache.load_bytes(name, entry)
        assert entry is not None
        self.results[name] = (entry.data, data)
        return data

    def result(self, name: str) -> Any:
        """A new copy of `name`'s result, unpickled from its stored bytes."""
        return self.cache.loads(name, self.data(name))

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
                why = exc.why if isinstance(exc, DamagedResult) else "missing"
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
            try:
                if spec.prepare is not None:
                    spec.prepare()
            except Exception as exc:
                error = TaskError.from_exception(exc)
                task = TaskReport(spec.name, Status.FAILED, Reason.NEW, error=error)
            else:
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
        *,
        exitfirst: bool,
        stop: Callable[[], bool] | None = None,
    ) -> None:
        failed: dict[str, str] = {}  # task -> the failed task it traces back to
        missing: set[str] = set()  # skipped tasks that left no result behind
        for i, name in enumerate(selected):
            if stop is not None and stop():
                report.cancelled = True
                return
            spec = self.graph[name]
            task = self._blocked(spec, failed, missing)
            if task is None:
                try:
                    task = self._decide_and_run(spec, reporter)
                except KeyboardInterrupt as exc:
                    report.interrupted = True
                    stopped = exc.task if isinstance(exc, _Interrupted) else _interrupted(name)
                    report.tasks.append(_locate(stopped, spec))
                    return
            self._record(task, failed, missing, report, reporter)
            if exitfirst and task.status is Status.FAILED:
                self._drop_rest(selected[i + 1 :], report, reporter)
                return

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

    def execute_parallel(
        self,
        selected: list[str],
        report: RunReport,
        reporter: Reporter,
        executor: Any,
        *,
        exitfirst: bool,
        stop: Callable[[], bool] | None = None,
    ) -> None:
        """Like `execute`, with up to `executor.jobs` remote tasks running at once."""
        chosen = set(selected)
        waiting = {n: {d for d in self.graph[n].deps if d in chosen} for n in selected}
        ready = [n for n in selected if not waiting[n]]
        running: dict[Future[Any], tuple[str, Reason]] = {}
        failed: dict[str, str] = {}
        missing: set[str] = set()
        done: set[str] = set()
        halted = False

        def finish(task: TaskReport) -> None:
            nonlocal halted
            self._record(task, failed, missing, report, reporter)
            done.add(task.name)
            for child in self.graph.downstream[task.name]:
                if child in chosen:
                    waiting[child].discard(task.name)
                    if not waiting[child]:
                        ready.append(child)
            halted = halted or (exitfirst and task.status is Status.FAILED)

        try:
            while (ready and not halted) or running:
                if stop is not None and stop():
                    report.cancelled = halted = True
                while ready and not halted and len(running) < executor.jobs:
                    spec = self.graph[ready.pop(0)]
                    task = self._blocked(spec, failed, missing)
                    if task is None:
                        _, reason = self.decide_now(spec)
                        if reason is not None and spec.remote is not None:
                            reporter.task_started(spec.name)
                            try:
                                future = executor.submit(spec.remote, self._payload(spec))
                            except Exception as exc:  # e.g. a pool broken by a dead worker
                                finish(self._lost(spec, reason, exc))
                                continue
                            running[future] = (spec.name, reason)
                            continue
                        task = self._decide_and_run(spec, reporter)
                    finish(task)
                if running:
                    finished, _ = wait(running, return_when=FIRST_COMPLETED)
                    for future in finished:
                        name, reason = running.pop(future)
                        finish(self._complete(self.graph[name], reason, future))
        except KeyboardInterrupt as exc:
            report.interrupted = True
            if isinstance(exc, _Interrupted):  # a task running in this process
                report.tasks.append(_locate(exc.task, self.graph[exc.task.name]))
            for name, reason in running.values():  # the workers are ended when the run closes
                self._forget(name)
                report.tasks.append(_locate(_interrupted(name, reason), self.graph[name]))
            return
        if halted and not report.cancelled:
            self._drop_rest([n for n in selected if n not in done], report, reporter)

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
        if outcome.error is not None:
            self._forget(spec.name)
            error = TaskError(*outcome.error)
            return TaskReport(spec.name, Status.FAILED, reason, outcome.duration_s, error=error)
        result = outcome.digest or pickle_digest(outcome.data)
        self.digests[spec.name] = self._store(spec, outcome.data, outcome.duration_s, result)
        return TaskReport(spec.name, Status.EXECUTED, reason, outcome.duration_s)

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

    def decide_now(self, spec: TaskSpec) -> tuple[Entry | None, Reason | None]:
        """The reason to run, decided when the task's turn comes (upstream tasks are done)."""
        if spec.inputs and spec.name not in self.rehashed and any(d in self.ran for d in spec.deps):
            self.inputs.pop(spec.name, None)  # an upstream task may have written the inputs
            self.rehashed.add(spec.name)
        entry = self.entry(spec.name)
        return entry, self.reason(spec, entry)

    def _decide_and_run(self, spec: TaskSpec, reporter: Reporter) -> TaskReport:
        entry, reason = self.decide_now(spec)
        if reason is None:
            assert entry is not None
            self.digests[spec.name] = entry.result
            return TaskReport(spec.name, Status.CACHED)
        reporter.task_started(spec.name)
        return self._execute(spec, reason, entry)

    def _execute(self, spec: TaskSpec, reason: Reason, previous: Entry | None) -> TaskReport:
        context = TaskContext(spec.name, task_logger(spec.name), self.root)
        self._note(spec.name, "INFO", f"started ({reason})")
        started = time.perf_counter()
        upstream = _Upstream(self, spec.deps)
        try:
            if self.guard is not None:
                value = self.guard.call(spec.name, lambda: spec.invoke(upstream, context))
            else:
                value = call_guarded(lambda: spec.invoke(upstream, context))
        except KeyboardInterrupt as exc:  # Ctrl-C (or SIGTERM, SIGHUP): the run stops
            self._forget(spec.name)
            stopped = _interrupted(spec.name, reason)
            stopped.duration_s = time.perf_counter() - started
            raise _Interrupted(stopped) from exc
        except BaseException as exc:  # sys.exit(), GeneratorExit, ...: the task fails alone
            duration = time.perf_counter() - started
            self._forget(spec.name)
            error = TaskError.from_exception(exc)
            self._note(spec.name, "ERROR", f"failed after {duration:.3f}s\n{error.traceback}")
            if self.logs is not None:
                self.logs.done(spec.name)
            return TaskReport(spec.name, Status.FAILED, reason, duration, error=error)
        duration = time.perf_counter() - started
        try:
            data = serialize(value)
        except Exception as exc:
            self._forget(spec.name)
            message = (
                f"task '{spec.name}' returned a {type(value).__qualname__}, which cannot be "
                f"stored: {exc}"
            )
            return TaskReport(
                spec.name,
                Status.FAILED,
                reason,
                duration,
                error=TaskError(type(exc).__name__, message),
            )
        self.digests[spec.name] = self._store(spec, data, duration, value_digest(value, data))
        self._note(spec.name, "INFO", f"finished in {duration:.3f}s")
        if self.logs is not None:
            self.logs.done(spec.name)
        return TaskReport(spec.name, Status.EXECUTED, reason, duration)

    def _note(self, name: str, level: str, text: str) -> None:
        if self.logs is not None:
            self.logs.note(name, level, text)

    def _store(self, spec: TaskSpec, data: bytes, duration: float, result: str) -> str:
        """Store a result's bytes under its canonical digest `result` (which it returns)."""
        self.ran.add(spec.name)
        now = self.clock()
        entry = Entry(
            code=spec.code,
            inputs=self.inputs_of(spec),
            upstream={dep: self.digests[dep] for dep in spec.deps},
            result=result,
            stored_at=now,
            duration_s=duration,
        )
        if spec.source is not None:
            entry.extra["source"] = spec.source()
        if spec.inputs:
            entry.extra["inputs"] = self.input_files(spec)[1]
        kind = _policy_kind(spec.expire)
        if kind == "session":
            entry.session = session_id()
        elif kind == "time":
            whole = int(now)  # policies count whole seconds: start from a whole second
            try:
                seconds = spec.expire(now=datetime.fromtimestamp(whole))
            except TypeError:
                seconds = spec.expire()
            if seconds is not None:
                entry.expires_at = whole + seconds
        self.cache.store(spec.name, data, entry)
        self.entries[spec.name] = entry
        self.results[spec.name] = (entry.data, data)
        return result

    def _forget(self, name: str) -> None:
        """A failed task's previous result must not be used until it succeeds again."""
        self.results.pop(name, None)
        self.digests.pop(name, None)
        self.entries[name] = None
        self.cache.mark_failed(name, self.clock())

    def expire_on_complete(self, selected: list[str]) -> None:
        """Results that expire `on_complete` stop being fresh once the run is over."""
        for name in selected:
            if _policy_kind(self.graph[name].expire) == "run" and self.entries.get(name):
                self.cache.update(name, expires_at=self.clock())

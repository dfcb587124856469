"""What a run writes: a task's result with its entry, the record of a failure, expiries.

`Recorder` extends the planner's knowledge with the writes of a run, so that what is stored
and what the run goes on to decide stay the same thing: a stored result's digest is at once
the one its dependents are decided by.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from little_pipelines.engine.execute import Outcome
from little_pipelines.engine.plan import Planner
from little_pipelines.engine.spec import TaskSpec
from little_pipelines.fingerprint.digests import digest
from little_pipelines.fingerprint.inputs import output_stamps
from little_pipelines.fingerprint.values import pickle_digest
from little_pipelines.outcomes import Reason, Status, TaskError, TaskReport
from little_pipelines.store.cache import Entry

if TYPE_CHECKING:
    from little_pipelines.expire import ExpiryKind

__all__ = ["Recorder", "policy_kind"]


def policy_kind(policy: Any) -> ExpiryKind:
    """How an expiry policy counts; a plain callable (the original's API) gives seconds.

    (expire.py is imported here, not at the top: a task without a policy never needs it.)
    """
    from little_pipelines.expire import ExpiryKind

    if policy is None:
        return ExpiryKind.NEVER
    return ExpiryKind(getattr(policy, "kind", ExpiryKind.TIME))


def _expired_how(entry: Entry | None) -> str:
    """How an expired result expired, for the task's line ("expired" alone puzzles when a
    library script's after_session results expire at every new run of the script)."""
    if entry is None:
        return ""
    if entry.session is not None:
        return "after_session: its result was made by an earlier process"
    if entry.expires_at is not None:
        return f"its result expired at {datetime.fromtimestamp(entry.expires_at):%Y-%m-%d %H:%M}"
    return ""


def _printed(outcome: Outcome) -> str:
    """What a failed task printed, as pytest shows it under a failure."""
    parts = [
        f"----- captured {stream} -----\n{text.rstrip()}"
        for stream, text in (("stdout", outcome.stdout), ("stderr", outcome.stderr))
        if text.strip()
    ]
    return "\n".join(parts)


class Recorder(Planner):
    """The planner, plus storing results and recording failures as a run makes them."""

    sources: set[str] | None = None  # see _sources

    def _settle(self, spec: TaskSpec, reason: Reason, outcome: Outcome) -> TaskReport:
        """Store what a task returned, or record that it failed: wherever it ran."""
        task = self._settled(spec, reason, outcome)
        task.warnings = len(outcome.warnings)
        self.warnings.extend(f"task '{spec.name}': {w}" for w in outcome.warnings)
        if spec.attempts is not None:  # (a key of --json only for tasks that may retry)
            task.attempts = len(outcome.failures) + 1
        if outcome.failures and task.status is Status.EXECUTED:
            task.detail = task.detail or f"after {len(outcome.failures) + 1} tries"
        return task

    def _settled(self, spec: TaskSpec, reason: Reason, outcome: Outcome) -> TaskReport:
        if outcome.error is not None or outcome.data is None:
            self._forget(spec.name)
            error = TaskError(*outcome.error, _printed(outcome)) if outcome.error else None
            return TaskReport(spec.name, Status.FAILED, reason, outcome.duration_s, error=error)
        if spec.outputs:
            missing = self._unwritten(spec)
            if missing:
                self._forget(spec.name)
                error = TaskError(
                    "MissingOutput",
                    f"task '{spec.name}' did not write its output {missing} in this run"
                    " (see its outputs=; a file left from before does not count)",
                )
                return TaskReport(spec.name, Status.FAILED, reason, outcome.duration_s, error=error)
        result = outcome.digest or pickle_digest(outcome.data)
        previous = self.entries.get(spec.name)
        self.digests[spec.name] = self._store(spec, outcome, result)
        detail = _expired_how(previous) if reason is Reason.EXPIRED else ""
        return TaskReport(spec.name, Status.EXECUTED, reason, outcome.duration_s, detail=detail)

    def _store(self, spec: TaskSpec, outcome: Outcome, result: str) -> str:
        """Store a result's bytes (in its format) under its canonical digest `result` (which
        it returns)."""
        data, duration = outcome.data, outcome.duration_s
        assert data is not None
        kept_format = None
        if outcome.format_source is not None:  # a registered format: its code counts too
            path, name = outcome.format_source  # (a new `loads` reads the same bytes anew)
            file = self.format_file(spec, path)
            kept_format = [file, name, self.format_code(spec, file, name)]
            result = digest(result, kept_format[2])
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
        # the code's source, for `lp why`'s diff once it changes; read (and for a tasks file
        # not parsed in this run, parsed) only the first time a result of this code is stored
        source = None
        key = self.cache.source_key(spec.code, spec.file)
        if spec.source is not None and key not in self._sources():
            source = (key, spec.source())
            self._sources().add(key)
        if spec.inputs:
            entry.extra["inputs"] = self.input_files(spec)[1]
        if spec.outputs:
            entry.extra["outputs"] = self.outputs_of(spec)  # as the task left them
        if outcome.store != "pickle":
            entry.extra["store"] = outcome.store
        if kept_format is not None:
            entry.extra["format"] = kept_format
        policy = spec.policy()
        if policy is not None:
            self._expiry(entry, policy, now)
        self.cache.store(spec.name, data, entry, source)
        self.entries[spec.name] = entry
        self.results[spec.name] = (entry.data, data)
        return result

    def _unwritten(self, spec: TaskSpec) -> str:
        """The first output a task that just returned did not write (missing, or left as it
        was before the run: a file from an earlier version of the task), hashing them anew."""
        self.outputs.pop(spec.name, None)
        written = self.outputs_of(spec)
        missing = next((output for output, d in written.items() if d == "missing"), "")
        if missing:
            return missing
        before = self.stamps.pop(spec.name, {})
        if not before:
            return ""
        after = output_stamps(self._root(spec), spec.outputs)
        return next((o for o, stamp in before.items() if stamp and stamp == after[o]), "")

    def _sources(self) -> set[str]:
        """The source keys stored already, of the tasks that may run (asked once per run)."""
        if self.sources is None:
            graph, key = self.graph, self.cache.source_key
            may_run = [graph[n] for n in self.selected if n not in self.fresh]
            self.sources = self.cache.sources_among({key(s.code, s.file) for s in may_run})
        return self.sources

    def _expiry(self, entry: Entry, policy: Any, now: float) -> None:
        """Note in a new entry when its result expires, by its task's policy."""
        from little_pipelines.expire import ExpiryKind

        kind = policy_kind(policy)
        if kind is ExpiryKind.SESSION:
            entry.session = self.session
        elif kind is ExpiryKind.TIME:
            whole = int(now)  # policies count whole seconds: start from a whole second
            try:
                seconds = policy(now=datetime.fromtimestamp(whole))
            except TypeError:
                seconds = policy()
            if seconds is not None:
                entry.expires_at = whole + seconds

    def _forget(self, name: str) -> None:
        """A failed task's previous result must not be used until it succeeds again."""
        self.results.pop(name, None)
        self.digests.pop(name, None)
        self.entries[name] = None
        self.cache.mark_failed(name, self.clock())

    def expire_on_complete(self, selected: list[str]) -> None:
        """Results that expire `on_complete` stop being fresh once the run is over."""
        for name in selected:
            policy = self.graph[name].policy()
            if policy is None:
                continue
            from little_pipelines.expire import ExpiryKind

            if policy_kind(policy) is ExpiryKind.RUN and self.entries.get(name):
                self.cache.update(name, expires_at=self.clock())

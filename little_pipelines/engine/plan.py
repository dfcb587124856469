"""What must run and why: the one place that decides a task's freshness.

A `Planner` knows what is stored (entries, read once), what each task's inputs hash to now
and which result digests its upstream tasks have. `reason(spec, entry)` is THE rule of the
caching promise (SPEC section 5); `plan` applies it to a selection as if every task that
must run changes its result. The run (run.py), `lp why`, `lp list`, dry runs and watch all
ask it; nothing else decides.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from little_pipelines.engine.graph import TaskGraph
from little_pipelines.engine.spec import TaskSpec
from little_pipelines.errors import LittlePipelinesError
from little_pipelines.fingerprint.inputs import (
    input_file_digests,
    inputs_digest,
    output_digests,
    output_stamps,
)
from little_pipelines.outcomes import PlannedTask, Reason
from little_pipelines.store import formats
from little_pipelines.store.cache import Entry, ResultCache

__all__ = ["Planner", "decide", "process_session"]


def process_session() -> str:
    """This process's identity: the same on every call, and no other process's, ever.

    Results that expire `after_session` are tied to it (SPEC section 4). Where /proc tells
    them (Linux) it is asked of the system: the boot, the pid and the process's start time.
    Elsewhere a random token is made once per pid (a forked child gets its own): a later
    process with the same pid must never find an earlier one's results fresh.
    """
    pid = os.getpid()
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        stat = Path(f"/proc/{pid}/stat").read_text()
        started = stat.rpartition(")")[2].split()[19]  # field 22: start time, in clock ticks
    except (OSError, IndexError):
        if pid not in _TOKENS:
            import uuid

            _TOKENS[pid] = f"{pid}:{uuid.uuid4().hex}"
        return _TOKENS[pid]
    return f"{boot}:{pid}:{started}"


_TOKENS: dict[int, str] = {}  # process_session where the system cannot tell: pid -> token


def decide(
    graph: TaskGraph,
    cache: ResultCache,
    *,
    clock: Callable[[], float] = time.time,
    session: str | None = None,
) -> dict[str, Reason | None]:
    """Each task's reason to run now (None when fresh), without running anything."""
    planner = Planner(graph, cache, clock=clock, session=session)
    return {p.name: p.reason for p in planner.plan(graph.order)}


class Planner:
    """What one run (or one question) knows: entries read, result digests, input digests."""

    def __init__(
        self,
        graph: TaskGraph,
        cache: ResultCache,
        *,
        clock: Callable[[], float],
        root: Path | None = None,
        results: dict[str, tuple[str, bytes]] | None = None,
        session: str | None = None,
    ) -> None:
        self.graph = graph
        # the process that `after_session` results belong to (see process_session)
        self.session = session if session is not None else process_session()
        self.cache = cache
        self.clock = clock
        self.root = root
        # the stored bytes this process holds: name -> (digest of the bytes, bytes)
        self.results = results if results is not None else {}
        self.entries: dict[str, Entry | None] = {}
        self.digests: dict[str, str] = {}
        self.inputs: dict[str, tuple[str, dict[str, str]]] = {}
        self.outputs: dict[str, dict[str, str]] = {}  # task -> its output files' digests now
        # task -> its outputs' stamps before it ran (a file it left as it was, it did not write)
        self.stamps: dict[str, dict[str, tuple[int, int, int] | None]] = {}
        self.forced: set[str] = set()
        self.skip: set[str] = set()
        self.warnings: list[str] = []
        self.ran: set[str] = set()  # tasks executed successfully in this run
        self.rehashed: set[str] = set()  # tasks whose inputs were hashed again after upstream ran
        self.selected: set[str] = set(graph.order)
        self.prepared: set[str] = set()  # tasks made ready to run (imported) in this run
        # tasks the plan found fresh, with the entry it found them fresh by (run.py books
        # them as cached at their turn while nothing they were decided by changed)
        self.fresh: dict[str, Entry] = {}
        self._formats: dict[tuple[str, str], str] = {}  # see format_code
        self._index: Any = None  # a SourceIndex, made to read a registered format's code

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
            self._read_entries([name])
        return self.entries[name]

    def _read_entries(self, names: list[str]) -> None:
        """Read the entries of `names` not read yet, together (a query per few hundred)."""
        found = self.cache.entries(n for n in names if n not in self.entries)
        for name, entry in found.items():
            self.entries[name] = entry
            if entry is None and name in self.cache.lost:
                self._lost_warning(name, self.cache.lost[name])

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
            files = input_file_digests(self._root(spec), spec.inputs, spec.paths, spec.outputs)
            found = self.inputs[spec.name] = (inputs_digest(files), files)
        return found

    def outputs_of(self, spec: TaskSpec) -> dict[str, str]:
        """The digest of each of a task's output files as they are now ("missing")."""
        found = self.outputs.get(spec.name)
        if found is None:
            found = self.outputs[spec.name] = output_digests(self._root(spec), spec.outputs)
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
        if entry.inputs != (self.inputs_of(spec) if spec.inputs else ""):
            return Reason.INPUTS
        digests, upstream = self.digests, entry.upstream
        for dep in spec.deps:
            current = digests.get(dep)
            if current is None or upstream.get(dep) != current:
                return Reason.UPSTREAM
        if len(upstream) != len(spec.deps):  # one it read is no longer upstream (a value gone)
            return Reason.UPSTREAM
        if spec.ordered and tuple(upstream) != spec.deps:  # its {id: result} in a new order
            return Reason.UPSTREAM
        if spec.outputs and entry.extra.get("outputs") != self.outputs_of(spec):
            return Reason.OUTPUTS  # one is missing, or not what the task wrote
        if "format" in entry.extra and self.format_changed(spec, entry):
            return Reason.CODE  # the code of the format its result is stored in
        if entry.session is not None and entry.session != self.session:
            return Reason.EXPIRED
        if entry.expires_at is not None and self.clock() >= entry.expires_at:
            return Reason.EXPIRED
        return None

    def format_changed(self, spec: TaskSpec, entry: Entry) -> bool:
        """Whether the registered format a result is stored in has other code now than when
        it stored it (read from its file: nothing is imported to decide)."""
        kept = entry.extra.get("format")
        if not isinstance(kept, list) or len(kept) != 3 or not all(type(x) is str for x in kept):
            return True
        return bool(self.format_code(spec, kept[0], kept[1]) != kept[2])

    def format_code(self, spec: TaskSpec, path: str, name: str) -> str:
        """The code digest of the class `name` in the file at `path`, relative to the task's
        root (as a copy of the project has it) unless outside it; read once per run."""
        root = self._root(spec)
        file = root / path
        key = str(file), name
        if key not in self._formats:
            from little_pipelines.fingerprint.code import SourceIndex

            if self._index is None:
                self._index = SourceIndex(root)
            try:
                found = self._index.definition_digest(file, name) or "missing"
            except (OSError, SyntaxError, ValueError):
                found = "unreadable"
            self._formats[key] = found
        return self._formats[key]

    def format_file(self, spec: TaskSpec, path: str) -> str:
        """How an entry names a format's file: relative to the task's root when inside it."""
        file, root = Path(path), self._root(spec)
        return file.relative_to(root).as_posix() if file.is_relative_to(root) else str(file)

    def plan(self, selected: list[str]) -> list[PlannedTask]:
        """Decide every selected task as if upstream tasks that must run change their result."""
        known = dict(self.digests)
        self._read_entries(selected)
        plan = []
        specs, entries = self.graph.specs, self.entries
        for name in selected:
            spec = specs[name]
            entry = entries[name]
            reason = None if name in self.skip else self.reason(spec, entry)
            if reason is None and entry is not None:
                self.digests[name] = entry.result
                if name not in self.skip:
                    self.fresh[name] = entry
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
        """A new copy of `name`'s result, read from its stored bytes."""
        data = self.data(name)
        store = self.store_of(name)
        spec = self.graph[name]
        entry = self.entry(name)
        kept = entry.extra.get("format") if entry is not None else None
        stored_by = formats.stored_by(kept, self._root(spec)) if kept is not None else None
        if spec.prepare is not None and not formats.known(store, stored_by):
            spec.prepare()  # its tasks file registers the format it was stored in
        return self.cache.loads(name, data, store, stored_by)

    def store_of(self, name: str) -> str:
        """The format `name`'s stored result is in (store/formats.py)."""
        entry = self.entry(name)
        store = entry.extra.get("store") if entry is not None else None
        return store if isinstance(store, str) else "pickle"

    def decide_now(self, spec: TaskSpec) -> tuple[Entry | None, Reason | None]:
        """The reason to run, decided when the task's turn comes (upstream tasks are done)."""
        if spec.inputs and spec.name not in self.rehashed and any(d in self.ran for d in spec.deps):
            self.inputs.pop(spec.name, None)  # an upstream task may have written the inputs
            self.rehashed.add(spec.name)
        entry = self.entry(spec.name)
        reason = self.reason(spec, entry)
        if reason is not None and spec.inputs:
            # the inputs as they are before the task reads them: a file saved while it runs
            # then differs from what is stored, and the next run runs it again
            self.input_files(spec)
        if reason is not None and spec.outputs:
            self.stamps[spec.name] = output_stamps(self._root(spec), spec.outputs)
        return entry, reason

    def _root(self, spec: TaskSpec) -> Path:
        """The folder a task's inputs and outputs are relative to."""
        return spec.input_root or self.root or Path.cwd()

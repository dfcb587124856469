"""Why a task would run now: the chain of reasons back to its cause, as lines of text."""

from __future__ import annotations

import difflib
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from little_pipelines.engine.graph import TaskGraph
from little_pipelines.engine.plan import decide, process_session
from little_pipelines.engine.spec import TaskSpec
from little_pipelines.engine.supervise import Attempts
from little_pipelines.fingerprint.inputs import input_file_digests, output_digests
from little_pipelines.outcomes import Reason
from little_pipelines.store.cache import ResultCache
from little_pipelines.store.entries import Entry

__all__ = ["explain"]


def _when(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M:%S")


def explain(
    graph: TaskGraph,
    cache: ResultCache,
    name: str,
    *,
    clock: Callable[[], float] = time.time,
    session: str | None = None,
    diff_lines: dict[int, str] | None = None,
) -> list[str]:
    """Lines saying why `name` would run now (or why it is fresh), following upstream causes.

    The lines that are a code diff go into `diff_lines` when given, by index, each with the
    kind of diff line it is ("---", "+++", "@", "-", "+", or " ").
    """
    session = session if session is not None else process_session()
    why = _Explainer(graph, cache, decide(graph, cache, clock=clock, session=session), session)
    why.visit(name, "")
    if diff_lines is not None:
        diff_lines |= why.diff_lines
    return why.lines


class _Explainer:
    """The lines of one `lp why`: each task's reason, then the upstream tasks behind it."""

    def __init__(
        self,
        graph: TaskGraph,
        cache: ResultCache,
        reasons: dict[str, Reason | None],
        session: str,
    ) -> None:
        self.graph, self.cache, self.reasons, self.session = graph, cache, reasons, session
        self.diff_lines: dict[int, str] = {}
        self.lines: list[str] = []
        self.seen: set[str] = set()

    def visit(self, task: str, indent: str) -> None:
        if task in self.seen:
            self.lines.append(f"{indent}'{task}': see above")
            return
        self.seen.add(task)
        spec = self.graph[task]
        entry = self.cache.entry(task)
        reason = self.reasons[task]
        where = f" ({spec.where})" if spec.where else ""
        tags = f"{indent}  tags: {', '.join(spec.tags)} (for -m)"
        if reason is None:
            assert entry is not None
            self._fresh(spec, entry, where, indent)
        elif reason is Reason.UPSTREAM:
            self._upstream(spec, entry, where, indent)
            tags = ""  # (its upstream tasks' lines follow)
        else:
            self._because(
                spec, entry, reason, f"{indent}'{task}'{where} would run: {reason}", indent
            )
        if spec.tags and not indent and tags:
            self.lines.append(tags)
        if spec.attempts is not None and not indent:
            self.lines.append(f"  {_tries(spec.attempts)}")
        if entry is not None and not indent and entry.extra.get("store"):
            self.lines.append(f"  its result is stored as {entry.extra['store']}")
        elif spec.store and not indent:
            self.lines.append(f"  its result is stored as {spec.store} (store=)")
        if spec.group and not indent:
            siblings = len(self.graph.groups.get(spec.group, ()))
            values = spec.meta.get("values") or "its values"
            self.lines.append(
                f"  parametrized: {values} (one of the {siblings} tasks of '{spec.group}')"
            )

    def _fresh(self, spec: TaskSpec, entry: Entry, where: str, indent: str) -> None:
        self.lines.append(
            f"{indent}'{spec.name}'{where} is fresh: its code, inputs and upstream results are"
            f" unchanged since it ran at {_when(entry.stored_at)}"
        )
        if entry.expires_at is not None:
            self.lines.append(f"{indent}  its result expires at {_when(entry.expires_at)}")
        self.lines.extend(_fallbacks(spec, indent))

    def _because(
        self, spec: TaskSpec, entry: Entry | None, reason: Reason, head: str, indent: str
    ) -> None:
        """The cause of a reason other than `upstream`, with its detail (a diff, the files)."""
        lines, task = self.lines, spec.name
        if reason is Reason.NEW and task in self.cache.lost:
            lines.append(
                f"{head} — its stored result is {self.cache.lost[task]} (a value file of the"
                " cache was deleted or changed), so it counts as no result"
            )
        elif reason is Reason.NEW:
            lines.append(f"{head} — no cached result (never run, cleaned, or its last run failed)")
        elif reason is Reason.ALWAYS:
            lines.append(f"{head} — cache=False, so it runs every time")
        elif reason is Reason.EXPIRED:
            assert entry is not None
            if entry.session is not None and entry.session != self.session:
                lines.append(f"{head} — its result lasts one session, and that session ended")
            else:
                lines.append(f"{head} — its result expired at {_when(entry.expires_at or 0)}")
        elif reason is Reason.INPUTS:
            assert entry is not None
            lines.append(f"{head} — an input file changed:")
            lines.extend(_input_changes(spec, entry.extra.get("inputs", {}), indent))
        elif reason is Reason.OUTPUTS:
            assert entry is not None
            lines.append(f"{head} — an output file is not what the task wrote:")
            lines.extend(_output_changes(spec, entry.extra.get("outputs", {}), indent))
        elif reason is Reason.CODE and entry is not None and entry.code == spec.code:
            kept = entry.extra.get("format") or ["?", "?"]
            lines.append(
                f"{head} — the code of the format its result is stored in ({kept[1]}, in"
                f" {kept[0]}) changed since it stored the result"
            )
        elif reason is Reason.CODE:
            assert entry is not None
            lines.append(f"{head} — its code changed:")
            lines.extend(_fallbacks(spec, indent))
            old = self.cache.source(self.cache.source_key(entry.code, spec.file))
            old = old or entry.extra.get("source")
            diff = _code_diff(old, spec, indent)
            for at, line in enumerate(diff, start=len(lines)):
                raw = line[len(indent) + 2 :]
                self.diff_lines[at] = raw[:3] if raw.startswith(("---", "+++")) else raw[:1]
            lines.extend(diff)
        else:  # forced
            lines.append(head)

    def _changed(self, entry: Entry | None, dep: str) -> bool:
        """Whether `dep`'s stored result differs from the one `entry` was made from."""
        dep_entry = self.cache.entry(dep)
        return entry is None or dep_entry is None or entry.upstream.get(dep) != dep_entry.result

    def _upstream(self, spec: TaskSpec, entry: Entry | None, where: str, indent: str) -> None:
        task, reasons = spec.name, self.reasons
        gone = sorted(set(entry.upstream) - set(spec.deps)) if entry is not None else []
        if gone:
            self.lines.append(
                f"{indent}'{task}'{where} would run: upstream — it was made from tasks that are"
                f" no longer upstream of it: {', '.join(gone)}"
            )
            return
        if (
            entry is not None
            and list(entry.upstream) != list(spec.deps)
            and not any(reasons[d] is not None or self._changed(entry, d) for d in spec.deps)
        ):
            self.lines.append(
                f"{indent}'{task}'{where} would run: upstream — its upstream tasks come in"
                f" another order now: {', '.join(spec.deps)}"
            )
            return
        if any(reasons[d] is None and self._changed(entry, d) for d in spec.deps):
            self.lines.append(
                f"{indent}'{task}'{where} would run: upstream — an upstream result changed:"
            )
        else:
            self.lines.append(
                f"{indent}'{task}'{where} may run: upstream — an upstream task will run; if"
                f" its result comes out the same, '{task}' is served from the cache:"
            )
        for dep in spec.deps:
            if reasons[dep] is not None:
                self.visit(dep, indent + "  ")
            elif self._changed(entry, dep):
                self.lines.append(
                    f"{indent}  upstream '{dep}' has a newer result than '{task}' used"
                )


def _fallbacks(spec: TaskSpec, indent: str) -> list[str]:
    """Where reading the task's code fell back to something coarser, and why."""
    notes = spec.meta.get("notes") or ()
    if not notes:
        return []
    head = f"{indent}  its code is read coarsely (a change anywhere below makes it run):"
    return [head, *(f"{indent}    {note}" for note in notes)]


def _input_changes(spec: TaskSpec, stored: dict[str, str], indent: str) -> list[str]:
    root = spec.input_root or Path.cwd()
    current = input_file_digests(root, spec.inputs, spec.paths, spec.outputs)
    out = []
    for rel in sorted(set(stored) | set(current)):
        old, new = stored.get(rel), current.get(rel)
        if old == new:
            continue
        if old is None:
            out.append(f"{indent}  added: {rel}")
        elif new is None or new == "missing":
            out.append(f"{indent}  removed: {rel}")
        else:
            out.append(f"{indent}  changed: {rel}")
    return out or [f"{indent}  (the set of input files changed)"]


def _tries(attempts: Attempts) -> str:
    """`retries=`, `retry_delay=` and `timeout=` in words."""
    said = []
    if attempts.retries:
        apart = f", {attempts.delay:g}s apart" if attempts.delay else ""
        said.append(f"a failure is tried again up to {attempts.retries} times{apart}")
    if attempts.timeout is not None:
        said.append(f"each try stops after {attempts.timeout:g}s")
    return "; ".join(said)


def _output_changes(spec: TaskSpec, stored: dict[str, str], indent: str) -> list[str]:
    current = output_digests(spec.input_root or Path.cwd(), spec.outputs)
    out = []
    for output, now in current.items():
        if now == "missing":
            out.append(f"{indent}  missing: {output}")
        elif stored.get(output) != now:
            out.append(f"{indent}  changed since the task wrote it: {output}")
    return out or [f"{indent}  (the list of outputs changed)"]


def _code_diff(old: str | None, spec: TaskSpec, indent: str) -> list[str]:
    if spec.source is None:
        return []
    new = spec.source()
    if old is None:
        return [f"{indent}  (no earlier source stored to compare with)"]
    diff = difflib.unified_diff(
        old.splitlines(), new.splitlines(), "cached", "now", lineterm="", n=2
    )
    return [f"{indent}  {line}" for line in diff]

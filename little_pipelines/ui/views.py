"""The views of a project's tasks: the rows of `lp list` and `lp graph`, as a table or a graph.

`list_rows` asks the planner for each task's reason (reading no result and importing no
tasks file); the renderers only lay the rows out.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from little_pipelines.outcomes import Reason, TaskState
from little_pipelines.store.entries import Loss
from little_pipelines.ui.console import format_duration
from little_pipelines.ui.text import Line, PlainConsole

if TYPE_CHECKING:
    from rich.console import Console

    from little_pipelines.project.project import Project
    from little_pipelines.ui.common import Context

__all__ = ["list_command", "list_rows", "render_graph", "render_list"]


def list_rows(project: Project) -> list[dict[str, Any]]:
    """One dict per task for `lp list` and `lp graph`: where, needs, state, expiry, duration."""
    from little_pipelines.engine.guard import InProcess

    reasons = project.reasons()
    # a task during which the last run's process ended (os._exit, a crash) shows as failed
    ended = InProcess(project.config.state_dir).leftover(unless_alive=True)
    entries = project.cache.entries(project.graph.order)  # read together
    rows = []
    for spec in project.graph:
        entry = entries[spec.name]
        reason = reasons[spec.name]
        state = _state(entry is not None, reason)
        if spec.name == ended or (entry is None and project.cache.failed_at(spec.name) is not None):
            state = TaskState.FAILED
        elif entry is None and spec.name in project.cache.lost:  # its value file is gone
            damaged = project.cache.lost[spec.name] == Loss.DAMAGED
            state = TaskState.DAMAGED if damaged else TaskState.MISSING
        if entry is not None and entry.session is not None:
            expiry = "after session"
        elif entry is not None and entry.expires_at is not None:
            when = datetime.fromtimestamp(entry.expires_at).strftime("%Y-%m-%d %H:%M")
            expiry = f"expired {when}" if reason is Reason.EXPIRED else when
        else:  # its declared policy; "never" only for a result that never expires
            expiry = spec.meta.get("expire_text") or ("never" if entry is not None else "—")
        rows.append(
            {
                "name": spec.name,
                "file": spec.file,
                "line": spec.line,
                "deps": list(spec.deps),
                "tags": list(spec.tags),
                "group": spec.group or None,
                "values": spec.meta.get("values") or None,
                "outputs": list(spec.outputs),
                "retries": spec.attempts.retries if spec.attempts else 0,
                "retry_delay": spec.attempts.delay if spec.attempts else 0.0,
                "timeout": spec.attempts.timeout if spec.attempts else None,
                "store": spec.store,
                "state": state,
                "reason": None if reason is None else str(reason),
                "expiry": expiry,
                "last_duration_s": None if entry is None else entry.duration_s,
            }
        )
    return rows


def _state(stored: bool, reason: Reason | None) -> TaskState:
    if not stored:
        return TaskState.NEVER_RUN
    return TaskState.FRESH if reason is None else TaskState.STALE


def _state_text(row: dict[str, Any]) -> str:
    if row["state"] == TaskState.STALE:
        return f"stale ({row['reason']})"
    return str(row["state"])


def render_list(console: Console | PlainConsole, rows: list[dict[str, Any]]) -> None:
    """The `lp list` table: aligned columns, the state coloured; fast for thousands of rows."""
    if not rows:
        console.print("no tasks found (tasks are functions named task_<name> in tasks_*.py files)")
        return
    header: tuple[str, ...] = ("task", "file:line", "needs", "state", "expiry", "last run")
    cells: list[tuple[str, ...]] = [
        (
            row["name"],
            f"{row['file']}:{row['line']}" if row["file"] else "—",
            ", ".join(row["deps"]) or "—",
            _state_text(row),
            row["expiry"],
            format_duration(row["last_duration_s"]),
        )
        for row in rows
    ]
    if any(row["tags"] for row in rows):  # a column only for projects that tag their tasks
        header = (*header, "tags")
        cells = [(*c, ", ".join(r["tags"])) for c, r in zip(cells, rows, strict=True)]
    widths = [max(len(c[i]) for c in [header, *cells]) for i in range(len(header))]
    styles = {
        TaskState.FRESH: "green",
        TaskState.STALE: "yellow",
        TaskState.NEVER_RUN: "cyan",
        TaskState.FAILED: "red",
        TaskState.MISSING: "red",
        TaskState.DAMAGED: "red",
    }
    text = Line()
    text.append("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip(), "bold")
    for row, cell in zip(rows, cells, strict=True):
        text.append("\n" + "  ".join(c.ljust(w) for c, w in zip(cell[:3], widths, strict=False)))
        text.append("  " + cell[3].ljust(widths[3]), styles.get(row["state"], ""))
        text.append(
            (
                "  " + "  ".join(c.ljust(w) for c, w in zip(cell[4:], widths[4:], strict=True))
            ).rstrip()
        )
    console.print(text, soft_wrap=True)


def render_graph(rows: list[dict[str, Any]], fmt: str) -> str:
    """The task graph as text, Mermaid or Graphviz dot, each task labelled with its state."""
    if fmt == "mermaid":
        lines = ["graph LR"]
        lines += [f'    {r["name"]}["{r["name"]} ({_state_text(r)})"]' for r in rows]
        lines += [f"    {d} --> {r['name']}" for r in rows for d in r["deps"]]
        return "\n".join(lines)
    if fmt == "dot":
        lines = ["digraph pipeline {", "    rankdir=LR;"]
        lines += [f'    "{r["name"]}" [label="{r["name"]}\\n{_state_text(r)}"];' for r in rows]
        lines += [f'    "{d}" -> "{r["name"]}";' for r in rows for d in r["deps"]]
        return "\n".join([*lines, "}"])
    lines = []
    for row in rows:
        needs = f"  <- {', '.join(row['deps'])}" if row["deps"] else ""
        lines.append(f"{row['name']} [{_state_text(row)}]{needs}")
    return "\n".join(lines)


def list_command(
    ctx: Context,
    as_json: bool = False,
    root: Path | None = None,
    verbose: bool = False,
    quiet: bool = False,
    keyword: str | None = None,
    marker: str | None = None,
    last_failed: bool = False,
) -> None:
    """`lp list`: the table of tasks (or its JSON) on stdout; typer's command and the fast
    lane both call it. `keyword` (-k), `marker` (-m) and `last_failed` (--lf) select."""
    from little_pipelines.ui.common import Selection, errors, open_project, opt, print_notices
    from little_pipelines.ui.output import print_json
    from little_pipelines.ui.text import output_console

    with errors(as_json=as_json):
        project = open_project(ctx, root)
        rows = list_rows(project)
        selection = Selection(keyword, marker, last_failed)
        if selection:
            kept = set(selection.apply(project, None)[0])
            rows = [row for row in rows if row["name"] in kept]
    print_notices(project, opt(ctx, "verbose", verbose))
    if as_json:
        print_json({"version": 1, "pipeline": project.config.name, "tasks": rows})
    else:
        render_list(output_console(stderr=False), rows)

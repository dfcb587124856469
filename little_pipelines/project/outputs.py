"""`@lp.task(outputs=[...])` between tasks: who writes each file, and who reads it.

A task whose `inputs` name a file that another task lists in its `outputs` runs after that
task and is decided by it as by any upstream task (as in make and pytask), without naming it
as a parameter. Two tasks that write one file are an error naming both.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from little_pipelines.errors import DiscoveryError
from little_pipelines.fingerprint.inputs import InputSet, output_file
from little_pipelines.paths import PathFilter
from little_pipelines.project.specs import TaskDef

__all__ = ["made_before", "producers"]


def producers(defs: Iterable[TaskDef], root: Path) -> dict[Path, TaskDef]:
    """Each declared output file with the task that writes it (DiscoveryError for two)."""
    found: dict[Path, TaskDef] = {}
    for task in defs:
        for output in task.outputs:
            path = output_file(root, output)
            first = found.setdefault(path, task)
            if first is not task:
                raise DiscoveryError.at(
                    f"{output} is an output of task '{task.name}' and of task '{first.name}'"
                    f" ({first.rel}:{first.line}); a file has one task that writes it",
                    task.rel,
                    task.line,
                )
    return found


def made_before(
    task: TaskDef,
    made: dict[Path, TaskDef],
    root: Path,
    paths: PathFilter,
    deps: tuple[str, ...] = (),
) -> tuple[str, ...]:
    """The tasks whose outputs `task`'s inputs name, by name (sorted, itself and its `deps`
    left out: a writer it names as a parameter is upstream already)."""
    if not task.inputs or not made:
        return ()
    wanted = InputSet(root, task.inputs, paths)
    named = set(deps)
    return tuple(
        sorted(
            {
                p.name
                for path, p in made.items()
                if p is not task and p.name not in named and wanted.matches(path)
            }
        )
    )

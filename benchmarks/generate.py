"""Generate layered benchmark projects of N runner tasks (SPEC section 10).

A project is a `pyproject.toml` naming the pipeline "bench", a `helpers.py` that some tasks
use, and tasks files of `per_file` tasks each, spread over a few sub-folders. Tasks are placed
in layers; a task depends on 0 to 3 tasks of earlier layers (mostly the previous one), chosen
with a seeded random generator, so the same arguments always give the same project.

Each task returns the sum of its upstream results plus a small constant; `edit_task` changes
that constant in one task, which is the "edit one task" measurement.

    python benchmarks/generate.py 1000 /tmp/bench-1000     # write a project to look at
"""

from __future__ import annotations

import argparse
import os
import random
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "Layout",
    "affected_by",
    "edit_task",
    "generate",
    "middle_task",
    "plan_tasks",
    "reached",
    "task_name",
    "users_of",
]

HELPERS = '''"""Helpers shared by some benchmark tasks (editing them re-executes their users)."""

OFFSET = 1


def bump(value: int) -> int:
    """The value plus OFFSET."""
    return value + OFFSET
'''

PYPROJECT = '[tool.little_pipelines]\nname = "bench"\n'

# Every HELPER_EVERY-th task calls `bump` from helpers.py instead of adding inline.
HELPER_EVERY = 7


@dataclass(frozen=True, slots=True)
class Layout:
    """What `generate` wrote: the tasks by layer, their dependencies and their files."""

    root: Path
    layers: list[list[str]]
    deps: dict[str, tuple[str, ...]]
    files: dict[str, Path]

    @property
    def names(self) -> list[str]:
        """Every task name, layer by layer."""
        return [name for layer in self.layers for name in layer]

    def __len__(self) -> int:
        return len(self.deps)


def task_name(i: int) -> str:
    """The name of the i-th generated task (`t00042`)."""
    return f"t{i:05d}"


def layer_sizes(n: int, layers: int) -> list[int]:
    """`n` split into `layers` near-equal parts (fewer layers when n is small)."""
    layers = max(1, min(layers, n))
    base, extra = divmod(n, layers)
    return [base + (1 if i < extra else 0) for i in range(layers)]


def _pick_deps(rng: random.Random, previous: list[str], older: list[str]) -> tuple[str, ...]:
    """0 to 3 distinct upstream tasks: mostly from the previous layer, some from older ones."""
    count = rng.randint(0, 3)
    chosen: list[str] = []
    for _ in range(count):
        pool = previous if not older or rng.random() < 0.7 else older
        dep = rng.choice(pool)
        if dep not in chosen:
            chosen.append(dep)
    return tuple(sorted(chosen))


def plan_tasks(
    n: int, *, layers: int = 10, seed: int = 0
) -> tuple[list[list[str]], dict[str, tuple[str, ...]]]:
    """Task names by layer and each task's dependencies; deterministic for a given seed."""
    rng = random.Random(seed)
    by_layer: list[list[str]] = []
    deps: dict[str, tuple[str, ...]] = {}
    older: list[str] = []  # every layer before the previous one
    i = 0
    for size in layer_sizes(n, layers):
        layer = [task_name(i + k) for k in range(size)]
        i += size
        previous = by_layer[-1] if by_layer else []
        for name in layer:
            deps[name] = _pick_deps(rng, previous, older) if previous else ()
        if previous:
            older.extend(previous)
        by_layer.append(layer)
    return by_layer, deps


def task_source(name: str, deps: tuple[str, ...], index: int) -> str:
    """One task function: the sum of its upstream results plus the constant 1."""
    total = " + ".join(deps) if deps else "0"
    expr = f"bump({total})" if index % HELPER_EVERY == 0 else total
    return f"def task_{name}({', '.join(deps)}):\n    return {expr} + 1\n"


def file_source(names: Iterable[str], deps: dict[str, tuple[str, ...]]) -> str:
    """A tasks file holding the given tasks."""
    parts = ['"""Generated benchmark tasks."""\n\nfrom helpers import bump\n']
    for name in names:
        parts.append("\n\n" + task_source(name, deps[name], int(name[1:])))
    return "".join(parts)


def file_path(root: Path, index: int, folders: int) -> Path:
    """Where the index-th tasks file goes: `part_<k>/tasks_<index>.py`."""
    return root / f"part_{index % folders}" / f"tasks_{index:04d}.py"


def generate(
    root: Path,
    n: int,
    *,
    per_file: int | None = None,
    folders: int = 4,
    layers: int = 10,
    seed: int = 0,
) -> Layout:
    """Write a project of `n` tasks below `root` (created if missing) and describe it.

    `per_file` defaults to 100 tasks per file, fewer for small projects so that every folder
    gets at least one file.
    """
    if per_file is None:
        per_file = max(1, min(100, -(-n // folders)))
    by_layer, deps = plan_tasks(n, layers=layers, seed=seed)
    names = [name for layer in by_layer for name in layer]
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text(PYPROJECT)
    (root / "helpers.py").write_text(HELPERS)
    files: dict[str, Path] = {}
    for index, start in enumerate(range(0, n, per_file)):
        chunk = names[start : start + per_file]
        path = file_path(root, index, folders)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(file_source(chunk, deps))
        files.update(dict.fromkeys(chunk, path))
    return Layout(root=root, layers=by_layer, deps=deps, files=files)


def middle_task(layout: Layout) -> str:
    """A task in the middle layer that has both upstream and downstream tasks, if any does."""
    layer = layout.layers[len(layout.layers) // 2]
    users = {dep for deps in layout.deps.values() for dep in deps}
    for name in layer:
        if layout.deps[name] and name in users:
            return name
    return layer[len(layer) // 2]


def affected_by(layout: Layout, name: str) -> set[str]:
    """The task and everything downstream of it: what an edit of `name` re-executes."""
    return reached(users_of(layout.deps), name)


def users_of(deps: Mapping[str, Iterable[str]]) -> dict[str, list[str]]:
    """Each task's direct dependents."""
    users: dict[str, list[str]] = {task: [] for task in deps}
    for task, needs in deps.items():
        for dep in needs:
            users[dep].append(task)
    return users


def reached(users: Mapping[str, list[str]], name: str) -> set[str]:
    """`name` and every task downstream of it, given each task's dependents."""
    found: set[str] = set()
    stack = [name]
    while stack:
        task = stack.pop()
        if task not in found:
            found.add(task)
            stack.extend(users[task])
    return found


def edit_task(layout: Layout, name: str, constant: int) -> None:
    """Set the constant that task `name` adds to `constant` (its code and result change).

    The file's modification time is moved to a new whole second if needed: Python's bytecode
    cache compares whole-second times and sizes, and a same-size edit within the second of the
    last import would otherwise run the stale bytecode.
    """
    path = layout.files[name]
    before = path.stat().st_mtime
    text = path.read_text()
    pattern = re.compile(rf"(^def task_{name}\(.*\):\n    return .*\+ )(\d+)$", re.MULTILINE)
    new, count = pattern.subn(rf"\g<1>{constant}", text)
    if count != 1:
        raise ValueError(f"task '{name}' not found in {path}")
    path.write_text(new)
    after = path.stat().st_mtime
    if int(after) == int(before):
        os.utime(path, (after + 1, after + 1))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", type=int, help="number of tasks")
    parser.add_argument("root", type=Path, help="folder to write the project into")
    parser.add_argument("--per-file", type=int, default=None)
    parser.add_argument("--folders", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    layout = generate(
        args.root, args.n, per_file=args.per_file, folders=args.folders, seed=args.seed
    )
    edges = sum(len(d) for d in layout.deps.values())
    print(
        f"wrote {len(layout)} tasks in {len(set(layout.files.values()))} files, "
        f"{len(layout.layers)} layers, {edges} dependencies, to {args.root}"
    )


if __name__ == "__main__":
    main()

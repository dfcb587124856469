"""The DAG every tool gets: N tiny-int tasks in 20 layers, and the one task an edit changes.

Task j of layer k > 0 depends on 1 to 3 tasks of a 3-wide window of layer k - 1 around the
same relative position, and with probability 0.1 also on one task of the same window in layer
k - 2; layer 0 depends on nothing. The window keeps the downstream closure of a middle task a
narrow cone (tens of tasks) instead of most of the graph. Each task returns the sum of its
upstream results plus CONSTANT. The generator is seeded, so the same N gives the same DAG.

The edited task is the middle-layer task whose closure (itself and everything downstream) is
closest to EDIT_CLOSURE; at N = 1,000 it is exactly 60 tasks (checked by `edit_target`).
"""

from __future__ import annotations

import os
import random
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from generate import reached, users_of

__all__ = ["CONSTANT", "EDIT_CLOSURE", "Dag", "edit_constant", "plan"]

LAYERS = 20
SEED = 1
SKIP_PROBABILITY = 0.1
CONSTANT = 1
EDIT_CLOSURE = 60
PER_FILE = 100


@dataclass(frozen=True)
class Dag:
    """Task names by layer and each task's upstream tasks (in layer order)."""

    layers: list[list[str]]
    deps: dict[str, tuple[str, ...]]

    @property
    def names(self) -> list[str]:
        """Every task, layer by layer: a topological order."""
        return [name for layer in self.layers for name in layer]

    def __len__(self) -> int:
        return len(self.deps)

    def files(self, per_file: int = PER_FILE) -> list[list[str]]:
        """The tasks of each file, `per_file` consecutive tasks per file."""
        names = self.names
        return [names[i : i + per_file] for i in range(0, len(names), per_file)]

    def file_index(self, name: str, per_file: int = PER_FILE) -> int:
        """Which file (of `files`) holds task `name`."""
        return self.names.index(name) // per_file

    def closure(self, name: str) -> set[str]:
        """The task and everything downstream of it: what an edit of it must re-execute."""
        return reached(self._downstream, name)

    @cached_property
    def _downstream(self) -> dict[str, list[str]]:
        return users_of(self.deps)

    @cached_property
    def edit_target(self) -> str:
        """The middle-layer task an edit changes: closure size closest to EDIT_CLOSURE."""
        layer = self.layers[len(self.layers) // 2]
        name = min(layer, key=lambda task: abs(len(self.closure(task)) - EDIT_CLOSURE))
        if len(self) == 1_000:
            assert len(self.closure(name)) == EDIT_CLOSURE, "the generator rule changed"
        return name


def _window(layer: list[str], j: int, size: int) -> list[str]:
    """The up to 3 tasks of `layer` around relative position j / size."""
    centre = j * len(layer) // size
    return layer[max(0, centre - 1) : centre + 2]


def plan(n: int, *, layers: int = LAYERS, seed: int = SEED) -> Dag:
    """The DAG of `n` tasks `t00000` ...; deterministic for a given seed."""
    rng = random.Random(seed)
    layers = max(1, min(layers, n))
    base, extra = divmod(n, layers)
    by_layer: list[list[str]] = []
    deps: dict[str, tuple[str, ...]] = {}
    i = 0
    for k in range(layers):
        size = base + (1 if k < extra else 0)
        layer = [f"t{i + j:05d}" for j in range(size)]
        i += size
        for j, name in enumerate(layer):
            chosen: set[str] = set()
            if k >= 1:
                window = _window(by_layer[-1], j, size)
                chosen.update(rng.sample(window, min(len(window), rng.randint(1, 3))))
            if k >= 2 and rng.random() < SKIP_PROBABILITY:
                chosen.add(rng.choice(_window(by_layer[-2], j, size)))
            deps[name] = tuple(sorted(chosen))
        by_layer.append(layer)
    return Dag(by_layer, deps)


def edit_constant(path: Path, function: str, constant: int) -> None:
    """Set the constant that `function` in `path` adds (its code and result change).

    Every tool's generated function ends in `return <upstream sum> + <constant>`. The file's
    modification time moves to a new whole second if needed: Python's bytecode check compares
    whole seconds and sizes, so a same-size edit within the second would run stale bytecode.
    """
    before = path.stat().st_mtime
    pattern = re.compile(rf"^(def {function}\(.*\n    return .*\+ )(\d+)$", re.MULTILINE)
    text, count = pattern.subn(rf"\g<1>{constant}", path.read_text())
    if count != 1:
        raise ValueError(f"function {function} not found in {path}")
    path.write_text(text)
    after = path.stat().st_mtime
    if int(after) == int(before):
        os.utime(path, (after + 1, after + 1))

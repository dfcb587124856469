"""Property: after any sequence of edits, every cached result equals a from-scratch run.

Hypothesis builds small projects from a grammar of the constructs the code reader must follow
(constants rebound on branches and in loops, `match`, imports on branches, lazy imports inside
functions, helper chains across modules, classes, decorator registries, globals changed at
import time) and applies random edits: a literal changed anywhere, or a comment or blank line
added. After each edit the project is run again with its cache, and a copy is run from
scratch; every task's result must be the same in both (no stale value, ever), and an edit that
changes only comments or layout must execute nothing.

Runs are in-process through `Project` (what `lp run` calls), each with fresh module state, as a
new `lp` process would have.
"""

from __future__ import annotations

import shutil
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from little_pipelines.outcomes import Status
from little_pipelines.project.project import Project

# Every `{n}` is a literal the edits may change.
TEMPLATE = {
    "helpers.py": """
        BASE = {0}
        if BASE > 4:
            BASE = BASE - {1}
        else:
            BASE = BASE + {2}

        COUNTER = {3}


        def _bump():
            global COUNTER
            COUNTER += {4}


        _bump()


        def double(x):
            return x * {5}


        class Scaler:
            FACTOR = {6}

            def scale(self, x):
                return x * self.FACTOR


        REG = {{}}


        def register(name):
            def deco(fn):
                REG[name] = fn
                return fn
            return deco


        def lazy():
            from deep import g
            return g({7})
        """,
    "deep.py": """
        def g(x):
            return x + {8}
        """,
    "chain.py": """
        import deep


        def first():
            return deep.g({9}) * 2
        """,
    "other.py": """
        def pick():
            return {10}
        """,
    "other2.py": """
        def pick():
            return {11}
        """,
    "tasks_main.py": """
        import chain
        import helpers
        from helpers import REG, register

        FLAG = {12} > 4
        if FLAG:
            from other import pick
        else:
            from other2 import pick

        TOTAL = {13}
        for i in range({14}):
            TOTAL += i

        match {15} % 3:
            case 0:
                MODE = {16}
            case _:
                MODE = {17}

        K = {18}


        @register("inc")
        def inc(x):
            return x + {19}
        """,
}
SLOTS = 20

ATOMS = [
    "helpers.BASE",
    "TOTAL",
    "MODE",
    "pick()",
    "helpers.lazy()",
    "helpers.double(2)",
    "helpers.Scaler().scale(3)",
    "REG['inc'](1)",
    "helpers.COUNTER",
    "K",
    "chain.first()",
    "local_k()",  # a local variable named like the constant K
]
LOCAL_K = "\n\ndef local_k():\n    K = 100\n    return K\n"


def render(slots: list[int], tasks: list[tuple[list[int], list[int]]]) -> dict[str, str]:
    """The project's files for these literal values and tasks (atoms used, upstream tasks)."""
    files = {rel: textwrap.dedent(text).format(*slots) for rel, text in TEMPLATE.items()}
    body = [files["tasks_main.py"], LOCAL_K]
    for i, (atoms, deps) in enumerate(tasks):
        params = ", ".join(f"t{d}" for d in deps)
        terms = [ATOMS[a] for a in atoms] + [f"t{d}" for d in deps]
        body.append(f"\n\ndef task_t{i}({params}):\n    return {' + '.join(terms)}\n")
    files["tasks_main.py"] = "".join(body)
    return files


def _forget_modules(root: Path) -> None:
    """What a new process starts without: the project's modules, and its root on sys.path."""
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if file and Path(file).is_relative_to(root):
            del sys.modules[name]
    while str(root) in sys.path:
        sys.path.remove(str(root))


def run(root: Path) -> tuple[dict[str, Any], set[str]]:
    """Every task's result after `lp run` in `root`, and the tasks that executed."""
    _forget_modules(root)
    project = Project(root)
    try:
        report = project.run()
        assert report.ok, [(t.name, t.error) for t in report.tasks if t.error]
        results = {name: project.result(name) for name in project.names()}
    finally:
        project.cache.close()
        _forget_modules(root)
    return results, {t.name for t in report.tasks if t.status is Status.EXECUTED}


def write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        if not path.exists() or path.read_text() != text:
            path.write_text(text)


tasks_strategy = st.integers(min_value=1, max_value=4).flatmap(
    lambda n: st.tuples(
        *(
            st.tuples(
                st.lists(st.integers(0, len(ATOMS) - 1), min_size=1, max_size=3),
                st.lists(st.integers(0, i - 1), max_size=2, unique=True) if i else st.just([]),
            )
            for i in range(n)
        )
    )
)
edit_strategy = st.one_of(
    st.tuples(st.just("value"), st.integers(0, SLOTS - 1), st.integers(0, 9)),
    st.tuples(st.just("cosmetic"), st.sampled_from(sorted(TEMPLATE)), st.integers(0, 2)),
)
COSMETIC = ["\n# a comment\n", "\n\n\n", "  # trailing\n"]


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    slots=st.lists(st.integers(0, 9), min_size=SLOTS, max_size=SLOTS),
    tasks=tasks_strategy,
    edits=st.lists(edit_strategy, min_size=1, max_size=4),
)
# found by this test: the `if FLAG:` around an import decides which `pick` a task calls
@example(slots=[0] * 11 + [1, 5] + [0] * 7, tasks=(([3], []),), edits=[("value", 12, 0)])
def test_no_edit_ever_leaves_a_stale_result(
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
    slots: list[int],
    tasks: tuple[tuple[list[int], list[int]], ...],
    edits: list[tuple[str, Any, int]],
) -> None:
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    base = tmp_path_factory.mktemp("prop")
    root, scratch = base / "project", base / "scratch"
    root.mkdir()
    files = render(slots, list(tasks))
    write(root, files)
    run(root)
    for kind, where, value in edits:
        if kind == "value":
            slots = [*slots]
            slots[where] = value
            files = render(slots, list(tasks))
        else:
            files = {**files, where: files[where] + COSMETIC[value]}
        write(root, files)
        results, ran = run(root)
        if kind == "cosmetic":
            assert ran == set(), f"a {kind} edit of {where} executed {ran}"
        shutil.rmtree(scratch, ignore_errors=True)
        scratch.mkdir()
        write(scratch, files)
        assert results == run(scratch)[0], f"stale after editing {where}"

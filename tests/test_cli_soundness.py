"""No stale result, ever (issue 6, families 1-4), through real `lp run --json` processes.

One project holds a task per construct the reader must follow. It is run once; each case then
edits a copy of it, runs `lp` again and checks the exact set of tasks that executed, and that
the values the `sink` task saw equal those of a from-scratch run of a second copy. Tasks whose
code the reader cannot follow fall back to something coarser: they rerun on every edit of
project code, and `lp why` names the fallback.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from e2e_helpers import Project, executed

FILES = {
    "helpers.py": """
        COUNTER = 0


        def _bump():
            global COUNTER
            COUNTER += 10


        _bump()


        def named():
            from deep import g
            return g()
        """,
    "deep.py": "def g():\n    return 100\n",
    "lazymod.py": "def value():\n    return 1\n",
    "v1.py": "def f():\n    return 'v1'\n",
    "v2.py": "def f():\n    return 'v2'\n",
    "plug_a.py": "def value():\n    return 7\n",
    "vendor/vendored.py": "def v():\n    return 5\n",
    "registry.py": """
        REGISTRY = {}


        def register(name):
            def deco(fn):
                REGISTRY[name] = fn
                return fn
            return deco
        """,
    "tasks_main.py": """
        import importlib
        import json
        import sys

        import helpers
        import little_pipelines as lp
        from registry import REGISTRY, register

        LIMIT = 10
        if sys.maxsize:
            LIMIT = LIMIT + 1

        TOTAL = 0
        for i in range(3):
            TOTAL += i

        MODE = "b"
        match MODE:
            case "a":
                FACTOR = 1
            case _:
                FACTOR = 5

        V2 = True
        if V2:
            from v2 import f
        else:
            from v1 import f


        @register("scale")
        def scale(x):
            return x * 3


        def task_branch():
            return LIMIT


        def task_loop():
            return TOTAL


        def task_match():
            return FACTOR


        def task_branch_import():
            return f()


        def task_lazy():
            import lazymod
            return lazymod.value()


        def task_as_value():
            return getattr(helpers, "named")()


        def task_counter():
            return helpers.COUNTER


        def task_registry():
            return REGISTRY["scale"](2)


        def task_dynamic():
            return importlib.import_module("plug_" + "a").value()


        def task_control():
            return 42


        @lp.task(cache=False)
        def task_sink(this, branch, loop, match, branch_import, lazy, as_value, counter,
                      registry, dynamic, control, vendored):
            values = dict(branch=branch, loop=loop, match=match, branch_import=branch_import,
                          lazy=lazy, as_value=as_value, counter=counter, registry=registry,
                          dynamic=dynamic, control=control, vendored=vendored)
            (this.root / "sink.json").write_text(json.dumps(values, sort_keys=True))
            return values
        """,
    "tasks_vendor.py": """
        import sys
        from pathlib import Path

        sys.path.insert(0, str(Path(__file__).parent / "vendor"))
        import vendored


        def task_vendored():
            return vendored.v()
        """,
}

# Tasks that fall back to something coarser: they rerun on any edit of project code, and
# `as_value` on any edit of helpers.py (the module it uses as a value counts whole).
COARSE = {"dynamic", "vendored"}
WHOLE = {"helpers.py": {"as_value"}}

# case -> (file, old, new, the task that must rerun)
EDITS = {
    "rebound-in-if": ("tasks_main.py", "LIMIT = 10", "LIMIT = 20", "branch"),
    "rebound-in-for": ("tasks_main.py", "TOTAL = 0", "TOTAL = 5", "loop"),
    "bound-in-match": ("tasks_main.py", "FACTOR = 5", "FACTOR = 6", "match"),
    "import-on-a-branch": ("v2.py", "'v2'", "'v2b'", "branch_import"),
    "lazy-import": ("lazymod.py", "return 1", "return 2", "lazy"),
    "module-as-a-value": ("deep.py", "return 100", "return 101", "as_value"),
    "global-changed-at-import": ("helpers.py", "COUNTER += 10", "COUNTER += 20", "counter"),
    "registry-decorator": ("tasks_main.py", "x * 3", "x * 4", "registry"),
    "dynamic-import": ("plug_a.py", "return 7", "return 8", "dynamic"),
    "sys-path": ("vendor/vendored.py", "return 5", "return 6", "vendored"),
}


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """The project, run once: every task has a cached result."""
    project = Project(tmp_path_factory.mktemp("soundness"))
    for rel, text in FILES.items():
        project.write(rel, text)
    assert executed(project.run()) == {*(e[3] for e in EDITS.values()), "control", "sink"}
    return project


def _from_scratch(project: Project, tmp_path: Path) -> dict[str, object]:
    """The sink's values from a run of a copy of `project` with no cache."""
    fresh = project.copy(tmp_path / "fresh")
    shutil.rmtree(fresh.state)
    fresh.run()
    return json.loads(fresh.read("sink.json"))


@pytest.mark.parametrize("case", EDITS)
def test_an_edit_reruns_its_users_and_no_value_is_stale(
    ran: Project, tmp_path: Path, case: str
) -> None:
    project = ran.copy(tmp_path / "edited")
    before = json.loads(project.read("sink.json"))
    rel, old, new, task = EDITS[case]
    project.replace(rel, old, new)
    assert executed(project.run()) == {task, "sink"} | COARSE | WHOLE.get(rel, set())
    after = json.loads(project.read("sink.json"))
    assert after[task] != before[task]
    assert after == _from_scratch(project, tmp_path)


def test_comment_and_formatting_edits_run_only_the_uncached_sink(
    ran: Project, tmp_path: Path
) -> None:
    project = ran.copy(tmp_path / "edited")
    project.replace("tasks_main.py", "LIMIT = 10", "LIMIT   =   10  # the limit")
    project.replace("helpers.py", "COUNTER += 10", "COUNTER += 10  # bump")
    project.replace("vendor/vendored.py", "return 5", "return (5)")
    assert executed(project.run()) == {"sink"}


@pytest.mark.parametrize(
    ("task", "named"),
    [
        ("dynamic", "a dynamic import (import_module), so every project module counts"),
        ("vendored", "tasks_vendor.py:4: sys.path changed"),
        ("as_value", "helpers.py: a module used as a value counts whole"),
    ],
)
def test_lp_why_names_the_fallback(ran: Project, task: str, named: str) -> None:
    result = ran.lp("why", task)
    assert result.rc == 0, str(result)
    assert named in result.flat_err + " ".join(result.out.split()), str(result)


OBJECTS = """
    import little_pipelines as lp

    INPUTS = ["data.txt"]

    extra = lp.Task("extra", expire_results=lp.expire.never())


    @extra.process
    def run(this):
        return 1


    @lp.task(inputs=INPUTS)
    def task_reads(this):
        return (this.root / "data.txt").read_text()


    def task_first():
        return 1


    def task_second():
        return 2
    """


def test_a_file_that_must_be_imported_keeps_precise_digests(tmp_path: Path) -> None:
    """lp.Task objects and non-literal inputs no longer make every task of the file rerun."""
    project = Project(tmp_path)
    project.write("tasks_objects.py", OBJECTS)
    project.write("data.txt", "a")
    assert executed(project.run()) == {"extra", "reads", "first", "second"}
    project.replace("tasks_objects.py", "return 2", "return 3")
    assert executed(project.run()) == {"second"}
    (project.root / "data.txt").write_text("b")
    assert executed(project.run()) == {"reads"}


def test_a_literal_task_variable_does_not_make_a_file_imported(tmp_path: Path) -> None:
    project = Project(tmp_path)
    project.write(
        "tasks_x.py",
        """
        from pathlib import Path

        Path(__file__).with_name("imported.mark").write_text("x")
        task_count = 3


        def task_a():
            return task_count
        """,
    )
    assert executed(project.run()) == {"a"}
    (project.root / "imported.mark").unlink()
    assert project.lp("list").rc == 0
    assert not project.exists("imported.mark")


@pytest.mark.parametrize("why", ["new", "forced", "code"])
def test_an_input_saved_while_its_task_runs_makes_the_next_run_run_it(
    tmp_path: Path, why: str
) -> None:
    # the task reads its input, then (as an editor would, mid-run) the file is saved again:
    # the stored result is of the old content, so it must not be taken as fresh for the new
    p = Project(tmp_path)
    p.write("data.txt", "v4\n")
    p.write(
        "tasks_read.py",
        "import little_pipelines as lp\n\n\n"
        '@lp.task(inputs=["data.txt"])\n'
        "def task_read(this):\n"
        '    seen = (this.root / "data.txt").read_text()\n'
        '    (this.root / "data.txt").write_text(seen.replace("v4", "v5"))\n'
        "    return seen\n",
    )
    if why != "new":
        p.run()
        p.write("data.txt", "v4\n")
        p.run()  # (now its stored inputs say v5, and the file says v4 again: it runs)
        p.write("data.txt", "v4\n")
    if why == "code":
        p.replace("tasks_read.py", "    return seen\n", "    return str(seen)\n")
    p.run(*(["--force"] if why == "forced" else []))
    again = p.run()
    assert executed(again) == {"read"}, again
    assert [t["reason"] for t in again["tasks"]] == ["inputs"]
    assert p.lp("show", "read").out == "v5\n"

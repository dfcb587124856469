"""The loader runs exactly the source on disk (never older bytecode), for tasks and helpers."""

from __future__ import annotations

import gc
import os
import py_compile
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e_helpers import users_module

from little_pipelines.engine.execute import RemoteCall, run_remote
from little_pipelines.project.loader import Modules, ProjectFinder, worker_modules

SECOND = int(time.time()) - 100  # a whole second in the past, shared by both saves


def save(path: Path, text: str, fraction_ns: int) -> Path:
    """Write `text` and pin the mtime inside SECOND, as a quick second save within it would."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    stamp = SECOND * 1_000_000_000 + fraction_ns
    os.utime(path, ns=(stamp, stamp))
    return path


def compile_stale(path: Path) -> None:
    """Write the pyc Python itself would trust: it records the size and whole-second mtime."""
    py_compile.compile(str(path), invalidation_mode=py_compile.PycInvalidationMode.TIMESTAMP)


@pytest.fixture
def root(tmp_path: Path) -> Iterator[Path]:
    """A project root; afterwards sys.path, sys.modules and sys.meta_path are as before."""
    project = tmp_path / "proj"
    project.mkdir()
    path, modules, finders = list(sys.path), dict(sys.modules), list(sys.meta_path)
    yield project
    sys.path[:] = path
    for name in set(sys.modules) - set(modules):
        if users_module(sys.modules[name]):  # (lp's and libraries' own modules stay loaded)
            del sys.modules[name]
    sys.meta_path[:] = finders


def helper_name(root: Path) -> str:
    """A helper module name of this test only (one process imports many projects' helpers)."""
    return "helpers_" + str(abs(hash(root)))


def user_of(root: Path, helper: str) -> Path:
    """A tasks file whose task returns `helper.f()`."""
    return save(
        root / "tasks_a.py", f"import {helper}\n\ndef task_y():\n    return {helper}.f()\n", 0
    )


def test_a_same_size_same_second_edit_of_a_tasks_file_runs_the_new_code(root: Path) -> None:
    tasks = save(root / "tasks_a.py", "def task_x():\n    return 'v1'\n", 100_000_000)
    compile_stale(tasks)
    assert Modules(root).load(tasks).task_x() == "v1"

    save(tasks, "def task_x():\n    return 'v2'\n", 600_000_000)
    assert (root / "__pycache__").is_dir()  # the old bytecode is there, and looks valid
    assert Modules(root).load(tasks).task_x() == "v2"  # a new process: no pyc is read


def test_the_same_importer_reimports_a_file_whose_bytes_changed(root: Path) -> None:
    tasks = save(root / "tasks_a.py", "def task_x():\n    return 'v1'\n", 100_000_000)
    modules = Modules(root)
    modules.load(tasks)
    save(tasks, "def task_x():\n    return 'v2'\n", 100_000_000)  # same size and same mtime
    assert modules.load(tasks).task_x() == "v2"


def test_a_touched_but_unchanged_tasks_file_is_not_imported_again(root: Path) -> None:
    tasks = save(root / "tasks_a.py", "RUNS = []\nRUNS.append(1)\n", 100_000_000)
    modules = Modules(root)
    first = modules.load(tasks)
    os.utime(tasks, ns=(time.time_ns(), time.time_ns()))
    assert modules.load(tasks) is first
    assert first.RUNS == [1]


def test_a_helper_module_runs_from_its_current_source(root: Path) -> None:
    helper = helper_name(root)
    source = save(root / f"{helper}.py", "def f():\n    return 'h1'\n", 100_000_000)
    tasks = user_of(root, helper)
    compile_stale(source)
    assert Modules(root).load(tasks).task_y() == "h1"

    save(source, "def f():\n    return 'h2'\n", 600_000_000)
    del sys.modules[helper]  # as in a new process
    assert Modules(root).load(tasks).task_y() == "h2"


def test_helpers_in_a_package_run_from_source_too(root: Path) -> None:
    package = helper_name(root)
    save(root / package / "__init__.py", "", 0)
    inner = save(root / package / "calc.py", "VALUE = 'p1'\n", 100_000_000)
    tasks = save(
        root / "tasks_a.py",
        f"from {package}.calc import VALUE\n\ndef task_z():\n    return VALUE\n",
        0,
    )
    compile_stale(inner)
    assert Modules(root).load(tasks).task_z() == "p1"

    save(inner, "VALUE = 'p2'\n", 600_000_000)
    for name in (package, f"{package}.calc"):
        del sys.modules[name]
    assert Modules(root).load(tasks).task_z() == "p2"


def test_no_bytecode_is_written(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    helper = helper_name(root)
    save(root / f"{helper}.py", "def f():\n    return 1\n", 0)
    tasks = user_of(root, helper)
    assert Modules(root).load(tasks).task_y() == 1
    assert not (root / "__pycache__").exists()


def test_a_reimported_tasks_file_never_sees_an_older_helper(root: Path) -> None:
    helper = helper_name(root)
    source = save(root / f"{helper}.py", "def f():\n    return 'h1'\n", 0)
    tasks = user_of(root, helper)
    modules = Modules(root)
    assert modules.load(tasks).task_y() == "h1"
    save(source, "def f():\n    return 'h2'\n", 0)
    save(tasks, f"import {helper}\n\ndef task_y():\n    return {helper}.f() \n", 0)
    assert modules.load(tasks).task_y() == "h2"


def test_a_long_lived_worker_runs_a_changed_helper(root: Path) -> None:
    """A Dask worker outlives a run: the next task it runs imports the edited helper afresh."""
    helper = helper_name(root)
    source = save(root / f"{helper}.py", "def f():\n    return 'h1'\n", 100_000_000)
    tasks = user_of(root, helper)
    call = RemoteCall("y", str(root), str(tasks), "task_y", False, modules=worker_modules)
    importers: dict[str, Modules] = {}  # the worker's, kept from one task to the next
    try:
        first = run_remote(call, {}, importers)
        save(source, "def f():\n    return 'h2'\n", 100_000_000)  # same size, same mtime
        second = run_remote(call, {}, importers)
    finally:
        importers[str(root)].close()
    import pickle

    assert (pickle.loads(first.data), pickle.loads(second.data)) == ("h1", "h2")


def test_close_and_garbage_collection_remove_the_finder(root: Path) -> None:
    tasks = save(root / "tasks_a.py", "X = 1\n", 0)
    modules = Modules(root)
    modules.load(tasks)
    assert modules.finder in sys.meta_path
    modules.close()
    assert modules.finder not in sys.meta_path

    other = Modules(root)
    other.load(tasks)
    finder = other.finder
    del other
    gc.collect()
    assert finder not in sys.meta_path


def test_the_finder_comes_after_builtins_and_before_the_path_finder(root: Path) -> None:
    modules = Modules(root)
    modules.ensure_importable()
    import importlib.machinery

    at = sys.meta_path.index(modules.finder)
    assert sys.meta_path[at + 1] is importlib.machinery.PathFinder
    modules.ensure_importable()
    assert sys.meta_path.count(modules.finder) == 1
    modules.close()


def test_installed_packages_inside_the_root_are_not_project_code(tmp_path: Path) -> None:
    finder = ProjectFinder([tmp_path], excluded=[tmp_path / "env"])
    assert finder.owns(str(tmp_path / "helpers.py"))
    assert finder.owns(str(tmp_path / "lib" / "pkg" / "mod.py"))
    assert not finder.owns(str(tmp_path / ".venv/lib/python3.11/site-packages/pandas/core.py"))
    assert not finder.owns(str(tmp_path / "env" / "lib" / "python3.11" / "os.py"))
    assert not finder.owns(str(tmp_path.parent / "elsewhere.py"))


def test_module_names_are_unique_per_path_whatever_the_characters(tmp_path: Path) -> None:
    modules = Modules(tmp_path)
    names = {
        modules.module_name(tmp_path / rel)
        for rel in ["tasks_a-b.py", "tasks_a_b.py", "tasks_a.b.py", "x/tasks_a.py", "x_/tasks_a.py"]
    }
    assert len(names) == 5
    name = modules.module_name(tmp_path / "sub" / "tasks_a-b.py")
    assert name.startswith("lp_tasks__sub__tasks_a_b__")
    assert name.isidentifier()
    assert Modules(tmp_path).module_name(tmp_path / "sub" / "tasks_a-b.py") == name  # stable


def test_two_files_whose_names_sanitise_alike_load_as_two_modules(root: Path) -> None:
    dash = save(root / "tasks_a-b.py", "WHO = 'dash'\n", 0)
    under = save(root / "tasks_a_b.py", "WHO = 'underscore'\n", 0)
    modules = Modules(root)
    assert (modules.load(dash).WHO, modules.load(under).WHO) == ("dash", "underscore")
    assert sys.modules[modules.module_name(dash)].WHO == "dash"


def test_a_long_lived_project_runs_a_changed_helper_after_reload(root: Path) -> None:
    """`lp shell`: validate (reload) then execute must use the helper's new source."""
    from little_pipelines.project.project import Project

    helper = helper_name(root)
    save(root / f"{helper}.py", "def f():\n    return 1\n", 0)
    user_of(root, helper)
    project = Project(root)
    try:
        project.run()
        assert project.result("y") == 1
        save(root / f"{helper}.py", "def f():\n    return 2\n", 500)
        project.reload()
        project.run()
        assert project.result("y") == 2
    finally:
        project.cache.close()
        project.modules.close()


def test_close_takes_the_root_off_sys_path_only_if_it_put_it_there(root: Path) -> None:
    modules = Modules(root)
    modules.ensure_importable()
    assert str(root) in sys.path and modules.finder in sys.meta_path
    modules.close()
    assert str(root) not in sys.path and modules.finder not in sys.meta_path
    sys.path.insert(0, str(root))  # the user's own entry stays
    other = Modules(root)
    other.ensure_importable()
    other.close()
    assert str(root) in sys.path


def test_an_in_process_lp_run_leaves_sys_path_and_finders_as_they_were(root: Path) -> None:
    from typer.testing import CliRunner

    from little_pipelines.ui.cli import app

    save(root / "helper_lp.py", "def f():\n    return 1\n", 0)
    save(root / "tasks_a.py", "import helper_lp\n\ndef task_a():\n    return helper_lp.f()\n", 0)
    path, finders = list(sys.path), list(sys.meta_path)
    result = CliRunner().invoke(app, ["-C", str(root), "run", "-q"])
    assert result.exit_code == 0, result.output
    assert (sys.path, sys.meta_path) == (path, finders)


def test_a_worker_keeps_one_log_sink_for_its_tasks(root: Path) -> None:
    """Adding a loguru sink costs milliseconds: a worker adds one for all its tasks, and
    each task's records still reach only its own file."""
    tasks = save(
        root / "tasks_log.py",
        "def task_a(this):\n    this.logger.info('from a')\n    return 1\n\n"
        "def task_b(this):\n    this.logger.info('from b')\n    return 2\n",
        0,
    )
    logs_dir = root / "logs"
    calls = [
        RemoteCall(n, str(root), str(tasks), f"task_{n}", True, str(logs_dir), worker_modules)
        for n in ("a", "b")
    ]
    importers: dict[str, Modules] = {}
    kept: dict[str, Any] = {}
    try:
        outcomes = [run_remote(call, {}, importers, kept) for call in calls]
    finally:
        importers[str(root)].close()
        for logs in kept.values():
            logs.__exit__(None, None, None)
    assert [o.error for o in outcomes] == [None, None]
    assert list(kept) == [str(logs_dir)]  # one TaskLogs (one sink) for both tasks
    a, b = ((logs_dir / f"{n}.log").read_text() for n in "ab")
    assert "from a" in a and "from b" not in a
    assert "from b" in b and "from a" not in b

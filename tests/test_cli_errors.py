"""Bad input gets a clear error and loses nothing (SPEC 9), end to end.

Each case starts from a project that has run once and has pending work, breaks it, checks the
exit code and the message (file, line, "did you mean"), then repairs it and checks that the
cache holds exactly what it held before: same states, same stored durations.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from e2e_helpers import Project, lp_many, statuses

GOOD = """
    def task_clean_orders():
        return [1, 2]

    def task_total(clean_orders):
        return sum(clean_orders)
"""


@pytest.fixture(scope="module")
def prebuilt(tmp_path_factory: pytest.TempPathFactory) -> tuple[Project, dict]:
    """A project that has run once and whose `total` is now stale: there is work to do."""
    p = Project(tmp_path_factory.mktemp("prebuilt"))
    p.write("tasks_good.py", GOOD)
    p.run()
    p.replace("tasks_good.py", "sum(clean_orders)", "sum(clean_orders) * 10")
    before = p.snapshot()
    assert before["total"][:2] == ("stale", "code")
    return p, before


@pytest.fixture
def base(tmp_path: Path, prebuilt: tuple[Project, dict]) -> tuple[Project, dict]:
    """A fresh copy of the prebuilt project, and its `lp list` snapshot."""
    project, before = prebuilt
    return project.copy(tmp_path), before


LP = "import little_pipelines as lp\n"

# Each case: files to write, then what the message must contain, and the JSON error's file/line.
BROKEN_TASKS = {
    "syntax error": (
        {"tasks_bad.py": "def task_bad():\n    return 1\n\ndef task_worse(:\n    pass\n"},
        ["tasks_bad.py:4", "syntax"],
        ("tasks_bad.py", 4),
    ),
    "unknown dependency": (
        {"tasks_bad.py": "x = 1\n\n\ndef task_report(clean_ordrs):\n    return clean_ordrs\n"},
        ["tasks_bad.py:4", "'clean_ordrs'", "did you mean 'clean_orders'? A parameter"],
        ("tasks_bad.py", 4),
    ),
    "cycle": (
        {"tasks_bad.py": "def task_egg(hen):\n    return 1\n\ndef task_hen(egg):\n    return 2\n"},
        ["cycle"],
        ("tasks_bad.py", None),
    ),
    "duplicate name": (
        {"sub/tasks_dup.py": "X = 1\n\ndef task_clean_orders():\n    return []\n"},
        ["'clean_orders'", "tasks_good.py:1", "sub/tasks_dup.py:3"],
        (None, None),
    ),
    "*args": (
        {"tasks_bad.py": "def task_bad(*parts):\n    return parts\n"},
        ["tasks_bad.py:1", "*parts"],
        ("tasks_bad.py", 1),
    ),
    "**kwargs": (
        {"tasks_bad.py": "X = 1\ndef task_bad(clean_orders, **rest):\n    return rest\n"},
        ["tasks_bad.py:2", "**rest"],
        ("tasks_bad.py", 2),
    ),
    "positional-only": (
        {"tasks_bad.py": "def task_bad(clean_orders, /):\n    return 1\n"},
        ["tasks_bad.py:1", "positional-only"],
        ("tasks_bad.py", 1),
    ),
    "import error": (
        {"tasks_bad.py": "import json\nimport no_such_module_xyz\n\ndef task_bad():\n    pass\n"},
        ["tasks_bad.py:2", "no_such_module_xyz"],
        ("tasks_bad.py", 2),
    ),
    "too deep for Python's parser": (
        {"tasks_bad.py": "def task_deep():\n    return " + "+".join(["1"] * 100_000) + "\n"},
        ["tasks_bad.py: too deeply nested to read"],
        ("tasks_bad.py", None),
    ),
    "inputs that are not paths": (
        {"tasks_bad.py": f"{LP}@lp.task(inputs=1)\ndef task_x():\n    pass\n"},
        ["tasks_bad.py:2", "inputs must be a path or a list of paths, not 1"],
        ("tasks_bad.py", 2),
    ),
    "inputs that are not paths, read by importing": (
        {"tasks_bad.py": f"{LP}N = 1\n@lp.task(inputs=N)\ndef task_x():\n    pass\n"},
        ["tasks_bad.py:3", "inputs must be a path or a list of paths, not 1"],
        ("tasks_bad.py", 3),
    ),
    "error while importing": (
        {"tasks_bad.py": "X = 1\nY = X / 0\n\ndef task_bad():\n    return Y\n"},
        ["tasks_bad.py:2", "ZeroDivisionError"],
        ("tasks_bad.py", 2),
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", list(BROKEN_TASKS))
def test_broken_tasks_file(base: tuple[Project, dict], case: str) -> None:
    files, phrases, (file, line) = BROKEN_TASKS[case]
    p, before = base
    for rel, text in files.items():
        p.write(rel, text)
    human, as_json = p.lp_many(("run",), ("run", "--json"))
    assert human.rc == 2, str(human)
    for phrase in phrases:
        assert phrase in human.flat_err, (phrase, human.err)
    assert "Traceback" not in human.err
    assert as_json.rc == 2, str(as_json)
    data = as_json.json
    assert data["ok"] is False and data.get("tasks") is None
    error = data["error"]
    assert set(error) == {"type", "message", "file", "line"}
    if file is not None:
        assert error["file"] == file
    if line is not None:
        assert error["line"] == line
    for rel in files:
        (p.root / rel).unlink()
    assert p.snapshot() == before, "an error stored or lost something"


def test_cycle_is_printed_as_a_path(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write(
        "tasks_c.py",
        """
        def task_a(c):
            return 1

        def task_b(a):
            return 2

        def task_c(b):
            return 3

        def task_d():
            return 4
        """,
    )
    result = p.lp("run")
    assert result.rc == 2, str(result)
    cycle = re.search(r"\b(\w) -> (\w) -> (\w) -> (\w)\b", result.flat_err)
    assert cycle, result.err
    assert cycle[1] == cycle[4] and {cycle[1], cycle[2], cycle[3]} == {"a", "b", "c"}
    assert "tasks_c.py" in result.flat_err
    assert p.lp("list").rc == 2
    p.replace("tasks_c.py", "def task_a(c):", "def task_a():")
    assert set(p.states().values()) == {("never run", "new")}


def test_import_error_is_reported_when_the_module_is_first_needed(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write("tasks_ok.py", "def task_fine():\n    return 1\n")
    p.write(
        "tasks_pandas.py",
        """
        import no_such_dataframe_lib as pd

        def task_frame():
            return pd.DataFrame()
        """,
    )
    # reading does not import: list, graph and a run of other tasks work
    assert p.lp("list").rc == 0
    assert p.lp("graph").rc == 0
    assert statuses(p.run("fine")) == {"fine": ("executed", "new")}
    result = p.lp("run")
    assert result.rc == 2, str(result)
    assert "tasks_pandas.py:1" in result.flat_err
    assert "no_such_dataframe_lib" in result.flat_err
    assert p.states()["frame"] == ("never run", "new")
    assert p.states()["fine"] == ("fresh", None)


def test_invalid_configuration(base: tuple[Project, dict]) -> None:
    p, before = base
    cases = {
        "name = 3": "name",
        'paths = "src"': "paths",
        'paths = ["nowhere"]': "nowhere",
        'exclude = "build"': "exclude",
        "jobs = 0": "jobs",
        'jobs = "many"': "jobs",
        "cache_dir = 1": "cache_dir",
        'nmae = "x"': "did you mean 'name'",
        "name = [": "TOML",
    }
    copies = []  # one copy of the project per bad value, all run at once
    for i, line in enumerate(cases):
        copy = p.copy(p.tmp / f"case{i}")
        copy.write("pyproject.toml", f"[tool.little_pipelines]\n{line}\n")
        copies.append(copy)
    results = lp_many([(("run",), c.root) for c in copies], p.home)
    for (line, phrase), result in zip(cases.items(), results, strict=True):
        assert result.rc == 2, (line, str(result))
        assert "pyproject.toml" in result.err.replace("\n", ""), (line, result.err)
        assert phrase in result.flat_err, (line, result.err)
        assert "Traceback" not in result.err
    bad = copies[0]
    data = bad.run(rc=2)
    assert data["error"]["type"] == "ConfigError"
    (bad.root / "pyproject.toml").unlink()
    assert bad.snapshot() == before


def test_error_messages_are_not_wrapped_off_a_terminal(tmp_path: Path) -> None:
    p = Project(tmp_path / ("deeply_nested_folder_" * 3))
    p.write("pyproject.toml", "[tool.little_pipelines]\nname = [\n")
    p.write("tasks_with_a_rather_long_name.py", "def task_x(:\n")
    result = p.lp("run")
    assert result.rc == 2
    assert str(p.root / "pyproject.toml") in result.err
    (p.root / "pyproject.toml").unlink()
    result = p.lp("run")
    line = next(x for x in result.err.splitlines() if "error" in x)
    assert "tasks_with_a_rather_long_name.py:1: syntax error" in line, result.err


def test_unknown_task_names_everywhere(base: tuple[Project, dict]) -> None:
    p, before = base
    calls = [
        ("run", "total", "clean_ordes"),
        ("why", "totl"),
        ("show", "totl"),
        ("clean", "totl"),
    ]
    for args, result in zip(calls, p.lp_many(*calls), strict=True):
        assert result.rc == 2, (args, str(result))
        assert "did you mean" in result.flat_err, (args, result.err)
    assert p.snapshot() == before


def test_corrupt_cache_names_the_reset_command(base: tuple[Project, dict]) -> None:
    p, _ = base
    db = p.state / "cache.db"
    assert db.is_file()
    db.write_bytes(b"this is not a database, just garbage " * 200)
    for args in (("run",), ("list",)):
        result = p.lp(*args)
        assert result.rc == 2, (args, str(result))
        assert "lp clean" in result.flat_err, result.err
        assert "Traceback" not in result.err
    data = p.run(rc=2)
    assert data["error"]["type"] == "CacheError"
    assert "lp clean" in data["error"]["message"]
    cleaned = p.lp("clean")
    assert cleaned.rc == 0, str(cleaned)
    assert statuses(p.run()) == {
        "clean_orders": ("executed", "new"),
        "total": ("executed", "new"),
    }


def test_a_task_that_raises_fails_alone(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write(
        "tasks_r.py",
        """
        def task_ok():
            return 1

        def task_bad(ok):
            raise KeyError("no such column")

        def task_after(bad):
            return bad

        def task_side():
            return 2
        """,
    )
    data = p.run(rc=1)
    assert statuses(data) == {
        "ok": ("executed", "new"),
        "bad": ("failed", "new"),
        "after": ("upstream_failed", None),
        "side": ("executed", "new"),
    }
    assert p.lp("run").rc == 1
    states = p.states()
    assert states["ok"][0] == states["side"][0] == "fresh"
    assert states["bad"][0] == "failed"
    assert states["after"][0] == "never run"


def test_a_task_that_exits_fails_alone(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write(
        "tasks_x.py",
        """
        import sys

        def task_quit():
            sys.exit(3)

        def task_other():
            return 2
        """,
    )
    data = p.run(rc=1)
    assert statuses(data) == {"quit": ("failed", "new"), "other": ("executed", "new")}
    assert data["tasks"][0]["error"]["type"] == "SystemExit"


UNSTORABLE = """
    def task_fn():
        return lambda x: x

    def task_gen():
        return (i for i in range(3))

    def task_uses_fn(fn):
        return fn

    def task_fine():
        return 1
"""


def test_a_result_that_cannot_be_stored_fails_alone(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write("tasks_u.py", UNSTORABLE)
    data = p.run(rc=1)
    assert statuses(data) == {
        "fn": ("failed", "new"),
        "gen": ("failed", "new"),
        "uses_fn": ("upstream_failed", None),
        "fine": ("executed", "new"),
    }
    errors = {t["name"]: t["error"] for t in data["tasks"]}
    assert "'fn'" in errors["fn"]["message"] and "function" in errors["fn"]["message"]
    assert "'gen'" in errors["gen"]["message"] and "generator" in errors["gen"]["message"]
    human = p.lp("run")
    assert human.rc == 1
    assert "generator" in human.flat_err and "fn" in human.flat_err
    states = p.states()
    assert states["fn"][0] == states["gen"][0] == "failed"  # no result to use
    assert states["uses_fn"][0] == "never run"
    assert states["fine"] == ("fresh", None)


@pytest.mark.parametrize("process", [False, True])  # typer's lane, and the fast lane
@pytest.mark.parametrize("kind", ["missing", "file"])
def test_a_root_that_is_not_a_folder_exits_2_and_writes_nothing(
    tmp_path: Path, kind: str, process: bool
) -> None:
    place = tmp_path / "place"
    place.mkdir()
    root = place / "nowhere"
    if kind == "file":
        root.write_text("def task_a():\n    return 1\n")
    p = Project(tmp_path, process=process)
    for args in (["run"], ["run", "--json"], ["list"]):
        result = p.lp("--root", str(root), *args)
        assert result.rc == 2, (args, result)
        assert f"the project root {root}" in result.out + result.err
    assert [q.name for q in place.iterdir()] == (["nowhere"] if kind == "file" else [])
    assert kind == "missing" or root.is_file()


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs /proc (no folder can be made)")
def test_a_cache_folder_that_cannot_be_made_says_so_not_how_to_reset_it(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write("pyproject.toml", '[tool.little_pipelines]\ncache_dir = "/proc/lp-no-such-cache"\n')
    p.write("tasks_a.py", "def task_a():\n    return 1\n")
    for result in p.lp_many(("run",), ("list",)):
        assert result.rc == 2, str(result)
        assert "cannot create the cache folder /proc/lp-no-such-cache" in result.flat_err
        assert "cache_dir in pyproject.toml" in result.flat_err
        assert "rm -r" not in result.err  # deleting what is not there resets nothing


def test_an_exception_whose_message_cannot_be_shown_fails_its_task_alone(tmp_path: Path) -> None:
    """Its own `__str__` raising must not turn a task's failure into lp's internal error."""
    p = Project(tmp_path)
    p.write(
        "tasks_x.py",
        "class Odd(Exception):\n    def __str__(self):\n        raise RuntimeError('no')\n\n\n"
        "def task_odd():\n    raise Odd()\n\n\ndef task_fine():\n    return 1\n",
    )
    for args in ((), ("-j", "2")):
        result = p.lp("run", "--force", *args)
        assert result.rc == 1 and "internal error" not in result.flat_err
        assert "Odd: <exception str() failed>" in result.flat_err  # (as Python shows it)
        assert "1 executed, 0 cached, 1 failed" in result.flat_err
        data = p.run("--force", *args, rc=1)
        odd = next(t for t in data["tasks"] if t["name"] == "odd")
        assert odd["error"]["message"].startswith("(its message could not be shown")

"""`lp run` end to end (SPEC 4 and 8): selection, options, `--json`, exit codes and output.

Each test writes a project into tmp_path and runs the real `lp` in a subprocess.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from e2e_helpers import PACKAGE_DIR, Project, executed, lp_command, make_env, statuses

CHAIN = """
    import pathlib

    def touch(name):
        pathlib.Path(__file__).with_name(name).write_text("ran")

    def task_a():
        touch("a.ran")
        return 1

    def task_b(a):
        touch("b.ran")
        return a + 1

    def task_c(b):
        touch("c.ran")
        return b + 1

    def task_x():
        touch("x.ran")
        return "x"
"""


def chain(tmp_path: Path) -> Project:
    p = Project(tmp_path)
    p.write("tasks_chain.py", CHAIN)
    return p


def ran(p: Project) -> set[str]:
    """Which tasks of CHAIN were called (their side-effect files), and forget them."""
    found = set()
    for path in p.root.glob("*.ran"):
        found.add(path.stem)
        path.unlink()
    return found


# --json schema --------------------------------------------------------------------------------


def test_json_object_follows_the_schema(tmp_path: Path) -> None:
    p = Project(tmp_path, "shop")
    p.write(
        "pyproject.toml",
        """
        [tool.little_pipelines]
        name = "sales"
        """,
    )
    p.write(
        "tasks_sales.py",
        """
        def task_orders():
            return [1, 2, 0]


        def task_clean_orders(orders):
            return [o for o in orders if o]
        """,
    )
    p.write(
        "pipelines/tasks_report.py",
        """
        def task_report(clean_orders):
            return len(clean_orders)

        def task_broken():
            raise ValueError("no data today")
        """,
    )
    result = p.lp("run", "--json")
    assert result.rc == 1, str(result)
    assert len(result.out.strip().splitlines()) == 1, "exactly one JSON object on stdout"
    data = result.json
    required = {"version", "pipeline", "root", "ok", "trigger", "error", "tasks", "counts"}
    assert required | {"duration_s"} <= set(data)
    assert data["version"] == 1
    assert data["pipeline"] == "sales"
    assert data["root"] == str(p.root.resolve())
    assert Path(data["root"]).is_absolute()
    assert data["ok"] is False
    assert data["trigger"] == []
    assert data["error"] is None
    assert isinstance(data["duration_s"], float) and data["duration_s"] >= 0
    assert data["counts"] == {
        "executed": 3,
        "cached": 0,
        "failed": 1,
        "skipped": 0,
        "upstream_failed": 0,
    }
    by_name = {t["name"]: t for t in data["tasks"]}
    names = [t["name"] for t in data["tasks"]]
    assert sorted(names) == ["broken", "clean_orders", "orders", "report"]
    # execution order: every task after the tasks it needs
    assert names.index("orders") < names.index("clean_orders") < names.index("report")
    for task in data["tasks"]:
        assert set(task) == {"name", "status", "reason", "duration_s", "file", "line", "error"}
        assert isinstance(task["duration_s"], float) and task["duration_s"] >= 0
        assert isinstance(task["line"], int)
    assert by_name["orders"] == {
        **by_name["orders"],
        "status": "executed",
        "reason": "new",
        "file": "tasks_sales.py",
        "line": 1,
        "error": None,
    }
    assert (by_name["clean_orders"]["file"], by_name["clean_orders"]["line"]) == (
        "tasks_sales.py",
        5,
    )
    assert (by_name["report"]["file"], by_name["report"]["line"]) == (
        "pipelines/tasks_report.py",
        1,
    )
    broken = by_name["broken"]
    assert (broken["status"], broken["reason"]) == ("failed", "new")
    assert broken["error"] == {"type": "ValueError", "message": "no data today"}

    again = p.run(rc=1)
    assert statuses(again)["orders"] == ("cached", None)
    assert again["counts"]["cached"] == 3


def test_prints_in_tasks_do_not_break_json_stdout(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write(
        "tasks_p.py",
        """
        print("importing tasks_p")

        def task_talk():
            print("hello from talk")
            return 1
        """,
    )
    result = p.lp("run", "--json")
    assert result.rc == 0, str(result)
    assert statuses(result.json) == {"talk": ("executed", "new")}


def test_json_when_the_project_cannot_load_has_error_instead_of_tasks(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write("tasks_a.py", "def task_a():\n    return 1\n")
    p.write("tasks_bad.py", "def task_b():\n    return (\n")
    result = p.lp("run", "--json")
    assert result.rc == 2, str(result)
    data = result.json
    assert data["version"] == 1
    assert data["ok"] is False
    assert data["root"] == str(p.root.resolve())
    assert data.get("tasks") is None
    error = data["error"]
    assert set(error) == {"type", "message", "file", "line"}
    assert error["file"] == "tasks_bad.py"
    assert error["line"] == 2
    assert "tasks_bad.py" in error["message"]


# what runs ------------------------------------------------------------------------------------


def test_run_executes_everything_then_nothing(tmp_path: Path) -> None:
    p = chain(tmp_path)
    first = p.run()
    assert statuses(first) == {
        "a": ("executed", "new"),
        "b": ("executed", "new"),
        "c": ("executed", "new"),
        "x": ("executed", "new"),
    }
    assert ran(p) == {"a", "b", "c", "x"}
    second = p.run()
    assert all(v == ("cached", None) for v in statuses(second).values())
    assert second["counts"]["cached"] == 4 and second["ok"] is True
    assert ran(p) == set()


def test_run_named_task_runs_it_and_its_upstream_only(tmp_path: Path) -> None:
    p = chain(tmp_path)
    data = p.run("b")
    assert [t["name"] for t in data["tasks"]] == ["a", "b"]
    assert ran(p) == {"a", "b"}
    data = p.run("c", "x")
    assert statuses(data) == {
        "a": ("cached", None),
        "b": ("cached", None),
        "c": ("executed", "new"),
        "x": ("executed", "new"),
    }
    assert ran(p) == {"c", "x"}


def test_force_reruns_the_selected_tasks(tmp_path: Path) -> None:
    p = chain(tmp_path)
    p.run()
    ran(p)
    assert statuses(p.run("--force")) == {n: ("executed", "forced") for n in "abcx"}
    assert ran(p) == {"a", "b", "c", "x"}
    assert statuses(p.run("b", "-f")) == {"a": ("executed", "forced"), "b": ("executed", "forced")}
    assert ran(p) == {"a", "b"}


def test_dry_run_says_what_would_run_and_runs_nothing(tmp_path: Path) -> None:
    p = chain(tmp_path)
    data = p.run("--dry-run")
    assert statuses(data) == {n: ("would_run", "new") for n in "abcx"}
    assert ran(p) == set()
    assert set(p.states().values()) == {("never run", "new")}

    p.run()
    ran(p)
    p.replace("tasks_chain.py", "return a + 1", "return a + 2")
    data = p.run("-n")
    assert statuses(data) == {
        "a": ("cached", None),
        "b": ("would_run", "code"),
        "c": ("would_run", "upstream"),
        "x": ("cached", None),
    }
    assert ran(p) == set()
    assert p.states()["b"] == ("stale", "code")


def test_dry_run_human_output_names_tasks_and_reasons(tmp_path: Path) -> None:
    p = chain(tmp_path)
    result = p.lp("run", "--dry-run")
    assert result.rc == 0, str(result)
    assert re.search(r"\ba\b.*would_run.*\(new\)", result.err), result.err
    assert "would run" in result.err and "failed" not in result.err  # nothing ran
    assert ran(p) == set()
    p.run()
    fresh = p.lp("run", "--dry-run")
    assert re.search(r"^0 would run, \d+ cached in ", fresh.err, re.M), fresh.err


def test_failure_finishes_independent_tasks_by_default(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write(
        "tasks_f.py",
        """
        import pathlib

        def task_a():
            raise RuntimeError("a is broken")

        def task_b(a):
            return a

        def task_z():
            pathlib.Path(__file__).with_name("z.ran").write_text("")
            return 1
        """,
    )
    data = p.run(rc=1)
    assert statuses(data) == {
        "a": ("failed", "new"),
        "b": ("upstream_failed", None),
        "z": ("executed", "new"),
    }
    assert data["ok"] is False
    assert p.exists("z.ran")
    b = next(t for t in data["tasks"] if t["name"] == "b")
    assert b["error"]["type"] == "DependencyFailure"
    assert "a" in b["error"]["message"]


def test_exitfirst_stops_at_the_first_failure(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write(
        "tasks_f.py",
        """
        import pathlib

        def task_a():
            raise RuntimeError("a is broken")

        def task_z():
            pathlib.Path(__file__).with_name("z.ran").write_text("")
            return 1
        """,
    )
    data = p.run("--exitfirst", rc=1)
    assert statuses(data)["a"] == ("failed", "new")
    assert statuses(data).get("z", ("skipped", None))[0] == "skipped"
    assert not p.exists("z.ran")
    assert p.lp("run", "-x").rc == 1
    assert not p.exists("z.ran")
    assert p.states()["z"] == ("never run", "new")


def test_no_upstream_feeds_stale_upstream_with_a_warning(tmp_path: Path) -> None:
    p = chain(tmp_path)
    p.run()
    ran(p)
    p.replace("tasks_chain.py", "return 1", "return 10")  # a is now stale
    p.replace("tasks_chain.py", "return a + 1", "return a + 100")  # b's code changed
    result = p.lp("run", "--json", "b", "--no-upstream")
    assert result.rc == 0, str(result)
    data = result.json
    assert statuses(data) == {"b": ("executed", "code")}
    assert ran(p) == {"b"}
    warnings = [*data.get("warnings", []), *result.err.splitlines()]
    assert any("'a'" in w and "stale" in w for w in warnings), str(result)
    assert p.states()["a"] == ("stale", "code")

    human = p.lp("run", "b", "--no-upstream", "--force")
    assert human.rc == 0, str(human)
    assert "warning" in human.err and "stale" in human.err and "'a'" in human.err
    assert ran(p) == {"b"}


def test_no_upstream_with_a_missing_upstream_result_is_an_error(tmp_path: Path) -> None:
    p = chain(tmp_path)
    result = p.lp("run", "b", "--no-upstream")
    assert result.rc == 2, str(result)
    assert "'a'" in result.flat_err and "lp run a" in result.flat_err
    assert ran(p) == set()
    assert set(p.states().values()) == {("never run", "new")}


def test_no_upstream_needs_task_names(tmp_path: Path) -> None:
    p = chain(tmp_path)
    result = p.lp("run", "--no-upstream")
    assert result.rc == 2
    assert "--no-upstream" in result.err
    assert ran(p) == set()


def test_unknown_task_on_the_command_line(tmp_path: Path) -> None:
    p = chain(tmp_path)
    result = p.lp("run", "bb")
    assert result.rc == 2, str(result)
    assert "no task named 'bb'" in result.flat_err
    assert "did you mean 'b'" in result.flat_err
    data = p.run("bb", rc=2)
    assert data["error"]["type"] == "TaskNotFoundError"
    assert "did you mean 'b'" in data["error"]["message"]
    assert ran(p) == set()


def test_jobs_option_is_accepted(tmp_path: Path) -> None:
    p = chain(tmp_path)
    data = p.run("--jobs", "2")
    assert executed(data) == {"a", "b", "c", "x"}
    assert statuses(p.run("-j", "2"))["c"] == ("cached", None)


# output ---------------------------------------------------------------------------------------

FAILING = """
    def helper(value):
        return value["missing"]

    def task_ok():
        return {}

    def task_bad(ok):
        return helper(ok)
"""


def test_plain_output_off_a_terminal_has_no_escapes(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write("tasks_f.py", FAILING)
    for args in (("run",), ("list",), ("why", "bad")):
        result = p.lp(*args, no_color=False)
        assert "\x1b" not in result.out + result.err, (args, result)
        assert "\r" not in result.err, (args, result)


def test_failing_task_traceback_is_trimmed_to_user_frames(tmp_path: Path) -> None:
    p = Project(tmp_path)
    path = p.write("tasks_f.py", FAILING)
    result = p.lp("run")
    assert result.rc == 1, str(result)
    err = result.err
    assert "bad failed" in err or "✗ bad" in err
    assert "tasks_f.py:7" in err  # where the task is defined
    assert "KeyError: 'missing'" in err
    assert f'File "{path}", line 8, in task_bad' in err
    assert f'File "{path}", line 2, in helper' in err
    assert PACKAGE_DIR not in err
    assert "engine.py" not in err and "runner.py" not in err and "discovery.py" not in err
    assert result.out == ""


def test_human_output_quiet_and_verbose(tmp_path: Path) -> None:
    p = chain(tmp_path)
    p.write(
        "tasks_talk.py",
        """
        import little_pipelines as lp

        @lp.task(cache=False)
        def task_talk(this):
            this.logger.info("hello from the task log")
            return 1
        """,
    )
    result = p.lp("run")
    assert result.rc == 0, str(result)
    assert re.search(r"\bb\s+executed \(new\)", result.err), result.err
    assert "5 executed, 0 cached, 0 failed" in result.err
    assert "hello from the task log" not in result.err

    quiet = p.lp("run", "-q")  # only failures and totals
    assert quiet.rc == 0, str(quiet)
    assert "talk" not in quiet.err and "always" not in quiet.err
    assert "1 executed, 4 cached, 0 failed" in quiet.err

    loud = p.lp("-v", "run")  # cached tasks too, and the task's log on stderr
    assert loud.rc == 0, str(loud)
    assert "hello from the task log" in loud.err
    assert re.search(r"\bb\s+cached", loud.err), loud.err
    log = (p.state / "logs" / "talk.log").read_text()
    assert log.count("hello from the task log") == 3


def test_python_m_and_both_scripts_run_the_same_command(tmp_path: Path) -> None:
    p = chain(tmp_path)
    bindir = Path(sys.executable).parent
    commands = {
        "lp": [str(bindir / "lp")],
        "little-pipelines": [str(bindir / "little-pipelines")],
        "python -m": [sys.executable, "-m", "little_pipelines"],
    }
    for target, (name, command) in zip("abx", commands.items(), strict=True):
        proc = subprocess.run(
            [*command, "run", target],
            cwd=p.root,
            env=make_env(p.home),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 0, (name, proc.stderr)
    assert ran(p) == {"a", "b", "x"}


# interruption and a second process ------------------------------------------------------------

SLOW = """
    import pathlib
    import time

    HERE = pathlib.Path(__file__).parent

    def task_first():
        return 1

    def task_slow(first):
        with open(HERE / "started.log", "a") as f:
            f.write("started\\n")
        for _ in range(300):
            if (HERE / "release").exists():
                return 2
            time.sleep(0.05)
        raise TimeoutError("never released")

    def task_after(slow):
        return 3
"""


def _wait_for(path: Path, text: str = "", timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and text in path.read_text():
            return
        time.sleep(0.05)
    raise AssertionError(f"{path} never contained {text!r}")


def _start(p: Project, *args: str, stderr: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*lp_command(), *args],
        cwd=p.root,
        env=make_env(p.home),
        stdout=subprocess.PIPE,
        stderr=stderr.open("w"),
        stdin=subprocess.DEVNULL,
        text=True,
    )


def test_interrupt_exits_130_and_keeps_what_finished(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write("tasks_s.py", SLOW)
    proc = _start(p, "run", "--json", stderr=tmp_path / "err.txt")
    try:
        _wait_for(p.root / "started.log")
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130, (tmp_path / "err.txt").read_text()
    assert json.loads(out)["ok"] is False
    assert p.states() == {
        "first": ("fresh", None),
        "slow": ("failed", "new"),  # interrupted: no result to use
        "after": ("never run", "new"),
    }


def test_a_second_process_waits_for_the_first_and_says_so(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write("tasks_s.py", SLOW)
    first = _start(p, "run", "--json", stderr=tmp_path / "first.txt")
    second = None
    try:
        _wait_for(p.root / "started.log")
        second = _start(p, "run", "--json", stderr=tmp_path / "second.txt")
        _wait_for(tmp_path / "second.txt", "waiting")
        (p.root / "release").write_text("")
        out1, _ = first.communicate(timeout=30)
        out2, _ = second.communicate(timeout=30)
    finally:
        first.kill()
        if second is not None:
            second.kill()
    assert first.returncode == 0 and second.returncode == 0
    assert executed(json.loads(out1)) == {"first", "slow", "after"}
    assert executed(json.loads(out2)) == set()  # the second saw what the first stored
    assert p.read("started.log") == "started\n"


def test_a_slow_import_is_not_charged_to_the_task_and_is_shown_apart(tmp_path: Path) -> None:
    # the first task to import a heavy library (pandas: 300 ms) must not look slow for it
    p = Project(tmp_path)
    p.write("heavy.py", "import time\n\ntime.sleep(0.2)  # a library that takes long to import\n")
    p.write("tasks_h.py", "import heavy\n\n\ndef task_mean():\n    return 2.5\n")
    got = p.run()
    [task] = got["tasks"]
    assert task["duration_s"] < 0.2
    totals = p.lp("run", "--force").err.splitlines()[-1]
    assert re.search(r"in \d+ms \(and 2\d\dms importing tasks files\)$", totals), totals

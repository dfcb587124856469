"""The interactive shell, driven command by command and once through its loop."""

from __future__ import annotations

import io
import textwrap
from pathlib import Path

import pytest

import little_pipelines as lp
from little_pipelines.outcomes import Status
from little_pipelines.ui.shell import Shell

CALLS: list[str] = []


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LITTLE_PIPELINES_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("NO_COLOR", "1")
    CALLS.clear()
    return tmp_path / "home"


def make_pipeline() -> lp.Pipeline:
    """load -> clean -> report, and a lone task."""
    load = lp.Task("load")
    clean = lp.Task("clean", dependencies=["load"])
    report = lp.Task("report", dependencies=["clean", "load"])
    lone = lp.Task("lone")

    @load.process
    def run(this):
        CALLS.append("load")
        return [1, 2, 3]

    @clean.process
    def run(this):  # noqa: F811
        CALLS.append("clean")
        return [x * 10 for x in this.pipeline.get_result("load")]

    @report.process
    def run(this):  # noqa: F811
        CALLS.append("report")
        return {"total": sum(this.pipeline.get_result("clean"))}

    @lone.process
    def run(this):  # noqa: F811
        CALLS.append("lone")
        return "alone"

    return lp.Pipeline("demo").add(report, lone, clean, load)


def make_shell(pipeline: lp.Pipeline | None = None, cls: type[Shell] = Shell) -> Shell:
    return cls(stdout=io.StringIO()).set_pipeline(pipeline or make_pipeline())


def run(shell: Shell, line: str) -> str:
    """The output of one command."""
    out = shell.stdout
    start = out.tell()
    shell.onecmd(line)
    return out.getvalue()[start:]


def statuses(shell: Shell) -> dict[str, Status]:
    assert shell.last_report is not None
    return {t.name: t.status for t in shell.last_report.tasks}


def test_nothing_happens_at_construction(home: Path) -> None:
    shell = Shell(stdout=io.StringIO())
    assert shell.pipeline is None
    assert shell.stdout.getvalue() == ""
    assert not home.exists()
    assert "no pipeline is set" in run(shell, "list-tasks")


def test_list_tasks_in_order_with_dependencies() -> None:
    out = run(make_shell(), "list_tasks")
    lines = out.splitlines()
    assert "4 tasks in pipeline 'demo'" in lines[0]
    names = [line.split()[1] for line in lines[1:]]
    assert names.index("load") < names.index("clean") < names.index("report")
    assert any("clean" in line and line.endswith("<- load") for line in lines)
    assert any("report" in line and line.endswith("<- clean, load") for line in lines)


def test_dashes_in_command_names() -> None:
    shell = make_shell()
    assert run(shell, "list-tasks") == run(shell, "list_tasks")
    assert "clear_cache" in run(shell, "help clear-cache")


def test_execute_runs_then_serves_from_cache() -> None:
    shell = make_shell()
    out = run(shell, "execute")
    assert set(statuses(shell).values()) == {Status.EXECUTED}
    assert "4 executed, 0 cached, 0 failed" in out
    assert sorted(CALLS) == ["clean", "load", "lone", "report"]

    out = run(shell, "execute")
    assert set(statuses(shell).values()) == {Status.CACHED}
    assert "0 executed, 4 cached" in out
    assert len(CALLS) == 4


def test_execute_force_and_skip() -> None:
    shell = make_shell()
    run(shell, "execute --skip=lone")
    assert statuses(shell)["lone"] is Status.SKIPPED
    assert "lone" not in CALLS
    run(shell, "execute --force")
    assert set(statuses(shell).values()) == {Status.EXECUTED}
    assert "unknown option '--fast'" in run(shell, "execute --fast")


def test_peek_shows_the_result() -> None:
    shell = make_shell()
    assert "no result yet" in run(shell, "peek report")
    run(shell, "execute")
    assert "{'total': 60}" in run(shell, "peek report")
    assert "[10, 20, 30]" in run(shell, "peek clean")


def test_info_shows_the_module_docstring() -> None:
    assert run(make_shell(), "info load").strip() == __doc__


def test_info_without_docstring() -> None:
    shell = make_shell()
    task = shell.pipeline.get_task("load")
    task._module = "no_such_module"
    assert run(shell, "info load").strip() == "(no description)"


def test_list_cache_and_clear_one_task() -> None:
    shell = make_shell()
    assert "no stored results" in run(shell, "list-cache")
    run(shell, "execute")
    out = run(shell, "list-cache")
    for name in ("load", "clean", "report", "lone"):
        assert any(line.startswith(name + " ") for line in out.splitlines())
    assert "end of session" in out

    assert "dropped the result of 'lone'" in run(shell, "clear_cache lone")
    assert "lone" not in shell.pipeline.result_cache.names()
    assert "no result yet" in run(shell, "peek lone")
    run(shell, "execute")
    assert statuses(shell)["lone"] is Status.EXECUTED
    assert statuses(shell)["load"] is Status.CACHED


def test_clear_cache_all() -> None:
    shell = make_shell()
    run(shell, "execute")
    assert "dropped 4 stored results" in run(shell, "clear_cache .")
    assert shell.pipeline.result_cache.names() == []
    run(shell, "execute")
    assert set(statuses(shell).values()) == {Status.EXECUTED}


def test_clear_cache_hard_deletes_logs() -> None:
    shell = make_shell()
    run(shell, "execute")
    log_dir = shell.pipeline.log_dir
    assert list(log_dir.glob("*.log"))
    assert "cache emptied and 4 log files deleted" in run(shell, "clear-cache . --hard")
    assert shell.pipeline.result_cache.names() == []
    assert not list(log_dir.glob("*.log"))
    assert "usage: clear_cache" in run(shell, "clear_cache")


def test_executeone_runs_the_task_and_its_upstream() -> None:
    shell = make_shell()
    run(shell, "executeone clean")
    assert set(statuses(shell)) == {"load", "clean"}
    assert sorted(CALLS) == ["clean", "load"]


def test_executeone_no_deps_uses_stored_upstream() -> None:
    shell = make_shell()
    run(shell, "execute")
    run(shell, "clear_cache report")
    CALLS.clear()
    run(shell, "executeone report --no-deps")
    assert statuses(shell) == {
        "load": Status.SKIPPED,
        "clean": Status.SKIPPED,
        "report": Status.EXECUTED,
    }
    assert CALLS == ["report"]
    assert "{'total': 60}" in run(shell, "peek report")


def test_unknown_task_says_did_you_mean() -> None:
    shell = make_shell()
    for line in ("peek clen", "info clen", "executeone clen", "clear_cache clen"):
        out = run(shell, line)
        assert "no task 'clen'" in out and "did you mean 'clean'?" in out, line
    assert "did you mean 'lone'" in run(shell, "execute --skip=lon")


def test_unknown_command_suggests_close_ones() -> None:
    shell = make_shell()
    out = run(shell, "exceute")
    assert "unknown command 'exceute'" in out
    assert "'execute'" in out
    assert "Unknown syntax" not in out
    assert "unknown command 'list_taks'" in run(shell, "list-taks")


def test_empty_line_does_nothing() -> None:
    shell = make_shell()
    run(shell, "execute")
    CALLS.clear()
    assert run(shell, "") == ""
    assert CALLS == []


def test_quit_exit_and_q_stop_the_loop() -> None:
    shell = make_shell()
    assert shell.onecmd("quit") is True
    assert shell.onecmd("exit") is True
    assert shell.onecmd("q") is True
    assert shell.onecmd("list-tasks") is False


def test_validate() -> None:
    shell = make_shell()
    assert run(shell, "validate").strip() == "OK"
    shell.pipeline.add(lp.Task("broken"))
    assert "task 'broken' is missing 'run' process" in run(shell, "validate")
    assert "missing 'run' process" in run(shell, "execute")


def test_quiet_prints_only_totals() -> None:
    shell = make_shell()
    assert "quiet mode on" in run(shell, "quiet")
    out = run(shell, "execute")
    assert out.strip().startswith("4 executed")
    assert "report" not in out
    assert "quiet mode off" in run(shell, "quiet")


def test_log_level_shows_task_logs_only_during_runs(capsys: pytest.CaptureFixture[str]) -> None:
    pipeline = make_pipeline()
    pipeline.get_task("lone")._processes["run"] = lambda this: this.logger.info("hello from lone")
    shell = make_shell(pipeline)
    assert "unknown log level 'loud'" in run(shell, "log loud")
    assert "shown at INFO" in run(shell, "log info")
    run(shell, "execute")
    assert "| INFO     | lone | hello from lone" in capsys.readouterr().err
    pipeline.get_task("lone").logger.info("outside a run")
    assert "| lone | outside a run" not in capsys.readouterr().err
    assert "shown at off" in run(shell, "log off")


def test_cmdloop_with_hooks_and_intro() -> None:
    events: list[str] = []

    class MyShell(Shell):
        title = "Sales Shell"
        header = "Numbers, daily."

        def startup(self) -> None:
            events.append("startup")

        def shutdown(self) -> None:
            events.append("shutdown")

    shell = MyShell(stdin=io.StringIO("list-tasks\n\nquit\n"), stdout=io.StringIO())
    shell.use_rawinput = False
    shell.set_pipeline(make_pipeline()).cmdloop()
    out = shell.stdout.getvalue()
    assert events == ["startup", "shutdown"]
    assert out.startswith("Sales Shell\nNumbers, daily.\nPowered by Little Pipelines\n")
    assert "Pipeline: demo" in out
    assert "4 tasks in pipeline 'demo'" in out


def test_cmdloop_ends_at_end_of_input() -> None:
    shell = Shell(stdin=io.StringIO("list-tasks\n"), stdout=io.StringIO())
    shell.use_rawinput = False
    shell.set_pipeline(make_pipeline()).cmdloop(intro="")
    assert "4 tasks" in shell.stdout.getvalue()


def test_help_lists_commands_with_their_help() -> None:
    shell = make_shell()
    out = run(shell, "help")
    for name in ("execute", "executeone", "list_tasks", "peek", "clear_cache", "quiet"):
        assert name in out
    assert "EOF" not in out
    assert "--no-deps" in run(shell, "help executeone")


def test_runner_project(tmp_path: Path) -> None:
    from little_pipelines.project.project import Project

    root = tmp_path / "project"
    root.mkdir()
    (root / "tasks_demo.py").write_text(
        textwrap.dedent(
            '''\
            """Demo tasks."""


            def task_a():
                return 1


            def task_b(a):
                return a + 1
            '''
        )
    )
    project = Project(root)
    shell = Shell(stdout=io.StringIO()).set_pipeline(project.pipeline)
    out = run(shell, "list-tasks")
    assert "a" in out.splitlines()[1] and out.splitlines()[2].rstrip().endswith("b  <- a")
    run(shell, "execute")
    assert statuses(shell) == {"a": Status.EXECUTED, "b": Status.EXECUTED}
    assert run(shell, "peek b").strip() == "2"
    assert run(shell, "info b").strip() == "Demo tasks."
    run(shell, "execute")
    assert set(statuses(shell).values()) == {Status.CACHED}
    run(shell, "clear_cache b")
    run(shell, "executeone b --no-deps")
    assert statuses(shell) == {"a": Status.SKIPPED, "b": Status.EXECUTED}
    assert run(shell, "validate").strip() == "OK"


PROJECT_TASKS = '''
"""Sales figures."""
import little_pipelines as lp


def task_base():
    return 2


double = lp.Task("double", dependencies=["base"], expire_results=lp.expire.never())


@double.process
def run(this):
    return this.pipeline.get_result("base") * 2
'''


def test_a_project_in_the_shell_runs_reports_and_completes(tmp_path: Path) -> None:
    from little_pipelines.project.project import Project

    (tmp_path / "tasks_sales.py").write_text(PROJECT_TASKS)
    project = Project(tmp_path)
    out = io.StringIO()
    shell = Shell(stdout=out).set_pipeline(project.pipeline)
    try:
        assert not project.pipeline.is_complete
        shell.onecmd("execute")
        assert project.pipeline.is_complete  # (it stayed False for a project)
        assert [t.name for t in project.pipeline.tasks] == ["base", "double"]
        assert project.pipeline.get_task("double").dependencies["base"].name == "base"
        shell.onecmd("peek double")
        assert out.getvalue().rstrip().endswith("4")
        shell.onecmd("info base")
        assert "Sales figures." in out.getvalue()
        assert project.pipeline.get_result("double") == 4
    finally:
        project.cache.close()

"""What a first-time user meets: near-miss configuration, empty projects, warnings, hints."""

from __future__ import annotations

from pathlib import Path

import pytest
from e2e_helpers import Project, statuses


@pytest.mark.parametrize(
    ("pyproject", "expected"),
    [
        ('[tool.little-pipelines]\nname = "x"\n', "did you mean [tool.little_pipelines]?"),
        ("[tool.little_pipelines]\npaths = []\n", "paths must be a non-empty list"),
        ('[tool.little_pipelines]\ncache_dir = ""\n', "cache_dir must be a folder name"),
        (
            '[tool.little_pipelines]\ncache_dir = "$LP_NOT_SET_ANYWHERE/c"\n',
            "cache_dir must be a folder whose $VARIABLES are all set",
        ),
    ],
)
def test_configuration_mistakes_are_errors(tmp_path: Path, pyproject: str, expected: str) -> None:
    p = Project(tmp_path)
    p.write("pyproject.toml", pyproject)
    p.write("tasks_a.py", "def task_a():\n    return 1\n")
    result = p.lp("run")
    assert result.rc == 2
    assert expected in result.flat_err
    assert "pyproject.toml" in result.flat_err
    assert not p.exists(".little_pipelines/cache.db")


def test_a_folder_without_tasks_says_what_a_task_is_and_writes_nothing(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write("task_sales.py", "def task_a():\n    return 1\n")  # not tasks_*.py
    result = p.lp("run")
    assert result.rc == 5  # as pytest exits 5 when it collects no tests
    assert "no tasks found" in result.flat_err
    assert "tasks_*.py" in result.flat_err
    assert not p.exists(".little_pipelines")
    data = p.run(rc=5)
    assert data["ok"] is True and data["tasks"] == []


def test_unknown_dependency_suggests_a_default(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write(
        "tasks_a.py", "def task_load():\n    return 1\n\ndef task_total(scale):\n    return 2\n"
    )
    result = p.lp("run")
    assert result.rc == 2
    assert "tasks_a.py:4" in result.flat_err
    assert "needs a default value" in result.flat_err
    assert "(tasks: load)." in result.flat_err  # the tasks it could mean, not itself


def test_task_warnings_show_on_stderr_with_the_task_name(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write(
        "tasks_a.py",
        """
        def task_a(this):
            this.logger.info("routine detail")
            this.logger.warning("dropping 3 rows")
            return 1
        """,
    )
    result = p.lp("run")
    assert result.rc == 0
    assert "a | WARNING | dropping 3 rows" in result.err
    assert "routine detail" not in result.err
    assert "routine detail" in p.read(".little_pipelines/logs/a.log")
    p.write("tasks_a.py", p.read("tasks_a.py").replace("3 rows", "4 rows"))
    assert "dropping" not in p.lp("run", "-q").err


def test_no_upstream_warns_about_the_results_it_feeds(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write(
        "tasks_a.py",
        """
        RATE = 2

        def task_raw():
            return [1, 2]

        def task_clean(raw):
            return [x * RATE for x in raw]

        def task_total(clean):
            return sum(clean)

        def task_report(total):
            return f"total {total}"
        """,
    )
    p.run()
    p.replace("tasks_a.py", "RATE = 2", "RATE = 3")
    result = p.lp("run", "report", "--no-upstream")
    assert result.rc == 0
    warning = "warning: using the stale cached result of 'total' (--no-upstream)"
    assert warning in result.err
    assert result.err.index(warning) < result.err.index("cached, 0 failed")  # before the totals
    assert result.err.count(warning) == 1
    assert "'clean'" not in result.err
    assert "[yellow]" not in result.err
    data = p.run("report", "--no-upstream", "--force")
    assert statuses(data) == {"report": ("executed", "forced")}
    assert data["warnings"] == ["using the stale cached result of 'total' (--no-upstream)"]


def test_renaming_a_tasks_file_reruns_nothing(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write("helpers.py", "def double(x):\n    return 2 * x\n")
    p.write("tasks_a.py", "from helpers import double\n\ndef task_a():\n    return double(1)\n")
    p.run()
    (p.root / "tasks_a.py").rename(p.root / "tasks_renamed.py")
    (p.root / "helpers.py").rename(p.root / "tools.py")
    p.replace("tasks_renamed.py", "from helpers", "from tools")
    data = p.run()
    assert statuses(data) == {"a": ("cached", None)}
    assert data["tasks"][0]["file"] == "tasks_renamed.py"


def test_an_input_written_by_an_upstream_task_is_read_after_it_runs(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write(
        "tasks_a.py",
        """
        import little_pipelines as lp

        def task_make(this):
            (this.root / "out.txt").write_text("v1")

        @lp.task(inputs=["out.txt"])
        def task_use(make, this):
            return (this.root / "out.txt").read_text()
        """,
    )
    p.run()
    p.replace("tasks_a.py", '"v1"', '"v2"')
    data = p.run()
    assert statuses(data) == {"make": ("executed", "code"), "use": ("executed", "inputs")}
    assert p.lp("show", "use").out.strip() == "v2"


def test_lp_list_says_when_the_last_run_failed(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write("tasks_a.py", "def task_a():\n    return 1\n\ndef task_b():\n    return 1\n")
    p.run()
    p.replace("tasks_a.py", "def task_a():\n    return 1", "def task_a():\n    return 1 / 0")
    p.run(rc=1)
    listing = p.listing()
    assert listing["a"]["state"] == "failed"
    assert listing["b"]["state"] == "fresh"
    assert "failed" in p.lp("list").out
    assert statuses(p.run(rc=1))["a"] == ("failed", "new")


def test_lp_why_tells_may_run_from_would_run(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write(
        "tasks_a.py",
        "RATE = 2\n\ndef task_clean():\n    return RATE\n\ndef task_report(clean):\n"
        "    return clean\n",
    )
    p.run()
    p.replace("tasks_a.py", "RATE = 2", "RATE = 3")
    why = p.lp("why", "report").out
    assert "'report' (tasks_a.py:6) may run: upstream" in why
    assert "served from the cache" in why
    assert "'clean' (tasks_a.py:3) would run: code" in why
    assert "-RATE = 2" in why and "+RATE = 3" in why
    p.run("clean")
    why = p.lp("why", "report").out
    assert "'report' (tasks_a.py:6) would run: upstream — an upstream result changed" in why
    assert "upstream 'clean' has a newer result than 'report' used" in why


def test_cache_dir_expands_home_and_variables_as_a_shell_would(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LP_TEST_TEAM", "team")
    p = Project(tmp_path)
    p.write("pyproject.toml", '[tool.little_pipelines]\ncache_dir = "~/lp-state/$LP_TEST_TEAM"\n')
    p.write("tasks_a.py", "def task_a():\n    return 1\n")
    p.run()
    assert (p.home / "lp-state" / "team" / "cache.db").is_file()  # lp and diskcache agree
    assert not any(p.root.glob("~*")) and not any(p.root.glob("$*"))
    assert p.lp("clean", "-q").rc == 0
    assert statuses(p.run())["a"] == ("executed", "new")  # lp clean found the same cache

"""`lp watch`: a real process, real file edits, real watchfiles events, read through --json."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from little_pipelines.errors import LittlePipelinesError
from little_pipelines.outcomes import Reporter
from little_pipelines.project.changes import WatchRules
from little_pipelines.project.project import Project
from little_pipelines.project.watch import Watcher

TIMEOUT = 20  # seconds to wait for one run's line; generous for slow CI machines


class WatchProcess:
    """`lp watch --json` in a project, with its JSON lines readable one run at a time."""

    def __init__(self, root: Path, *args: str) -> None:
        env = {**os.environ, "NO_COLOR": "1", "LITTLE_PIPELINES_HOME": str(root / ".home")}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "little_pipelines", "watch", "--json", *args],
            cwd=root,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)

    def next_run(self) -> dict:
        try:
            return json.loads(self.lines.get(timeout=TIMEOUT))
        except queue.Empty:
            self.proc.kill()
            raise AssertionError("no run reported; stderr:\n" + self.proc.stderr.read()) from None

    def until(self, wanted, allow=lambda run: True) -> dict:
        """The first run (JSON line) for which `wanted(run)` holds.

        Earlier lines (a save seen in two parts under load) are skipped, but each must `allow`.
        """
        while not wanted(run := self.next_run()):
            assert allow(run), run
        return run

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGINT)
        return self.proc.wait(timeout=TIMEOUT)


def statuses(run: dict) -> dict[str, tuple[str, str | None]]:
    return {t["name"]: (t["status"], t["reason"]) for t in run["tasks"]}


def write(path: Path, text: str) -> None:
    """Save as many editors do: a hidden temporary file renamed over the target (one event)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.tmp"
    tmp.write_text(textwrap.dedent(text))
    os.replace(tmp, path)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    write(
        tmp_path / "tasks_main.py",
        """
        def task_a():
            return 1

        def task_b(a):
            return a + 1

        def task_c():
            return "independent"
        """,
    )
    return tmp_path


@pytest.fixture
def watching(project: Path):
    proc = WatchProcess(project)
    yield proc
    if proc.proc.poll() is None:
        proc.proc.kill()
        proc.proc.wait()


def test_edit_reruns_only_the_edited_task_and_its_dependents(project, watching):
    first = watching.next_run()
    assert first["trigger"] == []
    assert {s for s, _ in statuses(first).values()} == {"executed"}

    source = (project / "tasks_main.py").read_text()
    write(project / "tasks_main.py", source.replace("return 1", "return 2"))
    second = watching.next_run()
    assert second["trigger"] == ["tasks_main.py"]
    assert statuses(second) == {
        "a": ("executed", "code"),
        "b": ("executed", "upstream"),
        "c": ("cached", None),
    }
    assert watching.stop() == 0


def test_error_is_reported_and_the_next_good_save_runs(project, watching):
    watching.next_run()
    write(project / "tasks_main.py", "def task_a(:\n    return 1\n")
    broken = watching.next_run()
    assert broken["ok"] is False
    assert broken["error"]["file"] == "tasks_main.py"
    assert broken["error"]["line"] == 1

    write(
        project / "tasks_main.py",
        """
        def task_a():
            return 1

        def task_b(a):
            return a + 10
        """,
    )
    fixed = watching.next_run()
    assert fixed["ok"] is True
    assert statuses(fixed) == {"a": ("cached", None), "b": ("executed", "code")}
    assert watching.stop() == 0


def test_new_tasks_file_and_helper_edit_are_picked_up(project, watching):
    watching.next_run()
    write(project / "helpers.py", "FACTOR = 2\n")
    write(
        project / "tasks_more.py",
        """
        from helpers import FACTOR

        def task_d(b):
            return b * FACTOR
        """,
    )
    run = watching.next_run()
    # a burst of two saves may arrive as one run or two; the last one must include d
    while "d" not in statuses(run):
        run = watching.next_run()
    assert statuses(run)["d"] == ("executed", "new")

    write(project / "helpers.py", "FACTOR = 3\n")
    run = watching.until(lambda r: "helpers.py" in r["trigger"])
    assert statuses(run)["d"] == ("executed", "code")
    assert statuses(run)["a"] == ("cached", None)
    assert watching.stop() == 0


def test_rename_over_original_is_seen(project, watching):
    watching.next_run()
    tmp = project / ".tasks_main.py.swp"
    tmp.write_text((project / "tasks_main.py").read_text().replace('"independent"', '"x"'))
    os.replace(tmp, project / "tasks_main.py")
    run = watching.next_run()
    assert statuses(run)["c"] == ("executed", "code")
    assert statuses(run)["a"] == ("cached", None)
    assert watching.stop() == 0


def test_scripted_changes_coalesce_and_stop(tmp_path):
    """The watcher with an injected change source: a burst of batches becomes one run."""
    write(tmp_path / "tasks_main.py", "def task_a():\n    return 1\n")
    project = Project(tmp_path)
    stop = threading.Event()
    runs: list[list[str]] = []
    edited = threading.Event()

    def changes(stop_event: threading.Event):
        yield set()  # listening
        edited.wait(TIMEOUT)
        write(tmp_path / "tasks_main.py", "def task_a():\n    return 2\n")
        yield {tmp_path / "tasks_main.py"}
        yield {tmp_path / "tasks_main.py"}

    def on_run(report, trigger):
        runs.append([f"{t.name}:{t.status}" for t in report.tasks])
        edited.set()

    watcher = Watcher(project, on_run=on_run, changes=changes, stop_event=stop)
    watcher.run()
    assert runs[0] == ["a:executed"]
    assert ["a:executed"] in runs[1:]
    assert len(runs) <= 3


def test_two_quick_ctrl_c_still_exit_cleanly(project, watching):
    watching.next_run()
    watching.proc.send_signal(signal.SIGINT)
    watching.proc.send_signal(signal.SIGINT)
    assert watching.proc.wait(timeout=TIMEOUT) == 0


def lp_once(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Another `lp` process on the same project, beside the watching one."""
    env = {**os.environ, "NO_COLOR": "1", "LITTLE_PIPELINES_HOME": str(root / ".home")}
    return subprocess.run(
        [sys.executable, "-m", "little_pipelines", *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def names(run: dict) -> set[str]:
    return {t["name"] for t in run.get("tasks") or ()}


# the cache reset under a watching process (issue 6, family 9) --------------------------------


def test_a_clean_in_another_process_is_seen_by_the_next_run(project, watching):
    watching.next_run()
    cleaned = lp_once(project, "clean")
    assert cleaned.returncode == 0, cleaned.stderr
    source = (project / "tasks_main.py").read_text()
    write(project / "tasks_main.py", source.replace('"independent"', '"changed"'))
    run = watching.next_run()
    assert statuses(run) == {
        "a": ("executed", "new"),
        "b": ("executed", "new"),
        "c": ("executed", "new"),
    }
    assert watching.stop() == 0
    after = lp_once(project, "run", "--json")
    assert after.returncode == 0, after.stderr
    assert {s for s, _ in statuses(json.loads(after.stdout)).values()} == {"cached"}


# races: new files, renames, half-written files -------------------------------------------


def test_new_and_renamed_tasks_files_always_start_a_run(project, watching, tmp_path_factory):
    """Each way of making a tasks file appear, repeated: every one must start a run."""
    watching.next_run()
    outside = tmp_path_factory.mktemp("outside")
    for i in range(5):
        (project / f"tasks_new{i}.py").write_text(f"def task_new{i}():\n    return {i}\n")
        run = watching.until(lambda r, i=i: f"new{i}" in names(r))
        assert statuses(run)[f"new{i}"] == ("executed", "new")

        tmp = project / f"tasks_ren{i}.py.tmp"
        write(tmp, f"def task_ren{i}(new{i}):\n    return new{i}\n")
        os.replace(tmp, project / f"tasks_ren{i}.py")
        watching.until(lambda r, i=i: f"ren{i}" in names(r))

        (project / f"sub{i}").mkdir()
        write(project / f"sub{i}" / f"tasks_sub{i}.py", f"def task_sub{i}():\n    return {i}\n")
        watching.until(lambda r, i=i: f"sub{i}" in names(r))

        folder = outside / f"moved{i}"
        folder.mkdir()
        write(folder / f"tasks_moved{i}.py", f"def task_moved{i}():\n    return {i}\n")
        os.rename(folder, project / f"moved{i}")
        watching.until(lambda r, i=i: f"moved{i}" in names(r))

    os.rename(project / "moved0", outside / "gone")  # a folder of tasks files moved away
    watching.until(lambda r: "moved0" not in names(r))
    assert watching.stop() == 0


def test_a_burst_of_half_written_saves_never_ends_watching(project, watching):
    watching.next_run()
    path = project / "tasks_main.py"
    full = "def task_a():\n    return {n}\n\ndef task_b(a):\n    return a + 1\n"
    for n in range(15):
        text = full.format(n=n)
        with open(path, "w") as f:  # truncated, then written in two halves
            f.write(text[: len(text) // 2])
            f.flush()
            f.write(text[len(text) // 2 :])
        if n % 3 == 0:
            path.write_text("def task_b(a):\n    return a\n")  # task_a gone for a moment
    write(path, "def task_a():\n    return 100\n\ndef task_b(a):\n    return a + 1\n\n"
          "def task_done(b):\n    return b\n")  # fmt: skip
    run = watching.until(lambda r: r["ok"] and "done" in names(r))
    assert watching.proc.poll() is None
    assert watching.stop() == 0
    after = lp_once(project, "run", "--json")
    assert {s for s, _ in statuses(json.loads(after.stdout)).values()} == {"cached"}, run
    shown = lp_once(project, "show", "done")
    assert shown.stdout.strip() == "101"


def test_a_file_changed_between_reading_and_importing_is_a_load_error(tmp_path):
    """Deterministically: the graph is read, then the file loses the task before its import."""
    write(tmp_path / "tasks_main.py", "def task_a():\n    return 1\n")
    project = Project(tmp_path)
    project.graph  # noqa: B018 (read now, import later)
    write(tmp_path / "tasks_main.py", "def task_other():\n    return 2\n")
    errors: list[tuple[Exception, list[str]]] = []
    runs: list[dict[str, str]] = []
    first = threading.Event()

    def changes(stop_event: threading.Event):
        yield set()
        first.wait(TIMEOUT)  # the first run has failed; now the save that settles the file
        write(tmp_path / "tasks_main.py", "def task_a():\n    return 3\n")
        yield {tmp_path / "tasks_main.py"}

    def on_run(report, trigger):
        runs.append({t.name: str(t.status) for t in report.tasks})

    def on_error(error, trigger):
        errors.append((error, trigger))
        first.set()

    watcher = Watcher(project, on_run=on_run, on_error=on_error, changes=changes)
    watcher.run()
    (error, trigger), *_ = errors
    assert type(error).__name__ == "DiscoveryError"
    assert "no longer defines task_a()" in error.message
    assert (error.file, error.line, trigger) == ("tasks_main.py", 1, [])
    assert runs == [{"a": "executed"}]
    assert project.result("a") == 3


# import errors (issue 7) --------------------------------------------------------------------


def test_an_import_error_in_a_module_imported_by_name_is_reported(tmp_path):
    write(tmp_path / "tasks_util.py", "def f():\n    return 1\n")
    write(
        tmp_path / "tasks_main.py",
        "import tasks_util\n\ndef task_a():\n    return tasks_util.f()\n",
    )
    proc = WatchProcess(tmp_path)
    try:
        assert proc.next_run()["ok"] is True
        write(tmp_path / "tasks_util.py", "import no_such_module_x\n\ndef f():\n    return 2\n")
        broken = proc.until(lambda r: r["error"], allow=lambda r: not r["ok"])
        assert broken["ok"] is False
        assert broken["error"]["file"] == "tasks_main.py"
        assert broken["error"]["line"] == 1
        assert "no_such_module_x" in broken["error"]["message"]
        write(tmp_path / "tasks_util.py", "def f():\n    return 3\n")
        fixed = proc.until(lambda r: r["ok"], allow=lambda r: not r["ok"])
        assert fixed["ok"] is True and statuses(fixed) == {"a": ("executed", "code")}
        assert proc.stop() == 0
    finally:
        if proc.proc.poll() is None:
            proc.proc.kill()
    assert lp_once(tmp_path, "show", "a").stdout.strip() == "3"


# what watch reacts to: the same rules as discovery and inputs --------------------------------


def rules_for(root: Path) -> WatchRules:
    project = Project(root)
    return WatchRules.of(project, project.config.path_filter)


def test_watch_rules_follow_discovery_and_inputs(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.little_pipelines]\nexclude = ["scratch"]\n')
    write(
        tmp_path / "pkg" / "tasks_main.py",
        """
        import little_pipelines as lp

        @lp.task(inputs=["data", "raw/**/*.csv"])
        def task_a():
            return 1
        """,
    )
    write(tmp_path / "venv" / "pyvenv.cfg", "")
    rules = rules_for(tmp_path)
    assert rules(tmp_path / "pkg" / "helpers.py")
    assert not rules(tmp_path / "venv" / "lib" / "site.py")
    assert not rules(tmp_path / "scratch" / "tasks_x.py")
    assert not rules(tmp_path / ".little_pipelines" / "cache.db")
    assert rules(tmp_path / "data" / "deep" / "orders.parquet")
    assert rules(tmp_path / "raw" / "2024" / "01" / "x.csv")
    assert not rules(tmp_path / "raw" / "x.txt")
    assert not rules(tmp_path / "notes.txt")
    write(tmp_path / "newpkg" / "mod.py", "X = 1\n")
    assert rules(tmp_path / "newpkg")  # a folder of Python files moved into place
    (tmp_path / "empty").mkdir()
    assert not rules(tmp_path / "empty")
    assert rules(tmp_path / "pkg") and not rules(tmp_path / "gone")
    assert rules.folders() == [tmp_path.resolve()]


def test_saves_in_skipped_folders_start_no_run_and_inputs_do(tmp_path, tmp_path_factory):
    shared = tmp_path_factory.mktemp("shared")
    write(shared / "rates.csv", "1\n")
    (tmp_path / "pyproject.toml").write_text('[tool.little_pipelines]\nexclude = ["scratch"]\n')
    write(
        tmp_path / "tasks_main.py",
        f"""
        import little_pipelines as lp

        @lp.task(inputs=["data"])
        def task_folder():
            return 1

        @lp.task(inputs=["raw/**/*.csv"])
        def task_deep():
            return 2

        @lp.task(inputs=["{shared}/*.csv"])
        def task_shared():
            return 3
        """,
    )
    write(tmp_path / "venv" / "pyvenv.cfg", "")
    write(tmp_path / "data" / "a.txt", "1")
    for folder in ("data/sub", "raw/2024", "scratch", "venv/lib"):
        (tmp_path / folder).mkdir(parents=True, exist_ok=True)
    proc = WatchProcess(tmp_path)
    try:
        proc.next_run()
        cases = [
            ("data/sub/b.txt", "folder"),
            ("raw/2024/x.csv", "deep"),
            (str(shared / "rates.csv"), "shared"),
        ]
        for target, task in cases:
            write(tmp_path / "venv" / "lib" / "site.py", f"X = {target!r}\n")
            write(tmp_path / "scratch" / "tasks_wip.py", "def task_wip(:\n")
            write(tmp_path / "raw" / "notes.txt", target)
            write(tmp_path / target, target)  # an absolute target stays absolute
            run = proc.until(
                lambda r, task=task: statuses(r)[task] == ("executed", "inputs"),
                allow=lambda r, target=target: r["trigger"] == [target],
            )
            assert run["trigger"] == [target], run["trigger"]
            assert {n for n, (s, _) in statuses(run).items() if s == "executed"} == {task}
        assert proc.stop() == 0
    finally:
        if proc.proc.poll() is None:
            proc.proc.kill()


def test_an_unexpected_error_in_a_run_is_reported_and_watching_goes_on(tmp_path):
    write(tmp_path / "tasks_main.py", "def task_a():\n    return 1\n")
    errors: list[Exception] = []
    runs: list[list[str]] = []

    class Broken(Reporter):
        def run_started(self, plan):
            if not errors:
                raise RuntimeError("reporter bug")

    failed = threading.Event()

    def changes(stop_event: threading.Event):
        yield set()
        failed.wait(TIMEOUT)
        write(tmp_path / "tasks_main.py", "def task_a():\n    return 2\n")
        yield {tmp_path / "tasks_main.py"}

    def on_error(error, trigger):
        errors.append(error)
        failed.set()

    watcher = Watcher(
        Project(tmp_path),
        reporter=lambda trigger: Broken(),
        on_run=lambda report, trigger: runs.append(trigger),
        on_error=on_error,
        changes=changes,
    )
    watcher.run()
    assert [str(e) for e in errors] == ["reporter bug"]
    assert runs == [["tasks_main.py"]]


def test_a_broken_change_source_ends_watching_with_a_clear_error(tmp_path):
    write(tmp_path / "tasks_main.py", "def task_a():\n    return 1\n")

    def changes(stop_event: threading.Event):
        yield set()
        raise OSError(28, "inotify watch limit reached")

    watcher = Watcher(Project(tmp_path), changes=changes)
    with pytest.raises(LittlePipelinesError) as info:
        watcher.run()
    assert info.value.message == "watching stopped: OSError: [Errno 28] inotify watch limit reached"


def test_an_input_folder_outside_the_root_added_while_watching_is_watched(
    project, watching, tmp_path_factory
):
    watching.next_run()
    shared = tmp_path_factory.mktemp("drive")
    write(shared / "rates.csv", "1\n")
    write(
        project / "tasks_shared.py",
        f"""
        import little_pipelines as lp

        @lp.task(inputs=["{shared}/*.csv"])
        def task_rates():
            return 1
        """,
    )
    watching.until(lambda r: statuses(r).get("rates") == ("executed", "new"))
    write(shared / "rates.csv", "2\n")  # only a watcher started for the new folder sees this
    run = watching.until(lambda r: str(shared / "rates.csv") in r["trigger"])
    assert statuses(run)["rates"] == ("executed", "inputs")
    assert watching.stop() == 0


def test_a_tasks_file_that_vanishes_before_its_import_is_a_load_error(tmp_path):
    write(tmp_path / "tasks_main.py", "def task_a():\n    return 1\n")
    project = Project(tmp_path)
    project.graph  # noqa: B018 (read now, import later)
    (tmp_path / "tasks_main.py").unlink()
    with pytest.raises(LittlePipelinesError) as info:
        project.run()
    assert info.value.message == "tasks_main.py: cannot read: No such file or directory"
    assert (info.value.file, info.value.line) == ("tasks_main.py", None)


def _children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        found |= {int(c) for c in (task / "children").read_text().split()}
    return found


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
def test_watch_with_workers_runs_each_save_in_fresh_workers(tmp_path):
    """A worker that ran before a save keeps module state of the old code: never reused."""
    tasks = tmp_path / "tasks_main.py"
    code = """
        import os
        from pathlib import Path

        def task_where():
            with open(Path(__file__).with_name("seen.txt"), "a") as f:
                f.write(f"{os.getpid()} VERSION\\n")
            return "VERSION"
        """
    write(tasks, code.replace("VERSION", "v1"))
    proc = WatchProcess(tmp_path, "-j", "2")
    try:
        assert statuses(proc.next_run()) == {"where": ("executed", "new")}
        write(tasks, code.replace("VERSION", "v2"))
        assert statuses(proc.next_run()) == {"where": ("executed", "code")}
        first, second = (line.split() for line in (tmp_path / "seen.txt").read_text().splitlines())
        assert first[1] == "v1" and second[1] == "v2"
        assert proc.proc.pid not in (int(first[0]), int(second[0]))  # in workers
        assert int(first[0]) not in _children(proc.proc.pid)  # the first run's worker is gone
        assert proc.stop() == 0
    finally:
        if proc.proc.poll() is None:
            proc.proc.kill()


def test_watch_k_reruns_only_the_selection_and_a_new_matching_task_joins_it(project):
    watching = WatchProcess(project, "-k", "b or new")
    try:
        first = watching.next_run()
        assert statuses(first) == {"a": ("executed", "new"), "b": ("executed", "new")}
        source = (project / "tasks_main.py").read_text()
        write(
            project / "tasks_main.py",
            source.replace('"independent"', '"edited"') + "\ndef task_new(b):\n    return b\n",
        )
        second = watching.until(lambda run: "new" in statuses(run))
        assert statuses(second) == {
            "a": ("cached", None),
            "b": ("cached", None),
            "new": ("executed", "new"),
        }  # c changed, but -k leaves it out
        assert watching.stop() == 0
    finally:
        if watching.proc.poll() is None:
            watching.proc.kill()


def test_watch_with_a_broken_expression_exits_2_before_watching(project):
    from e2e_helpers import lp_here

    result = lp_here("watch", "-m", "slow and", cwd=project, home=project / ".home")
    assert result.rc == 2
    assert "-m 'slow and': it ends too soon" in result.err

"""`@lp.task(retries=, retry_delay=, timeout=)`: tasks that call flaky services.

Each failed try is logged in the task's log, `--json` says how many tries a task took, and a
timeout fails the try: in lp's process and in a worker by a signal, and a worker that the
signal cannot stop is ended from outside.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from e2e_helpers import Project, statuses
from hypothesis import given
from hypothesis import strategies as st

from little_pipelines.engine.execute import perform
from little_pipelines.engine.supervise import Attempts


@given(st.integers(0, 4), st.integers(0, 4))
def test_a_call_is_tried_until_it_works_or_its_retries_run_out(fails: int, retries: int) -> None:
    calls = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) <= fails:
            raise ValueError(f"down {len(calls)}")
        return "up"

    outcome = perform("t", flaky, attempts=Attempts(retries=retries))
    assert len(calls) == min(fails, retries) + 1
    assert (outcome.error is None) is (fails <= retries)
    # the failures before the last try; a last try that failed is the outcome's error
    assert outcome.failures == tuple(
        f"ValueError: down {n}" for n in range(1, min(fails, retries) + 1)
    )


FLAKY = """\
import pathlib

import little_pipelines as lp

HERE = pathlib.Path(__file__).parent


@lp.task(retries=2, retry_delay=0.01)
def task_fetch():
    tries = HERE / "tries"
    tries.write_text(tries.read_text() + "x" if tries.exists() else "x")
    if len(tries.read_text()) < 3:
        raise ConnectionError(f"service down (try {len(tries.read_text())})")
    return "rates"


@lp.task(retries=1)
def task_broken():
    raise ConnectionError("service gone")


def task_report(fetch):
    return fetch.upper()
"""


def test_retries_run_the_stated_tries_and_each_failure_is_logged(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write("tasks_x.py", FLAKY)
    data = p.run(rc=1)
    tasks = {t["name"]: t for t in data["tasks"]}
    assert statuses(data) == {
        "fetch": ("executed", "new"),
        "broken": ("failed", "new"),
        "report": ("executed", "new"),
    }
    assert (tasks["fetch"]["attempts"], tasks["broken"]["attempts"]) == (3, 2)
    assert p.read("tries") == "xxx"
    log = p.read(".little_pipelines/logs/fetch.log")
    assert "try 1 of 3 failed: ConnectionError: service down (try 1)" in log
    assert "try 2 of 3 failed: ConnectionError: service down (try 2)" in log
    assert "try 1 of 2 failed: ConnectionError: service gone" in p.read(
        ".little_pipelines/logs/broken.log"
    )
    assert "service gone" in tasks["broken"]["error"]["message"]
    assert {t["name"]: t.get("attempts") for t in p.run("report")["tasks"]} == {
        "fetch": None,  # cached: not called at all
        "report": None,  # (no retries: no attempts key)
    }
    (p.root / "tries").unlink()
    plain = p.lp("run", "--force", "fetch")
    line = next(x for x in plain.err.splitlines() if x.startswith("✓ fetch"))
    assert plain.rc == 0 and line.endswith("after 3 tries")


def test_retries_work_the_same_in_a_worker(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write("tasks_x.py", FLAKY)
    data = p.run("-j", "2", rc=1)
    tasks = {t["name"]: t for t in data["tasks"]}
    assert (tasks["fetch"]["attempts"], tasks["broken"]["attempts"]) == (3, 2)
    assert "try 2 of 3 failed" in p.read(".little_pipelines/logs/fetch.log")


SLOW = """\
import signal
import time

import little_pipelines as lp


@lp.task(timeout=0.2, retries=1)
def task_slow():
    time.sleep(30)


@lp.task(timeout=0.2)
def task_deaf():
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})  # no signal stops it
    time.sleep(30)
"""


def test_a_timeout_fails_the_try_in_lps_process(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write("tasks_x.py", SLOW)
    data = p.run("slow", rc=1)
    (slow,) = data["tasks"]
    assert slow["status"] == "failed" and slow["attempts"] == 2
    assert slow["error"]["type"] == "TaskTimeout"
    assert "task 'slow' ran longer than its timeout of 0.2s" in slow["error"]["message"]


def test_a_timeout_in_a_worker_stops_the_task_or_else_the_worker(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write("tasks_x.py", SLOW)
    data = p.run("-j", "2", rc=1)
    tasks = {t["name"]: t for t in data["tasks"]}
    assert tasks["slow"]["error"]["type"] == "TaskTimeout"
    assert "its worker process was stopped" in tasks["deaf"]["error"]["message"]


def test_the_options_show_in_list_and_why(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write("tasks_x.py", FLAKY + "\n\n@lp.task(timeout=60)\ndef task_upload(report):\n    pass\n")
    rows = {t["name"]: t for t in p.lp("list", "--json").json["tasks"]}
    assert (rows["fetch"]["retries"], rows["fetch"]["retry_delay"]) == (2, 0.01)
    assert (rows["upload"]["timeout"], rows["report"]["timeout"]) == (60.0, None)
    assert "a failure is tried again up to 2 times, 0.01s apart" in p.lp("why", "fetch").out
    assert "each try stops after 60s" in p.lp("why", "upload").out


@pytest.mark.parametrize(
    ("options", "says"),
    [
        ("retries=-1", "retries must be a whole number, 0 or more, not -1"),
        ("retries=True", "retries must be a whole number, 0 or more, not True"),
        ("retry_delay=-2", "retry_delay must be seconds, 0 to 604,800, not -2"),
        ("timeout=0", "timeout must be seconds, more than 0 and at most 604,800, not 0"),
        ("timeout=1e308", "timeout must be seconds, more than 0 and at most 604,800, not 1e+308"),
        ("timeout='1m'", "timeout must be seconds, more than 0 and at most 604,800, not '1m'"),
    ],
)
def test_a_bad_option_is_an_error_naming_the_file_and_line(
    tmp_path: Path, options: str, says: str
) -> None:
    p = Project(tmp_path)
    p.write(
        "tasks_t.py",
        f"import little_pipelines as lp\n\n\n@lp.task({options})\ndef task_a():\n    pass\n",
    )
    result = p.lp("list")
    assert result.rc == 2
    assert f"tasks_t.py:4: @lp.task {says}" in result.flat_err


def test_literal_options_import_nothing_and_others_import_and_say_so(tmp_path: Path) -> None:
    p = Project(tmp_path)
    mark = "pathlib.Path(__file__).with_name('imports.log').open('a').write('imported\\n')\n"
    p.write("tasks_x.py", "import pathlib\n" + mark + FLAKY.replace("import pathlib\n", ""))
    assert "imported" not in p.lp("list", "-v").flat_err
    assert not p.exists("imports.log")
    p.replace("tasks_x.py", "@lp.task(retries=1)", "@lp.task(retries=ONCE)")
    p.replace("tasks_x.py", "HERE = ", "ONCE = 1\nHERE = ")
    listing = p.lp("list", "-v", "--json")
    assert "the options of task_broken are not literals" in listing.err
    assert {t["name"]: t["retries"] for t in listing.json["tasks"]}["broken"] == 1
    assert p.exists("imports.log")


def test_a_timeout_in_a_worker_does_not_count_importing_the_tasks_file(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write(
        "tasks_x.py",
        "import time\n\nimport little_pipelines as lp\n\ntime.sleep(1.5)  # a slow import\n\n\n"
        "@lp.task(timeout=0.5)\ndef task_fast():\n    return 1\n",
    )
    assert statuses(p.run("-j", "2")) == {"fast": ("executed", "new")}

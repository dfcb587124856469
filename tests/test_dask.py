"""`lp run --executor dask`: tasks on a real Dask scheduler and worker on 127.0.0.1."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest
from e2e_helpers import Project, statuses
from test_parallel import RENDEZVOUS

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def scheduler():
    """A scheduler and one worker process with two threads, on the loopback only."""
    with distributed.LocalCluster(
        n_workers=1,
        threads_per_worker=2,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
    ) as cluster:
        yield cluster.scheduler_address


def test_tasks_run_on_the_cluster_and_cache_here(tmp_path: Path, scheduler: str) -> None:
    p = Project(tmp_path)
    p.write("tasks_meet.py", RENDEZVOUS)
    data = p.run("--executor", "dask", "--address", scheduler)
    assert statuses(data) == {
        "left": ("executed", "new"),
        "right": ("executed", "new"),
        "both": ("executed", "new"),
    }
    assert p.lp("show", "both").out.strip() == "left+right"
    again = p.run()  # the cache is the lp process's: a local run finds everything fresh
    assert {s for s, _ in statuses(again).values()} == {"cached"}


def test_a_failure_on_a_worker_fails_alone(tmp_path: Path, scheduler: str) -> None:
    p = Project(tmp_path)
    p.write(
        "tasks_w.py",
        """
        def task_bad():
            raise ValueError("no such region")

        def task_after(bad):
            return bad

        def task_fine():
            return 1
        """,
    )
    data = p.run("--executor", "dask", "--address", scheduler, rc=1)
    got = {t["name"]: t for t in data["tasks"]}
    assert got["bad"]["error"] == {"type": "ValueError", "message": "no such region"}
    assert got["after"]["status"] == "upstream_failed"
    assert got["fine"]["status"] == "executed"


def test_dask_options_must_agree(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write("tasks_a.py", "def task_a():\n    return 1\n")
    missing = p.lp("run", "--executor", "dask")
    assert missing.rc == 2
    assert "--executor dask needs --address" in missing.flat_err
    stray = p.lp("run", "--address", "tcp://127.0.0.1:8786")
    assert stray.rc == 2
    assert "--address goes with --executor dask" in stray.flat_err
    jobs = p.lp("run", "--executor", "dask", "--address", "tcp://127.0.0.1:8786", "-j", "2")
    assert jobs.rc == 2
    assert "--jobs goes with local processes" in jobs.flat_err


def test_a_worker_runs_a_helper_edited_between_runs(tmp_path: Path, scheduler: str) -> None:
    """The worker outlives the run: the next run's task must import the helper afresh."""
    helper = "helper_" + "".join(c if c.isalnum() else "_" for c in tmp_path.name)
    p = Project(tmp_path)
    p.write(f"{helper}.py", "def f():\n    return 'h1'\n")
    p.write("tasks_h.py", f"import {helper}\n\ndef task_y():\n    return {helper}.f()\n")
    p.run("--executor", "dask", "--address", scheduler)
    p.write(f"{helper}.py", "def f():\n    return 'h2'\n")
    data = p.run("--executor", "dask", "--address", scheduler)
    assert statuses(data) == {"y": ("executed", "code")}
    assert p.lp("show", "y").out.strip() == "h2"


def test_an_address_that_gives_no_client_is_a_clear_error_and_leaves_no_client_behind(
    tmp_path: Path,
) -> None:
    """A half-made Client collected later, during the next client's start (the next run
    in a watch), would hang that run."""
    p = Project(tmp_path)
    p.write("tasks_a.py", "def task_a():\n    return 1\n")

    def clients() -> int:
        return sum(type(o).__name__ == "Client" for o in gc.get_objects())

    gc.disable()  # only lp's own collection may run: the automatic one would hide a leak
    try:
        before = clients()
        unreachable = p.lp("run", "--executor", "dask", "--address", "tcp://127.0.0.1:9")
        assert clients() <= before  # (lp's collection may take older ones too)
        bogus = p.lp("run", "--executor", "dask", "--address", "bogus://x")
        assert clients() <= before
    finally:
        gc.enable()
    assert unreachable.rc == 2
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in unreachable.flat_err
    assert bogus.rc == 2 and "internal error" not in bogus.flat_err
    assert "'bogus://x' is not a Dask scheduler address" in bogus.flat_err
    assert not p.exists(".little_pipelines/cache.db") or p.run("--dry-run")["counts"]["cached"] == 0

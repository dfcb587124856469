"""Owner-only state (SPEC section 12): folders 0700 and files 0600 whatever the umask."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

import little_pipelines as lp
from little_pipelines.engine import run as engine
from little_pipelines.engine.graph import TaskGraph
from little_pipelines.engine.spec import TaskSpec
from little_pipelines.errors import CacheError
from little_pipelines.outcomes import Reporter
from little_pipelines.store.cache import ResultCache
from little_pipelines.store.private import private_disk


@contextmanager
def umask(mask: int) -> Iterator[None]:
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def modes(top: Path) -> dict[str, int]:
    """Permission bits of `top` and everything below it, by path relative to top's parent."""
    found = {top.name: stat.S_IMODE(top.stat().st_mode)}
    for path in top.rglob("*"):
        found[str(path.relative_to(top.parent))] = stat.S_IMODE(path.lstat().st_mode)
    return found


def chatty(upstream, this):
    this.logger.info("a line in the task's log")
    return list(range(20_000))  # a value file, beside the database


@pytest.mark.parametrize("mask", [0o000, 0o022])
def test_everything_the_engine_writes_is_owner_only(tmp_path, mask):
    state = tmp_path / "a" / "state"
    with umask(mask):
        cache = ResultCache(state)
        with cache.lock():
            graph = TaskGraph([TaskSpec("big", chatty, "v1")])
            report = engine.run(graph, cache, reporter=Reporter(), log_dir=state / "logs")
        cache.close()
    assert report.ok
    found = modes(tmp_path / "a")
    names = {Path(p).name for p in found}
    assert {"cache.db", "run.lock", "big.log"} <= names
    assert any(n.endswith(".val") for n in names)
    wrong = {
        p: oct(m) for p, m in found.items() if m != (0o700 if (tmp_path / p).is_dir() else 0o600)
    }
    assert wrong == {}


@pytest.mark.parametrize("mask", [0o000, 0o022])
def test_the_library_home_is_created_owner_only(tmp_path, monkeypatch, mask):
    home = tmp_path / "deep" / "home"
    monkeypatch.setenv("LITTLE_PIPELINES_HOME", str(home))
    task = lp.Task("T")

    @task.process
    def run(this):
        this.logger.info("hello")
        return "x" * 40_000

    with umask(mask):
        lp.Pipeline("P").add(task).execute(reporter=Reporter())
    found = modes(tmp_path / "deep")
    assert {"deep", "deep/home", "deep/home/P", "deep/home/P/logs"} <= set(found)
    wrong = {
        p: oct(m) for p, m in found.items() if m != (0o700 if (tmp_path / p).is_dir() else 0o600)
    }
    assert wrong == {}


def test_a_symlink_planted_in_place_of_a_log_is_not_written_through(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    logs = tmp_path / "state" / "logs"
    logs.mkdir(parents=True)
    (logs / "big.log").symlink_to(victim)
    cache = ResultCache(tmp_path / "state")
    report = engine.run(
        TaskGraph([TaskSpec("big", chatty, "v1")]), cache, reporter=Reporter(), log_dir=logs
    )
    assert report.ok
    assert victim.read_text() == "precious\n"
    assert not (logs / "big.log").is_symlink()
    assert "a line in the task's log" in (logs / "big.log").read_text()


def test_a_symlinked_run_lock_is_refused_with_the_fix(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    state = tmp_path / "state"
    state.mkdir()
    (state / "run.lock").symlink_to(victim)
    with pytest.raises(CacheError) as info, ResultCache(state).lock():
        pass
    assert "is a symbolic link" in str(info.value)
    assert str(info.value).endswith(f"(to reset it: rm -r {state / 'run.lock'})")
    assert victim.read_text() == "precious\n"


def test_a_new_value_file_goes_around_a_stray_file_in_a_value_folder_place(tmp_path):
    # value files live in two levels of randomly named folders; a damaged cache folder may
    # hold a file where one of them belongs, and a new value must not fail on it
    stray = [f"{n:02x}" for n in range(0, 256, 2)]  # half of all top-level names
    for name in stray:
        (tmp_path / name).write_text("not a folder\n")
    disk = private_disk()(str(tmp_path), min_file_size=0, pickle_protocol=5)
    for n in range(40):
        _, _, filename, _ = disk.store(f"value {n}".encode(), read=False)
        assert filename[:2] not in stray
        assert (tmp_path / filename).read_bytes() == f"value {n}".encode()
    assert all((tmp_path / name).read_text() == "not a folder\n" for name in stray)

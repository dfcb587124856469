"""The run lock: a second holder waits and says for whom; re-entrant on its own thread."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading

from little_pipelines.store.cache import ResultCache

HOLDER = textwrap.dedent(
    """
    import sys
    from pathlib import Path

    from little_pipelines.store.cache import ResultCache

    with ResultCache(Path(sys.argv[1])).lock():
        print("locked", flush=True)
        sys.stdin.readline()  # hold the lock until the test says so
    print("released", flush=True)
    """
)


def test_second_lock_waits_for_the_holder_and_says_so(tmp_path):
    folder = tmp_path / "c"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(folder)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        messages: list[str] = []
        waiting = threading.Event()
        acquired = threading.Event()

        def on_wait(message: str) -> None:
            messages.append(message)
            waiting.set()

        def second() -> None:
            with ResultCache(folder).lock(on_wait=on_wait):
                acquired.set()

        thread = threading.Thread(target=second, daemon=True)
        thread.start()
        assert waiting.wait(timeout=20), "the second lock() never reported that it waits"
        assert not acquired.is_set()
        assert len(messages) == 1
        assert "waiting for another lp process" in messages[0]
        assert f"pid {holder.pid}" in messages[0]

        holder.stdin.write("go\n")
        holder.stdin.flush()
        assert acquired.wait(timeout=20), "the lock was not acquired after the holder released it"
        thread.join(timeout=20)
        assert holder.stdout.readline().strip() == "released"
    finally:
        holder.kill()
        holder.wait()


def test_uncontended_lock_does_not_report_waiting(tmp_path):
    messages: list[str] = []
    cache = ResultCache(tmp_path / "c")
    with cache.lock(on_wait=messages.append):
        pass
    with cache.lock(on_wait=messages.append):
        pass
    assert messages == []


def test_the_lock_is_reentrant_on_its_thread(tmp_path):
    cache = ResultCache(tmp_path / "c")
    with cache.lock(), cache.lock():
        assert (tmp_path / "c" / "run.holder").read_text() == f"pid {os.getpid()}"
    assert not (tmp_path / "c" / "run.holder").exists()

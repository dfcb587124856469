"""ResultCache: results and entries on disk, schemes, corruption and the run lock."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading

import pytest

from little_pipelines.cache import Entry, ResultCache, serialize
from little_pipelines.errors import CacheError
from little_pipelines.fingerprint import SCHEME, digest


def make_entry(value: object, **changes: object) -> Entry:
    fields = {
        "code": "v1",
        "inputs": "",
        "upstream": {},
        "result": digest(serialize(value)),
        "stored_at": 1000.0,
        "duration_s": 0.5,
    }
    fields.update(changes)
    return Entry(**fields)


def put(cache: ResultCache, name: str, value: object, **changes: object) -> Entry:
    entry = make_entry(value, **changes)
    cache.store(name, serialize(value), entry)
    return entry


def test_store_then_load_and_entry_round_trip(tmp_path):
    cache = ResultCache(tmp_path / "c")
    entry = put(cache, "load", {"rows": [1, 2, 3]}, upstream={"raw": "abc"}, expires_at=2000.0)
    assert cache.load("load") == {"rows": [1, 2, 3]}
    assert cache.entry("load") == entry
    assert cache.names() == ["load"]


def test_results_survive_reopening_the_folder(tmp_path):
    put(ResultCache(tmp_path / "c"), "load", [1, 2])
    reopened = ResultCache(tmp_path / "c")
    assert reopened.load("load") == [1, 2]
    assert reopened.entry("load").code == "v1"


def test_creating_a_cache_touches_no_disk(tmp_path):
    ResultCache(tmp_path / "a" / "b")
    assert list(tmp_path.iterdir()) == []


def test_cache_folder_is_created_with_parents_on_first_use(tmp_path):
    cache = ResultCache(tmp_path / "a" / "b" / "c")
    assert cache.entry("x") is None
    assert (tmp_path / "a" / "b" / "c").is_dir()


def test_missing_result_is_absent(tmp_path):
    cache = ResultCache(tmp_path / "c")
    assert cache.entry("nope") is None
    with pytest.raises(KeyError):
        cache.load("nope")


def test_none_result_is_cacheable(tmp_path):
    cache = ResultCache(tmp_path / "c")
    put(cache, "nothing", None)
    assert cache.entry("nothing") is not None
    assert cache.load("nothing") is None
    assert cache.names() == ["nothing"]


def test_drop_forgets_one_result(tmp_path):
    cache = ResultCache(tmp_path / "c")
    put(cache, "a", 1)
    put(cache, "b", 2)
    assert cache.drop("a") is True
    assert cache.drop("a") is False
    assert cache.entry("a") is None
    with pytest.raises(KeyError):
        cache.load("a")
    assert cache.load("b") == 2
    assert cache.names() == ["b"]


def test_clear_forgets_everything(tmp_path):
    cache = ResultCache(tmp_path / "c")
    put(cache, "a", 1)
    put(cache, "b", 2)
    cache.clear()
    assert cache.names() == []
    assert cache.entry("a") is None


def test_update_changes_a_stored_entry_in_place(tmp_path):
    cache = ResultCache(tmp_path / "c")
    put(cache, "a", 1)
    cache.update("a", expires_at=0.0)
    assert cache.entry("a").expires_at == 0.0
    assert cache.load("a") == 1
    cache.update("missing", expires_at=0.0)  # no entry: nothing happens
    assert cache.entry("missing") is None


def test_entry_of_another_scheme_is_treated_as_absent(tmp_path):
    cache = ResultCache(tmp_path / "c")
    put(cache, "old", 1, scheme=SCHEME + 1)
    assert cache.entry("old") is None


def test_entry_written_by_another_version_is_treated_as_absent(tmp_path):
    cache = ResultCache(tmp_path / "c")
    put(cache, "a", 1)
    # an entry dict with a field this version does not know
    cache.put_data("entry:a", {**cache.get_data("entry:a"), "unknown_field": 1})
    assert cache.entry("a") is None


def test_corrupt_cache_is_a_cache_error_that_says_how_to_reset(tmp_path):
    folder = tmp_path / "c"
    folder.mkdir()
    (folder / "cache.db").write_bytes(b"this is not a sqlite database at all" * 100)
    cache = ResultCache(folder)
    with pytest.raises(CacheError) as info:
        cache.entry("a")
    message = str(info.value)
    assert str(folder) in message
    assert "lp clean" in message
    assert "delete the folder" in message


def test_unpicklable_value_cannot_be_serialized():
    with pytest.raises(Exception) as info:
        serialize(threading.Lock())
    assert "lock" in str(info.value)


HOLDER = textwrap.dedent(
    """
    import sys
    from pathlib import Path

    from little_pipelines.cache import ResultCache

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

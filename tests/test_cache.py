"""ResultCache: results and entries on disk, schemes, corruption and the run lock."""

from __future__ import annotations

import json
import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st

from little_pipelines.errors import CacheError
from little_pipelines.fingerprint.code import SCHEME, digest
from little_pipelines.store.cache import Entry, ResultCache, serialize
from little_pipelines.store.entries import as_dict, as_entry


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
    with pytest.raises(CacheError) as info:
        ResultCache(folder).entry("a")
    assert str(info.value).endswith(f"(to reset it: rm -r {folder})")
    with pytest.raises(CacheError) as info:
        ResultCache(folder, reset_command="lp clean").entry("a")
    assert str(folder) in str(info.value)
    assert str(info.value).endswith("(to reset it: lp clean)")


def test_a_state_folder_of_the_wrong_kind_is_named_for_removal(tmp_path):
    folder = tmp_path / "c"
    folder.write_text("a file where the cache folder belongs")
    with pytest.raises(CacheError) as info:
        ResultCache(folder, reset_command="lp clean").entry("a")
    assert str(info.value).endswith(f"(to reset it: rm -r {folder})")


def test_unpicklable_value_cannot_be_serialized():
    with pytest.raises(Exception) as info:
        serialize(threading.Lock())
    assert "lock" in str(info.value)


class Planted:
    """Runs code when unpickled: appends to a list the test can see."""

    calls: list[str] = []

    def __reduce__(self):
        return (Planted.calls.append, ("unpickled",))


def test_rows_lp_did_not_write_as_text_are_ignored_never_unpickled(tmp_path):
    Planted.calls.clear()
    cache = ResultCache(tmp_path / "c")
    put(cache, "a", 1)
    cache.raw.set("entry:a", Planted())
    cache.raw.set("discovery:tasks_x.py", Planted())
    cache.raw.set(("entry:", "b"), Planted())  # a key that is not text is pickled too
    assert cache.entry("a") is None
    assert cache.failed_at("a") is None
    assert cache.get_data("discovery:tasks_x.py") is None
    assert cache.names() == ["a"]
    assert Planted.calls == []


def test_plain_data_round_trips_as_json_text_even_when_large(tmp_path):
    cache = ResultCache(tmp_path / "c")
    big = {"source": "x = 1\n" * 20_000, "n": [1, 2.5, None, True]}  # over 32 KB: a text file
    cache.put_data("discovery:big", big)
    assert cache.get_data("discovery:big") == big
    put(cache, "a", [1], extra={"source": "y = 2\n" * 20_000})
    assert cache.entry("a").extra["source"] == "y = 2\n" * 20_000


def test_entry_records_the_digest_and_size_of_the_stored_bytes(tmp_path):
    cache = ResultCache(tmp_path / "c")
    entry = put(cache, "a", [1, 2])
    assert entry.size == len(serialize([1, 2]))
    assert cache.entry("a").data == entry.data != ""


def test_damaged_bytes_are_a_damaged_result_not_a_value(tmp_path):
    import sqlite3

    from little_pipelines.store.cache import DamagedResult

    cache = ResultCache(tmp_path / "c")
    put(cache, "a", [1, 2])
    good = serialize([1, 2])
    bad = good[:-2] + bytes([good[-2] ^ 1]) + good[-1:]  # same size, one bit off
    with sqlite3.connect(tmp_path / "c" / "cache.db") as db:
        db.execute("UPDATE Cache SET value = ? WHERE key = ?", (bad, "result:a"))
    assert cache.entry("a") is not None  # same size: only reading tells
    with pytest.raises(DamagedResult) as info:
        cache.load("a")
    assert str(info.value) == "the stored result of 'a' is damaged"
    cache.forget_damaged("a", cache.entry("a"))
    assert cache.entry("a") is None


def test_a_missing_result_row_makes_the_entry_absent_and_says_why(tmp_path):
    from little_pipelines.store.cache import DamagedResult

    cache = ResultCache(tmp_path / "c")
    put(cache, "a", 1)
    cache.raw.delete("result:a")
    assert cache.entry("a") is None
    assert cache.lost == {"a": "missing"}
    with pytest.raises(DamagedResult, match="is missing"):
        cache.load("a")
    put(cache, "a", 2)
    assert cache.lost == {}
    assert cache.load("a") == 2


def test_a_value_folder_replaced_by_a_link_is_never_deleted_through(tmp_path):
    import sqlite3

    cache = ResultCache(tmp_path / "c")
    put(cache, "big", b"x" * 100_000)  # large enough to be stored in a value file
    cache.close()
    with sqlite3.connect(tmp_path / "c" / "cache.db") as db:
        [(filename,)] = db.execute("SELECT filename FROM Cache WHERE key = 'result:big'")
    top = filename.split("/")[0]
    mine = tmp_path / "mine"
    (tmp_path / "c" / top).rename(mine)  # the user's folder, holding a file of that name
    (tmp_path / "c" / top).symlink_to(mine)
    kept = sorted(p.relative_to(mine) for p in mine.rglob("*"))

    assert cache.drop("big")
    cache.reset()
    assert sorted(p.relative_to(mine) for p in mine.rglob("*")) == kept
    assert not (tmp_path / "c" / top).exists()


def test_entries_of_many_tasks_read_together_match_each_read_alone(tmp_path):
    cache = ResultCache(tmp_path / "c")
    names = [f"t{i}" for i in range(1000)] + ["a:", "odd name;"]
    for name in names[::3]:
        entry = Entry(code="c", inputs="", upstream={}, result="r", stored_at=1.0, duration_s=0.0)
        cache.store(name, serialize(name), entry)
    together = cache.entries([*names, "never"])
    alone = {name: cache.entry(name) for name in [*names, "never"]}
    assert together == alone
    assert sum(e is not None for e in together.values()) == len(names[::3])
    cache.close()


def test_a_source_is_stored_once_per_code_digest(tmp_path):
    cache = ResultCache(tmp_path / "c")
    entry = Entry(code="abc", inputs="", upstream={}, result="r", stored_at=1.0, duration_s=0.0)
    key = cache.source_key("abc", "tasks_t.py")
    assert not cache.has_source(key) and cache.source(key) is None
    cache.store("t", serialize(1), entry, (key, "def task_t():\n    return 1\n"))
    assert cache.has_source(key)
    assert cache.source(key) == "def task_t():\n    return 1\n"
    assert not cache.has_source(cache.source_key("abc", "tasks_moved.py"))
    assert "source" not in cache.entry("t").extra  # the entry itself stays small
    cache.close()


def test_a_result_replaced_by_one_of_another_size_leaves_no_value_file_behind(tmp_path):
    cache = ResultCache(tmp_path / "c")
    big, small = list(range(50_000)), {"k": 7}  # over 32 KB: a value file; then in the row
    value_files = lambda: sorted(p for p in (tmp_path / "c").rglob("*.val"))  # noqa: E731
    put(cache, "x", big)
    assert len(value_files()) == 1
    put(cache, "x", small)
    assert cache.load("x") == small and value_files() == []
    put(cache, "x", big)
    put(cache, "x", big)
    assert cache.load("x") == big and len(value_files()) == 1
    assert len(cache.raw) == 2  # diskcache's own count (entry and result) agrees
    assert cache.raw.check() == []  # and it finds nothing inconsistent


def test_entries_held_by_one_process_follow_what_another_writes(tmp_path):
    """A watch holds the entries it read; a write by another connection (another `lp`
    process: a run, `lp clean x`) or by itself is seen on the next read all the same."""
    mine, theirs = ResultCache(tmp_path / "c"), ResultCache(tmp_path / "c")
    put(mine, "x", 1)
    assert mine.entry("x").result == digest(serialize(1))
    put(theirs, "x", 2)
    assert mine.entry("x").result == digest(serialize(2))
    theirs.drop("x")
    assert mine.entry("x") is None and mine.entries(["x"]) == {"x": None}
    put(mine, "x", 3)
    assert mine.entry("x").result == digest(serialize(3))
    mine.mark_failed("x", 2000.0)
    assert mine.entry("x") is None and theirs.entry("x") is None


entry_values = st.builds(
    Entry,
    code=st.text(max_size=8),
    inputs=st.text(max_size=8),
    upstream=st.dictionaries(st.text(max_size=4), st.text(max_size=4), max_size=3),
    result=st.text(max_size=8),
    stored_at=st.floats(allow_nan=False) | st.integers(),
    duration_s=st.floats(allow_nan=False),
    expires_at=st.none() | st.floats(allow_nan=False),
    session=st.none() | st.text(max_size=4),
    data=st.text(max_size=8),
    size=st.integers(),
    extra=st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
)


@given(entry_values)
def test_an_entry_reads_back_as_written(entry: Entry) -> None:
    assert as_entry(json.loads(json.dumps(as_dict(entry)))) == entry


@given(entry_values, st.sampled_from(list(as_dict(Entry("", "", {}, "", 0, 0)))), st.data())
def test_an_entry_with_a_field_of_the_wrong_kind_or_missing_is_no_entry(
    entry: Entry, name: str, data: st.DataObject
) -> None:
    """What another version wrote, or a damaged row, counts as no result: the task reruns."""
    found = as_dict(entry)
    wrong = {
        "upstream": st.just([]) | st.just({"a": 1}),
        "extra": st.just([]),
        "size": st.just(True) | st.just(1.5),
        "scheme": st.just("1"),
        "format": st.just(None),
    }.get(name, st.just(True) | st.just([]))
    assert as_entry({**found, name: data.draw(wrong)}) is None
    del found[name]
    assert as_entry(found) is None or name in ("expires_at", "session", "data", "size", "extra")


def test_a_failure_record_is_no_entry() -> None:
    found = {**as_dict(Entry("c", "", {}, "r", 0, 0)), "failed_at": 1.0}
    assert as_entry(found) is None

"""The result store through real `lp` processes: digests across processes, lost values, planted
pickles (SPEC sections 5 and 12)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import diskcache
import pytest
from e2e_helpers import Project, Result, executed, lp_command, make_env, statuses


def run_with_seed(p: Project, seed: int, *args: str) -> dict:
    """`lp run --json ARGS` in a process with this PYTHONHASHSEED."""
    env = {**make_env(p.home), "PYTHONHASHSEED": str(seed)}
    proc = subprocess.run(
        [*lp_command(), "run", "--json", *args],
        cwd=p.root,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    result = Result(proc.returncode, proc.stdout, proc.stderr)
    assert result.rc == 0, str(result)
    return result.json


WORDS = """
WORDS = [f"word{i}" for i in range(60)]

def task_words():
    return {"words": set(WORDS), "pairs": frozenset(zip(WORDS, WORDS[1:]))}

def task_count(words):
    return len(words["words"]) + len(words["pairs"])
"""


def test_a_set_result_is_cut_off_across_hash_seeds(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write("tasks_words.py", WORDS)
    assert executed(run_with_seed(p, 1)) == {"words", "count"}
    # sets pickle in hash order: under these seeds the bytes differ, the values do not
    pickled = {
        subprocess.run(
            ["python3", "-c", "import pickle,sys; sys.stdout.buffer.write(pickle.dumps("
             "{f'word{i}' for i in range(60)}))"],
            env={"PYTHONHASHSEED": str(seed)}, capture_output=True, check=True,
        ).stdout
        for seed in (1, 2, 3)
    }  # fmt: skip
    assert len(pickled) > 1
    p.replace("tasks_words.py", 'return {"words"', 'found = {"words"')
    p.replace("tasks_words.py", "WORDS[1:]))}", "WORDS[1:]))}\n    return found")
    data = run_with_seed(p, 2)
    assert statuses(data) == {"words": ("executed", "code"), "count": ("cached", None)}
    # the same through a worker process (its digest is made there)
    p.replace("tasks_words.py", "    return found", "    result = found\n    return result")
    data = run_with_seed(p, 3, "-j", "2")
    assert statuses(data) == {"words": ("executed", "code"), "count": ("cached", None)}
    assert p.lp("why", "count").out.startswith("'count' (tasks_words.py:")
    assert "is fresh" in p.lp("why", "count").out


BIG = """
def task_big():
    return list(range(50_000))  # pickled, more than 32 KB: diskcache keeps it in a file

def task_total(big):
    return sum(big)
"""


def value_files(p: Project) -> list[Path]:
    return [f for f in p.state.rglob("*.val") if f.stat().st_size > 32_000]


def test_a_deleted_value_file_is_no_result_everywhere_and_the_next_run_rebuilds_it(tmp_path):
    p = Project(tmp_path)
    p.write("tasks_big.py", BIG)
    p.run()
    [stored] = value_files(p)
    stored.unlink()
    assert p.states() == {"big": ("missing result", "new"), "total": ("stale", "upstream")}
    assert "its stored result is missing" in p.lp("why", "big").out
    shown = p.lp("show", "big")
    assert shown.rc == 2
    assert "the stored result of 'big' is missing" in shown.flat_err
    assert "lp run big" in shown.flat_err
    data = p.run()
    # `big` comes out the same: `total` is served from the cache
    assert statuses(data) == {"big": ("executed", "new"), "total": ("cached", None)}
    assert "the stored result of 'big' is missing" in data["warnings"][0]
    assert p.lp("show", "total").out.strip() == str(sum(range(50_000)))
    assert executed(p.run()) == set()


def test_a_damaged_value_file_is_found_when_loaded_and_rebuilt_in_the_same_run(tmp_path):
    p = Project(tmp_path)
    p.write("tasks_big.py", BIG)
    p.run()
    [stored] = value_files(p)
    data = bytearray(stored.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size: only reading it can tell
    stored.write_bytes(bytes(data))
    p.replace("tasks_big.py", "return sum(big)", "return sum(big) + 1")
    run = p.run()
    assert statuses(run) == {"big": ("executed", "new"), "total": ("executed", "code")}
    assert "the stored result of 'big' is damaged" in run["warnings"][0]
    assert p.lp("show", "total").out.strip() == str(sum(range(50_000)) + 1)


def test_lp_show_of_a_damaged_value_drops_it_so_the_next_run_rebuilds_it(tmp_path):
    p = Project(tmp_path)
    p.write("tasks_big.py", BIG)
    p.run()
    [stored] = value_files(p)
    data = bytearray(stored.read_bytes())
    data[-10] ^= 0xFF
    stored.write_bytes(bytes(data))
    shown = p.lp("show", "big")
    assert shown.rc == 2
    assert "the stored result of 'big' is damaged" in shown.flat_err
    assert statuses(p.run("big")) == {"big": ("executed", "new")}
    assert p.lp("show", "big").rc == 0


MARKER_CODE = "open({path!r}, 'w').write('pwned')"


class Planted:
    """A pickle that runs code when unpickled (it writes a marker file)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (exec, (MARKER_CODE.format(path=str(self.marker)),))


def test_read_only_commands_never_unpickle_a_planted_entry(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write("tasks_main.py", "def task_a():\n    return 1\n\ndef task_b(a):\n    return a + 1\n")
    p.run()
    marker = tmp_path / "marker"
    evil = Planted(marker)
    with diskcache.Cache(str(p.state)) as cache:
        cache.set("entry:a", evil)  # diskcache pickles it
        cache.set("discovery:tasks_main.py", evil)
        cache.set("result:b", evil)
        cache.set(("entry:", "b"), evil)  # a key that is not a string is pickled too
        assert cache.get("entry:a") is None and marker.exists()  # what planting does if read
    marker.unlink()
    for args in (("list",), ("graph",), ("why", "b"), ("run", "-n"), ("list", "--json")):
        result = p.lp(*args)
        assert result.rc == 0, f"lp {' '.join(args)}: {result}"
        assert "Traceback" not in result.err
        assert not marker.exists(), f"lp {' '.join(args)} unpickled a planted value"
    # an entry that is not plain data is no entry: `a` runs again, then `b`, and nothing runs
    # the planted code
    assert p.states()["a"] == ("never run", "new")
    data = p.run()
    assert statuses(data) == {"a": ("executed", "new"), "b": ("executed", "new")}
    assert p.lp("show", "b").out.strip() == "2"
    assert not marker.exists()


def test_a_planted_pickle_in_place_of_a_value_is_damaged_not_unpickled(tmp_path: Path) -> None:
    p = Project(tmp_path)
    p.write("tasks_main.py", "def task_a():\n    return 1\n\ndef task_b(a):\n    return a + 1\n")
    p.run()
    marker = tmp_path / "marker"
    with diskcache.Cache(str(p.state)) as cache:
        cache.set("result:a", Planted(marker))  # where `b` will read the value of `a`
    assert p.states()["a"] == ("damaged result", "new")
    p.replace("tasks_main.py", "a + 1", "a + 2")
    data = p.run()
    assert statuses(data) == {"a": ("executed", "new"), "b": ("executed", "code")}
    assert not marker.exists()


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_an_upstream_result_that_no_longer_unpickles_is_made_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, jobs: str
) -> None:
    # a class renamed in a library outside the project: the task's code did not change, but
    # its stored result can no longer be loaded. It is no result: it runs again, then its user
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "things.py").write_text("class Thing:\n    pass\n\n\ndef make():\n    return Thing()\n")
    monkeypatch.setenv("PYTHONPATH", str(lib))
    p = Project(tmp_path, process=True)
    p.write(
        "tasks_u.py",
        "import things\n\n\ndef task_thing():\n    return things.make()\n\n\n"
        "def task_use(thing):\n    return type(thing).__name__\n",
    )
    p.run("-j", jobs)
    (lib / "things.py").write_text(
        "class Renamed:\n    pass\n\n\ndef make():\n    return Renamed()\n"
    )
    p.replace("tasks_u.py", "return type(thing).__name__", "return type(thing).__name__ + '!'")
    got = p.run("-j", jobs)
    assert statuses(got) == {"thing": ("executed", "new"), "use": ("executed", "code")}, got
    assert p.lp("show", "use").out == "Renamed!\n"
    assert {s for s, _ in statuses(p.run("-j", jobs)).values()} == {"cached"}

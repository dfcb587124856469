"""A corrupt or wrongly shaped cache never gives a traceback or a wrong value (SPEC sections 5, 9).

Each case damages the state folder of a project that has run once, in one way, then runs lp as a
user would (in-process, through the CLI): every command either works, rebuilding what it cannot
trust with a warning, or stops with one line naming the reset; the reset then works and the next
run computes the same values as a run from scratch.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import sqlite3
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import diskcache
import pytest
from typer.testing import CliRunner

from little_pipelines.ui.cli import app

TASKS = """
def task_big():
    return list(range(50_000))  # pickled, over 32 KB: diskcache keeps it in a value file

def task_small():
    return {"k": 7}

def task_total(big, small, this):
    this.logger.info("adding up")  # so that it has a log file
    return sum(big) + small["k"]
"""
TOTAL = str(sum(range(50_000)) + 7)


class Lp:
    """A project and `lp` run in this process, as the CLI sees its arguments."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.state = root / ".little_pipelines"

    def __call__(self, *args: str) -> tuple[int, str, str]:
        result = CliRunner().invoke(app, ["-C", str(self.root), *args])
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise AssertionError(f"lp {' '.join(args)} raised {result.exception!r}")
        return result.exit_code, result.stdout, result.stderr

    def run_json(self) -> tuple[int, dict, str]:
        rc, out, err = self("run", "--json")
        return rc, json.loads(out), err

    def value_files(self) -> list[Path]:
        return sorted(self.state.rglob("*.val"))

    def sql(self, query: str, *args: object) -> None:
        with sqlite3.connect(self.state / "cache.db") as db:
            db.execute(query, args)


def flip(path: Path, at: float = 0.5) -> None:
    data = bytearray(path.read_bytes())
    data[int(len(data) * at)] ^= 0xFF
    path.write_bytes(bytes(data))


def truncate(path: Path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def garbage(path: Path) -> None:
    size = max(path.stat().st_size, 4096)
    path.write_bytes(random.Random(7).randbytes(size))


def become_folder(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)
    (path / "inside").mkdir(parents=True)


def become_file(path: Path) -> None:
    shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
    path.write_text("not what lp keeps here\n")


def entry_json(lp: Lp, name: str, change: Callable[[dict], object]) -> None:
    """Rewrite the JSON of `name`'s entry with `change` (which edits it or returns a new one)."""
    with sqlite3.connect(lp.state / "cache.db") as db:
        (text,) = db.execute("SELECT value FROM Cache WHERE key = ?", ("entry:" + name,)).fetchone()
        data = json.loads(text)
        new = change(data)
        data = data if new is None else new
        db.execute("UPDATE Cache SET value = ? WHERE key = ?", (json.dumps(data), "entry:" + name))


def foreign_diskcache(lp: Lp) -> None:
    """Another program's diskcache in lp's folder: pickled keys and values, other settings."""
    shutil.rmtree(lp.state)
    with diskcache.Cache(str(lp.state), eviction_policy="least-recently-used") as cache:
        cache.set(("entry:", "big"), [1, 2, 3])
        cache.set("entry:total", {"not": "an entry"})
        cache.set("result:total", 12345)
        cache.set("discovery:tasks_main.py", ValueError("planted"))


def other_sqlite(lp: Lp) -> None:
    (lp.state / "cache.db").unlink()
    with sqlite3.connect(lp.state / "cache.db") as db:
        db.execute("CREATE TABLE Cache (id INTEGER, other TEXT)")
        db.execute("INSERT INTO Cache VALUES (1, 'x')")


def memo(lp: Lp, change: Callable[[dict], object]) -> None:
    """Rewrite the discovery memo of tasks_main.py (made by a second run)."""
    with sqlite3.connect(lp.state / "cache.db") as db:
        row = db.execute("SELECT value FROM Cache WHERE key LIKE 'discovery:%'").fetchone()
        assert row is not None, "no discovery memo to damage"
        data = json.loads(row[0])
        new = change(data)
        data = data if new is None else new
        db.execute("UPDATE Cache SET value = ? WHERE key LIKE 'discovery:%'", (json.dumps(data),))


def the_value_file(lp: Lp) -> Path:
    [path] = lp.value_files()
    return path


CASES: dict[str, Callable[[Lp], object]] = {
    # the state folder and what stands in it
    "state folder is a file": lambda lp: become_file(lp.state),
    "state folder is a dangling link": lambda lp: (
        shutil.rmtree(lp.state),
        lp.state.symlink_to(lp.root / "nowhere"),
    ),
    "state folder emptied": lambda lp: [become_file(p) or p.unlink() for p in lp.state.iterdir()],
    "cache.db is a folder": lambda lp: become_folder(lp.state / "cache.db"),
    "cache.db is empty": lambda lp: (lp.state / "cache.db").write_bytes(b""),
    "cache.db is text": lambda lp: (lp.state / "cache.db").write_text("hello\n"),
    "cache.db is garbage": lambda lp: garbage(lp.state / "cache.db"),
    "cache.db truncated": lambda lp: truncate(lp.state / "cache.db", 0.3),
    "cache.db header flipped": lambda lp: flip(lp.state / "cache.db", 0.001),
    "cache.db page flipped": lambda lp: flip(lp.state / "cache.db", 0.6),
    "cache.db deleted": lambda lp: (lp.state / "cache.db").unlink(),
    "cache.db is a link": lambda lp: (
        (lp.state / "cache.db").unlink(),
        (lp.state / "cache.db").symlink_to(lp.root / "tasks_main.py"),
    ),
    "cache.db-wal is garbage": lambda lp: (lp.state / "cache.db-wal").write_bytes(b"\x00" * 999),
    "cache.db-shm is a folder": lambda lp: become_folder(lp.state / "cache.db-shm"),
    "another sqlite database": other_sqlite,
    "another program's diskcache": foreign_diskcache,
    "the Cache table dropped": lambda lp: lp.sql("DROP TABLE Cache"),
    "the Settings table dropped": lambda lp: lp.sql("DROP TABLE Settings"),
    "run.lock is a folder": lambda lp: become_folder(lp.state / "run.lock"),
    "run.lock is a link": lambda lp: (
        (lp.state / "run.lock").unlink(),
        (lp.state / "run.lock").symlink_to(lp.root / "victim"),
    ),
    "run.holder is a folder": lambda lp: become_folder(lp.state / "run.holder"),
    "logs is a file": lambda lp: become_file(lp.state / "logs"),
    "a log file is a folder": lambda lp: become_folder(lp.state / "logs" / "total.log"),
    "a log file is a link": lambda lp: (
        (lp.state / "logs" / "total.log").unlink(),
        (lp.state / "logs" / "total.log").symlink_to(lp.root / "victim"),
    ),
    # value files
    "value file deleted": lambda lp: the_value_file(lp).unlink(),
    "value file truncated": lambda lp: truncate(the_value_file(lp)),
    "value file empty": lambda lp: the_value_file(lp).write_bytes(b""),
    "value file byte flipped": lambda lp: flip(the_value_file(lp), 0.7),
    "value file last byte flipped": lambda lp: flip(the_value_file(lp), 0.9999),
    "value file garbage of its size": lambda lp: the_value_file(lp).write_bytes(
        random.Random(1).randbytes(the_value_file(lp).stat().st_size)
    ),
    "value file is a folder": lambda lp: become_folder(the_value_file(lp)),
    "value folder is a file": lambda lp: become_file(the_value_file(lp).parent.parent),
    "every value file gone": lambda lp: [
        shutil.rmtree(p) for p in lp.state.iterdir() if p.is_dir() and p.name != "logs"
    ],
    # rows
    "entry is not JSON": lambda lp: lp.sql(
        "UPDATE Cache SET value = '{oops' WHERE key = 'entry:small'"
    ),
    "entry is a JSON list": lambda lp: entry_json(lp, "small", lambda e: [1, 2]),
    "entry code is a number": lambda lp: entry_json(lp, "total", lambda e: e.update(code=5)),
    "entry upstream is a list": lambda lp: entry_json(lp, "total", lambda e: e.update(upstream=[])),
    "entry stored_at is text": lambda lp: entry_json(
        lp, "small", lambda e: e.update(stored_at="x")
    ),
    "entry expires_at is text": lambda lp: entry_json(
        lp, "small", lambda e: e.update(expires_at="x")
    ),
    "entry size is negative": lambda lp: entry_json(lp, "big", lambda e: e.update(size=-1)),
    "entry data digest changed": lambda lp: entry_json(
        lp, "big", lambda e: e.update(data="0" * 32)
    ),
    "entry scheme is text": lambda lp: entry_json(lp, "small", lambda e: e.update(scheme="4")),
    "entry lost a field": lambda lp: entry_json(lp, "total", lambda e: e.pop("upstream")),
    "entry is a blob": lambda lp: lp.sql(
        "UPDATE Cache SET value = x'00ff' WHERE key = 'entry:small'"
    ),
    "inline result flipped": lambda lp: lp.sql(
        "UPDATE Cache SET value = substr(value, 1, 5) || x'00' WHERE key = 'result:small'"
    ),
    "inline result deleted": lambda lp: lp.sql("DELETE FROM Cache WHERE key = 'result:small'"),
    "result row says text mode": lambda lp: lp.sql(
        "UPDATE Cache SET mode = 3 WHERE key = 'result:big'"
    ),
    "result file leaves the folder": lambda lp: lp.sql(
        "UPDATE Cache SET filename = '../tasks_main.py' WHERE key = 'result:big'"
    ),
    "result file name is absolute": lambda lp: lp.sql(
        "UPDATE Cache SET filename = ? WHERE key = 'result:big'", str(lp.root / "tasks_main.py")
    ),
    "result key of another type": lambda lp: lp.sql(
        "UPDATE Cache SET raw = 0 WHERE key = 'result:big'"
    ),
    # the discovery memo
    "memo is not JSON": lambda lp: lp.sql(
        "UPDATE Cache SET value = '[' WHERE key LIKE 'discovery:%'"
    ),
    "memo stamps are a list": lambda lp: memo(lp, lambda m: m.update(seen=[1])),
    "memo stamp is text": lambda lp: memo(lp, lambda m: m.update(seen={p: "x" for p in m["seen"]})),
    "memo digest changed": lambda lp: memo(
        lp, lambda m: m.update(seen={p: [*s[:3], "0" * 32, False] for p, s in m["seen"].items()})
    ),
    "memo tasks are a dict": lambda lp: memo(lp, lambda m: m.update(tasks={})),
    "memo task lost a field": lambda lp: memo(lp, lambda m: [t.clear() for t in m["tasks"]]),
    "memo task line is text": lambda lp: memo(
        lp, lambda m: [t.update(line="1") for t in m["tasks"]]
    ),
    "memo task params are text": lambda lp: memo(
        lp, lambda m: [t.update(params="big") for t in m["tasks"]]
    ),
}

RESET = re.compile(r"to reset it: (lp clean|rm -r (\S+?))\)?$")


@pytest.mark.parametrize("case", CASES)
def test_a_damaged_cache_is_rebuilt_or_named_with_its_reset(tmp_path: Path, case: str) -> None:
    root = tmp_path / "proj"
    root.mkdir()
    (root / "tasks_main.py").write_text(textwrap.dedent(TASKS).lstrip())
    lp = Lp(root)
    assert lp("run")[0] == 0
    settled = time.time() - 60  # lp remembers its reading of files that have settled
    for path in (root, root / "tasks_main.py"):
        os.utime(path, (settled, settled))
    assert lp("run")[0] == 0  # ... and this run writes the memo
    CASES[case](lp)
    if not case.startswith("memo"):  # (an edit would make lp read the file again)
        # `total` must load `big` and `small` from the cache again: edit its code
        text = (root / "tasks_main.py").read_text()
        (root / "tasks_main.py").write_text(text.replace('small["k"]', 'small["k"] + 0'))

    ours = (root / "tasks_main.py").read_bytes()
    outcomes = {
        args: lp(*args) for args in (("list", "--json"), ("why", "total"), ("show", "total"))
    }
    outcomes[("run", "--json")] = lp("run", "--json")
    resets = set()
    for args, (rc, out, err) in outcomes.items():
        assert "internal error" not in err, f"lp {' '.join(args)}: {err}"
        assert rc in (0, 2), f"lp {' '.join(args)} exited {rc}: {err}"
        if rc == 2 and args != ("show", "total"):
            said = json.loads(out)["error"]["message"] if "--json" in args else err
            message = " ".join(said.split())
            found = RESET.search(message)
            assert found, f"lp {' '.join(args)} names no reset: {message}"
            resets.add(found.group(1))
    assert (root / "tasks_main.py").read_bytes() == ours, "lp wrote or deleted a user file"
    assert not (root / "victim").exists(), "lp wrote through a planted link"
    rc, out, _ = outcomes[("list", "--json")]
    if rc == 0:
        assert [t["name"] for t in json.loads(out)["tasks"]] == ["big", "small", "total"]
    rc, out, _ = outcomes[("run", "--json")]
    if rc == 0:
        assert json.loads(out)["ok"] is True
        assert lp("show", "total")[1].strip() == TOTAL
        assert json.loads(lp("run", "--json")[1])["counts"]["executed"] == 0
        return
    assert len(resets) == 1, resets
    [reset] = resets
    if reset == "lp clean":
        rc, _, err = lp("clean")
        assert rc == 0, err
    else:
        target = Path(reset.split()[-1])
        assert target == lp.state or lp.state in target.parents, target
        shutil.rmtree(target) if target.is_dir() and not target.is_symlink() else target.unlink()
    rc, data, err = lp.run_json()
    assert rc == 0 and data["ok"], err
    assert lp("show", "total")[1].strip() == TOTAL
    assert lp.run_json()[1]["counts"]["executed"] == 0


def test_there_are_at_least_forty_corruptions() -> None:
    assert len(CASES) >= 40


def test_a_state_folder_linked_elsewhere_is_used_and_cleaned_inside_only(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    root.mkdir()
    (root / "tasks_main.py").write_text(textwrap.dedent(TASKS).lstrip())
    elsewhere = tmp_path / "big_disk" / "lp_state"
    elsewhere.mkdir(parents=True)
    (elsewhere / "notes.txt").write_text("mine\n")
    lp = Lp(root)
    lp.state.symlink_to(elsewhere)  # the user's choice: results on a bigger disk
    assert lp("run")[0] == 0
    assert lp.value_files() and (elsewhere / "cache.db").is_file()

    rc, _, err = lp("clean")
    assert rc == 0 and "dropped every cached result" in err
    assert lp.state.is_symlink() and (elsewhere / "notes.txt").read_text() == "mine\n"
    assert not lp.value_files()
    rc, data, _ = lp.run_json()
    assert rc == 0 and data["counts"]["executed"] == 3
    assert lp("show", "total")[1].strip() == TOTAL

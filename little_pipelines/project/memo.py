"""What reading each tasks file found, remembered across `lp` processes (the reading memo).

A reading is kept as JSON in the cache, with what every file and folder it looked at held:
the digest of each file's bytes as they were parsed, and of each folder's importable names
(a new helper module can change what an import finds). The memo is used only while they all
still hold that. A file is compared by its stamp (modification and change times, size) when
the stamp had settled when taken, two seconds old, since any later change shows in it; else
by its content, which is read again (far cheaper than parsing it). So a run with nothing to
do reads no file at all, a file just written is not parsed twice, and a save that replaces
one file (and touches its folder) makes only that file be read again.
"""

from __future__ import annotations

import importlib.machinery
import os
import time
from pathlib import Path
from typing import Any

from little_pipelines._version import __version__
from little_pipelines.fingerprint.code import SCHEME, SourceIndex
from little_pipelines.fingerprint.digests import content_digest, digest
from little_pipelines.fingerprint.modules import Seen
from little_pipelines.project.discovery import TASK_PREFIX
from little_pipelines.project.specs import FileTasks, TaskDef
from little_pipelines.store.cache import ResultCache

__all__ = ["ReadCache"]


_KEPT = (
    "name", "line", "function", "params", "defaults", "code", "inputs", "cache", "expire_text",
    "notes", "tags", "outputs", "retries", "retry_delay", "timeout",
)  # fmt: skip
_STRINGS = ("params", "defaults", "inputs", "notes", "tags", "outputs")
# written only when a task has them (most have not): a format, and being an instance
_OPTIONAL = ("store", "instance")
# the fields of a remembered task: those of every task, and any of the optional ones
_LAYOUTS = [
    frozenset((*_KEPT, *extra)) for extra in ((), ("instance",), ("store",), ("store", "instance"))
]
_TEXTS = ("name", "function", "code", "expire_text")


def _memo_task_ok(t: dict[str, Any]) -> bool:
    """Whether a remembered task has exactly the fields put() writes, each of its type.

    (A no-op run checks every task's memo: plain loops, no generator per field.)
    """
    if t.keys() not in _LAYOUTS:
        return False
    for k in _TEXTS:
        if type(t[k]) is not str:
            return False
    if type(t["line"]) is not int or type(t["cache"]) is not bool:
        return False
    if type(t["retries"]) is not int or type(t["retry_delay"]) is not float:
        return False
    if t["timeout"] is not None and type(t["timeout"]) is not float:
        return False
    if "store" in t and type(t["store"]) is not str:
        return False
    if "instance" in t and not _instance_ok(t["instance"], t["name"], t["function"]):
        return False
    for k in _STRINGS:  # noqa: SIM110 (a loop makes no generator: it runs per task)
        if not _words(t[k]):
            return False
    return True


def _words(value: Any) -> bool:
    """Whether a remembered value is a list of strings."""
    if type(value) is not list:
        return False
    for x in value:  # noqa: SIM110 (as above)
        if type(x) is not str:
            return False
    return True


def _instance_ok(kept: Any, name: str, function: str) -> bool:
    """Whether a remembered instance is [bound names, values as text, values' digest], of a
    task named `group[id]` after its function (`task_group`)."""
    if type(kept) is not list or len(kept) != 3 or not _words(kept[0]):
        return False
    if type(kept[1]) is not str or type(kept[2]) is not str:
        return False
    return name[-1:] == "]" and name.startswith(function[len(TASK_PREFIX) :] + "[")


def _task_of(t: dict[str, Any], path: Path, rel: str) -> TaskDef:
    """A remembered task (checked by _memo_task_ok) as the TaskDef it was."""
    fields = dict(t)
    fields["defaults"] = set(t["defaults"])
    fields["inputs"], fields["notes"] = tuple(t["inputs"]), tuple(t["notes"])
    fields["tags"], fields["outputs"] = tuple(t["tags"]), tuple(t["outputs"])
    instance = fields.pop("instance", None)
    if instance is not None:
        group = t["function"][len(TASK_PREFIX) :]
        fields["group"], fields["instance_id"] = group, t["name"][len(group) + 1 : -1]
        fields["bound"], fields["values_text"], fields["values_code"] = instance
        fields["bound"] = tuple(instance[0])
    return TaskDef(path=path, rel=rel, **fields)


# what made a memo: it is used only by the same reader, for the same root (a copy of a
# project's folder, cache included, holds paths of the original, which did not change)
_READER = f"{__version__}/2"  # (the number after the slash goes up when reading changes)

_SETTLE_S = 2.0  # a stamp this old when taken proves a file unchanged (coarse file clocks)


def _stamp(path: Path) -> tuple[int, int, int] | None:
    """A file's modification and change times and size: ctime cannot be set back (`cp -p`,
    `rsync -t` and `os.utime` restore mtime only), so a same-size rewrite always shows."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_mtime_ns, st.st_ctime_ns, st.st_size


def _content(path: Path) -> str | None:
    """What a file holds, or what a folder holds that imports can find (the names of its
    modules and packages), as a digest; None when it cannot be read."""
    try:
        if not os.path.isdir(path):
            return content_digest(Path(path).read_bytes())
        names = sorted(n for n in os.listdir(path) if _importable(n))
    except OSError:
        return None
    return digest("folder", *names)


def _importable(name: str) -> bool:
    """Whether an entry of a folder can be found by an import (a module, a package)."""
    stem, dot, suffix = name.partition(".")
    if not stem.isidentifier() or stem == "__pycache__":
        return False
    return not dot or "." + suffix in _SUFFIXES


_SUFFIXES = frozenset(importlib.machinery.all_suffixes())


def _seen(path: Path) -> Seen | None:
    """A file or folder as it is now: the stamp is taken before the content is read."""
    taken = time.time_ns()
    stamp = _stamp(path)
    content = _content(path) if stamp is not None else None
    return None if stamp is None or content is None else Seen(stamp, content, taken)


def _kept(seen: Seen) -> list[Any]:
    """A memo's record of a path: its stamp and content digest, and whether the stamp alone
    proves the content unchanged (it had settled when taken: any later change shows)."""
    settled = seen.taken_ns - int(_SETTLE_S * 1e9)
    trusted = max(seen.stamp[0], seen.stamp[1]) < settled
    return [*seen.stamp, seen.digest, trusted]


def _still(seen: dict[str, Any], looked: dict[str, Seen | None]) -> dict[str, Any] | None:
    """A memo's record of paths, with the files that had to be read brought up to date; None
    when one of them no longer holds what it held. `looked` keeps the folders listed, so
    that a folder every reading depends on is listed once per reload, not once per reading.

    A folder whose stamp moved but whose importable names did not (a save that replaced a
    file in it) is left as recorded: listing it again costs less than rewriting every memo.
    """
    refreshed = dict(seen)
    for path, kept in seen.items():
        now = _unchanged(path, kept, looked)
        if now is False:
            return None
        if now is not True and not os.path.isdir(path):
            refreshed[path] = _kept(now)
    return refreshed


def _unchanged(path: str, kept: Any, looked: dict[str, Seen | None]) -> Seen | bool:
    """Whether a path still holds what a memo recorded: True when its settled stamp says so,
    its current Seen when its content had to be read to say so, False otherwise."""
    if not isinstance(kept, list) or len(kept) != 5:
        return False
    *stamp, content, trusted = kept
    if trusted is True and _stamp(Path(path)) == tuple(stamp):
        return True
    now = looked[path] if path in looked else _seen(Path(path))
    if now is not None and os.path.isdir(path):
        looked[path] = now
    return now if now is not None and now.digest == content else False


class ReadCache:
    """What static reading found in each tasks file, remembered across `lp` processes.

    An entry is used only while the file, every project file its tasks' code reaches, their
    folders and the root folder hold what they held when it was read (see the module's doc).
    """

    def __init__(
        self,
        cache: ResultCache,
        root: Path,
        index: SourceIndex | None = None,
        kept: dict[Path, tuple[dict[str, Any], FileTasks]] | None = None,
    ) -> None:
        self.cache = cache  # a ResultCache, opened only when there is a file to look up
        self.root = root
        self.index = index  # the index that reads the files (it knows what it parsed)
        # this process's readings from earlier reloads (a watch): checked the same way, and
        # handed back as the same objects, so what was built from them can be kept too
        self.kept = {} if kept is None else kept
        self._folders: dict[Path, Seen | None] = {}  # folders as they were before reading
        self._looked: dict[str, Seen | None] = {}  # the folders checking the memos listed

    def _key(self, path: Path) -> str:
        return "discovery:" + path.relative_to(self.root).as_posix()

    def before_reading(self, path: Path) -> None:
        """Note the root and the folder of `path` as they are before `path` is read."""
        for folder in (self.root, path.parent):
            if folder not in self._folders:
                self._folders[folder] = _seen(folder)

    def get(self, path: Path) -> FileTasks | None:
        """What reading `path` found last time, if nothing it depends on changed since.

        The memo is plain data (JSON, see ResultCache.get_data): nothing is unpickled.
        """
        held = self.kept.get(path)
        if held is not None:
            seen = _still(held[0], self._looked)
            if seen is not None:
                self.kept[path] = (seen, held[1])
                return held[1]
            del self.kept[path]
        data = self.cache.get_data(self._key(path))
        if not isinstance(data, dict) or data.get("scheme") != SCHEME:
            return None
        if data.get("reader") != _READER or data.get("root") != str(self.root):
            return None  # another version's reading, or a copy of the project's cache
        seen, tasks = data.get("seen"), data.get("tasks")
        if not isinstance(seen, dict) or not isinstance(tasks, list):
            return None
        if not all(isinstance(t, dict) and _memo_task_ok(t) for t in tasks):
            return None  # not what put() writes: damaged, or another version's
        refreshed = _still(seen, self._looked)
        if refreshed is None:
            return None
        if refreshed != seen and self.cache.writable:  # next time, the stamps may do
            self.cache.put_data(self._key(path), {**data, "seen": refreshed})
        rel = path.relative_to(self.root).as_posix()
        found = [_task_of(t, path, rel) for t in tasks]
        self.kept[path] = (refreshed, FileTasks(path, found))
        return self.kept[path][1]

    def put(self, found: FileTasks) -> None:
        """Remember a reading, with what each file and folder it looked at held meanwhile.

        Files are recorded as the index parsed them. A folder is recorded only if it held
        the same names before the reading as after it (noted by `before_reading`), or, when
        it was not noted before, if it had settled: else an import may have been resolved
        against names that are no longer there, and nothing is remembered.
        """
        if self.index is None or not self.cache.writable:
            return  # a memo only saves time; a read-only cache reads every file again
        seen: dict[str, list[Any]] = {}
        for file in {found.path, *found.uses}:
            read = self.index.seen(file)
            if read is None:
                return
            seen[str(file)] = _kept(read)
        for folder in {self.root, *(p.parent for p in found.uses)}:
            now = _seen(folder)
            before = self._folders.get(folder)
            if now is None:
                return
            kept = _kept(now if before is None else before)
            if (before is None and not kept[-1]) or (before and before.digest != now.digest):
                return
            seen[str(folder)] = kept
        tasks = []
        for task in found.tasks:
            t = {k: getattr(task, k) for k in _KEPT}
            t["defaults"], t["inputs"] = sorted(t["defaults"]), list(t["inputs"])
            t["notes"], t["tags"] = list(t["notes"]), list(t["tags"])
            t["outputs"] = list(t["outputs"])
            if task.store is not None:
                t["store"] = task.store
            if task.group:  # (its group and id are in its names)
                t["instance"] = [list(task.bound), task.values_text, task.values_code]
            tasks.append(t)
        memo = {
            "scheme": SCHEME, "reader": _READER, "root": str(self.root), "seen": seen,
            "tasks": tasks,
        }  # fmt: skip
        self.cache.put_data(self._key(found.path), memo)
        self.kept[found.path] = (seen, found)

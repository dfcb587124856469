"""What reading each tasks file found, remembered across `lp` processes (the reading memo).

A reading is kept as JSON in the cache, with the stamps of every file and folder it looked
at; it is used only while they all keep them. So a run with nothing to do reads no file at
all, and any edit, new helper module or rename is seen.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from little_pipelines.fingerprint.code import SCHEME
from little_pipelines.project.specs import FileTasks, TaskDef
from little_pipelines.store.cache import ResultCache

__all__ = ["ReadCache"]


_KEPT = (
    "name", "line", "function", "params", "defaults", "code", "inputs", "cache", "expire_text",
    "notes",
)  # fmt: skip
_STRINGS = ("params", "defaults", "inputs", "notes")


def _memo_task_ok(t: dict[str, Any]) -> bool:
    """Whether a remembered task has exactly the fields put() writes, each of its type."""
    if set(t) != set(_KEPT):
        return False
    texts = (t["name"], t["function"], t["code"], t["expire_text"])
    if not all(isinstance(x, str) for x in texts):
        return False
    if type(t["line"]) is not int or type(t["cache"]) is not bool:
        return False
    return all(isinstance(t[k], list) and all(isinstance(x, str) for x in t[k]) for k in _STRINGS)


_SETTLE_S = 2.0  # files changed more recently than this are not remembered (coarse clocks)


def _stamp(path: Path) -> tuple[int, int, int] | None:
    """A file's modification and change times and size: ctime cannot be set back (`cp -p`,
    `rsync -t` and `os.utime` restore mtime only), so a same-size rewrite always shows."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_mtime_ns, st.st_ctime_ns, st.st_size


class ReadCache:
    """What static reading found in each tasks file, remembered across `lp` processes.

    An entry is used only while the file, every project file its tasks' code reaches, their
    folders and the root folder keep their modification times and sizes; a new helper module
    anywhere in those folders therefore invalidates it.
    """

    def __init__(self, cache: ResultCache, root: Path) -> None:
        self.cache = cache  # a ResultCache, opened only when there is a file to look up
        self.root = root

    def _key(self, path: Path) -> str:
        return "discovery:" + path.relative_to(self.root).as_posix()

    def get(self, path: Path) -> FileTasks | None:
        """What reading `path` found last time, if nothing it depends on changed since.

        The memo is plain data (JSON, see ResultCache.get_data): nothing is unpickled.
        """
        data = self.cache.get_data(self._key(path))
        if not isinstance(data, dict) or data.get("scheme") != SCHEME:
            return None
        stamps, tasks = data.get("stamps"), data.get("tasks")
        if not isinstance(stamps, dict) or not isinstance(tasks, list):
            return None
        if not all(isinstance(t, dict) and _memo_task_ok(t) for t in tasks):
            return None  # not what put() writes: damaged, or another version's
        try:
            if any(_stamp(Path(p)) != tuple(stamp) for p, stamp in stamps.items()):
                return None
        except TypeError:
            return None
        rel = path.relative_to(self.root).as_posix()
        found = [
            TaskDef(
                path=path,
                rel=rel,
                **{
                    **t,
                    "defaults": set(t["defaults"]),
                    "inputs": tuple(t["inputs"]),
                    "notes": tuple(t["notes"]),
                },
            )
            for t in tasks
        ]
        return FileTasks(path, found)

    def put(self, found: FileTasks) -> None:
        if not self.cache.writable:
            return  # a memo only saves time; a read-only cache reads every file again
        watched = {found.path, self.root, *found.uses, *(p.parent for p in found.uses)}
        stamps = {str(p): _stamp(p) for p in watched}
        settled = time.time_ns() - int(_SETTLE_S * 1e9)
        if any(s is None or s[0] > settled for s in stamps.values()):
            return
        tasks = [{k: getattr(t, k) for k in _KEPT} for t in found.tasks]
        for t in tasks:
            t["defaults"], t["inputs"] = sorted(t["defaults"]), list(t["inputs"])
        memo = {"scheme": SCHEME, "stamps": stamps, "tasks": tasks}
        self.cache.put_data(self._key(found.path), memo)

"""Results on disk: a diskcache at an explicit folder, one entry and one payload per task.

A task's entry records the fingerprints its result was made from (code, inputs, upstream
results), the result's canonical digest (for early cutoff), the digest and size of its stored
bytes (to verify them when loaded) and when it expires; its payload is the pickled result. Both
are written in one transaction, so a kill at any instant leaves either the old pair or the new.

Entries, failure records and the discovery memo are JSON text, and are read straight from
diskcache's table: a row that lp did not write (a pickle planted in the cache folder) is
ignored, never unpickled. Only a result that a task, `lp show` or `lp.load` needs is unpickled.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from little_pipelines.errors import CacheError
from little_pipelines.fingerprint.code import SCHEME
from little_pipelines.store.entries import (
    FORMAT,
    DamagedResult,
    Entry,
    Loss,
    UnreadableResult,
    as_dict,
    as_entry,
    data_digest,
    serialize,
)
from little_pipelines.store.lock import RunLock
from little_pipelines.store.private import read_file
from little_pipelines.store.table import MODE_BINARY, MODE_RAW, Row, Table

__all__ = [
    "DamagedResult",
    "Entry",
    "Loss",
    "ResultCache",
    "UnreadableResult",
    "data_digest",
    "serialize",
]

# Keys are strings: diskcache stores them as they are, where tuples are pickled on every
# lookup. The prefix keeps a task's entry and its payload apart.
_ENTRY = "entry:"
_RESULT = "result:"
_SOURCE = "source:"


class ResultCache(Table):
    """Task results and their entries in a diskcache folder, opened on first use."""

    def __init__(
        self,
        directory: Path,
        import_module: Callable[[str], bool] | None = None,
        reset_command: str | None = None,
    ) -> None:
        super().__init__(directory, reset_command)
        # Results may hold instances of classes defined in modules not imported yet;
        # `import_module(name)` imports such a module and says whether it could.
        self.import_module = import_module
        # Tasks whose entry was found but whose stored bytes are not there: name -> why.
        self.lost: dict[str, Loss] = {}
        self._lock: RunLock | None = None
        # Entries as parsed, with their result's row, kept while no other connection has
        # written to the database (SQLite's data_version says so) and dropped on our own
        # writes: a watch replans thousands of tasks on every save.
        self._held: dict[str, tuple[Entry | None, Row | None]] = {}
        self._held_as_of: tuple[int, int, Any] | None = None

    def entry(self, name: str) -> Entry | None:
        """The entry of `name`'s stored result, or None if there is none (or an old scheme).

        An entry whose stored bytes are missing, or whose value file has the wrong size, is
        None too, and `lost[name]` says why: checking costs a stat, not a read.
        """
        return self.entries([name])[name]

    def entries(self, names: Iterable[str]) -> dict[str, Entry | None]:
        """The entries of many tasks (as `entry` gives each), read in a few queries."""
        names = list(names)
        self._check_held()
        missing = [name for name in names if name not in self._held]
        keys = [k for name in missing for k in (_ENTRY + name, _RESULT + name)]
        rows = self._rows(*keys, prefix=_ENTRY) if keys else {}
        for name in missing:
            self._held[name] = (self._parsed(rows.get(_ENTRY + name)), rows.get(_RESULT + name))
        return {name: self._entry_of(name, *self._held[name]) for name in names}

    def _check_held(self) -> None:
        """Forget the held entries if another connection (process) wrote meanwhile."""
        import threading

        ((version,),) = self._select("PRAGMA data_version", ())
        connection = self._readonly if self._readonly is not None else self._cache
        as_of = (threading.get_ident(), id(connection), version)  # per connection, per thread
        if as_of != self._held_as_of:
            self._held.clear()
            self._held_as_of = as_of

    def _changed(self, *names: str) -> None:
        """Our own write of these tasks' rows: what was held for them is out of date."""
        for name in names:
            self._held.pop(name, None)

    def _parsed(self, row: Row | None) -> Entry | None:
        return None if row is None else as_entry(self._parse(row))

    def _entry_of(self, name: str, entry: Entry | None, result: Row | None) -> Entry | None:
        if entry is None:
            return None
        why = self._check(result, entry)
        if why is not None:
            self.lost[name] = why
            return None
        self.lost.pop(name, None)
        return entry

    def _check(self, row: Row | None, entry: Entry) -> Loss | None:
        """Why the stored bytes of `entry` cannot be right without reading them, or None."""
        if row is None:
            return Loss.MISSING
        mode, filename, length = row
        if mode == MODE_RAW:
            return None if length == entry.size else Loss.DAMAGED
        path = self._path(filename)
        if mode != MODE_BINARY or path is None:
            return Loss.DAMAGED
        try:
            st = os.lstat(path)
        except OSError:
            return Loss.MISSING
        if not os.path.isfile(path) or os.path.islink(path) or st.st_size != entry.size:
            return Loss.DAMAGED
        return None

    def load_bytes(self, name: str, entry: Entry | None = None) -> bytes:
        """The stored result of `name` as serialized, verified against its entry's digest.

        KeyError when there is no result; DamagedResult when its bytes are missing or wrong.
        """
        entry = entry or self.entry(name)
        if entry is None:
            if name in self.lost:
                raise DamagedResult(name, self.lost[name])
            raise KeyError(name)
        key = _RESULT + name
        row = self._rows(key, values=key).get(key)
        if row is None:
            raise DamagedResult(name, Loss.MISSING)
        mode, filename, value = row
        if mode == MODE_RAW and isinstance(value, bytes):
            data = bytes(value)
        elif mode == MODE_BINARY and (path := self._path(filename)) is not None:
            try:
                data = read_file(path)
            except FileNotFoundError:
                raise DamagedResult(name, Loss.MISSING) from None
            except OSError:
                raise DamagedResult(name, Loss.DAMAGED) from None
        else:
            raise DamagedResult(name, Loss.DAMAGED)
        if len(data) != entry.size or data_digest(data) != entry.data:
            raise DamagedResult(name, Loss.DAMAGED)
        return data

    def loads(
        self,
        name: str,
        data: bytes,
        store: str = "pickle",
        stored_by: tuple[str, str] | None = None,
    ) -> Any:
        """Read the stored bytes of `name` (in format `store`, written by the format class
        `stored_by` when given: its file and name) into a new value (a copy of its own)."""
        from little_pipelines.store import formats

        fmt = formats.find(store)
        if fmt is None:
            raise CacheError(
                f"the stored result of '{name}' is in the format '{store}', which nothing"
                " registered here: register it with lp.register_format in the tasks file"
                " (or a module it imports)"
            )
        if not formats.serves(store, stored_by):
            assert stored_by is not None
            raise UnreadableResult(
                name,
                LookupError(
                    f"it was stored by {stored_by[1]} ({stored_by[0]}), and '{store}' is"
                    " another class here"
                ),
            )
        try:
            try:
                return fmt.loads(data)
            except ModuleNotFoundError as exc:
                if self.import_module is None or not exc.name or not self.import_module(exc.name):
                    raise
                return fmt.loads(data)
        except ModuleNotFoundError as exc:  # e.g. a DataFrame, where pandas is not installed
            raise CacheError(
                f"the stored result of '{name}' needs the module '{exc.name}', which cannot be"
                " imported here: install it, or use the environment the task ran in"
            ) from exc
        except Exception as exc:
            raise UnreadableResult(name, exc) from exc

    def load(self, name: str) -> Any:
        """The stored result of `name` (KeyError when absent, DamagedResult when damaged)."""
        entry = self.entry(name)
        store = entry.extra.get("store", "pickle") if entry is not None else "pickle"
        return self.loads(name, self.load_bytes(name, entry), store)

    def store(
        self, name: str, data: bytes, entry: Entry, source: tuple[str, str] | None = None
    ) -> None:
        """Store a result's bytes with its entry (which gets their digest and size), atomically;
        with `source` (key, text), the source of the entry's code too (see `source`)."""
        entry.data = data_digest(data)
        entry.size = len(data)
        text = json.dumps(as_dict(entry), separators=(",", ":"))
        rows: list[tuple[str, bytes | str]] = [(_RESULT + name, data), (_ENTRY + name, text)]
        if source is not None:
            rows.append((_SOURCE + source[0], json.dumps(source[1])))
        self.put_rows(rows)
        self._changed(name)
        self.lost.pop(name, None)

    def has_source(self, key: str) -> bool:
        """Whether a source is stored under `key` (see `source_key`)."""
        return bool(self._rows(_SOURCE + key))

    def sources_among(self, keys: Iterable[str]) -> set[str]:
        """Which of `keys` have a source stored, in a few queries (see `source_key`)."""
        found = self._rows(*(_SOURCE + key for key in keys))
        return {key[len(_SOURCE) :] for key in found}

    def source(self, key: str) -> str | None:
        """The source stored under `key` when a result of that code was stored; kept by code
        and file, so unchanged code is never stored twice (`lp why` shows what changed)."""
        found = self.get_data(_SOURCE + key)
        return found if isinstance(found, str) else None

    @staticmethod
    def source_key(code: str, file: str | None) -> str:
        """Where the source of code `code` defined in `file` is kept (its text names files)."""
        return f"{code}@{file or ''}"

    def update(self, name: str, **changes: Any) -> None:
        """Change fields of a stored entry (used to expire results in place)."""
        entry = self.entry(name)
        if entry is not None:
            for key, value in changes.items():
                setattr(entry, key, value)
            self.put_data(_ENTRY + name, as_dict(entry))
            self._changed(name)

    def mark_failed(self, name: str, when: float) -> None:
        """Forget `name`'s result because its last run failed, remembering that it did."""
        cache = self.raw
        with cache.transact():
            cache.delete(_RESULT + name)
            self.put_data(_ENTRY + name, {"scheme": SCHEME, "format": FORMAT, "failed_at": when})
        self._changed(name)

    def failed_at(self, name: str) -> float | None:
        """When `name` last failed, if its last run failed (its entry is then absent)."""
        found = self.get_data(_ENTRY + name)
        when = found.get("failed_at") if isinstance(found, dict) else None
        return when if isinstance(when, int | float) else None

    def forget_damaged(self, name: str, entry: Entry, why: Loss = Loss.DAMAGED) -> None:
        """Drop a result found damaged, unless another process replaced it meanwhile."""
        self.lost[name] = why
        if not self.writable:
            return  # a read-only cache keeps it; reading it stays "damaged" all the same
        cache = self.raw
        with cache.transact():
            current = as_entry(self.get_data(_ENTRY + name))
            if current is not None and current.data == entry.data:
                cache.delete(_ENTRY + name)
                cache.delete(_RESULT + name)
        self._changed(name)

    def drop(self, name: str) -> bool:
        """Forget `name`'s result; True if there was one."""
        cache = self.raw
        with cache.transact():
            had = cache.delete(_ENTRY + name)
            cache.delete(_RESULT + name)
        self._changed(name)
        self.lost.pop(name, None)
        return bool(had)

    def reset(self) -> None:
        """Delete the cache's files without reading them (see Table.reset)."""
        super().reset()
        self.lost.clear()

    def clear(self) -> None:
        """Forget every result."""
        self.raw.clear()
        self._held.clear()
        self.lost.clear()

    def close(self) -> None:
        """Close the database; what was held from it is forgotten (it may be replaced)."""
        self._held.clear()
        self._held_as_of = None
        super().close()

    def names(self) -> list[str]:
        """Names of the tasks that have a stored entry (keys read without unpickling)."""
        query = "SELECT key FROM Cache WHERE raw = 1 AND key >= ? AND key < ?"
        rows = self._select(query, ("entry:", "entry;"))
        return sorted(key[len(_ENTRY) :] for (key,) in rows if isinstance(key, str))

    def lock(
        self, on_wait: Callable[[str], None] | None = None
    ) -> contextlib.AbstractContextManager[None]:
        """Hold the run lock of this cache's folder (see store/lock.py): re-entrant on the
        thread that holds it; other threads and processes wait, `on_wait` told why."""
        if self._lock is None:
            self._lock = RunLock(self.directory, corrupt=self._corrupt, read_only=self._read_only)
        return self._lock.hold(on_wait)

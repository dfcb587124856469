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
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from little_pipelines.errors import CacheError
from little_pipelines.fingerprint.code import SCHEME
from little_pipelines.store.entries import (
    FORMAT,
    DamagedResult,
    Entry,
    Loss,
    as_dict,
    as_entry,
    data_digest,
    serialize,
)
from little_pipelines.store.lock import RunLock
from little_pipelines.store.private import create_private_file, make_dirs, private_disk, read_file

if TYPE_CHECKING:
    import sqlite3

    import diskcache

__all__ = ["DamagedResult", "Entry", "Loss", "ResultCache", "data_digest", "serialize"]

# Keys are strings: diskcache stores them as they are, where tuples are pickled on every
# lookup. The prefix keeps a task's entry and its payload apart.
_ENTRY = "entry:"
_RESULT = "result:"
# diskcache's value modes (diskcache.core): a value inline in the row, or in a file.
_MODE_RAW, _MODE_BINARY, _MODE_TEXT = 1, 2, 3


class ResultCache:
    """Task results and their entries in a diskcache folder, opened on first use."""

    def __init__(
        self,
        directory: Path,
        import_module: Callable[[str], bool] | None = None,
        reset_command: str | None = None,
    ) -> None:
        self.directory = Path(directory)
        # What a user types to reset this cache (`lp clean` for a project); without one,
        # or when the folder itself is of the wrong kind, errors say to delete the folder.
        self.reset_command = reset_command
        self._cache: diskcache.Cache | None = None
        self._db_id: tuple[int, int] | None = None  # the database file it opened (dev, inode)
        self._readonly: sqlite3.Connection | None = None  # set when only reading is allowed
        # Results may hold instances of classes defined in modules not imported yet;
        # `import_module(name)` imports such a module and says whether it could.
        self.import_module = import_module
        # Tasks whose entry was found but whose stored bytes are not there: name -> why.
        self.lost: dict[str, Loss] = {}
        self._lock: RunLock | None = None

    @property
    def raw(self) -> diskcache.Cache:
        """The underlying `diskcache.Cache` (created with its parent folders on first use)."""
        return self._open()

    def _open(self) -> diskcache.Cache:
        if self._cache is None:
            if self._readonly is not None:
                raise self._read_only()
            import diskcache

            try:
                make_dirs(self.directory)
                create_private_file(self.directory / "cache.db")  # SQLite keeps its mode
                # No eviction: a result may only disappear when the user cleans it.
                self._cache = diskcache.Cache(
                    str(self.directory), eviction_policy="none", cull_limit=0, disk=private_disk()
                )
                self._db_id = self._database_id()
            except Exception as exc:
                if self._open_read_only():
                    raise self._read_only() from exc
                raise self._corrupt(exc) from exc
        return self._cache

    @property
    def writable(self) -> bool:
        """False when the cache could only be opened for reading (its files are read-only)."""
        if self._cache is None and self._readonly is None:
            with contextlib.suppress(CacheError):
                self._open()
        return self._readonly is None

    def _open_read_only(self) -> bool:
        """Open an existing database that lp may not write, for reading only; True if it could.

        `lp list`, `why` and `show` then work on a cache shared read-only (a colleague's
        folder, a read-only mount); whatever needs to write says it cannot.
        """
        import sqlite3
        from urllib.parse import quote

        db = self.directory / "cache.db"
        if not db.is_file() or (os.access(db, os.W_OK) and os.access(self.directory, os.W_OK)):
            return False
        for mode in ("ro", "ro&immutable=1"):  # immutable: no -shm file can be created
            try:
                conn = sqlite3.connect(
                    f"file:{quote(str(db))}?mode={mode}", uri=True, check_same_thread=False
                )
                conn.execute("SELECT key, raw, mode, filename, value FROM Cache LIMIT 1")
            except sqlite3.Error:
                continue
            self._readonly = conn
            return True
        return False

    def _read_only(self) -> CacheError:
        folder = self.directory
        return CacheError(
            f"cannot write to the cache at {folder}: it is read-only"
            f" (make it writable: chmod -R u+w {folder})",
            file=str(folder),
        )

    def _select(self, query: str, args: tuple[Any, ...]) -> list[Any]:
        """Rows of an SQL query on diskcache's table, on a read-only cache too."""
        try:
            if self._readonly is None:
                try:
                    rows: list[Any] = self.raw._sql(query, args).fetchall()
                    return rows
                except CacheError:
                    if self._readonly is None:
                        raise
            return self._readonly.execute(query, args).fetchall()
        except CacheError:
            raise
        except Exception as exc:
            raise self._corrupt(exc) from exc

    def _corrupt(self, exc: BaseException) -> CacheError:
        folder = self.directory
        usable = folder.is_dir() and self.reset_command is not None
        reset = self.reset_command if usable else f"rm -r {folder}"
        return CacheError(
            f"cannot read the cache at {folder}: {exc} (to reset it: {reset})", file=str(folder)
        )

    # plain data --------------------------------------------------------------------------

    def _rows(self, *keys: str, values: str = "") -> dict[str, tuple[int, str | None, Any]]:
        """diskcache rows as stored (mode, file name, inline value), read without unpickling.

        The inline value is fetched only for the key given as `values`; other rows carry the
        length of theirs.
        """
        marks = ", ".join("?" * len(keys))
        query = (
            "SELECT key, mode, filename, CASE WHEN key = ? THEN value ELSE length(value) END"
            f" FROM Cache WHERE raw = 1 AND key IN ({marks})"
        )
        found = self._select(query, (values, *keys))
        return {key: (mode, filename, value) for key, mode, filename, value in found}

    def _path(self, filename: str | None) -> str | None:
        """A value file's path inside the cache folder (None for a name that leaves it)."""
        if not filename or os.path.isabs(filename) or ".." in Path(filename).parts:
            return None
        return os.path.join(self.directory, filename)

    def get_data(self, key: str) -> Any:
        """Plain data stored with `put_data` (parsed JSON), or None; nothing is unpickled."""
        row = self._rows(key, values=key).get(key)
        return None if row is None else self._parse(row)

    def put_data(self, key: str, value: Any) -> None:
        """Store JSON-able `value` under `key` as text."""
        self.raw.set(key, json.dumps(value, separators=(",", ":")))

    # entries -----------------------------------------------------------------------------

    def entry(self, name: str) -> Entry | None:
        """The entry of `name`'s stored result, or None if there is none (or an old scheme).

        An entry whose stored bytes are missing, or whose value file has the wrong size, is
        None too, and `lost[name]` says why: checking costs a stat, not a read.
        """
        key, result = _ENTRY + name, _RESULT + name
        rows = self._rows(key, result, values=key)
        row = rows.get(key)
        if row is None:
            return None
        entry = as_entry(self._parse(row))
        if entry is None:
            return None
        why = self._check(rows.get(result), entry)
        if why is not None:
            self.lost[name] = why
            return None
        self.lost.pop(name, None)
        return entry

    def _parse(self, row: tuple[int, str | None, Any]) -> Any:
        """A row's JSON text, parsed; None for anything else (a pickle lp did not write)."""
        mode, filename, value = row
        if mode == _MODE_RAW and isinstance(value, str):
            text = value
        elif mode == _MODE_TEXT and (path := self._path(filename)) is not None:
            try:
                text = read_file(path).decode("utf-8")
            except (OSError, UnicodeDecodeError):
                return None
        else:
            return None
        try:
            return json.loads(text)
        except ValueError:
            return None

    def _check(self, row: tuple[int, str | None, Any] | None, entry: Entry) -> Loss | None:
        """Why the stored bytes of `entry` cannot be right without reading them, or None."""
        if row is None:
            return Loss.MISSING
        mode, filename, length = row
        if mode == _MODE_RAW:
            return None if length == entry.size else Loss.DAMAGED
        path = self._path(filename)
        if mode != _MODE_BINARY or path is None:
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
        if mode == _MODE_RAW and isinstance(value, bytes):
            data = bytes(value)
        elif mode == _MODE_BINARY and (path := self._path(filename)) is not None:
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

    def loads(self, name: str, data: bytes) -> Any:
        """Unpickle the stored bytes of `name` into a new value (a copy of its own)."""
        try:
            try:
                return pickle.loads(data)
            except ModuleNotFoundError as exc:
                if self.import_module is None or not exc.name or not self.import_module(exc.name):
                    raise
                return pickle.loads(data)
        except ModuleNotFoundError:
            raise
        except Exception as exc:
            raise CacheError(
                f"the stored result of '{name}' cannot be read ({type(exc).__name__}: {exc});"
                f" drop it with: lp clean {name}"
            ) from exc

    def load(self, name: str) -> Any:
        """The stored result of `name` (KeyError when absent, DamagedResult when damaged)."""
        return self.loads(name, self.load_bytes(name))

    def store(self, name: str, data: bytes, entry: Entry) -> None:
        """Store a result's bytes with its entry (which gets their digest and size), atomically."""
        entry.data = data_digest(data)
        entry.size = len(data)
        text = json.dumps(as_dict(entry), separators=(",", ":"))
        cache = self.raw
        with cache.transact():
            cache.set(_RESULT + name, data)
            cache.set(_ENTRY + name, text)
        self.lost.pop(name, None)

    def update(self, name: str, **changes: Any) -> None:
        """Change fields of a stored entry (used to expire results in place)."""
        entry = self.entry(name)
        if entry is not None:
            for key, value in changes.items():
                setattr(entry, key, value)
            self.put_data(_ENTRY + name, as_dict(entry))

    def mark_failed(self, name: str, when: float) -> None:
        """Forget `name`'s result because its last run failed, remembering that it did."""
        cache = self.raw
        with cache.transact():
            cache.delete(_RESULT + name)
            self.put_data(_ENTRY + name, {"scheme": SCHEME, "format": FORMAT, "failed_at": when})

    def failed_at(self, name: str) -> float | None:
        """When `name` last failed, if its last run failed (its entry is then absent)."""
        found = self.get_data(_ENTRY + name)
        when = found.get("failed_at") if isinstance(found, dict) else None
        return when if isinstance(when, int | float) else None

    def forget_damaged(self, name: str, entry: Entry) -> None:
        """Drop a result found damaged, unless another process replaced it meanwhile."""
        self.lost[name] = Loss.DAMAGED
        if not self.writable:
            return  # a read-only cache keeps it; reading it stays "damaged" all the same
        cache = self.raw
        with cache.transact():
            current = as_entry(self.get_data(_ENTRY + name))
            if current is not None and current.data == entry.data:
                cache.delete(_ENTRY + name)
                cache.delete(_RESULT + name)

    def drop(self, name: str) -> bool:
        """Forget `name`'s result; True if there was one."""
        cache = self.raw
        with cache.transact():
            had = cache.delete(_ENTRY + name)
            cache.delete(_RESULT + name)
        self.lost.pop(name, None)
        return bool(had)

    def clear(self) -> None:
        """Forget every result."""
        self.raw.clear()
        self.lost.clear()

    def reset(self) -> None:
        """Delete the cache's files without reading them: the way out of a corrupt cache.

        Logs and the run lock stay; every stored result goes, and so does whatever stands
        in the place of the database or a value folder (a folder, a file, a link).
        """
        import shutil

        self.close()
        self.lost.clear()
        if not self.directory.is_dir():
            return
        for path in self.directory.iterdir():
            name = path.name
            if name.startswith("cache.db") or (len(name) == 2 and name.isalnum()):
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path)
                else:
                    path.unlink()

    def names(self) -> list[str]:
        """Names of the tasks that have a stored entry (keys read without unpickling)."""
        query = "SELECT key FROM Cache WHERE raw = 1 AND key >= ? AND key < ?"
        rows = self._select(query, ("entry:", "entry;"))
        return sorted(key[len(_ENTRY) :] for (key,) in rows if isinstance(key, str))

    def _database_id(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.directory / "cache.db")
        except OSError:
            return None
        return st.st_dev, st.st_ino

    def reopen_if_replaced(self) -> bool:
        """Close the database if its file was deleted or replaced since it was opened.

        Another process (`lp clean`) may reset the cache under a long-lived one (`lp watch`,
        the shell): reading on would serve the cleaned results from the unlinked file. The
        next use then opens the current database. True when it was replaced.
        """
        if self._cache is None or self._database_id() == self._db_id:
            return False
        self.close()
        return True

    def close(self) -> None:
        if self._cache is not None:
            self._cache.close()
            self._cache = None
        if self._readonly is not None:
            self._readonly.close()
            self._readonly = None

    def lock(
        self, on_wait: Callable[[str], None] | None = None
    ) -> contextlib.AbstractContextManager[None]:
        """Hold the run lock of this cache's folder (see store/lock.py): re-entrant on the
        thread that holds it; other threads and processes wait, `on_wait` told why."""
        if self._lock is None:
            self._lock = RunLock(self.directory, corrupt=self._corrupt, read_only=self._read_only)
        return self._lock.hold(on_wait)

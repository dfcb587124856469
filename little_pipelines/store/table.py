"""The database under a cache: a diskcache folder, opened on first use, read as rows.

Rows are read straight from diskcache's table, never through its unpickling `get`: a row
that lp did not write (a pickle planted in the cache folder) is ignored. A database that
lp may not write is opened read-only, so the commands that only read work on it.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from little_pipelines.errors import CacheError
from little_pipelines.store.private import create_private_file, make_dirs, private_disk, read_file

if TYPE_CHECKING:
    import sqlite3

    import diskcache

__all__ = ["MODE_BINARY", "MODE_RAW", "MODE_TEXT", "Row", "Table"]

# diskcache's value modes (diskcache.core): a value inline in the row, or in a file.
MODE_RAW, MODE_BINARY, MODE_TEXT = 1, 2, 3
Row = tuple[int, str | None, Any]  # a row as stored: mode, file name, inline value
_BATCH = 900  # keys per query: SQLite allows 999 parameters in builds older than 3.32
# Values kept in their rows, as diskcache's `set` writes one (no expiry, no tag, size 0).
_ROW = f"(?, 1, ?, NULL, ?, 0, NULL, 0, {MODE_RAW}, NULL, ?)"
_UPSERT = (
    "INSERT INTO Cache(key, raw, store_time, expire_time, access_time, access_count, tag,"
    " size, mode, filename, value) VALUES {rows}"
    " ON CONFLICT(key, raw) DO UPDATE SET store_time = excluded.store_time, expire_time = NULL,"
    " access_time = excluded.access_time, access_count = 0, tag = NULL, size = 0,"
    f" mode = {MODE_RAW}, filename = NULL, value = excluded.value"
)


class Table:
    """A diskcache folder and its rows; what a user types to reset it goes in its errors."""

    def __init__(self, directory: Path, reset_command: str | None = None) -> None:
        self.directory = Path(directory)
        # What a user types to reset this cache (`lp clean` for a project); without one,
        # or when the folder itself is of the wrong kind, errors say to delete the folder.
        self.reset_command = reset_command
        self._cache: diskcache.Cache | None = None
        self._db_id: tuple[int, int] | None = None  # the database file it opened (dev, inode)
        self._readonly: sqlite3.Connection | None = None  # set when only reading is allowed

    @property
    def raw(self) -> diskcache.Cache:
        """The underlying `diskcache.Cache` (created with its parent folders on first use)."""
        return self._open()

    def _open(self) -> diskcache.Cache:
        if self._cache is None:
            if self._readonly is not None:
                raise self._read_only()
            import diskcache

            self._make_folder()
            try:
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

    def _make_folder(self) -> None:
        """Create the cache folder; one that cannot be made is named, with what to do instead
        (deleting it, the usual reset, cannot help: it is not there)."""
        try:
            make_dirs(self.directory)
        except (FileExistsError, NotADirectoryError) as exc:  # a file in its place: reset it
            raise self._corrupt(exc) from exc
        except OSError as exc:
            raise CacheError(
                f"cannot create the cache folder {self.directory}: {exc.strerror or exc}"
                " (choose a folder lp can create: cache_dir in pyproject.toml, or"
                " LITTLE_PIPELINES_HOME for library pipelines)",
                file=str(self.directory),
            ) from exc

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

    def _rows(self, *keys: str, values: str = "", prefix: str = "") -> dict[str, Row]:
        """diskcache rows as stored (mode, file name, inline value), read without unpickling.

        The inline value is fetched only for the key given as `values`, or for every key
        that starts with `prefix` (which ends with ":"); other rows carry the length of theirs.
        """
        args: tuple[str, ...]
        if prefix:  # the keys from "entry:" up to "entry;"
            wanted, args = "key >= ? AND key < ?", (prefix, prefix[:-1] + ";")
        else:
            wanted, args = "key = ?", (values,)
        found: list[Any] = []
        for at in range(0, len(keys), _BATCH):
            batch = keys[at : at + _BATCH]
            query = (
                f"SELECT key, mode, filename, CASE WHEN {wanted} THEN value ELSE length(value)"
                f" END FROM Cache WHERE raw = 1 AND key IN ({', '.join('?' * len(batch))})"
            )
            found += self._select(query, (*args, *batch))
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

    def put_rows(self, items: list[tuple[str, bytes | str]]) -> None:
        """Store several values at once (a kill leaves all of them or none).

        Values small enough to sit in their row (as diskcache keeps them) are written by one
        statement, which SQLite makes atomic by itself: the cost of storing a result is
        mostly its transaction. With a larger value among them, diskcache writes its value
        file, in one transaction with the rest. A value file that a new value replaces is
        removed once the new rows are in.
        """
        cache = self.raw
        limit = cache.disk_min_file_size
        small = [(k, v) for k, v in items if len(v) < limit]
        if len(small) == len(items):
            replaced = self._value_files([k for k, _ in small])
            self._upsert(small)
            for filename in replaced:
                cache._disk.remove(filename)
            return
        with cache._transact() as (_, cleanup):
            for filename in self._value_files([k for k, _ in small]):
                cleanup(filename)
            if small:
                self._upsert(small)
            for key, value in items:
                if len(value) >= limit:
                    cache.set(key, value)

    def _value_files(self, keys: list[str]) -> list[str]:
        """The value files of the rows of `keys` that have one."""
        if not keys:
            return []
        marks = ", ".join("?" * len(keys))
        query = (
            f"SELECT filename FROM Cache WHERE raw = 1 AND key IN ({marks})"
            " AND filename IS NOT NULL"
        )
        return [filename for (filename,) in self.raw._sql(query, keys).fetchall()]

    def _upsert(self, items: list[tuple[str, bytes | str]]) -> None:
        """Write values into their rows, replacing what was there, in one statement."""
        now = time.time()
        rows = ", ".join([_ROW] * len(items))
        args = [x for key, value in items for x in (key, now, now, value)]
        self.raw._sql(_UPSERT.format(rows=rows), args)

    def put_data(self, key: str, value: Any) -> None:
        """Store JSON-able `value` under `key` as text."""
        self.raw.set(key, json.dumps(value, separators=(",", ":")))

    def _parse(self, row: Row) -> Any:
        """A row's JSON text, parsed; None for anything else (a pickle lp did not write)."""
        mode, filename, value = row
        if mode == MODE_RAW and isinstance(value, str):
            text = value
        elif mode == MODE_TEXT and (path := self._path(filename)) is not None:
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

    def reset(self) -> None:
        """Delete the cache's files without reading them: the way out of a corrupt cache.

        Logs and the run lock stay; every stored result goes, and so does whatever stands
        in the place of the database or a value folder (a folder, a file, a link).
        """
        import shutil

        self.close()
        if not self.directory.is_dir():
            return
        for path in self.directory.iterdir():
            name = path.name
            if name.startswith("cache.db") or (len(name) == 2 and name.isalnum()):
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path)
                else:
                    path.unlink()

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

"""Results on disk: a diskcache at an explicit folder, one entry and one payload per task.

A task's entry records the fingerprints its result was made from (code, inputs, upstream
results) and when it expires; its payload is the pickled result. Both are written in one
transaction, so a kill at any instant leaves either the old pair or the new one.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pickle
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import CacheError
from .fingerprint import SCHEME

if TYPE_CHECKING:
    import diskcache

__all__ = ["Entry", "ResultCache", "serialize"]

# Keys are strings: diskcache stores them as they are, where tuples are pickled on every
# lookup. The prefix keeps a task's entry and its payload apart.
_ENTRY = "entry:"
_RESULT = "result:"


def serialize(value: Any) -> bytes:
    """The bytes a result is stored as; equal bytes mean an equal result (early cutoff)."""
    return pickle.dumps(value, protocol=5)


@dataclass(slots=True)
class Entry:
    """What a stored result was made from, and until when it may be used."""

    code: str
    inputs: str
    upstream: dict[str, str]
    result: str
    stored_at: float
    duration_s: float
    expires_at: float | None = None
    session: str | None = None
    scheme: int = SCHEME
    extra: dict[str, Any] = field(default_factory=dict)


_FIELDS = tuple(Entry.__dataclass_fields__)


def _as_dict(entry: Entry) -> dict[str, Any]:
    return {name: getattr(entry, name) for name in _FIELDS}


class ResultCache:
    """Task results and their entries in a diskcache folder, opened on first use."""

    def __init__(self, directory: Path, import_module: Callable[[str], bool] | None = None) -> None:
        self.directory = Path(directory)
        self._cache: diskcache.Cache | None = None
        self._db_id: tuple[int, int] | None = None  # the database file it opened (dev, inode)
        # Results may hold instances of classes defined in modules not imported yet;
        # `import_module(name)` imports such a module and says whether it could.
        self.import_module = import_module

    @property
    def raw(self) -> diskcache.Cache:
        """The underlying `diskcache.Cache` (created with its parent folders on first use)."""
        if self._cache is None:
            import diskcache

            try:
                self.directory.mkdir(parents=True, exist_ok=True)
                # No eviction: a result may only disappear when the user cleans it.
                self._cache = diskcache.Cache(
                    str(self.directory), eviction_policy="none", cull_limit=0
                )
                self._db_id = self._database_id()
            except Exception as exc:
                raise self._corrupt(exc) from exc
        return self._cache

    def _corrupt(self, exc: BaseException) -> CacheError:
        return CacheError(
            f"cannot read the cache at {self.directory}: {exc} "
            f"(to reset it: lp clean, or delete the folder {self.directory})",
            file=str(self.directory),
        )

    def entry(self, name: str) -> Entry | None:
        """The entry of `name`'s stored result, or None if there is none (or an old scheme)."""
        cache = self.raw
        try:
            found = cache.get(_ENTRY + name)
        except Exception as exc:
            raise self._corrupt(exc) from exc
        if not isinstance(found, dict) or found.get("scheme") != SCHEME:
            return None
        try:
            return Entry(**found)
        except TypeError:  # written by another version of this package: treat as absent
            return None

    def load_bytes(self, name: str) -> bytes:
        """The stored result of `name` as it was serialized (KeyError when absent)."""
        cache = self.raw
        try:
            data = cache.get(_RESULT + name)
        except Exception as exc:
            raise self._corrupt(exc) from exc
        if data is None:
            raise KeyError(name)
        return data

    def load(self, name: str) -> Any:
        """The stored result of `name` (KeyError when absent)."""
        data = self.load_bytes(name)
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

    def store(self, name: str, data: bytes, entry: Entry) -> None:
        """Store a result's bytes with its entry, atomically."""
        cache = self.raw
        with cache.transact():
            cache.set(_RESULT + name, data)
            cache.set(_ENTRY + name, _as_dict(entry))

    def update(self, name: str, **changes: Any) -> None:
        """Change fields of a stored entry (used to expire results in place)."""
        entry = self.entry(name)
        if entry is not None:
            for key, value in changes.items():
                setattr(entry, key, value)
            self.raw.set(_ENTRY + name, _as_dict(entry))

    def mark_failed(self, name: str, when: float) -> None:
        """Forget `name`'s result because its last run failed, remembering that it did."""
        cache = self.raw
        with cache.transact():
            cache.delete(_RESULT + name)
            cache.set(_ENTRY + name, {"scheme": SCHEME, "failed_at": when})

    def failed_at(self, name: str) -> float | None:
        """When `name` last failed, if its last run failed (its entry is then absent)."""
        found = self.raw.get(_ENTRY + name)
        return found.get("failed_at") if isinstance(found, dict) else None

    def drop(self, name: str) -> bool:
        """Forget `name`'s result; True if there was one."""
        cache = self.raw
        with cache.transact():
            had = cache.delete(_ENTRY + name)
            cache.delete(_RESULT + name)
        return bool(had)

    def clear(self) -> None:
        """Forget every result."""
        self.raw.clear()

    def reset(self) -> None:
        """Delete the cache's files without reading them: the way out of a corrupt cache.

        Logs and the run lock stay; every stored result goes.
        """
        import shutil

        self.close()
        if not self.directory.is_dir():
            return
        for path in self.directory.iterdir():
            if path.name.startswith("cache.db"):
                path.unlink()
            elif path.is_dir() and len(path.name) == 2 and path.name.isalnum():
                shutil.rmtree(path)

    def names(self) -> list[str]:
        """Names of the tasks that have a stored entry."""
        keys = self.raw.iterkeys()
        return sorted(key[len(_ENTRY) :] for key in keys if key.startswith(_ENTRY))

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

    @contextlib.contextmanager
    def lock(self, on_wait: Callable[[str], None] | None = None) -> Iterator[None]:
        """Hold the project's run lock; call `on_wait` with a message if another holds it."""
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / "run.lock"
        with open(path, "a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.seek(0)
                holder = handle.read().strip() or "another process"
                if on_wait is not None:
                    on_wait(f"waiting for another lp process ({holder}) to finish with {path}")
                fcntl.flock(handle, fcntl.LOCK_EX)
            handle.seek(0)
            handle.truncate()
            handle.write(f"pid {os.getpid()}")
            handle.flush()
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

"""Owner-only state on disk: folders 0700 and files 0600 whatever the umask, no symlinks followed.

lp's state folders hold pickles, which run code when loaded: another local user must not be able
to read them or plant one (SPEC section 12). Every folder and file lp creates in them is made
here. The modes are POSIX; elsewhere they are what the system gives.
"""

from __future__ import annotations

import contextlib
import functools
import os
from pathlib import Path
from typing import IO, Any

__all__ = [
    "DIR_MODE",
    "FILE_MODE",
    "NOFOLLOW",
    "create_private_file",
    "make_dirs",
    "open_private",
    "private_disk",
    "read_file",
]

DIR_MODE = 0o700
FILE_MODE = 0o600
NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def make_dirs(path: Path) -> None:
    """Create `path` and its missing parents, each owner-only (existing ones are left as they are).

    Raises FileExistsError or NotADirectoryError when a file stands where a folder belongs.
    """
    path = Path(path)
    missing = []
    while not path.is_dir():
        if path.exists() or path.is_symlink():
            raise FileExistsError(f"{path} exists and is not a folder")
        missing.append(path)
        if path.parent == path:
            break
        path = path.parent
    for folder in reversed(missing):
        try:
            os.mkdir(folder, DIR_MODE)
        except FileExistsError:  # made by another process meanwhile
            if not folder.is_dir():
                raise
            continue
        with contextlib.suppress(OSError):
            os.chmod(folder, DIR_MODE)  # the umask can only take bits away; be explicit


def open_private(path: Path | str, mode: str = "ab", encoding: str | None = None) -> IO[Any]:
    """Open a state file for writing, creating it 0600; a symlink in its place is replaced.

    `mode` is "ab"/"a" (append) or "xb"/"x" (a new file).
    """
    flags = os.O_WRONLY | os.O_CREAT | NOFOLLOW | getattr(os, "O_BINARY", 0)
    flags |= os.O_EXCL if mode.startswith("x") else os.O_APPEND
    try:
        fd = os.open(path, flags, FILE_MODE)
    except OSError:
        if not os.path.islink(path):
            raise
        os.unlink(path)  # a link planted in our folder: drop the link, never write through it
        fd = os.open(path, flags, FILE_MODE)
    return os.fdopen(fd, mode, encoding=encoding)


def create_private_file(path: Path) -> bool:
    """Create an empty file 0600 unless something exists there; True if it was created."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | NOFOLLOW, FILE_MODE)
    except FileExistsError:
        return False
    os.close(fd)
    return True


def read_file(path: str) -> bytes:
    """A file's bytes; a symlink planted in the state folder is not followed."""
    fd = os.open(path, os.O_RDONLY | NOFOLLOW | getattr(os, "O_BINARY", 0))
    with os.fdopen(fd, "rb") as handle:
        return handle.read()


@functools.cache
def private_disk() -> type:
    """diskcache's Disk, writing value files 0600 in folders 0700, never through a symlink."""
    import diskcache

    class PrivateDisk(diskcache.Disk):  # type: ignore[misc]  # diskcache has no types
        def filename(self, key: Any = None, value: Any = None) -> tuple[str, str]:
            """A random value file name whose folders are not blocked by a stray file.

            A damaged cache folder may hold a file where a value folder belongs; a new value
            then goes elsewhere, and the stray file is left alone.
            """
            for _ in range(100):
                name, full_path = super().filename(key, value)
                top = os.path.join(self._directory, name[:2])
                middle = os.path.dirname(full_path)
                if all(os.path.isdir(p) or not os.path.lexists(p) for p in (top, middle)):
                    break
            return name, full_path

        def _write(
            self, full_path: str, iterator: Any, mode: str, encoding: str | None = None
        ) -> int:
            for attempt in range(1, 11):
                try:
                    make_dirs(Path(full_path).parent)
                    writer = open_private(full_path, mode, encoding=encoding)
                except OSError:
                    if attempt == 10:
                        raise
                    continue  # another process removed the folder meanwhile: try again
                with writer:
                    size = 0
                    for chunk in iterator:
                        size += len(chunk)
                        writer.write(chunk)
                    return size
            return 0

        def remove(self, file_path: str) -> None:
            """Delete a value file, and its folders once empty, never outside the cache folder.

            The file name comes from the database: a damaged or planted row may name any path
            (`/home/me/tasks.py`, `../../data.csv`), and that file is not ours to delete.
            """
            parts = Path(file_path).parts
            if os.path.isabs(file_path) or ".." in parts or len(parts) != 3:
                return
            top, middle = (os.path.join(self._directory, *parts[:n]) for n in (1, 2))
            if os.path.islink(top) or os.path.islink(middle):
                return  # a planted link to a folder: what it points at is not ours either
            full_path = os.path.join(self._directory, file_path)
            with contextlib.suppress(OSError):
                os.remove(full_path)
            for folder in (os.path.dirname(full_path), os.path.join(self._directory, parts[0])):
                with contextlib.suppress(OSError):
                    os.rmdir(folder)  # only if empty, as diskcache does

    return PrivateDisk

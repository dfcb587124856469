"""Project modules imported from their source bytes, tasks files under unique module names.

Python trusts a `__pycache__` file whose recorded size and whole-second mtime match the source,
so a quick same-size save (an editor, a formatter, `git checkout`) would run the old bytecode
while the fingerprint reads the new source. Every project module is therefore compiled from the
bytes on disk: tasks files by `Modules.load`, helper modules below the root by a finder that
`Modules.ensure_importable` installs (no bytecode is read or written for either).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.machinery
import importlib.util
import re
import sys
import traceback
import types
import weakref
from collections.abc import Sequence
from pathlib import Path

from little_pipelines.errors import DiscoveryError, syntax_message

__all__ = ["Modules", "ProjectFinder", "SourceLoader"]

_error = DiscoveryError.at
# folders below a root whose modules are not project code (a virtual environment's packages)
_PACKAGE_DIRS = frozenset({"site-packages", "dist-packages"})


def _digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def _stamp(path: Path) -> tuple[int, ...]:
    """Everything `stat` says changes when a file is written (ctime cannot be set by hand)."""
    st = path.stat()
    return (st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino, st.st_dev)


class SourceLoader(importlib.machinery.SourceFileLoader):
    """Compiles a module from its source bytes; never reads or writes cached bytecode.

    `source`, when given, is compiled instead of reading the file again (the bytes the caller
    already hashed). `seen` records the digest of the bytes each module ran, by module name.
    """

    def __init__(
        self,
        fullname: str,
        path: str,
        source: bytes | None = None,
        seen: dict[str, tuple[str, str]] | None = None,
    ) -> None:
        super().__init__(fullname, path)
        self._source = source
        self._seen = seen

    def get_code(self, fullname: str) -> types.CodeType:
        """The code of the source as it is now (or as given), compiled afresh."""
        source = self._source if self._source is not None else self.get_data(self.path)
        self._source = None  # a later reload reads the file again
        if self._seen is not None:
            self._seen[fullname] = (self.path, _digest(source))
        return self.source_to_code(source, self.path)


class ProjectFinder:
    """A `sys.meta_path` finder that loads the modules found below `roots` from their source.

    It finds modules as the standard path finder does (same sys.path order). Modules of a
    virtual environment or Python installation kept inside a root are left to the standard
    machinery: they are not project code, and their bytecode is trusted.
    """

    def __init__(self, roots: Sequence[Path], excluded: Sequence[Path] = ()) -> None:
        self.roots = tuple(dict.fromkeys(roots))
        self.excluded = tuple(dict.fromkeys(excluded))
        self.seen: dict[str, tuple[str, str]] = {}  # module name -> (file, digest of its bytes)

    def owns(self, origin: str) -> bool:
        """Whether the module file at `origin` is project code."""
        path = Path(origin)
        for root in self.roots:
            if path.is_relative_to(root):
                if _PACKAGE_DIRS.intersection(path.relative_to(root).parts):
                    return False
                return not any(path.is_relative_to(e) for e in self.excluded)
        return False

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: types.ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        spec = importlib.machinery.PathFinder.find_spec(fullname, path, target)
        if spec is None or type(spec.loader) is not importlib.machinery.SourceFileLoader:
            return None  # not found, a namespace package, an extension or bytecode-only module
        if spec.origin is None or not self.owns(spec.origin):
            return None
        spec.loader = SourceLoader(fullname, spec.origin, seen=self.seen)
        return spec

    def install(self) -> None:
        """Put the finder just before the standard path finder (builtins keep going first)."""
        if self in sys.meta_path:
            return
        finders = sys.meta_path
        standard = importlib.machinery.PathFinder
        finders.insert(finders.index(standard) if standard in finders else len(finders), self)

    def uninstall(self) -> None:
        if self in sys.meta_path:
            sys.meta_path.remove(self)

    def changed(self) -> bool:
        """Whether a module this finder loaded has other bytes on disk now (or is gone)."""
        for file, digest in list(self.seen.values()):
            try:
                if _digest(Path(file).read_bytes()) != digest:
                    return True
            except OSError:
                return True
        return False


def _excluded_prefixes(roots: Sequence[Path]) -> list[Path]:
    """This Python's installation folders that lie inside a root (a `.venv` in the project)."""
    prefixes = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    found = []
    for prefix in prefixes:
        for candidate in {Path(prefix), Path(prefix).resolve()}:
            if any(candidate != r and candidate.is_relative_to(r) for r in roots):
                found.append(candidate)
    return found


class Modules:
    """Tasks modules imported by path under unique names, each re-imported when its bytes change.

    `ensure_importable` puts the root on sys.path and installs a `ProjectFinder`, so helper
    modules also run from their current source; `close` takes both away again.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self._loaded: dict[Path, tuple[tuple[int, ...], str, types.ModuleType]] = {}
        roots = [root, root.resolve()]
        self.finder = ProjectFinder(roots, _excluded_prefixes(roots))
        self._on_path = False  # whether this importer put the root on sys.path
        self._finalizer = weakref.finalize(self, self.finder.uninstall)

    def module_name(self, path: Path) -> str:
        """A module name unique to `path`: its readable stem plus a hash of the relative path.

        `tasks_a-b.py` and `tasks_a_b.py` sanitise to the same stem, so the hash tells them
        apart (pickled results refer to classes by this name).
        """
        rel = path.relative_to(self.root).as_posix()
        stem = re.sub(r"\W", "_", rel.removesuffix(".py").replace("/", "__"))
        return f"lp_tasks__{stem}__{_digest(rel.encode())[:8]}"

    def load(self, path: Path) -> types.ModuleType:
        """Import the tasks file at `path`, again only when its bytes changed since.

        The bytes are hashed whenever the file's status changed at all: its ctime is part of
        the stamp, and neither `os.utime` nor a checkout can set that back.
        """
        stamp = _stamp(path)
        known = self._loaded.get(path)
        if known is not None and known[0] == stamp:
            return known[2]
        source = path.read_bytes()
        digest = _digest(source)
        if known is not None and known[1] == digest:
            self._loaded[path] = (stamp, digest, known[2])
            return known[2]
        self.ensure_importable()
        self.refresh()  # the module about to run must not see a helper's older version
        name = self.module_name(path)
        loader = SourceLoader(name, str(path), source=source)
        spec = importlib.util.spec_from_file_location(name, path, loader=loader)
        assert spec is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            loader.exec_module(module)
        except (Exception, SystemExit) as exc:  # sys.exit() or argparse at import time too
            sys.modules.pop(name, None)
            raise self._import_error(path, exc) from exc
        self._loaded[path] = (stamp, digest, module)
        return module

    def ensure_importable(self) -> None:
        """Let tasks files (and results) import project modules, from their current source."""
        root = str(self.root)
        if root not in sys.path:
            sys.path.insert(0, root)
            self._on_path = True
        self.finder.install()

    def refresh(self) -> None:
        """Import everything afresh if a helper module's source changed since it was imported.

        For processes that outlive one run (Dask workers): a changed helper means every
        project module and tasks file must run again from its new source.
        """
        if self.finder.changed():
            self.unimport()

    def unimport(self) -> None:
        """Drop every module this importer ran (helpers and tasks files) from sys.modules,
        so that the next import runs each one from its source as it is then."""
        for name in self.finder.seen:
            sys.modules.pop(name, None)
        self.finder.seen.clear()
        self.forget_all()

    def ran_any(self, paths: set[Path]) -> bool:
        """Whether a helper module this importer ran came from one of `paths`."""
        wanted = {str(p) for p in paths}
        return any(file in wanted for file, _ in self.finder.seen.values())

    def close(self) -> None:
        """Undo `ensure_importable`: remove the finder, and the root from sys.path if this
        importer put it there (modules already imported stay usable)."""
        self.finder.uninstall()
        if self._on_path:
            with contextlib.suppress(ValueError):
                sys.path.remove(str(self.root))
            self._on_path = False

    def forget(self, path: Path) -> None:
        """Import `path` afresh next time it is needed."""
        self._loaded.pop(path, None)
        sys.modules.pop(self.module_name(path), None)

    def forget_all(self) -> None:
        """Import every tasks file afresh next time (a helper module they use changed)."""
        for path in list(self._loaded):
            self.forget(path)

    def _import_error(self, path: Path, exc: BaseException) -> DiscoveryError:
        rel = path.relative_to(self.root).as_posix()
        if isinstance(exc, SyntaxError):
            where = Path(exc.filename) if exc.filename else path
            if where.is_relative_to(self.root):
                rel = where.relative_to(self.root).as_posix()
            return _error(syntax_message(exc), rel, exc.lineno)
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == str(path)]
        line = frames[-1].lineno if frames else None
        if isinstance(exc, RecursionError | MemoryError) and not frames:  # while compiling
            return _error("too deeply nested to read", rel, None)
        hint = ""
        if isinstance(exc, ModuleNotFoundError):
            hint = f" (is '{exc.name}' installed in this environment?)"
        return _error(f"import failed: {type(exc).__name__}: {exc}{hint}", rel, line)


def worker_modules(root: str) -> Modules:
    """A worker process's importer for the project at `root` (the worker keeps it)."""
    return Modules(Path(root))

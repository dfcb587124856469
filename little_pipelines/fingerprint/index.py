"""The project's modules, parsed on demand, and what their import names stand for.

A `ModuleIndex` remembers each parsed module by path and modification time, records which
files a reading looked at, and resolves an import (`helpers`, `from . import mod`) to the
project file it names, or to None when it is not the project's (the standard library,
third-party packages). code.py follows names through these modules.
"""

from __future__ import annotations

import ast
import contextlib
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path

from little_pipelines.fingerprint.digests import content_digest
from little_pipelines.fingerprint.modules import (
    NO_IMPORTS,
    Definition,
    ModuleInfo,
    Seen,
    parse_module,
)
from little_pipelines.fingerprint.scopes import Target

__all__ = ["ModuleIndex"]

_NOT_PROJECT = frozenset({"__pycache__", "node_modules", "site-packages", "build", "dist"})


class ModuleIndex:
    """The project's modules, parsed on demand and remembered by path and modification time.

    `root` bounds the project: imports that resolve to files below it are followed, everything
    else (the standard library, third-party packages) is not.
    """

    def __init__(self, root: Path, search_paths: Iterable[Path] = ()) -> None:
        self.root = root.resolve()
        self.search_paths = [self.root, *(p.resolve() for p in search_paths)]
        self._modules: dict[Path, tuple[tuple[int, int, int], ModuleInfo]] = {}
        self._resolved: dict[tuple[str, Path | None, int], Path | None] = {}
        # import-time calls into other modules' writers: calling module -> (module, function,
        # the calling statement); a registry filled from another module counts its fillers
        self._feeds: dict[Path, list[tuple[Path, str, Definition]]] = {}
        self._feeds_version = 0
        self._recorders: list[set[Path]] = []
        self._rels: dict[Path, str] = {}  # see _rel
        # definitions made from a statement other than as written (see `variant`)
        self._variants: dict[tuple[Path, int], tuple[ast.AST, Definition]] = {}

    def variant(self, path: Path, node: ast.AST, make: Callable[[ast.AST], ast.AST]) -> Definition:
        """The definition of `make(node)`, a statement of `path` changed (a task function
        without its parametrize marks), made once for all who ask while the node is current."""
        key = path, getattr(node, "lineno", 0)  # (a new parse of the file replaces it)
        kept = self._variants.get(key)
        if kept is None or kept[0] is not node:
            kept = node, Definition.of(make(node), self.module(path).lines)
            self._variants[key] = kept
        return kept[1]

    @contextlib.contextmanager
    def recording(self) -> Iterator[set[Path]]:
        """Every file and folder this index looks at while the block runs.

        Discovery remembers a reading by the stamps of the files it depended on.
        """
        seen: set[Path] = set()
        self._recorders.append(seen)
        try:
            yield seen
        finally:
            self._recorders.remove(seen)

    def _touch(self, path: Path) -> None:
        for seen in self._recorders:
            seen.add(path)

    def module(self, path: Path) -> ModuleInfo:
        """The parsed module at `path` (SyntaxError and OSError propagate)."""
        self._touch(path)
        taken = time.time_ns()
        st = os.stat(path)
        stamp = (st.st_mtime_ns, st.st_ctime_ns, st.st_size)  # ctime: see discovery._stamp
        known = self._modules.get(path)
        if known and known[0] == stamp:
            return known[1]
        raw = Path(path).read_bytes()
        info = parse_module(path, raw)
        # what was read, with the stamp taken before reading it (see project/memo.py)
        info.read = Seen(stamp, content_digest(raw), taken)
        self._modules[path] = (stamp, info)
        feeds = self._feeds_of(info)
        if feeds or path in self._feeds:
            self._feeds.pop(path, None)
            self._feeds[path] = feeds
            self._feeds_version += 1
        return info

    def seen(self, path: Path) -> Seen | None:
        """The file at `path` as this index last read it (None if it has not)."""
        known = self._modules.get(path)
        return known[1].read if known else None

    def forget(self, path: Path) -> None:
        """Drop a remembered module (its file changed or vanished)."""
        self._modules.pop(path, None)
        if self._feeds.pop(path, None):
            self._feeds_version += 1
        self._resolved.clear()

    def is_project_file(self, path: Path) -> bool:
        return any(path.is_relative_to(p) for p in self.search_paths)

    def resolve_module(
        self, name: str, importer: Path | None = None, level: int = 0
    ) -> Path | None:
        """The project file for an import of `name` from `importer`, or None if not ours."""
        key = (name, importer if level else None, level)
        if key in self._resolved:
            return self._resolved[key]
        bases = self.search_paths
        if level and importer is not None:
            base = importer.parent
            for _ in range(level - 1):
                base = base.parent
            bases = [base]
        found = None
        parts = name.split(".") if name else []
        for base in bases:
            stem = base.joinpath(*parts)
            for candidate in (stem.with_suffix(".py") if parts else None, stem / "__init__.py"):
                if candidate is not None and candidate.is_file():
                    found = candidate
                    break
            if found is None and parts and stem.is_dir() and base.is_relative_to(self.root):
                found = stem  # a namespace package: a folder without __init__.py
            if found:
                break
        self._resolved[key] = found
        return found

    def function_at(self, path: Path, lineno: int) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
        """The function defined (or decorated) at `lineno` in `path`, if any."""
        return self.module(path).functions.get(lineno)

    def project_modules(self) -> list[Path]:
        """Every Python file of the project, for code that may import any of them."""
        found: list[Path] = []
        for base in self.search_paths:
            for dirpath, dirnames, filenames in os.walk(base):
                folder = Path(dirpath)
                self._touch(folder)  # a new module anywhere changes this reading
                dirnames[:] = sorted(
                    d
                    for d in dirnames
                    if not d.startswith(".")
                    and d not in _NOT_PROJECT
                    and not (folder / d / "pyvenv.cfg").exists()
                )
                found.extend(folder / f for f in sorted(filenames) if f.endswith(".py"))
        return found

    def _rel(self, path: Path) -> str:
        """`path` as the project names it (relative to the root where it is below it)."""
        rel = self._rels.get(path)
        if rel is None:
            try:
                rel = path.relative_to(self.root).as_posix()
            except ValueError:
                rel = path.as_posix()
            self._rels[path] = rel
        return rel

    def _feeds_of(self, info: ModuleInfo) -> list[tuple[Path, str, Definition]]:
        """The import-time calls of `info` into functions of other project modules."""
        feeds = []
        for target, statement in info.calls:
            if len(target) == 1 and target[0] not in info.defs:
                for module, attr, level in info.imports.get(target[0], ()):
                    found = self.resolve_module(module, info.path, level) if attr else None
                    if attr and found is not None and found.is_file() and found != info.path:
                        feeds.append((found, attr, statement))
            elif len(target) == 2:
                for found in self._modules_named(info, target[0]):
                    if found.is_file() and found != info.path:
                        feeds.append((found, target[1], statement))
        return feeds

    def _modules_named(
        self,
        info: ModuleInfo,
        name: str,
        local: Mapping[str, tuple[Target, ...]] = NO_IMPORTS,
    ) -> list[Path]:
        """The project modules a bare name stands for (`import helpers`, `from pkg import mod`),
        on every branch that binds it."""
        found = []
        for module, attr, level in [*local.get(name, ()), *info.imports.get(name, ())]:
            if attr is None:
                path = self.resolve_module(module, info.path, level)
            else:
                dotted = f"{module}.{attr}" if module else attr
                path = self.resolve_module(dotted, info.path, level)
            if path is not None and path not in found:
                found.append(path)
        return found

    def _submodule(self, package: Path, name: str) -> Path | None:
        """`name` inside a package (its `__init__.py`) or a namespace package (a folder)."""
        if package.is_dir():
            folder = package
        elif package.name == "__init__.py":
            folder = package.parent
        else:
            return None
        for candidate in (folder / f"{name}.py", folder / name / "__init__.py", folder / name):
            if candidate.exists():
                return candidate
        return None

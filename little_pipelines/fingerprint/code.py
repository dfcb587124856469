"""Code fingerprints: a task's code, followed through the project's modules.

A task's code is its function plus, transitively, the project's own functions, classes and
module-level constants it refers to. Each definition is hashed from its syntax tree with
docstrings, comments and formatting gone (modules.py), so only edits that change behaviour
count. Source is read, never imported: deciding what is fresh must not execute the user's
modules. The basic digests are in digests.py.
"""

from __future__ import annotations

import ast
import contextlib
import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from little_pipelines.fingerprint.digests import SCHEME, digest, file_digest, object_code_digest
from little_pipelines.fingerprint.modules import NO_IMPORTS, Definition, ModuleInfo, parse_module
from little_pipelines.fingerprint.scopes import Target

__all__ = [
    "SCHEME",
    "Definition",
    "ModuleInfo",
    "SourceIndex",
    "digest",
    "file_digest",
    "object_code_digest",
]

_NOT_PROJECT = frozenset({"__pycache__", "node_modules", "site-packages", "build", "dist"})


class SourceIndex:
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
        st = os.stat(path)
        stamp = (st.st_mtime_ns, st.st_ctime_ns, st.st_size)  # ctime: see discovery._stamp
        known = self._modules.get(path)
        if known and known[0] == stamp:
            return known[1]
        info = parse_module(path, Path(path).read_bytes())
        self._modules[path] = (stamp, info)
        feeds = self._feeds_of(info)
        if feeds or path in self._feeds:
            self._feeds.pop(path, None)
            self._feeds[path] = feeds
            self._feeds_version += 1
        return info

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

    def closure(self, roots: Iterable[tuple[Path, ast.AST]]) -> list[tuple[Path, Definition]]:
        """The given statements and every project definition they reach, transitively."""
        return self.closure_of([(path, Definition.of(node)) for path, node in roots])

    def closure_of(self, roots: Iterable[tuple[Path, Definition]]) -> list[tuple[Path, Definition]]:
        """Like `closure`, starting from definitions already parsed.

        Reading a module can reveal that it fills a registry already looked at (an import-time
        call into another module); the walk then starts again until nothing new turns up.
        """
        roots = list(roots)
        while True:
            version = self._feeds_version
            out = self._walk(roots)
            if version == self._feeds_version:
                return out

    def _walk(self, roots: list[tuple[Path, Definition]]) -> list[tuple[Path, Definition]]:
        seen: set[int] = set()  # ids of definitions, all kept alive by `out`
        out: list[tuple[Path, Definition]] = []
        stack = list(roots)
        everything = False
        while stack:
            path, definition = stack.pop()
            if id(definition) in seen:
                continue
            seen.add(id(definition))
            out.append((path, definition))
            if definition.dynamic and not everything:
                everything = True  # a dynamic import may reach any project module
                stack.extend(self._every_module())
            stack.extend(self._referenced(path, definition))
        return out

    def _every_module(self) -> Iterator[tuple[Path, Definition]]:
        for path in self.project_modules():
            try:
                yield path, self.module(path).whole
            except (OSError, SyntaxError, ValueError):  # counts by its bytes
                try:
                    raw = file_digest(path)
                except OSError:
                    raw = "missing"
                empty = ast.Module(body=[], type_ignores=[])
                yield path, Definition(empty, digest("unreadable", raw), frozenset(), frozenset())

    def closure_digest(self, closure: list[tuple[Path, Definition]]) -> str:
        """One hash for a closure: independent of order, of where things sit in a file, and of
        which file they sit in (renaming or moving code is not a change of code)."""
        return digest("\n".join(sorted({d.digest for _, d in closure})))

    def closure_source(self, closure: list[tuple[Path, Definition]]) -> str:
        """The normalised source of a closure, for showing what changed."""
        blocks = {(self._rel(p), getattr(d.node, "lineno", 0), d.text) for p, d in closure}
        return "\n\n".join(f"# {rel}\n{text}" for rel, _, text in sorted(blocks))

    def closure_notes(self, closure: list[tuple[Path, Definition]]) -> list[str]:
        """Where the reader fell back to something coarser, in words (for lp why)."""
        notes: set[str] = set()
        for path, definition in closure:
            rel = self._rel(path)
            if definition.fallback:
                notes.add(f"{rel}: {definition.fallback}")
            for line, what in definition.dynamic:
                notes.add(f"{rel}:{line}: {what}, so every project module counts")
        return sorted(notes)

    def code_digest(self, roots: Iterable[tuple[Path, ast.AST]]) -> str:
        """Hash of the given statements plus every project definition they reach."""
        return self.closure_digest(self.closure(roots))

    def code_source(self, roots: Iterable[tuple[Path, ast.AST]]) -> str:
        """The normalised source that `code_digest` hashes."""
        return self.closure_source(self.closure(roots))

    def definition_digest(self, path: Path, name: str) -> str | None:
        """Code hash of the top-level definition `name` in `path`, None if there is none."""
        definition = self.module(path).defs.get(name)
        if definition is None:
            return None
        return self.closure_digest(self.closure_of([(path, definition)]))

    def _rel(self, path: Path) -> str:
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return path.as_posix()

    def _referenced(self, path: Path, definition: Definition) -> Iterator[tuple[Path, Definition]]:
        info = self.module(path)
        local = definition.imports
        for name in definition.refs:
            yield from self._lookup(info, name, local)
        for chain in definition.attr_refs:
            yield from self._follow(info, chain, local)
        if info.top_dynamic is not None:
            yield path, info.top_dynamic
        for name in info.unused_imports:  # `import plugins` for what importing it does
            for target in self._modules_named(info, name):
                if target.is_file():
                    yield target, self.module(target).as_value

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

    def _fed(self, info: ModuleInfo, name: str) -> Iterator[tuple[Path, Definition]]:
        """Statements of other modules that change `name` of `info` while they import."""
        for caller, feeds in self._feeds.items():
            for module, function, statement in feeds:
                if module == info.path and name in info.writers.get(function, ()):
                    yield caller, statement

    def _follow(
        self,
        info: ModuleInfo,
        chain: tuple[str, ...],
        local: Mapping[str, tuple[Target, ...]] = NO_IMPORTS,
    ) -> Iterator[tuple[Path, Definition]]:
        """`pkg.mod.func`: into pkg, then mod, then func alone (not the whole of mod)."""
        modules = self._modules_named(info, chain[0], local)
        if not modules or chain[0] in info.defs:  # `CONFIG.get`, `Cleaner.clean`: the object
            yield from self._lookup(info, chain[0], local)
        for module_path in modules:
            yield from self._follow_from(module_path, chain[1:])

    def _follow_from(
        self, module_path: Path, attrs: tuple[str, ...]
    ) -> Iterator[tuple[Path, Definition]]:
        for attr in attrs:
            deeper = self._submodule(module_path, attr)
            if deeper is None and module_path.is_file():
                found = self._modules_named(self.module(module_path), attr)
                deeper = found[0] if len(found) == 1 else None
                if len(found) > 1:  # bound to different modules on different branches
                    for each in found:
                        yield from self._follow_from(each, attrs[attrs.index(attr) + 1 :])
                    return
            if deeper is not None and deeper != module_path:
                module_path = deeper
                continue
            yield from self._lookup_in(module_path, attr)
            return
        if module_path.is_file():  # the chain ends at a module, used as a value
            yield module_path, self.module(module_path).as_value

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

    def _lookup(
        self,
        info: ModuleInfo,
        name: str,
        local: Mapping[str, tuple[Target, ...]] = NO_IMPORTS,
        seen: set[tuple[Path, str]] | None = None,
    ) -> Iterator[tuple[Path, Definition]]:
        """Where `name` in module `info` is defined, following imports between project files.

        Every binding counts: a definition in the module, and each import of the name (on any
        branch, or inside the function body that uses it). A name imported from outside the
        project counts by its import line (`floor as rnd` -> `ceil as rnd`); one imported from
        the project counts by what it names, wherever that lives (moving a helper to another
        module is not a change). `seen` stops import cycles (`from . import x` inside a
        package's own `__init__.py`).
        """
        seen = set() if seen is None else seen
        if (info.path, name) in seen:
            return
        seen.add((info.path, name))
        definition = info.defs.get(name)
        if definition is not None:
            yield info.path, definition
            yield from self._fed(info, name)
        deciding = info.deciding.get(name)
        if deciding is not None:
            yield info.path, deciding
        targets = [*local.get(name, ()), *info.imports.get(name, ())]
        if not targets:
            if definition is None:
                for module, level in info.star_imports:
                    module_path = self.resolve_module(module, info.path, level)
                    if module_path is not None:
                        yield from self._lookup_in(module_path, name, seen)
            return
        for module, attr, level in targets:
            dotted = f"{module}.{attr}" if module and attr else (attr or module)
            target = self.resolve_module(dotted, info.path, level)
            if target is not None and target != info.path:  # a module used as a value
                if target.is_file():
                    yield target, self.module(target).as_value
                continue
            module_path = self.resolve_module(module, info.path, level) if attr else None
            if module_path is None or attr is None:  # not the project's: the import line counts
                binding = info.bindings.get(name)
                if binding is not None:
                    yield info.path, binding
                continue
            yield from self._lookup_in(module_path, attr, seen)

    def _lookup_in(
        self, module_path: Path, name: str, seen: set[tuple[Path, str]] | None = None
    ) -> Iterator[tuple[Path, Definition]]:
        try:
            info = self.module(module_path)
        except (OSError, SyntaxError):  # a folder (namespace package) or an unreadable file
            return
        yield from self._lookup(info, name, seen=seen)

"""Code fingerprints: a task's code, followed through the project's modules.

A task's code is its function plus, transitively, the project's own functions, classes and
module-level constants it refers to. Each definition is hashed from its syntax tree with
docstrings, comments and formatting gone (modules.py), so only edits that change behaviour
count. Source is read, never imported: deciding what is fresh must not execute the user's
modules. The basic digests are in digests.py.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from little_pipelines.fingerprint.digests import SCHEME, digest, file_digest, object_code_digest
from little_pipelines.fingerprint.index import ModuleIndex
from little_pipelines.fingerprint.modules import NO_IMPORTS, Definition, ModuleInfo
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


class SourceIndex(ModuleIndex):
    """The project's modules (index.py), and the code of a task followed through them."""

    def closure(self, roots: Iterable[tuple[Path, ast.AST]]) -> list[tuple[Path, Definition]]:
        """The given statements and every project definition they reach, transitively."""
        return self.closure_of([(path, self._definition(path, node)) for path, node in roots])

    def _definition(self, path: Path, node: ast.AST) -> Definition:
        """A statement of the module at `path` as a definition (its text read from the file)."""
        try:
            lines = self.module(path).lines
        except (OSError, SyntaxError, ValueError):
            lines = None
        return Definition.of(node, lines)

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
        """The source of a closure, for showing what changed: each file's definitions in
        the file's order, under one `# file` line per file."""
        blocks = {(self._rel(p), getattr(d.node, "lineno", 0), d.text) for p, d in closure}
        parts: list[str] = []
        current = None
        for rel, _, text in sorted(blocks):
            if rel != current:
                parts.append(f"# {rel}")
                current = rel
            parts.append(text)
        return "\n\n".join(parts)

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

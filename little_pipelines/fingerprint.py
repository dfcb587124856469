"""Fingerprints: code hashes read from syntax trees, and hashes of files and values.

A task's code is its function plus, transitively, the project's own functions, classes and
module-level constants it refers to. Each definition is hashed from its syntax tree with
docstrings, comments and formatting gone, so only edits that change behaviour count. Source is
read, never imported: deciding what is fresh must not execute the user's modules.
"""

from __future__ import annotations

import ast
import hashlib
import marshal
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "SCHEME",
    "Definition",
    "ModuleInfo",
    "SourceIndex",
    "digest",
    "expand_inputs",
    "file_digest",
    "input_file_digests",
    "inputs_digest",
    "object_code_digest",
]

# Bump when the way fingerprints are computed changes: every stored key then stops matching.
SCHEME = 1


def digest(*parts: bytes | str) -> str:
    """A short, stable hex digest of the given parts (order matters)."""
    h = hashlib.blake2b(digest_size=16)
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    return h.hexdigest()


def file_digest(path: Path) -> str:
    """Digest of a file's bytes."""
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def object_code_digest(code: object) -> str:
    """Digest of a live code object; the fallback when a function's source cannot be read."""
    return digest(marshal.dumps(code))  # type: ignore[arg-type]


def _strip_docstrings(tree: ast.AST) -> None:
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            body = node.body
            if (
                body
                and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)
            ):
                node.body = body[1:] or [ast.Pass()]


def _normal_form(node: ast.AST) -> str:
    return ast.dump(node, annotate_fields=False, include_attributes=False)


@dataclass(slots=True)
class Definition:
    """One top-level statement that defines names: its hash and the names it refers to."""

    node: ast.AST
    digest: str
    refs: frozenset[str]
    attr_refs: frozenset[tuple[str, str]]


@dataclass(slots=True)
class ModuleInfo:
    """A parsed source file: its top-level definitions and imports, by name."""

    path: Path
    tree: ast.Module
    defs: dict[str, Definition] = field(default_factory=dict)
    imports: dict[str, tuple[str, str | None, int]] = field(default_factory=dict)
    star_imports: list[tuple[str, int]] = field(default_factory=list)
    functions: dict[int, ast.FunctionDef | ast.AsyncFunctionDef] = field(default_factory=dict)

    @property
    def digest(self) -> str:
        """The whole module's normalised hash, for code this reader cannot follow."""
        return digest(_normal_form(self.tree))


def _local_names(node: ast.AST) -> set[str]:
    """Names bound inside a function or class body: its parameters and assignment targets."""
    names: set[str] = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.arg):
            names.add(sub.arg)
        elif isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
            names.add(sub.id)
    return names


def _references(node: ast.stmt) -> tuple[frozenset[str], frozenset[tuple[str, str]]]:
    """Free names a statement loads, and `name.attr` pairs (for `module.helper` access)."""
    loaded: set[str] = set()
    attrs: set[tuple[str, str]] = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Load):
            loaded.add(sub.id)
        elif isinstance(sub, ast.Attribute) and isinstance(sub.value, ast.Name):
            attrs.add((sub.value.id, sub.attr))
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        local = _local_names(node) - {node.name}
        loaded -= local
        attrs = {pair for pair in attrs if pair[0] not in local}
    return frozenset(loaded), frozenset(attrs)


def _bound_names(stmt: ast.stmt) -> list[str]:
    if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return [stmt.name]
    if isinstance(stmt, ast.Assign | ast.AnnAssign | ast.AugAssign):
        targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
        return [n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]
    if isinstance(stmt, ast.If | ast.Try | ast.With | ast.For | ast.While):
        return [
            n.id for n in ast.walk(stmt) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
        ] + [
            n.name
            for n in ast.walk(stmt)
            if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        ]
    return []


def parse_module(path: Path, source: str | bytes) -> ModuleInfo:
    """Parse source into a ModuleInfo. Raises SyntaxError as `compile` would."""
    tree = ast.parse(source, filename=str(path))
    info = ModuleInfo(path=path, tree=tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            info.functions[node.lineno] = node
            if node.decorator_list:
                info.functions.setdefault(node.decorator_list[0].lineno, node)
    _strip_docstrings(tree)
    for stmt in tree.body:
        if isinstance(stmt, ast.Import):
            for alias in stmt.names:
                if alias.asname:
                    info.imports[alias.asname] = (alias.name, None, 0)
                else:
                    top = alias.name.partition(".")[0]
                    info.imports[top] = (top, None, 0)
            continue
        if isinstance(stmt, ast.ImportFrom):
            for alias in stmt.names:
                if alias.name == "*":
                    info.star_imports.append((stmt.module or "", stmt.level))
                else:
                    info.imports[alias.asname or alias.name] = (
                        stmt.module or "",
                        alias.name,
                        stmt.level,
                    )
            continue
        names = _bound_names(stmt)
        if not names:
            continue
        refs, attrs = _references(stmt)
        definition = Definition(stmt, digest(_normal_form(stmt)), refs, attrs)
        for name in names:
            info.defs[name] = definition
    return info


class SourceIndex:
    """The project's modules, parsed on demand and remembered by path and modification time.

    `root` bounds the project: imports that resolve to files below it are followed, everything
    else (the standard library, third-party packages) is not.
    """

    def __init__(self, root: Path, search_paths: Iterable[Path] = ()) -> None:
        self.root = root.resolve()
        self.search_paths = [self.root, *(p.resolve() for p in search_paths)]
        self._modules: dict[Path, tuple[int, int, ModuleInfo]] = {}
        self._resolved: dict[tuple[str, Path | None, int], Path | None] = {}

    def module(self, path: Path) -> ModuleInfo:
        """The parsed module at `path` (SyntaxError and OSError propagate)."""
        st = os.stat(path)
        known = self._modules.get(path)
        if known and known[0] == st.st_mtime_ns and known[1] == st.st_size:
            return known[2]
        info = parse_module(path, Path(path).read_bytes())
        self._modules[path] = (st.st_mtime_ns, st.st_size, info)
        return info

    def forget(self, path: Path) -> None:
        """Drop a remembered module (its file changed or vanished)."""
        self._modules.pop(path, None)
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
            if found:
                break
        self._resolved[key] = found
        return found

    def function_at(self, path: Path, lineno: int) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
        """The function defined (or decorated) at `lineno` in `path`, if any."""
        return self.module(path).functions.get(lineno)

    def code_digest(self, roots: Iterable[tuple[Path, ast.AST]]) -> str:
        """Hash of the given statements plus every project definition they reach."""
        items = {f"{self._rel(path)}|{d.digest}" for path, d in self._closure(roots)}
        return digest("\n".join(sorted(items)))

    def code_source(self, roots: Iterable[tuple[Path, ast.AST]]) -> str:
        """The normalised source that `code_digest` hashes, for showing what changed."""
        blocks = {
            (self._rel(path), getattr(d.node, "lineno", 0), ast.unparse(d.node))
            for path, d in self._closure(roots)
        }
        return "\n\n".join(f"# {rel}\n{text}" for rel, _, text in sorted(blocks))

    def definition_digest(self, path: Path, name: str) -> str | None:
        """Code hash of the top-level definition `name` in `path`, None if there is none."""
        definition = self.module(path).defs.get(name)
        if definition is None:
            return None
        return self.code_digest([(path, definition.node)])

    def _closure(self, roots: Iterable[tuple[Path, ast.AST]]) -> list[tuple[Path, Definition]]:
        seen: dict[tuple[Path, int], ast.AST] = {}  # keeps nodes alive so ids stay unique
        out: list[tuple[Path, Definition]] = []
        stack: list[tuple[Path, Definition]] = []
        for path, node in roots:
            refs, attrs = _references(node)
            stack.append((path, Definition(node, digest(_normal_form(node)), refs, attrs)))
        while stack:
            path, definition = stack.pop()
            key = (path, id(definition.node))
            if key in seen:
                continue
            seen[key] = definition.node
            out.append((path, definition))
            stack.extend(self._referenced(path, definition))
        return out

    def _rel(self, path: Path) -> str:
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return path.as_posix()

    def _referenced(self, path: Path, definition: Definition) -> Iterator[tuple[Path, Definition]]:
        info = self.module(path)
        for name in definition.refs:
            yield from self._lookup(info, name)
        for base, attr in definition.attr_refs:
            module_path = self._module_named(info, base)
            if module_path is None:
                continue
            found = list(self._lookup_in(module_path, attr))
            if found:
                yield from found
                continue
            sub = self._submodule(module_path, attr)
            if sub is not None:
                yield sub, self._whole(sub)

    def _module_named(self, info: ModuleInfo, name: str) -> Path | None:
        """The project module a bare name stands for (`import helpers`, `from pkg import mod`)."""
        imported = info.imports.get(name)
        if imported is None:
            return None
        module, attr, level = imported
        if attr is None:
            return self.resolve_module(module, info.path, level)
        dotted = f"{module}.{attr}" if module else attr
        return self.resolve_module(dotted, info.path, level)

    def _submodule(self, package: Path, name: str) -> Path | None:
        if package.name != "__init__.py":
            return None
        for candidate in (package.parent / f"{name}.py", package.parent / name / "__init__.py"):
            if candidate.is_file():
                return candidate
        return None

    def _whole(self, path: Path) -> Definition:
        """A module used as a whole counts by its whole normalised source."""
        info = self.module(path)
        return Definition(info.tree, info.digest, frozenset(), frozenset())

    def _lookup(self, info: ModuleInfo, name: str) -> Iterator[tuple[Path, Definition]]:
        definition = info.defs.get(name)
        if definition is not None:
            yield info.path, definition
            return
        imported = info.imports.get(name)
        if imported is not None:
            module, attr, level = imported
            if attr is None:
                return
            module_path = self.resolve_module(module, info.path, level)
            if module_path is not None:
                found = list(self._lookup_in(module_path, attr))
                if found:
                    yield from found
                    return
            sub = self._module_named(info, name)
            if sub is not None:
                yield sub, self._whole(sub)
            return
        for module, level in info.star_imports:
            module_path = self.resolve_module(module, info.path, level)
            if module_path is not None:
                yield from self._lookup_in(module_path, name)

    def _lookup_in(self, module_path: Path, name: str) -> Iterator[tuple[Path, Definition]]:
        try:
            info = self.module(module_path)
        except (OSError, SyntaxError):
            return
        yield from self._lookup(info, name)


def expand_inputs(root: Path, patterns: Iterable[str]) -> list[Path]:
    """The files that input patterns (paths or globs relative to `root`) name, sorted.

    A plain path that does not exist is kept, so that its appearance later counts as a change.
    """
    found: set[Path] = set()
    for pattern in patterns:
        if any(ch in pattern for ch in "*?["):
            found.update(p for p in root.glob(pattern) if p.is_file())
        else:
            found.add(root / pattern)
    return sorted(found)


def input_file_digests(root: Path, patterns: Iterable[str]) -> dict[str, str]:
    """Each input file's digest by relative path ("missing" for a named file that is absent)."""
    found: dict[str, str] = {}
    for path in expand_inputs(root, patterns):
        rel = path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)
        try:
            found[rel] = file_digest(path)
        except OSError:
            found[rel] = "missing"
    return found


def inputs_digest(files: dict[str, str]) -> str:
    """One digest for the input files found by `input_file_digests`."""
    return digest("\n".join(f"{rel}|{d}" for rel, d in files.items()))

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
    "file_digest",
    "object_code_digest",
]

# Bump when the way fingerprints are computed changes: every stored key then stops matching.
SCHEME = 3


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
    attr_refs: frozenset[tuple[str, ...]]  # dotted chains such as ("pkg", "mod", "func")
    _text: str | None = None

    @property
    def text(self) -> str:
        """The normalised source (docstrings and formatting gone), made once."""
        if self._text is None:
            self._text = ast.unparse(self.node)
        return self._text

    @classmethod
    def of(cls, node: ast.AST) -> Definition:
        refs, attrs = _references(node)
        return cls(node, digest(_normal_form(node)), refs, attrs)


@dataclass(slots=True)
class ModuleInfo:
    """A parsed source file: its top-level definitions and imports, by name."""

    path: Path
    tree: ast.Module
    defs: dict[str, Definition] = field(default_factory=dict)
    imports: dict[str, tuple[str, str | None, int]] = field(default_factory=dict)
    star_imports: list[tuple[str, int]] = field(default_factory=list)
    functions: dict[int, ast.FunctionDef | ast.AsyncFunctionDef] = field(default_factory=dict)
    bindings: dict[str, Definition] = field(default_factory=dict)  # name -> its import line
    _whole: Definition | None = None

    @property
    def whole(self) -> Definition:
        """The whole module as one definition, for a module used as a value."""
        if self._whole is None:
            self._whole = Definition(
                self.tree, digest(_normal_form(self.tree)), frozenset(), frozenset()
            )
        return self._whole

    @property
    def digest(self) -> str:
        """The whole module's normalised hash, for code this reader cannot follow."""
        return self.whole.digest


def _chain(node: ast.Attribute) -> tuple[str, ...] | None:
    """`a.b.c` as ("a", "b", "c"); None when the chain does not start at a plain name."""
    names = [node.attr]
    value = node.value
    while isinstance(value, ast.Attribute):
        names.append(value.attr)
        value = value.value
    if not isinstance(value, ast.Name):
        return None
    names.append(value.id)
    return tuple(reversed(names))


def _references(node: ast.AST) -> tuple[frozenset[str], frozenset[tuple[str, ...]]]:
    """Names a statement uses bare, and the dotted chains it reads (`helpers.clean`).

    A function's own parameters are not free. Other local names are kept: following a name
    that turns out to be local costs at most an extra dependency, never a missed one.
    """
    loaded: set[str] = set()
    attrs: set[tuple[str, ...]] = set()
    inner: set[int] = set()  # ast.walk meets a parent before its children
    for sub in ast.walk(node):
        if isinstance(sub, ast.Attribute):
            inner.add(id(sub.value))
            if id(sub) not in inner and (chain := _chain(sub)):
                attrs.add(chain)
        elif isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Load) and id(sub) not in inner:
            loaded.add(sub.id)
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        args = node.args
        own = {a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]}
        own |= {a.arg for a in (args.vararg, args.kwarg) if a is not None}
        loaded -= own
        attrs = {chain for chain in attrs if chain[0] not in own}
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


# Statements that define names outright; any other top-level statement may change the
# module-level names it uses (a method call, a loop filling a table).
_DEFINING = (
    ast.FunctionDef,
    ast.AsyncFunctionDef,
    ast.ClassDef,
    ast.Assign,
    ast.AnnAssign,
    ast.AugAssign,
)


def _register_import(info: ModuleInfo, stmt: ast.Import | ast.ImportFrom) -> None:
    """Record what each imported name stands for; the import line itself counts as code."""
    bound: dict[str, tuple[str, str | None, int]] = {}
    if isinstance(stmt, ast.Import):
        for alias in stmt.names:
            if alias.asname:
                bound[alias.asname] = (alias.name, None, 0)
            else:
                top = alias.name.partition(".")[0]
                bound[top] = (top, None, 0)
    else:
        for alias in stmt.names:
            if alias.name == "*":
                info.star_imports.append((stmt.module or "", stmt.level))
            else:
                bound[alias.asname or alias.name] = (stmt.module or "", alias.name, stmt.level)
    for name, target in bound.items():
        info.imports[name] = target
        text = f"{name}={target[0]}:{target[1]}@{target[2]}"
        info.bindings[name] = Definition(stmt, digest("import", text), frozenset(), frozenset())


def _merged(first: Definition, then: Definition) -> Definition:
    """A name bound by several top-level statements is defined by all of them."""
    node = ast.Module(body=[first.node, then.node], type_ignores=[])  # type: ignore[list-item]
    return Definition(
        node, digest(first.digest, then.digest), first.refs | then.refs,
        first.attr_refs | then.attr_refs,
    )  # fmt: skip


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
        if isinstance(stmt, ast.Import | ast.ImportFrom):
            _register_import(info, stmt)
            continue
        if isinstance(stmt, ast.If | ast.Try | ast.With):  # `try: import x` and friends
            for node in ast.walk(stmt):
                if isinstance(node, ast.Import | ast.ImportFrom):
                    _register_import(info, node)
        names = _bound_names(stmt)
        definition = Definition.of(stmt)
        for name in names:
            earlier = info.defs.get(name)
            if earlier is not None and isinstance(stmt, ast.Assign | ast.AugAssign | ast.AnnAssign):
                info.defs[name] = _merged(earlier, definition)  # `K = 1` then `K += 1`
            else:
                info.defs[name] = definition
        if isinstance(stmt, _DEFINING):
            continue
        # `CONFIG.update(rate=2)`, `for k in KEYS: TABLE[k] = 1`: statements that may change
        # a module-level name count as part of its definition
        used = definition.refs | {chain[0] for chain in definition.attr_refs}
        for name in used - set(names):
            if name in info.defs:
                info.defs[name] = _merged(info.defs[name], definition)
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
        self.touched: set[Path] = set()

    def module(self, path: Path) -> ModuleInfo:
        """The parsed module at `path` (SyntaxError and OSError propagate).

        Every path asked for is added to `touched`, so a caller can learn which files a
        reading depended on (discovery remembers readings by those files' stamps).
        """
        self.touched.add(path)
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
            if found is None and parts and stem.is_dir() and base.is_relative_to(self.root):
                found = stem  # a namespace package: a folder without __init__.py
            if found:
                break
        self._resolved[key] = found
        return found

    def function_at(self, path: Path, lineno: int) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
        """The function defined (or decorated) at `lineno` in `path`, if any."""
        return self.module(path).functions.get(lineno)

    def closure(self, roots: Iterable[tuple[Path, ast.AST]]) -> list[tuple[Path, Definition]]:
        """The given statements and every project definition they reach, transitively."""
        return self.closure_of([(path, Definition.of(node)) for path, node in roots])

    def closure_of(self, roots: Iterable[tuple[Path, Definition]]) -> list[tuple[Path, Definition]]:
        """Like `closure`, starting from definitions already parsed."""
        seen: set[int] = set()  # ids of definitions, all kept alive by `out`
        out: list[tuple[Path, Definition]] = []
        stack = list(roots)
        while stack:
            path, definition = stack.pop()
            if id(definition) in seen:
                continue
            seen.add(id(definition))
            out.append((path, definition))
            stack.extend(self._referenced(path, definition))
        return out

    def closure_digest(self, closure: list[tuple[Path, Definition]]) -> str:
        """One hash for a closure: independent of order, of where things sit in a file, and of
        which file they sit in (renaming or moving code is not a change of code)."""
        return digest("\n".join(sorted({d.digest for _, d in closure})))

    def closure_source(self, closure: list[tuple[Path, Definition]]) -> str:
        """The normalised source of a closure, for showing what changed."""
        blocks = {(self._rel(p), getattr(d.node, "lineno", 0), d.text) for p, d in closure}
        return "\n\n".join(f"# {rel}\n{text}" for rel, _, text in sorted(blocks))

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
        for name in definition.refs:
            yield from self._lookup(info, name)
        for chain in definition.attr_refs:
            yield from self._follow(info, chain)

    def _follow(
        self, info: ModuleInfo, chain: tuple[str, ...]
    ) -> Iterator[tuple[Path, Definition]]:
        """`pkg.mod.func`: into pkg, then mod, then func alone (not the whole of mod)."""
        module_path = self._module_named(info, chain[0])
        if module_path is None:  # `CONFIG.get`, `Cleaner.clean`: the object itself
            yield from self._lookup(info, chain[0])
            return
        for attr in chain[1:]:
            deeper = self._submodule(module_path, attr)
            if deeper is None and module_path.is_file():
                deeper = self._module_named(self.module(module_path), attr)
            if deeper is not None and deeper != module_path:
                module_path = deeper
                continue
            yield from self._lookup_in(module_path, attr)
            return
        if module_path.is_file():  # the chain ends at a module, used as a value
            yield module_path, self.module(module_path).whole

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
        self, info: ModuleInfo, name: str, seen: set[tuple[Path, str]] | None = None
    ) -> Iterator[tuple[Path, Definition]]:
        """Where `name` in module `info` is defined, following imports between project files.

        A name imported from outside the project counts by its import line (`floor as rnd`
        -> `ceil as rnd`); one imported from the project counts by what it names, wherever
        that lives (moving a helper to another module is not a change).
        `seen` stops import cycles (`from . import x` inside a package's own `__init__.py`).
        """
        seen = set() if seen is None else seen
        if (info.path, name) in seen:
            return
        seen.add((info.path, name))
        definition = info.defs.get(name)
        if definition is not None:
            yield info.path, definition
        imported = info.imports.get(name)  # both, for `try: from m import f except: f = None`
        if imported is None:
            if definition is None:
                for module, level in info.star_imports:
                    module_path = self.resolve_module(module, info.path, level)
                    if module_path is not None:
                        yield from self._lookup_in(module_path, name, seen)
            return
        target = self._module_named(info, name)
        if target is not None and target != info.path:  # a module used as a value
            if target.is_file():
                yield target, self.module(target).whole
            return
        module, attr, level = imported
        module_path = self.resolve_module(module, info.path, level) if attr is not None else None
        if module_path is None:  # not the project's: the import line itself is the code
            yield info.path, info.bindings[name]
            return
        yield from self._lookup_in(module_path, attr, seen)  # type: ignore[arg-type]

    def _lookup_in(
        self, module_path: Path, name: str, seen: set[tuple[Path, str]] | None = None
    ) -> Iterator[tuple[Path, Definition]]:
        try:
            info = self.module(module_path)
        except (OSError, SyntaxError):  # a folder (namespace package) or an unreadable file
            return
        yield from self._lookup(info, name, seen)

"""Fingerprints: code hashes read from syntax trees, and hashes of files and values.

A task's code is its function plus, transitively, the project's own functions, classes and
module-level constants it refers to. Each definition is hashed from its syntax tree with
docstrings, comments and formatting gone, so only edits that change behaviour count. Source is
read, never imported: deciding what is fresh must not execute the user's modules.
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import marshal
import os
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType

from little_pipelines.fingerprint.scopes import Target, module_bindings, module_imports, scan

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
SCHEME = 4


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


_NO_IMPORTS: Mapping[str, tuple[Target, ...]] = MappingProxyType({})


@dataclass(slots=True)
class Definition:
    """One top-level statement (or all those binding one name): its hash and what it reaches."""

    node: ast.AST
    digest: str
    refs: frozenset[str]
    attr_refs: frozenset[tuple[str, ...]]  # dotted chains such as ("pkg", "mod", "func")
    # imports inside function bodies (`def task_x(): import helpers`), followed like any other
    imports: Mapping[str, tuple[Target, ...]] = field(default_factory=lambda: _NO_IMPORTS)
    dynamic: tuple[tuple[int, str], ...] = ()  # what the reader cannot follow: (line, what)
    mutates: frozenset[str] = frozenset()  # module-level names it may change when called
    calls: frozenset[tuple[str, ...]] = frozenset()  # what it calls while the module imports
    fallback: str | None = None  # set when this stands for a whole module (lp why says so)
    _text: str | None = None

    @property
    def text(self) -> str:
        """The normalised source (docstrings and formatting gone), made once."""
        if self._text is None:
            self._text = ast.unparse(self.node)
        return self._text

    @classmethod
    def of(cls, node: ast.AST) -> Definition:
        found = scan(node)
        imports = {name: tuple(targets) for name, targets in found.imports.items()}
        return cls(
            node,
            digest(_normal_form(node)),
            frozenset(found.refs),
            frozenset(found.chains),
            imports or _NO_IMPORTS,
            tuple(found.dynamic),
            frozenset(found.mutates),
            frozenset(found.calls),
        )


def _merged(first: Definition | None, then: Definition) -> Definition:
    """A name bound by several statements (branches, loops, rebinding) is defined by all."""
    if first is None or first is then:
        return then
    imports = dict(first.imports)
    for name, targets in then.imports.items():
        imports[name] = imports.get(name, ()) + targets
    node = ast.Module(body=[first.node, then.node], type_ignores=[])  # type: ignore[list-item]
    return Definition(
        node,
        digest(first.digest, then.digest),
        first.refs | then.refs,
        first.attr_refs | then.attr_refs,
        imports or _NO_IMPORTS,
        first.dynamic + then.dynamic,
        first.mutates | then.mutates,
        first.calls | then.calls,
    )


@dataclass(slots=True)
class ModuleInfo:
    """A parsed source file: its top-level definitions and imports, by name."""

    path: Path
    tree: ast.Module
    defs: dict[str, Definition] = field(default_factory=dict)
    imports: dict[str, list[Target]] = field(default_factory=dict)  # every branch's
    star_imports: list[tuple[str, int]] = field(default_factory=list)
    functions: dict[int, ast.FunctionDef | ast.AsyncFunctionDef] = field(default_factory=dict)
    bindings: dict[str, Definition] = field(default_factory=dict)  # name -> its import lines
    # name -> the compound statements (`if`, `try`) around its imports, which pick the binding
    deciding: dict[str, Definition] = field(default_factory=dict)
    writers: dict[str, frozenset[str]] = field(default_factory=dict)  # function -> names set
    calls: list[tuple[tuple[str, ...], Definition]] = field(default_factory=list)  # at import
    unused_imports: list[str] = field(default_factory=list)  # imported for what importing does
    # import-time code the reader cannot follow (`sys.path.insert(...)` at module level): it
    # may change what any definition of the module does, so each of them reaches it
    top_dynamic: Definition | None = None
    _whole: Definition | None = None
    _as_value: Definition | None = None

    @property
    def whole(self) -> Definition:
        """The whole module as one definition, reaching everything it refers to."""
        if self._whole is None:
            self._whole = Definition.of(self.tree)
        return self._whole

    @property
    def as_value(self) -> Definition:
        """The whole module, standing for a module used as a value (a fallback lp why names)."""
        if self._as_value is None:
            self._as_value = replace(
                self.whole, fallback="a module used as a value counts whole", _text=None
            )
        return self._as_value

    @property
    def digest(self) -> str:
        """The whole module's normalised hash, for code this reader cannot follow."""
        return self.whole.digest


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


def _import_line(name: str, target: Target, node: ast.AST) -> Definition:
    text = f"{name}={target[0]}:{target[1]}@{target[2]}"
    return Definition(node, digest("import", text), frozenset(), frozenset())


class TooDeepError(SyntaxError):
    """Source that Python cannot read for its depth (a 100,000-term expression, say)."""

    too_deep = True

    def __init__(self, filename: str) -> None:
        super().__init__("too deeply nested to read", (filename, None, None, None))


# CPython 3.11's parser keeps its recursion depth in shared state: two threads parsing at once
# can fail with "AST constructor recursion depth mismatch" (library pipelines run in threads).
_PARSING = threading.Lock()


def parse_module(path: Path, source: str | bytes) -> ModuleInfo:
    """Parse source into a ModuleInfo. Raises SyntaxError as `compile` would (TooDeepError
    for source too deep for Python's own parser or for reading it)."""
    try:
        return _parse_module(path, source)
    except (RecursionError, MemoryError):
        raise TooDeepError(str(path)) from None


def _parse_module(path: Path, source: str | bytes) -> ModuleInfo:
    with _PARSING:
        tree = ast.parse(source, filename=str(path))
    info = ModuleInfo(path=path, tree=tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            info.functions[node.lineno] = node
            if node.decorator_list:
                info.functions.setdefault(node.decorator_list[0].lineno, node)
    _strip_docstrings(tree)
    own: dict[str, Definition] = {}  # each name's defining statements, before writers join
    for stmt in tree.body:
        around: Definition | None = None
        for name, target, node in module_imports(stmt):  # `try: import x` and friends too
            if name == "*":
                info.star_imports.append((target[0], target[2]))
                continue
            info.imports.setdefault(name, []).append(target)
            info.bindings[name] = _merged(info.bindings.get(name), _import_line(name, target, node))
            if node is not stmt:  # `if FLAG: from a import f`: the test decides what binds
                around = around or Definition.of(stmt)
                info.deciding[name] = _merged(info.deciding.get(name), around)
        if isinstance(stmt, ast.Import | ast.ImportFrom):
            continue
        definition = Definition.of(stmt)
        names = module_bindings(stmt)
        for name in names:
            own[name] = _merged(own.get(name), definition)
        if not isinstance(stmt, _DEFINING):
            # `CONFIG.update(rate=2)`, `for k in KEYS: TABLE[k] = 1`: statements that may
            # change a module-level name count as part of its definition
            used = definition.refs | {chain[0] for chain in definition.attr_refs}
            for name in used - set(names):
                if name in own:
                    own[name] = _merged(own[name], definition)
        info.calls.extend((target, definition) for target in definition.calls)
        if definition.dynamic and not isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
            info.top_dynamic = _merged(info.top_dynamic, definition)
    info.defs = _with_writers(own, info)
    loaded = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    info.unused_imports = sorted(set(info.imports) - loaded)
    return info


def _with_writers(own: dict[str, Definition], info: ModuleInfo) -> dict[str, Definition]:
    """Each module-level name's definition, joined by the code that may change it.

    A function with `global COUNTER`, or one that does `TABLE[k] = v` or `REGISTRY.append(f)`,
    is part of the definition of the name it changes; so is every statement that calls such a
    function (or decorates with it) while the module is imported.
    """
    writes = {name: d.mutates & own.keys() for name, d in own.items()}
    reach = {name: (d.refs | {c[0] for c in d.attr_refs}) & own.keys() for name, d in own.items()}
    closed = {name: set(names) for name, names in writes.items()}
    changed = True
    while changed:  # what a function changes through the functions it calls
        changed = False
        for name, callees in reach.items():
            before = len(closed[name])
            for callee in callees:
                closed[name] |= closed[callee]
            changed = changed or len(closed[name]) != before
    info.writers = {name: frozenset(names) for name, names in closed.items() if names}
    defs = dict(own)
    for name, names in writes.items():
        for written in names - {name}:
            defs[written] = _merged(defs[written], own[name])
    for target, statement in info.calls:
        if len(target) == 1:
            for written in closed.get(target[0], ()):
                defs[written] = _merged(defs[written], statement)
    return defs


# Folders never searched for project modules (the fallback for code the reader cannot follow).
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
        local: Mapping[str, tuple[Target, ...]] = _NO_IMPORTS,
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
        local: Mapping[str, tuple[Target, ...]] = _NO_IMPORTS,
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
        local: Mapping[str, tuple[Target, ...]] = _NO_IMPORTS,
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

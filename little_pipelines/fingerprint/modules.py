"""A module as read from its syntax: its definitions, imports and import-time calls.

`parse_module` reads a file's syntax tree (never importing it) into a `ModuleInfo`: each
top-level name's `Definition`, hashed with docstrings, comments and formatting gone, with
the names it refers to, so that `SourceIndex` (code.py) can follow a task's code.
"""

from __future__ import annotations

import ast
import importlib.util
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import NamedTuple

from little_pipelines.fingerprint.digests import digest
from little_pipelines.fingerprint.scopes import Target, module_bindings, module_imports, scan

__all__ = ["NO_IMPORTS", "Definition", "ModuleInfo", "Seen", "TooDeepError", "parse_module"]


def _strip_docstrings(nodes: list[ast.AST]) -> None:
    """Drop the docstring of each module, class and function in `nodes`."""
    for node in nodes:
        body = node.body  # type: ignore[attr-defined]
        if (
            body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            node.body = body[1:] or [ast.Pass()]  # type: ignore[attr-defined]


def _normal_form(node: ast.AST) -> str:
    return ast.dump(node, annotate_fields=False, include_attributes=False)


NO_IMPORTS: Mapping[str, tuple[Target, ...]] = MappingProxyType({})


class Seen(NamedTuple):
    """What a file or folder was when it was read: its stamp (modification and change times,
    size), the digest of its content, and when the stamp was taken (time.time_ns)."""

    stamp: tuple[int, int, int]
    digest: str
    taken_ns: int


class SourceLines:
    """A module's source, split into lines the first time a definition's text is asked for."""

    __slots__ = ("_lines", "_raw")

    def __init__(self, raw: str | bytes) -> None:
        self._raw: str | bytes | None = raw
        self._lines: list[str] = []

    def text(self, node: ast.AST) -> str | None:
        """The lines of `node` as written (its decorators too); None if it has no position."""
        if isinstance(node, ast.Module):
            parts = [self.text(stmt) for stmt in node.body]
            return None if None in parts else "\n".join(p for p in parts if p is not None)
        start, end = getattr(node, "lineno", None), getattr(node, "end_lineno", None)
        if start is None or end is None:
            return None
        for deco in getattr(node, "decorator_list", ()):
            start = min(start, deco.lineno)
        if self._raw is not None:
            raw, self._raw = self._raw, None
            text = raw if isinstance(raw, str) else importlib.util.decode_source(raw)
            self._lines = text.splitlines()
        return "\n".join(self._lines[start - 1 : end])


@dataclass(slots=True)
class Definition:
    """One top-level statement (or all those binding one name): its hash and what it reaches."""

    node: ast.AST
    digest: str
    refs: frozenset[str]
    attr_refs: frozenset[tuple[str, ...]]  # dotted chains such as ("pkg", "mod", "func")
    # imports inside function bodies (`def task_x(): import helpers`), followed like any other
    imports: Mapping[str, tuple[Target, ...]] = field(default_factory=lambda: NO_IMPORTS)
    dynamic: tuple[tuple[int, str], ...] = ()  # what the reader cannot follow: (line, what)
    mutates: frozenset[str] = frozenset()  # module-level names it may change when called
    calls: frozenset[tuple[str, ...]] = frozenset()  # what it calls while the module imports
    fallback: str | None = None  # set when this stands for a whole module (lp why says so)
    lines: SourceLines | None = None  # the module's source, for `text`
    _text: str | None = None

    @property
    def text(self) -> str:
        """The source as written (for lp why's diff), made once; unparsed where unknown."""
        if self._text is None:
            written = self.lines.text(self.node) if self.lines is not None else None
            self._text = ast.unparse(self.node) if written is None else written
        return self._text

    @classmethod
    def of(cls, node: ast.AST, lines: SourceLines | None = None) -> Definition:
        found = scan(node)
        imports = {name: tuple(targets) for name, targets in found.imports.items()}
        return cls(
            node,
            digest(_normal_form(node)),
            frozenset(found.refs),
            frozenset(found.chains),
            imports or NO_IMPORTS,
            tuple(found.dynamic),
            frozenset(found.mutates),
            frozenset(found.calls),
            lines=lines,
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
        imports or NO_IMPORTS,
        first.dynamic + then.dynamic,
        first.mutates | then.mutates,
        first.calls | then.calls,
        lines=first.lines,
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
    lines: SourceLines | None = None  # its source, for the text of its definitions
    read: Seen | None = None  # the file as it was read (set by the index that read it)
    _whole: Definition | None = None
    _as_value: Definition | None = None

    @property
    def whole(self) -> Definition:
        """The whole module as one definition, reaching everything it refers to."""
        if self._whole is None:
            self._whole = Definition.of(self.tree, self.lines)
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


def _import_line(
    name: str, target: Target, node: ast.AST, lines: SourceLines | None = None
) -> Definition:
    text = f"{name}={target[0]}:{target[1]}@{target[2]}"
    return Definition(node, digest("import", text), frozenset(), frozenset(), lines=lines)


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
    info = ModuleInfo(path=path, tree=tree, lines=SourceLines(source))
    lines = info.lines
    loaded: set[str] = set()
    documented: list[ast.AST] = []  # what may have a docstring
    for node in ast.walk(tree):  # once: modules of thousands of tasks are common
        if isinstance(node, ast.Name):
            loaded.add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            documented.append(node)
            info.functions[node.lineno] = node
            if node.decorator_list:
                info.functions.setdefault(node.decorator_list[0].lineno, node)
        elif isinstance(node, ast.ClassDef | ast.Module):
            documented.append(node)
    _strip_docstrings(documented)
    own: dict[str, Definition] = {}  # each name's defining statements, before writers join
    for stmt in tree.body:
        around: Definition | None = None
        for name, target, node in module_imports(stmt):  # `try: import x` and friends too
            if name == "*":
                info.star_imports.append((target[0], target[2]))
                continue
            info.imports.setdefault(name, []).append(target)
            line = _import_line(name, target, node, lines)
            info.bindings[name] = _merged(info.bindings.get(name), line)
            if node is not stmt:  # `if FLAG: from a import f`: the test decides what binds
                around = around or Definition.of(stmt, lines)
                info.deciding[name] = _merged(info.deciding.get(name), around)
        if isinstance(stmt, ast.Import | ast.ImportFrom):
            continue
        definition = Definition.of(stmt, lines)
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

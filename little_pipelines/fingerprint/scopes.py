"""What one statement refers to, with names scoped the way Python scopes them.

The code reader (fingerprint.py) asks this module which module-level names a statement reads,
which dotted chains it follows (`helpers.clean`), what it imports inside function bodies, which
module-level names it may change (`global`, `TABLE[k] = v`, `REGISTRY.append(f)`), what it calls
while the module is being imported, and which constructs it cannot follow at all (a dynamic
import, `exec`, `sys.path` changes, `globals()`). A local variable that shares a module
constant's name is local: it is not a use of the constant.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

__all__ = ["Scan", "Target", "chain_of", "module_bindings", "module_imports", "scan"]

# An import's target: (module, attribute or None for `import module`, relative level).
Target = tuple[str, str | None, int]

# Method names that change the object they are called on: a call of one of these on a
# module-level name inside a function makes that function a possible writer of the name.
_MUTATORS = frozenset(
    {
        "append", "appendleft", "add", "clear", "discard", "extend", "extendleft", "insert",
        "pop", "popitem", "register", "remove", "reverse", "setdefault", "sort", "update",
        "__setitem__", "__delitem__",
    }
)  # fmt: skip

# Calls whose effect on the code that runs the reader cannot see.
_DYNAMIC_NAMES = {
    "__import__": "a dynamic import (__import__)",
    "import_module": "a dynamic import (import_module)",
    "exec": "code run from a string (exec)",
    "globals": "module globals changed by code (globals())",
    "run_path": "a module run by path (runpy)",
    "run_module": "a module run by name (runpy)",
    "spec_from_file_location": "a module imported by path (importlib)",
    "reload": "a module reloaded (importlib.reload)",
}
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


def chain_of(node: ast.Attribute) -> tuple[str, ...] | None:
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


def _import_targets(stmt: ast.Import | ast.ImportFrom) -> list[tuple[str, Target]]:
    """(bound name, target) for each name an import statement binds; `*` is bound as "*"."""
    if isinstance(stmt, ast.Import):
        out: list[tuple[str, Target]] = []
        for alias in stmt.names:
            if alias.asname:
                out.append((alias.asname, (alias.name, None, 0)))
            else:
                top = alias.name.partition(".")[0]
                out.append((top, (top, None, 0)))
        return out
    module = stmt.module or ""
    return [(alias.asname or alias.name, (module, alias.name, stmt.level)) for alias in stmt.names]


def _same_scope(nodes: list[ast.AST]) -> list[ast.AST]:
    """Every node of `nodes` that runs in their own scope: nested bodies are left out, but a
    nested definition's decorators, defaults and bases (evaluated here) are kept."""
    out: list[ast.AST] = []
    todo = list(reversed(nodes))
    while todo:
        node = todo.pop()
        out.append(node)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            todo.extend(reversed([*node.decorator_list, *node.args.defaults]))
            todo.extend(d for d in node.args.kw_defaults if d is not None)
        elif isinstance(node, ast.ClassDef):
            todo.extend(reversed([*node.decorator_list, *node.bases, *node.keywords]))
        elif isinstance(node, ast.Lambda):
            todo.extend(node.args.defaults)
        elif isinstance(node, _COMPREHENSIONS):
            todo.append(node.generators[0].iter)  # the first iterable is evaluated outside
        else:
            todo.extend(reversed(list(ast.iter_child_nodes(node))))
    return out


def _bound_here(nodes: list[ast.AST]) -> set[str]:
    """Names that `nodes` (one scope's code) bind, imports excepted."""
    return _bound_by(_same_scope(nodes))


def _bound_by(nodes: list[ast.AST]) -> set[str]:
    """Names that `nodes` (every node of one scope, see `_same_scope`) bind, imports excepted."""
    bound: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            bound.add(node.name)
        elif isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            bound.add(node.id)
        elif isinstance(node, ast.ExceptHandler | ast.MatchAs | ast.MatchStar) and node.name:
            bound.add(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            bound.add(node.rest)
    return bound


def module_bindings(stmt: ast.stmt) -> list[str]:
    """The module-level names a top-level statement binds, in every branch (imports aside)."""
    return sorted(_bound_here([stmt]))


def module_imports(stmt: ast.stmt) -> list[tuple[str, Target, ast.Import | ast.ImportFrom]]:
    """The imports a top-level statement makes at module level, in every branch."""
    return [
        (name, target, node)
        for node in _same_scope([stmt])
        if isinstance(node, ast.Import | ast.ImportFrom)
        for name, target in _import_targets(node)
    ]


@dataclass(slots=True)
class _Scope:
    kind: str  # "function", "class" or "comprehension"
    bound: set[str] = field(default_factory=set)
    globals: set[str] = field(default_factory=set)
    imported: set[str] = field(default_factory=set)


@dataclass(slots=True)
class Scan:
    """What one statement refers to; see the module docstring."""

    refs: set[str] = field(default_factory=set)
    chains: set[tuple[str, ...]] = field(default_factory=set)
    imports: dict[str, list[Target]] = field(default_factory=dict)
    mutates: set[str] = field(default_factory=set)
    calls: set[tuple[str, ...]] = field(default_factory=set)  # made at import time
    dynamic: list[tuple[int, str]] = field(default_factory=list)  # (line, what)


class _Scanner:
    def __init__(self) -> None:
        self.out = Scan()
        self.stack: list[_Scope] = []  # empty: module scope, where every name is global

    def _is_local(self, name: str) -> bool:
        for depth, scope in enumerate(reversed(self.stack)):
            if scope.kind == "class" and depth > 0:  # class bodies do not enclose functions
                continue
            if name in scope.globals or name in scope.imported:
                return False  # imported names are followed through their import
            if name in scope.bound:
                return True
        return False

    def _global_here(self, name: str) -> bool:
        return bool(self.stack) and name in self.stack[-1].globals

    def _dynamic(self, node: ast.AST, what: str) -> None:
        self.out.dynamic.append((getattr(node, "lineno", 0), what))

    def visit(self, node: ast.AST) -> None:
        handler = getattr(self, "visit_" + type(node).__name__, None)
        if handler is not None:
            handler(node)
        else:
            for child in ast.iter_child_nodes(node):
                self.visit(child)

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load):
            if not self._is_local(node.id):
                self.out.refs.add(node.id)
        elif self._global_here(node.id):  # `global COUNTER; COUNTER += 1`
            self.out.mutates.add(node.id)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        chain = chain_of(node)
        if chain is None:
            self.visit(node.value)
            return
        if self._is_local(chain[0]):
            return
        self.out.chains.add(chain)
        if chain[:2] == ("sys", "path"):
            self._dynamic(node, "sys.path changed (imports may come from anywhere)")
        if self.stack and not isinstance(node.ctx, ast.Load):
            self.out.mutates.add(chain[0])

    def visit_Subscript(self, node: ast.Subscript) -> None:
        if self.stack and not isinstance(node.ctx, ast.Load):
            root = node.value
            while isinstance(root, ast.Attribute | ast.Subscript):
                root = root.value
            if isinstance(root, ast.Name) and not self._is_local(root.id):
                self.out.mutates.add(root.id)
        self.visit(node.value)
        self.visit(node.slice)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        target: tuple[str, ...] | None = None
        if isinstance(func, ast.Name):
            target = (func.id,)
        elif isinstance(func, ast.Attribute):
            target = chain_of(func)
        if target is not None and not self._is_local(target[0]):
            if not self.stack:
                self.out.calls.add(target)
            if len(target) > 1 and target[-1] in _MUTATORS and self.stack:
                self.out.mutates.add(target[0])
            what = _DYNAMIC_NAMES.get(target[-1])
            if what is not None and (len(target) == 1 or target[0] in ("importlib", "runpy")):
                self._dynamic(node, what)
        for child in ast.iter_child_nodes(node):
            self.visit(child)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.module == "sys" and any(a.name == "path" for a in node.names):
            self._dynamic(node, "sys.path changed (imports may come from anywhere)")

    def visit_Import(self, node: ast.Import) -> None:
        return  # module-level imports are read by module_imports, local ones on entering a scope

    def _decorators(self, decorators: list[ast.expr]) -> None:
        for deco in decorators:
            self.visit(deco)
            if not self.stack:  # `@register` runs at import time, like a call
                target: tuple[str, ...] | None = (deco.id,) if isinstance(deco, ast.Name) else None
                if isinstance(deco, ast.Attribute):
                    target = chain_of(deco)
                if target is not None:
                    self.out.calls.add(target)

    def _enter(self, kind: str, args: ast.arguments | None, body: list[ast.AST]) -> None:
        scope = _Scope(kind)
        if args is not None:
            every = [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]
            scope.bound |= {a.arg for a in every if a is not None}
        here = _same_scope(body)
        scope.bound |= _bound_by(here)
        for node in here:
            if isinstance(node, ast.Global):
                scope.globals |= set(node.names)
            if isinstance(node, ast.Global | ast.Nonlocal):  # bound elsewhere, not here
                scope.bound -= set(node.names)
            elif isinstance(node, ast.Import | ast.ImportFrom):
                for name, target in _import_targets(node):
                    self.out.imports.setdefault(name, []).append(target)
                    scope.imported.add(name)
        self.stack.append(scope)
        for node in body:
            self.visit(node)
        self.stack.pop()

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self._decorators(node.decorator_list)
        args = node.args
        for default in [*args.defaults, *args.kw_defaults]:
            if default is not None:
                self.visit(default)
        annotations = [a.annotation for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]]
        for annotation in [*annotations, node.returns]:
            if annotation is not None:
                self.visit(annotation)
        self._enter("function", args, list(node.body))

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Lambda(self, node: ast.Lambda) -> None:
        for default in node.args.defaults:
            self.visit(default)
        self._enter("function", node.args, [node.body])

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self._decorators(node.decorator_list)
        for base in [*node.bases, *node.keywords]:
            self.visit(base)
        self._enter("class", None, list(node.body))

    def _comprehension(self, node: ast.AST, parts: list[ast.AST]) -> None:
        generators: list[ast.comprehension] = node.generators  # type: ignore[attr-defined]
        self.visit(generators[0].iter)
        scope = _Scope("comprehension", bound=_bound_here([g.target for g in generators]))
        self.stack.append(scope)
        for i, gen in enumerate(generators):
            if i:
                self.visit(gen.iter)
            for cond in gen.ifs:
                self.visit(cond)
        for part in parts:
            self.visit(part)
        self.stack.pop()

    def visit_ListComp(self, node: ast.ListComp | ast.SetComp | ast.GeneratorExp) -> None:
        self._comprehension(node, [node.elt])

    visit_SetComp = visit_GeneratorExp = visit_ListComp

    def visit_DictComp(self, node: ast.DictComp) -> None:
        self._comprehension(node, [node.key, node.value])


def scan(node: ast.AST) -> Scan:
    """What a top-level statement refers to, read at module scope."""
    scanner = _Scanner()
    scanner.visit(node)
    return scanner.out

"""`-k EXPR` and `-m EXPR`: select tasks with pytest's expression syntax.

    expr     := and_expr ("or" and_expr)*
    and_expr := not_expr ("and" not_expr)*
    not_expr := "not" not_expr | "(" expr ")" | word

With `-k` a word matches a task when it is a substring of the task's name or of its file's
stem, case insensitive, as pytest matches test names and their modules
(`-k "load and not routes"`). With `-m` a word matches a task that has it as a tag, exactly,
as pytest matches marks (`-m "slow and not network"`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import NoReturn

from little_pipelines.errors import LittlePipelinesError

__all__ = ["KeywordError", "matcher"]

_TOKEN = re.compile(r"\s*(\(|\)|[^\s()]+)")
_OPERATORS = {"and", "or", "not"}


class KeywordError(LittlePipelinesError):
    """An expression `-k` or `-m` cannot read."""


Match = Callable[[Iterable[str]], bool]


def matcher(expression: str, *, option: str = "-k") -> Match:
    """A function of a task's words that says if `expression` selects it: for `-k` its name
    and its file's stem (substrings), for `-m` its tags (whole words). Raises KeywordError
    naming the problem and where it is."""
    tokens = _TOKEN.findall(expression)
    if not tokens:
        raise KeywordError(f"{option} {expression!r}: the expression is empty")
    parser = _Parser(expression, tokens, option)
    try:
        found = parser.expr()
    except RecursionError:
        parser.fail("it is nested too deeply")
    if parser.at < len(tokens):
        parser.fail(f"unexpected {tokens[parser.at]!r}")
    return found


class _Parser:
    def __init__(self, expression: str, tokens: list[str], option: str) -> None:
        self.expression, self.tokens, self.option, self.at = expression, tokens, option, 0

    def fail(self, what: str) -> NoReturn:
        words = "names" if self.option == "-k" else "tags"
        raise KeywordError(
            f"{self.option} {self.expression!r}: {what}"
            f" (write {words} joined by and, or, not, and brackets)"
        )

    def peek(self) -> str | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self) -> str:
        token = self.peek()
        if token is None:
            self.fail("it ends too soon")
        self.at += 1
        return token

    def expr(self) -> Match:
        parts = [self.and_expr()]
        while self.peek() == "or":
            self.take()
            parts.append(self.and_expr())
        return parts[0] if len(parts) == 1 else lambda words: any(p(words) for p in parts)

    def and_expr(self) -> Match:
        parts = [self.not_expr()]
        while self.peek() == "and":
            self.take()
            parts.append(self.not_expr())
        return parts[0] if len(parts) == 1 else lambda words: all(p(words) for p in parts)

    def not_expr(self) -> Match:
        token = self.take()
        if token == "not":
            inner = self.not_expr()
            return lambda words: not inner(words)
        if token == "(":
            inner = self.expr()
            if self.take() != ")":
                self.fail("a bracket is not closed")
            return inner
        if token == ")" or token in _OPERATORS:
            self.fail(f"expected a name, found {token!r}")
        if self.option == "-m":
            return lambda tags: token in tags
        word = token.lower()
        return lambda words: any(word in w.lower() for w in words)

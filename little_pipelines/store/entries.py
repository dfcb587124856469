"""A stored result's entry, and what a result is stored as.

An entry records the fingerprints a result was made from (code, inputs, upstream results),
the result's canonical digest (for early cutoff), the digest and size of its stored bytes
(to verify them when loaded) and when it expires. It is stored as JSON and parsed field by
field: anything this version did not write reads as no entry.
"""

from __future__ import annotations

import dataclasses
import enum
import pickle
from dataclasses import MISSING, dataclass, field
from typing import Any

from little_pipelines.errors import CacheError
from little_pipelines.fingerprint.code import SCHEME, digest

__all__ = [
    "FORMAT",
    "DamagedResult",
    "Entry",
    "Loss",
    "UnreadableResult",
    "as_dict",
    "as_entry",
    "data_digest",
    "serialize",
]

# The layout of an entry's JSON; an entry of another layout is treated as absent.
FORMAT = 1


def serialize(value: Any) -> bytes:
    """The bytes a result is stored as (its digest for early cutoff is values.value_digest)."""
    return pickle.dumps(value, protocol=5)


def data_digest(data: bytes) -> str:
    """The digest of stored bytes, checked when they are loaded again."""
    return digest(data)


class Loss(enum.StrEnum):
    """Why stored bytes are no result: gone, or not the bytes that were stored."""

    MISSING = "missing"
    DAMAGED = "damaged"
    UNREADABLE = "unreadable (it no longer unpickles: a class it holds changed or moved)"


class UnreadableResult(CacheError):
    """Stored bytes that are intact but no longer unpickle (a class renamed, say)."""

    def __init__(self, name: str, exc: BaseException) -> None:
        self.name = name
        super().__init__(
            f"the stored result of '{name}' cannot be read ({type(exc).__name__}: {exc});"
            f" drop it with: lp clean {name}"
        )


class DamagedResult(LookupError):
    """A stored result's bytes are missing, or differ from those that were stored."""

    def __init__(self, name: str, why: Loss) -> None:
        self.name = name
        self.why = why
        super().__init__(f"the stored result of '{name}' is {why}")


@dataclass(slots=True)
class Entry:
    """What a stored result was made from, and until when it may be used.

    `result` is the value's canonical digest; `data` and `size` describe its stored bytes
    (`ResultCache.store` fills them in).
    """

    code: str
    inputs: str
    upstream: dict[str, str]
    result: str
    stored_at: float
    duration_s: float
    expires_at: float | None = None
    session: str | None = None
    data: str = ""
    size: int = -1
    scheme: int = SCHEME
    extra: dict[str, Any] = field(default_factory=dict)


_FIELDS = tuple(Entry.__dataclass_fields__)
_REQUIRED = {f.name for f in dataclasses.fields(Entry) if f.default is f.default_factory is MISSING}


def as_dict(entry: Entry) -> dict[str, Any]:
    found = {name: getattr(entry, name) for name in _FIELDS}
    found["format"] = FORMAT
    return found


# What each field may hold, as the exact types `json.loads` makes (so a bool is no number)
_NUMBER = frozenset({int, float})
_TYPES: dict[str, frozenset[type]] = {
    "code": frozenset({str}),
    "inputs": frozenset({str}),
    "upstream": frozenset({dict}),
    "result": frozenset({str}),
    "stored_at": _NUMBER,
    "duration_s": _NUMBER,
    "expires_at": _NUMBER | {type(None)},
    "session": frozenset({str, type(None)}),
    "data": frozenset({str}),
    "size": frozenset({int}),
    "scheme": frozenset({int}),
    "extra": frozenset({dict}),
    "format": frozenset({int}),
}


def as_entry(found: Any) -> Entry | None:
    """An entry from its parsed JSON, or None if it is not one this version wrote.

    A no-op run parses every task's entry, so this is one pass of exact type checks.
    """
    if type(found) is not dict or found.get("scheme") != SCHEME or found.get("format") != FORMAT:
        return None  # another layout or version
    types = _TYPES
    for name, value in found.items():
        kinds = types.get(name)
        if kinds is None or type(value) not in kinds:
            return None  # a failure record (`failed_at`), another version's, or damaged
    if not found.keys() >= _REQUIRED:
        return None  # a field missing
    if any(type(v) is not str for v in found["upstream"].values()):
        return None  # (the keys of a JSON object are strings)
    fields = dict(found)
    del fields["format"]
    return Entry(**fields)

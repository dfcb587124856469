"""The digests everything else is made of: of parts, of a file's bytes, of a code object."""

from __future__ import annotations

import hashlib
import marshal
from pathlib import Path

__all__ = ["SCHEME", "content_digest", "digest", "file_digest", "object_code_digest"]

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


def content_digest(raw: bytes) -> str:
    """Digest of a file's bytes as read (the reading memo compares files by it)."""
    return digest("file", raw)


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

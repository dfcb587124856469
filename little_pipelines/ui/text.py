"""Text with styled parts, and a console that prints it plainly without importing rich.

Off a terminal (CI logs, pipes, files) lp's output is plain lines, so `lp run` there needs
no rich at all: `PlainConsole` writes a `Line`'s text as it is. On a terminal a rich Console
prints the same `Line` with its styles (rich asks it for `__rich__`).
"""

from __future__ import annotations

import os
import sys
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text

__all__ = ["Line", "PlainConsole", "output_console", "wants_rich"]


class Line:
    """One or more lines of text made of parts, each with a rich style ("" for none)."""

    def __init__(self, text: str = "", style: str = "") -> None:
        self.parts: list[tuple[str, str]] = [(text, style)] if text else []

    def append(self, text: str, style: str = "") -> Line:
        self.parts.append((text, style))
        return self

    @property
    def plain(self) -> str:
        return "".join(text for text, _ in self.parts)

    def __rich__(self) -> Text:
        from rich.text import Text

        text = Text()
        for part, style in self.parts:
            text.append(part, style=style or None)
        return text


class PlainConsole:
    """The few `rich.console.Console` methods lp's plain output uses, on a plain stream."""

    is_terminal = False
    is_dumb_terminal = False

    def __init__(self, file: IO[str] | None = None, *, stderr: bool = True) -> None:
        self._file = file
        self._stderr = stderr

    @property
    def file(self) -> IO[str]:
        """The stream, looked up when printing (a redirect of sys.stderr is honoured)."""
        if self._file is not None:
            return self._file
        return sys.stderr if self._stderr else sys.stdout

    def print(self, *objects: Any, sep: str = " ", end: str = "\n", **options: Any) -> None:
        """Write the objects' plain text; rich's options (style, soft_wrap...) mean nothing."""
        text = sep.join(o.plain if isinstance(o, Line) else str(o) for o in objects) + end
        file = self.file
        try:
            file.write(text)
        except UnicodeEncodeError:  # a stream that cannot hold "—" or "✓" (PYTHONIOENCODING=ascii)
            encoding = getattr(file, "encoding", None) or "ascii"
            file.write(text.encode(encoding, "replace").decode(encoding))
        file.flush()


def wants_rich(stream: IO[str]) -> bool:
    """Whether output to `stream` is for a terminal (or forced to look like one)."""
    if os.environ.get("FORCE_COLOR") or os.environ.get("TTY_COMPATIBLE") == "1":
        return True
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def output_console(*, stderr: bool = True) -> Console | PlainConsole:
    """A rich Console on a terminal, a PlainConsole elsewhere (see make_console for styles)."""
    if wants_rich(sys.stderr if stderr else sys.stdout):
        from little_pipelines.ui.console import make_console

        return make_console(stderr=stderr)
    return PlainConsole(stderr=stderr)

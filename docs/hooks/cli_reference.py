"""mkdocs hook: the CLI reference page is the text `lp COMMAND --help` prints, made at build time.

`--help` is rendered from the declarations in little_pipelines/ui/flags.py by ui/help.py, so the
page cannot drift from what the command says.
"""

from __future__ import annotations

from typing import Any

MARKER = "<!-- lp --help of every command -->"


def on_page_markdown(markdown: str, page: Any, **_: Any) -> str:
    if MARKER not in markdown:
        return markdown
    from little_pipelines.ui.flags import COMMANDS
    from little_pipelines.ui.help import render

    parts = ["## `lp`", "", "```text", "$ lp --help", render(None, 80).rstrip(), "```", ""]
    for name in COMMANDS:
        parts += [f"## `lp {name}`", "", "```text", f"$ lp {name} --help"]
        parts += [render(name, 80).rstrip(), "```", ""]
    return markdown.replace(MARKER, "\n".join(parts))

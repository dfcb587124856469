"""The prompt under the shell: a `cmd.Cmd` that prints through rich and never stops on errors.

Dashes work in command words (`list-tasks`), an unknown command gets close suggestions,
`help COMMAND` shows its docstring, and an error or a Ctrl-C in a command is printed and the
loop goes on. shell.py adds the commands on a pipeline.
"""

from __future__ import annotations

import cmd
import difflib
import inspect
import os
from typing import IO, TYPE_CHECKING

from little_pipelines.errors import LittlePipelinesError

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["Prompt"]


class Prompt(cmd.Cmd):
    """A forgiving command loop whose output goes to its `stdout` (through a rich Console).

    Define `startup()` / `shutdown()` in a subclass to run code when the loop starts and ends.
    """

    title = "Little Pipelines Shell"
    header = ""
    powered_by: str | bool = "Powered by Little Pipelines"
    prompt = "lp> "
    doc_header = "Commands (type help <command>; dashes work too: list-tasks):"

    def __init__(
        self, completekey: str = "tab", stdin: IO[str] | None = None, stdout: IO[str] | None = None
    ) -> None:
        super().__init__(completekey, stdin, stdout)
        self._console: Console | None = None

    def banner(self, *about: str) -> str:
        """The intro: title, header, powered-by line, then the `about` lines."""
        powered = "Powered by Little Pipelines" if self.powered_by is True else self.powered_by
        lines = [self.title, self.header, powered or "", *about, "Type help, or quit to leave."]
        return "\n".join(line for line in lines if line)

    @property
    def console(self) -> Console:
        """A rich Console writing to this shell's stdout (NO_COLOR honoured)."""
        if self._console is None:
            from rich.console import Console

            no_color = os.environ.get("NO_COLOR", "") != ""
            self._console = Console(
                file=self.stdout,
                no_color=no_color,
                color_system=None if no_color else "auto",
                highlight=False,
            )
        return self._console

    def say(self, text: str = "", style: str | None = None) -> None:
        """Print plain text (never read as markup) to the shell's output."""
        self.console.print(text, style=style, markup=False, highlight=False, soft_wrap=True)

    def get_names(self) -> list[str]:
        return [n for n in super().get_names() if n != "do_EOF"]

    def parseline(self, line: str) -> tuple[str | None, str | None, str]:
        """Accept dashes in the command word: `list-tasks` is `list_tasks`."""
        word, _, rest = line.strip().partition(" ")
        if word and not word.startswith(("-", "?", "!")):
            line = word.replace("-", "_") + (" " + rest if rest else "")
        return super().parseline(line)

    def onecmd(self, line: str) -> bool:
        """Run one command; errors are printed, never raised, so the loop keeps going."""
        try:
            return bool(super().onecmd(line))
        except KeyboardInterrupt:
            self.say("interrupted", style="yellow")
        except LittlePipelinesError as exc:
            self.say(f"error: {exc.message}", style="red")
        except KeyError as exc:  # TaskNotFoundError's message carries the did-you-mean hint
            self.say(f"error: {exc}", style="red")
        except Exception as exc:
            self.say(f"error: {type(exc).__name__}: {exc}", style="red")
        return False

    def emptyline(self) -> bool:
        """Do nothing on an empty line (cmd would repeat the last command)."""
        return False

    def default(self, line: str) -> None:
        """Name the unknown command and suggest close ones."""
        word = line.split()[0] if line.split() else line
        names = [n[3:] for n in self.get_names() if n.startswith("do_")]
        close = difflib.get_close_matches(word, names, n=3, cutoff=0.5)
        hint = f" — did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        self.say(f"unknown command '{word}'{hint} (type help for the list)", style="red")

    def do_help(self, arg: str) -> bool | None:
        """Show the commands, or the help of one: help COMMAND."""
        name = arg.strip().replace("-", "_")
        doc = getattr(getattr(self, f"do_{name}", None), "__doc__", None) if name else None
        if doc:
            self.say(inspect.cleandoc(doc))
            return None
        return super().do_help(name)

    def preloop(self) -> None:
        if self.intro is None:
            self.intro = self.banner()
        if callable(getattr(self, "startup", None)):
            self.startup()  # type: ignore[attr-defined]

    def postloop(self) -> None:
        if callable(getattr(self, "shutdown", None)):
            self.shutdown()  # type: ignore[attr-defined]

    def do_exit(self, arg: str) -> bool:
        """Leave the shell."""
        return True

    do_quit = do_q = do_exit

    def do_EOF(self, arg: str) -> bool:
        self.say()
        return True

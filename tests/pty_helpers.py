"""`lp` on a pseudo-terminal: what a person at a terminal sees (live display, colour, Ctrl-C)."""

from __future__ import annotations

import os
import re
import select
import time
from pathlib import Path

from e2e_helpers import lp_command, make_env

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")


class Terminal:
    """One `lp` process whose stdin, stdout and stderr are a terminal of `columns` columns."""

    def __init__(self, *args: str, cwd: Path, home: Path, columns: int = 100) -> None:
        import pty
        import warnings

        env = make_env(home, no_color=False)
        env |= {"COLUMNS": str(columns), "LINES": "40", "TERM": "xterm-256color"}
        command = [*lp_command(), *args]
        with warnings.catch_warnings():
            # (3.12+ warns of forking a process with threads: the child only calls chdir and
            # exec, everything it needs made before the fork)
            warnings.simplefilter("ignore", DeprecationWarning)
            self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: become lp
            os.chdir(cwd)
            os.execve(command[0], command, env)
        self.raw = b""
        self.code: int | None = None

    @property
    def text(self) -> str:
        """Everything printed so far, without escape sequences; carriage returns as lines."""
        plain = ANSI.sub("", self.raw.decode(errors="replace"))
        return "\n".join(line for line in re.split(r"\r\n|\r|\n", plain) if line.strip())

    def _read(self, deadline: float) -> bool:
        """Read what is there (waiting until `deadline`); False once the terminal closed."""
        ready, _, _ = select.select([self.fd], [], [], max(deadline - time.monotonic(), 0))
        if not ready:
            return True
        try:
            chunk = os.read(self.fd, 65536)
        except OSError:  # EIO: the child closed the terminal
            return False
        self.raw += chunk
        return bool(chunk)

    def expect(self, pattern: str, timeout: float = 30) -> None:
        """Wait until `pattern` (a regular expression) has been printed."""
        deadline = time.monotonic() + timeout
        while not re.search(pattern, self.text):
            if time.monotonic() > deadline or not self._read(deadline):
                raise AssertionError(f"{pattern!r} never came; the terminal shows:\n{self.text}")

    def send(self, data: bytes) -> None:
        os.write(self.fd, data)

    def wait(self, timeout: float = 30) -> int:
        """Read to the end and return the exit code."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self._read(deadline):
            pass
        done, status = os.waitpid(self.pid, 0 if time.monotonic() < deadline else os.WNOHANG)
        if done == 0:
            os.kill(self.pid, 9)
            os.waitpid(self.pid, 0)
            raise AssertionError(f"lp did not exit; the terminal shows:\n{self.text}")
        os.close(self.fd)
        self.code = os.waitstatus_to_exitcode(status)
        return self.code

"""The `lp` command's entry point (and `python -m little_pipelines`).

It installs the signal handlers before anything heavy is imported, so that Ctrl-C, SIGTERM
or SIGHUP at any instant end `lp` with one line and the signal's exit code (130, 143, 129).
Until then (Python's own start-up and this module's few imports) a signal is Python's.
"""

from __future__ import annotations

import os
import signal
import sys
import time

__all__ = ["Signals", "main"]

# A second signal this soon after the first is taken as the same key press (or a bounce)
# and ignored; a later one means "stop now", even in the middle of cleaning up.
_GRACE_S = 0.5

# The signals that stop lp, with the word for each (Windows has no SIGHUP).
_WORDS = {
    getattr(signal, name): word
    for name, word in (("SIGINT", "interrupted"), ("SIGTERM", "terminated"), ("SIGHUP", "hung up"))
    if hasattr(signal, name)
}


class Signals:
    """The stop signals `lp` received: the first raises KeyboardInterrupt, so every layer
    cleans up as for Ctrl-C; the command's exit code then says which signal it was."""

    def __init__(self) -> None:
        self.received: list[int] = []
        self._first_at = 0.0
        self._closing = False

    def install(self) -> Signals:
        """Handle SIGINT, SIGTERM and SIGHUP, except those ignored when lp started (nohup)."""
        for signum in _WORDS:
            if signal.getsignal(signum) is not signal.SIG_IGN:
                signal.signal(signum, self._handle)
        return self

    def closing(self) -> None:
        """lp is exiting: a signal from now on may end it, but never raise into the exit."""
        self._closing = True

    def _handle(self, signum: int, frame: object) -> None:
        self.received.append(signum)
        if len(self.received) == 1:
            self._first_at = time.monotonic()
            if not self._closing:
                raise KeyboardInterrupt
        elif time.monotonic() - self._first_at > _GRACE_S:
            _say(f"{_WORDS[self.received[0]]} again: exiting now")
            os._exit(128 + self.received[0])

    def exit_code(self, code: int) -> int:
        """`code`, with an interruption (130) told apart by the signal that caused it."""
        if code == 130 and self.received:
            return 128 + self.received[0]
        return code


def _say(line: str) -> None:
    """One line on stderr, written directly: safe inside a signal handler or at exit."""
    import contextlib  # (here, not at the top: the handlers go in before any import)

    with contextlib.suppress(OSError):
        os.write(2, f"lp: {line}\n".encode())


def _code(exc: SystemExit) -> int:
    if exc.code is None:
        return 0
    if isinstance(exc.code, int):
        return exc.code
    _say(str(exc.code))
    return 1


def _leave(code: int) -> None:
    """Exit with `code` without waiting for threads a task left running (they were named).

    Python's finalization puts back the default action of handled signals, so a signal
    arriving during it would kill lp after its work was done: from here on they are ignored.
    """
    for signum in _WORDS:
        if signal.getsignal(signum) is not signal.SIG_DFL:
            signal.signal(signum, signal.SIG_IGN)
    import contextlib

    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    import threading

    main_thread = threading.main_thread()
    if any(t is not main_thread and not t.daemon and t.is_alive() for t in threading.enumerate()):
        os._exit(code)
    import gc

    # The process ends: the final collection would walk every object still alive (0.05 to
    # 0.1 s at 10,000 tasks) only for the system to free them all. Frozen, it skips them;
    # the work is done, the cache closed, and exit handlers still run.
    gc.freeze()
    sys.exit(code)


def main(argv: list[str] | None = None) -> None:
    """Run the `lp` command with `argv` (default: the command line) and exit with its code."""
    import gc

    # lp holds thousands of long-lived objects (specs, entries) and makes more: at Python's
    # default thresholds the collector walks them all again and again (0.2 s of a no-op run
    # of 10,000 tasks). Collect less often; cyclic garbage still goes, in bigger batches.
    gc.set_threshold(10_000, 50, 100)
    signals = Signals()
    code = 130  # what an interruption anywhere below leaves
    try:
        try:
            signals.install()
            from little_pipelines.ui.fast import fast_main

            if not fast_main(argv, signals=signals):  # `lp run` without typer, where it can
                from little_pipelines.ui.cli import main as cli_main

                cli_main(argv, signals=signals)
            code = 0
        except SystemExit as exc:
            code = _code(exc)
    except KeyboardInterrupt:
        pass
    signals.closing()
    code = signals.exit_code(code)
    if code in (130, 143, 129):
        word = _WORDS.get(code - 128, "interrupted")
        _say(f"{word} ({signal.Signals(code - 128).name})" if signals.received else word)
    _leave(code)


if __name__ == "__main__":
    main()

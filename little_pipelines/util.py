"""Small helpers of the original library's public API (kept for code written against it)."""

from __future__ import annotations

__all__ = ["time_diff"]


def time_diff(start_ns: float, end_ns: float) -> str:
    """The time from `start_ns` to `end_ns` (nanoseconds, e.g. `perf_counter_ns()`) as M:S.ss.

    Minutes, then seconds with two decimals, unpadded as the original printed them: `"1:5.00"`,
    `"0:0.00"`. Rounded to hundredths first, so 59.999 s is `"1:0.00"`, not `"0:60.00"`.
    """
    hundredths = round((end_ns - start_ns) / 10_000_000)
    minutes, rest = divmod(hundredths, 6000)
    return f"{minutes}:{rest / 100:.2f}"

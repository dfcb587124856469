"""`little_pipelines.util.time_diff`, as the original library formats a duration."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from little_pipelines import util

SECOND = 1_000_000_000


@pytest.mark.parametrize(
    ("duration_ns", "text"),
    [
        (0, "0:0.00"),
        (1_500_000_000, "0:1.50"),
        (1_234_000_000, "0:1.23"),
        (10_000_000, "0:0.01"),
        (30 * SECOND, "0:30.00"),
        (65 * SECOND, "1:5.00"),
        (305 * SECOND, "5:5.00"),
        (59_999_000_000, "1:0.00"),  # rounded first: never "0:60.00"
        (3600 * SECOND, "60:0.00"),
    ],
)
def test_time_diff_is_minutes_then_seconds_with_two_decimals(duration_ns: int, text: str) -> None:
    start = 123_456_789_000
    assert util.time_diff(start, start + duration_ns) == text


def test_util_imports_nothing_heavy() -> None:
    code = (
        "import json, sys; import little_pipelines.util;"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('little_pipelines')"
        " or m in ('rich', 'typer', 'diskcache', 'loguru', 'watchfiles'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == ["little_pipelines", "little_pipelines.util"]

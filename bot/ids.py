"""Reading an id typed by a user or carried in callback data: ASCII digits only, int64 range.

`str.isdigit()` accepts "²" and other digits `int()` refuses or reads differently, and an id wider
than SQLite's 64-bit integers overflows in the driver: both used to end in "something went wrong".
"""

from __future__ import annotations

import re

_DIGITS = re.compile(r"[0-9]{1,19}")
_INT64_MAX = 2**63 - 1


def parse_id(text: str | None, *, minimum: int = 1) -> int | None:
    """An id ≥ `minimum` that fits a database integer, or None for anything else."""
    if text is None or _DIGITS.fullmatch(text) is None:
        return None
    value = int(text)
    return value if minimum <= value <= _INT64_MAX else None

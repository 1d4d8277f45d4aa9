"""The fake's sense of time: real by default, a hand-moved clock where a test needs it.

Callback query expiry and flood control are judged on this clock, so a test can show "a retry one
second too early is refused" by moving the clock instead of sleeping.
"""

from __future__ import annotations

import time
from collections.abc import Callable

Clock = Callable[[], float]
real_clock: Clock = time.monotonic


class ManualClock:
    """A monotonic clock that only moves when the test says so."""

    def __init__(self, start: float = 1_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move time forward (never back: Telegram's clock does not go back either)."""
        if seconds < 0:
            raise ValueError("time only moves forward")
        self.now += seconds

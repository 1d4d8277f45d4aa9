"""Per-user limits on what a user can make the bot keep or do before paying anything.

A draft costs nothing but keeps a hosted photo (up to ~10 MB) for hours; a scripted client once
wrote 152 MB in 10 s. So each user may have a few drafts and a bounded amount of hosted photos,
and may send a bounded number of photos a minute. Over the rate the user gets one "slow down"
message per minute, not one options message per photo.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

WINDOW_S = 60.0
_FORGET_AFTER = 10_000  # users tracked before idle ones are forgotten


@dataclass(frozen=True)
class UserLimits:
    max_drafts: int = 10
    max_hosted_bytes: int = 50 * 1024 * 1024
    photos_per_minute: int = 20


class Rate(StrEnum):
    OK = "ok"
    WARN = "warn"  # the first photo over the rate in this window: say "slow down" once
    QUIET = "quiet"  # already told: drop it silently


class PhotoRate:
    """A sliding one-minute window of photo arrivals per user."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self.clock = clock
        self._seen: dict[int, deque[float]] = {}
        self._warned: dict[int, float] = {}

    def check(self, user_id: int) -> Rate:
        now = self.clock()
        if len(self._seen) > _FORGET_AFTER:
            self._forget_idle(now)
        seen = self._seen.setdefault(user_id, deque())
        while seen and seen[0] <= now - WINDOW_S:
            seen.popleft()
        if len(seen) < self.per_minute:
            seen.append(now)
            return Rate.OK
        warned = self._warned.get(user_id)
        if warned is not None and warned > now - WINDOW_S:
            return Rate.QUIET
        self._warned[user_id] = now
        return Rate.WARN

    def _forget_idle(self, now: float) -> None:
        for user_id in [u for u, s in self._seen.items() if not s or s[-1] <= now - WINDOW_S]:
            self._seen.pop(user_id, None)
            self._warned.pop(user_id, None)

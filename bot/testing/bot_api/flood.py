"""Flood control by the clock, the way Telegram applies it to a bot's messages.

Telegram's published guidance: about 30 messages a second overall, about one a second in one
chat (short bursts are tolerated, then 429), and about 20 a minute in one group. Each limit is a
token bucket (a burst, then a steady rate). A refused call gets 429 with `retry_after` in whole
seconds, and every call on the same limit is refused until that moment has passed: a retry even
a fraction of a second early is refused again, as Telegram's flood wait does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from bot.testing.bot_api.clock import Clock
from bot.testing.bot_api.wire import ApiError

# What counts as "a message" for the limits: sends and edits (chat actions, answers to button
# presses, reads and deletions do not).
LIMITED_PREFIXES = ("send", "editmessage", "copymessage", "forwardmessage")
UNLIMITED = frozenset({"sendchataction"})
_EPSILON = 1e-6  # clock arithmetic in floats: 0.9 + 0.1 s is a full second


@dataclass(frozen=True)
class FloodLimits:
    """Bucket sizes and refill rates (per second)."""

    global_burst: float = 30.0
    global_rate: float = 30.0
    chat_burst: float = 10.0
    chat_rate: float = 1.0
    group_burst: float = 20.0
    group_rate: float = 20.0 / 60.0


@dataclass
class _Bucket:
    tokens: float
    at: float
    banned_until: float = 0.0


@dataclass
class FloodControl:
    """Decides, before a method runs, whether Telegram would let it through now."""

    clock: Clock
    limits: FloodLimits = field(default_factory=FloodLimits)
    refused: list[tuple[str, str, int]] = field(default_factory=list)  # (method, key, retry_after)
    _buckets: dict[str, _Bucket] = field(default_factory=dict)

    @staticmethod
    def limited(method: str) -> bool:
        name = method.lower()
        return name.startswith(LIMITED_PREFIXES) and name not in UNLIMITED

    def check(self, method: str, chat_id: object) -> None:
        """Take one token from every bucket this call uses, or raise 429 (taking none)."""
        if not self.limited(method):
            return
        now = self.clock()
        keys = [("global", self.limits.global_burst, self.limits.global_rate)]
        if isinstance(chat_id, int | str):
            keys.append((f"chat:{chat_id}", self.limits.chat_burst, self.limits.chat_rate))
            if isinstance(chat_id, str) or chat_id < 0:
                keys.append((f"group:{chat_id}", self.limits.group_burst, self.limits.group_rate))
        buckets = [(key, self._refill(key, burst, rate, now), rate) for key, burst, rate in keys]
        for key, bucket, rate in buckets:
            wait = bucket.banned_until - now  # an early retry is told what is left, no more
            if wait <= _EPSILON and bucket.tokens < 1 - _EPSILON:
                wait = (1 - bucket.tokens) / rate
                bucket.banned_until = now + max(1, math.ceil(wait - _EPSILON))
            if wait > _EPSILON:
                retry_after = max(1, math.ceil(wait - _EPSILON))
                self.refused.append((method, key, retry_after))
                raise too_many_requests(retry_after)
        for _, bucket, _ in buckets:
            bucket.tokens = max(0.0, bucket.tokens - 1)

    def ban(self, key: str, retry_after: int) -> None:
        """An injected flood wait: `key` refused for `retry_after` seconds from now."""
        bucket = self._buckets.setdefault(key, _Bucket(tokens=math.inf, at=self.clock()))
        bucket.banned_until = max(bucket.banned_until, self.clock() + retry_after)

    def banned_for(self, key: str) -> int:
        """Whole seconds `key` is still refused for (0 = free)."""
        bucket = self._buckets.get(key)
        wait = 0.0 if bucket is None else bucket.banned_until - self.clock()
        return max(0, math.ceil(wait - _EPSILON))

    def _refill(self, key: str, burst: float, rate: float, now: float) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(tokens=burst, at=now)
        bucket.tokens = min(burst, bucket.tokens + (now - bucket.at) * rate)
        bucket.at = now
        return bucket


def too_many_requests(retry_after: int) -> ApiError:
    """Telegram's 429 body."""
    return ApiError(
        429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after}
    )

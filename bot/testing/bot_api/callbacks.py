"""Callback queries as Telegram keeps them: answerable once, and only for a short while.

Telegram does not publish the answer window; a late answer is refused with "query is too old and
response timeout expired or query ID is invalid", which bot developers meet after some seconds of
delay. The fake refuses answers after `ANSWER_WINDOW_S` (configurable; None = never expires).
"""

from __future__ import annotations

import itertools

from bot.testing.bot_api.clock import Clock
from bot.testing.bot_api.wire import bad_request

ANSWER_WINDOW_S = 15.0
TOO_OLD = "query is too old and response timeout expired or query ID is invalid"
_ids = itertools.count(4_382_000_000_000_000_001)


class CallbackQueries:
    """Open queries (id -> when the user pressed) and the ones the bot answered."""

    def __init__(self, clock: Clock, window_s: float | None = ANSWER_WINDOW_S) -> None:
        self.clock = clock
        self.window_s = window_s
        self.opened: dict[str, float] = {}
        self.answered: set[str] = set()
        self.expired: set[str] = set()  # answered too late: what the bot was refused

    def open(self) -> str:
        """A new query id, answerable from now on."""
        query_id = str(next(_ids))
        self.opened[query_id] = self.clock()
        return query_id

    def answer(self, query_id: str) -> None:
        """Accept the one answer of a query, or raise Telegram's 400."""
        opened = self.opened.get(query_id)
        if opened is None:
            raise bad_request(TOO_OLD)
        if self.window_s is not None and self.clock() - opened > self.window_s:
            del self.opened[query_id]
            self.expired.add(query_id)
            raise bad_request(TOO_OLD)
        del self.opened[query_id]
        self.answered.add(query_id)

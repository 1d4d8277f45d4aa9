"""Observation helpers of the fake providers: wait on requests, tasks and callbacks.

Every change (a request, a task status, a callback attempt, an image check) wakes the waiters,
so tests synchronise on what happened instead of sleeping.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

from bot.testing.providers._images import looks_like_bot_token
from bot.testing.providers._records import CallbackAttempt, FakeTask, Recorded

_T = TypeVar("_T")


class Observations:
    """`wait_*` helpers over the fake's logs; mixed into `FakeProviderServer`."""

    requests: list[Recorded]
    tasks: dict[str, FakeTask]
    callback_attempts: list[CallbackAttempt]
    _changed: asyncio.Event
    _background: set[asyncio.Task[Any]]

    async def wait_for(self, predicate: Callable[[], _T | None], timeout: float = 10.0) -> _T:  # noqa: ASYNC109
        """Return `predicate()` as soon as it is not None (checked after every change)."""

        async def _poll() -> _T:
            while True:
                changed = self._changed
                found = predicate()
                if found is not None:
                    return found
                await changed.wait()

        return await asyncio.wait_for(_poll(), timeout)

    async def wait_request(
        self,
        path_substring: str,
        where: Callable[[Recorded], bool] | None = None,
        timeout: float = 10.0,  # noqa: ASYNC109
    ) -> Recorded:
        """The first request (past or future) whose path contains `path_substring`."""

        def find() -> Recorded | None:
            return next(
                (
                    r
                    for r in self.requests
                    if path_substring in r.path and (where is None or where(r))
                ),
                None,
            )

        return await self.wait_for(find, timeout)

    async def wait_task(self, n: int = 1, timeout: float = 10.0) -> FakeTask:  # noqa: ASYNC109
        """The `n`-th task created (1-based), once it exists."""
        return await self.wait_for(
            lambda: list(self.tasks.values())[n - 1] if len(self.tasks) >= n else None, timeout
        )

    async def wait_status(self, task_id: str, status: str, timeout: float = 10.0) -> FakeTask:  # noqa: ASYNC109
        """The task once its status is `status`."""
        task = self.tasks[task_id]
        return await self.wait_for(lambda: task if task.status == status else None, timeout)

    async def wait_callback_attempts(
        self,
        count: int = 1,
        timeout: float = 10.0,  # noqa: ASYNC109
    ) -> list[CallbackAttempt]:
        """All callback attempts once there are at least `count`."""
        return await self.wait_for(
            lambda: list(self.callback_attempts) if len(self.callback_attempts) >= count else None,
            timeout,
        )

    async def idle(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Wait until no callback delivery or auto-complete timer is in flight."""

        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self._background:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError("the fake still has callbacks or timers in flight")
            # asyncio.wait, unlike gather, never cancels the jobs when it gives up.
            await asyncio.wait(list(self._background), timeout=remaining)

    def requests_to(self, route: str) -> list[Recorded]:
        """The recorded requests of one route (create, query, download)."""
        return [r for r in self.requests if r.route == route]

    def bot_token_leaks(self) -> list[str]:
        """Every URL or body the fake received that looks like it carries a bot token."""
        seen = [
            r.path + "?" + "&".join(f"{k}={v}" for k, v in r.query.items()) for r in self.requests
        ]
        seen += [r.text for r in self.requests]
        return [s for s in seen if looks_like_bot_token(s)]

    def _bump(self) -> None:
        """Wake every waiter after a change: swap in a fresh event, then set the old one."""
        old, self._changed = self._changed, asyncio.Event()
        old.set()

"""A blocking, read-only view of a PostgreSQL database for test code written against sqlite3.

`SyncPg(url).execute(sql).fetchall()` returns tuples like sqlite3 does; the asyncpg connection
lives on an event loop of its own in a thread, so callers on the test's loop may block on it.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import asyncpg


class _Result:
    def __init__(self, rows: list[tuple[Any, ...]]) -> None:
        self._rows = rows

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self._rows

    def __iter__(self) -> Any:
        return iter(self._rows)


class SyncPg:
    def __init__(self, url: str) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._conn = self._run(asyncpg.connect(url))

    def _run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=30)

    def execute(self, sql: str) -> _Result:
        rows = self._run(self._conn.fetch(sql))
        return _Result([tuple(r) for r in rows])

    def close(self) -> None:
        self._run(self._conn.close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

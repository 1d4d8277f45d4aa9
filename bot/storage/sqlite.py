"""The SQLite engine: one aiosqlite connection, writers serialised on an asyncio lock."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiosqlite

from bot.storage.db import MIGRATIONS, Executed, Params, Row, migration_statements

WAL_ATTEMPTS = 50  # 5 s of retries while another process opens the same file

log = logging.getLogger(__name__)


class SqliteTx:
    """The shared connection while this task holds the lock."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def execute(self, sql: str, params: Params = ()) -> Executed:
        async with self._conn.execute(sql, tuple(params)) as cur:
            return Executed(cur.rowcount)

    async def execute_fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        async with self._conn.execute(sql, tuple(params)) as cur:
            return list(await cur.fetchall())

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        rows = await self.execute_fetchall(sql, params)
        return rows[0] if rows else None


class SqliteEngine:
    """Owns the connection; `transaction()` serialises writers on one asyncio lock."""

    dialect = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()

    async def open(self) -> None:
        if str(self.path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = await aiosqlite.connect(self.path, isolation_level=None)
        self._conn.row_factory = aiosqlite.Row
        await self._conn.execute("PRAGMA busy_timeout=5000")
        await self._wal()
        # FULL: a committed credit movement survives even a power cut, not only kill -9.
        await self._conn.execute("PRAGMA synchronous=FULL")
        await self._conn.execute("PRAGMA foreign_keys=ON")
        await self._migrate()

    async def _wal(self) -> None:
        """Switch to WAL. Switching needs the file to itself, and SQLite answers "locked" at once
        (no busy wait) while another process opens or migrates it: try again for a while."""
        for attempt in range(WAL_ATTEMPTS):
            try:
                await self.conn.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or attempt == WAL_ATTEMPTS - 1:
                    raise
                await asyncio.sleep(0.1)

    async def claim_polling(self) -> bool:
        return True  # one process per SQLite file

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    @property
    def conn(self) -> aiosqlite.Connection:
        if self._conn is None:
            raise RuntimeError("database is not open")
        return self._conn

    async def schema_version(self) -> int:
        async with self.conn.execute("PRAGMA user_version") as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def _migrate(self) -> None:
        current = await self.schema_version()
        for version, step in enumerate(MIGRATIONS[current:], start=current + 1):
            async with self.transaction() as tx:
                # Read again under the write lock: another process may have just migrated.
                row = await tx.fetchone("PRAGMA user_version")
                if row is not None and int(row[0]) >= version:
                    continue
                for statement in migration_statements(step, self.dialect):
                    await tx.execute(statement)
                await tx.execute(f"PRAGMA user_version={version}")
            log.info("database migrated to schema version %d", version)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[SqliteTx]:
        """BEGIN IMMEDIATE … COMMIT, rolled back on any exception."""
        async with self._lock:
            conn = self.conn
            try:
                # Inside the try: a task cancelled while BEGIN runs must still roll back, or
                # every later write fails with "cannot start a transaction within a transaction".
                await conn.execute("BEGIN IMMEDIATE")
                yield SqliteTx(conn)
                await conn.execute("COMMIT")
            except BaseException:
                # Queued behind BEGIN/COMMIT on the connection's thread, so it runs even when the
                # awaiting task is being cancelled; no transaction open is not an error here.
                with contextlib.suppress(sqlite3.Error):
                    await conn.execute("ROLLBACK")
                raise

    # Reads take the lock too: on a shared connection they would otherwise see another task's
    # uncommitted writes.
    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        async with self._lock, self.conn.execute(sql, tuple(params)) as cur:
            return list(await cur.fetchall())

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        async with self._lock, self.conn.execute(sql, tuple(params)) as cur:
            row: Row | None = await cur.fetchone()
            return row

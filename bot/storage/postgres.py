"""The PostgreSQL engine: an asyncpg pool shared by this process, one writer at a time across
every replica.

Each write transaction first takes one transaction-scoped advisory lock (`WRITER_LOCK`), the
equivalent of SQLite's `BEGIN IMMEDIATE`: compare-and-set transitions, credit checks and ledger
rows see exactly what the previous writer committed, whichever replica it ran on, and PostgreSQL
releases the lock by itself when a replica dies mid-transaction. Our transactions are a few short
statements with no network call inside, so this costs little next to Telegram's own limits.
Reads outside a transaction run concurrently on the pool.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

from bot.storage.db import MIGRATIONS, Executed, Params, Row, migration_statements

log = logging.getLogger(__name__)

# Advisory lock keys (any 64-bit numbers no other application on the database uses).
WRITER_LOCK = 0x7032_7600_0001
MIGRATION_LOCK = 0x7032_7600_0002
POLLING_LOCK = 0x7032_7600_0003

POOL_MAX = 10


@functools.lru_cache(maxsize=1024)
def to_postgres(sql: str) -> str:
    """`?` placeholders to `$1, $2, ...` (a `?` inside a string literal is left alone)."""
    out: list[str] = []
    n = 0
    in_literal = False
    for char in sql:
        if char == "'":
            in_literal = not in_literal
        elif char == "?" and not in_literal:
            n += 1
            out.append(f"${n}")
            continue
        out.append(char)
    return "".join(out)


def _rowcount(status: str) -> int:
    """asyncpg reports 'UPDATE 3', 'INSERT 0 1', 'DELETE 0': the last number is the row count."""
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else -1


class PostgresTx:
    """A pooled connection inside a transaction that holds the writer lock."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    async def execute(self, sql: str, params: Params = ()) -> Executed:
        status = await self._conn.execute(to_postgres(sql), *params)
        return Executed(_rowcount(str(status)))

    async def execute_fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        return list(await self._conn.fetch(to_postgres(sql), *params))

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        row: Row | None = await self._conn.fetchrow(to_postgres(sql), *params)
        return row


class PostgresEngine:
    """An asyncpg pool on `url`; migrations run once however many replicas start together."""

    dialect = "postgresql"

    def __init__(self, url: str) -> None:
        self.url = url
        self._pool: Any = None
        self._polling_conn: Any = None

    async def open(self) -> None:
        self._pool = await asyncpg.create_pool(self.url, min_size=1, max_size=POOL_MAX)
        await self._migrate()

    async def claim_polling(self) -> bool:
        """Become the only long-polling process on this database, for as long as it runs.

        A session advisory lock on a connection of its own: PostgreSQL frees it when this
        process stops or dies, so a replacement can start polling at once.
        """
        if self._polling_conn is None:
            conn = await asyncpg.connect(self.url)
            if not await conn.fetchval("SELECT pg_try_advisory_lock($1)", POLLING_LOCK):
                await conn.close()
                return False
            self._polling_conn = conn
        return True

    async def close(self) -> None:
        if self._polling_conn is not None:
            conn, self._polling_conn = self._polling_conn, None
            await conn.close()
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()

    @property
    def pool(self) -> Any:
        if self._pool is None:
            raise RuntimeError("database is not open")
        return self._pool

    async def schema_version(self) -> int:
        exists = await self.pool.fetchval("SELECT to_regclass('schema_version') IS NOT NULL")
        if not exists:
            return 0
        version = await self.pool.fetchval("SELECT version FROM schema_version")
        return int(version or 0)

    async def _migrate(self) -> None:
        for version, step in enumerate(MIGRATIONS, start=1):
            async with self.pool.acquire() as conn, conn.transaction():
                # Replicas starting together take turns; each re-reads the version under the lock.
                await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK)
                await conn.execute(
                    "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"
                )
                current = await conn.fetchval("SELECT version FROM schema_version")
                if current is None:
                    await conn.execute("INSERT INTO schema_version (version) VALUES (0)")
                    current = 0
                if int(current) >= version:
                    continue
                for statement in migration_statements(step, self.dialect):
                    await conn.execute(statement)
                await conn.execute("UPDATE schema_version SET version = $1", version)
            log.info("database migrated to schema version %d", version)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[PostgresTx]:
        """BEGIN … COMMIT after taking the writer lock; rolled back on any exception."""
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", WRITER_LOCK)
            yield PostgresTx(conn)

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        return list(await self.pool.fetch(to_postgres(sql), *params))

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        row: Row | None = await self.pool.fetchrow(to_postgres(sql), *params)
        return row

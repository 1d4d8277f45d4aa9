"""One aiosqlite connection, versioned migrations and a serialised transaction helper."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiosqlite

log = logging.getLogger(__name__)

# Each entry upgrades the schema by one version; never edit a shipped entry, append a new one.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE users (
        user_id INTEGER PRIMARY KEY,
        language TEXT,
        banned INTEGER NOT NULL DEFAULT 0,
        ban_notified INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL
    );
    CREATE TABLE jobs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        user_id INTEGER NOT NULL,
        chat_id INTEGER NOT NULL,
        thread_id INTEGER,
        photo_message_id INTEGER NOT NULL,
        status_message_id INTEGER,
        photo_file_id TEXT NOT NULL,
        photo_width INTEGER NOT NULL DEFAULT 0,
        photo_height INTEGER NOT NULL DEFAULT 0,
        prompt TEXT NOT NULL DEFAULT '',
        model TEXT NOT NULL,
        options TEXT NOT NULL DEFAULT '{}',
        price INTEGER NOT NULL DEFAULT 0,
        status TEXT NOT NULL,
        provider TEXT,
        task_id TEXT,
        callback_secret TEXT NOT NULL,
        tried_providers TEXT NOT NULL DEFAULT '',
        progress INTEGER,
        eta_s INTEGER,
        deadline_at REAL,
        next_poll_at REAL,
        poll_interval REAL,
        error_kind TEXT,
        error_message TEXT,
        video_file_id TEXT,
        video_message_id INTEGER,
        language TEXT NOT NULL DEFAULT 'en',
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        submitted_at REAL,
        retry_of INTEGER,
        media_token TEXT,
        ask_message_id INTEGER,
        not_found_count INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX jobs_ask ON jobs(chat_id, ask_message_id);
    CREATE INDEX jobs_status_msg ON jobs(chat_id, status_message_id);
    CREATE INDEX jobs_status ON jobs(status, next_poll_at);
    CREATE INDEX jobs_user ON jobs(user_id, status);
    CREATE INDEX jobs_task ON jobs(provider, task_id);
    CREATE TABLE job_transitions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        job_id INTEGER NOT NULL REFERENCES jobs(id),
        from_status TEXT,
        to_status TEXT NOT NULL,
        at REAL NOT NULL,
        note TEXT
    );
    CREATE INDEX job_transitions_job ON job_transitions(job_id);
    CREATE TABLE ledger (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        user_id INTEGER NOT NULL,
        job_id INTEGER,
        kind TEXT NOT NULL,
        bucket TEXT NOT NULL,
        day TEXT,
        amount INTEGER NOT NULL,
        created_at REAL NOT NULL,
        note TEXT
    );
    CREATE INDEX ledger_user ON ledger(user_id, bucket, day);
    -- The database itself refuses a second allowance for a day or a second refund of a job.
    CREATE UNIQUE INDEX ledger_one_allowance ON ledger(user_id, day) WHERE kind = 'allowance';
    CREATE UNIQUE INDEX ledger_one_refund ON ledger(job_id, bucket) WHERE kind = 'refund';
    CREATE UNIQUE INDEX ledger_one_settle ON ledger(job_id) WHERE kind = 'settle';
    """,
    # 2: when the user was told a job's outcome; a crash between recording the outcome and
    # telling the user leaves it NULL, and the restart tells them.
    """
    ALTER TABLE jobs ADD COLUMN told_at REAL;
    UPDATE jobs SET told_at = updated_at
        WHERE status IN ('delivered', 'failed', 'cancelled', 'expired');
    CREATE INDEX jobs_untold ON jobs(told_at, status);
    """,
    # 3 (issue 11): the provider's reported cost and the seed of a job, when it entered our own
    # admission queue, and every create sent to a provider (its documented creation-rate limit
    # is counted from these rows, so it survives a restart).
    """
    ALTER TABLE jobs ADD COLUMN provider_cost REAL;
    ALTER TABLE jobs ADD COLUMN seed INTEGER;
    ALTER TABLE jobs ADD COLUMN queued_at REAL;
    CREATE TABLE provider_creates (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        provider TEXT NOT NULL,
        job_id INTEGER,
        at REAL NOT NULL
    );
    CREATE INDEX provider_creates_at ON provider_creates(provider, at);
    """,
    # 4 (issue 15): Telegram Stars purchases, their refunds, and referrals. A purchase row's note
    # is Telegram's charge id: the unique indexes make a redelivered successful_payment (or a
    # restart between receipt and the write) credit once, and a refund take back once. (The
    # ledger keeps its columns: other code reads its rows positionally.)
    """
    CREATE UNIQUE INDEX ledger_one_purchase ON ledger(note) WHERE kind = 'purchase';
    CREATE UNIQUE INDEX ledger_one_purchase_refund ON ledger(note)
        WHERE kind = 'purchase_refund';
    CREATE UNIQUE INDEX ledger_one_referral ON ledger(user_id, note) WHERE kind = 'referral';
    CREATE TABLE invoices (
        nonce TEXT PRIMARY KEY,
        user_id INTEGER NOT NULL,
        credits INTEGER NOT NULL,
        stars INTEGER NOT NULL,
        created_at REAL NOT NULL
    );
    CREATE TABLE payments (
        charge_id TEXT PRIMARY KEY,
        user_id INTEGER NOT NULL,
        credits INTEGER NOT NULL,
        stars INTEGER NOT NULL,
        nonce TEXT,
        provider_charge_id TEXT,
        day TEXT NOT NULL,
        paid_at REAL NOT NULL,
        refunded_at REAL,
        refund_day TEXT,
        refunded_credits INTEGER,
        told_at REAL
    );
    CREATE INDEX payments_user ON payments(user_id);
    CREATE TABLE referral_codes (
        user_id INTEGER PRIMARY KEY,
        code TEXT NOT NULL UNIQUE
    );
    CREATE TABLE referrals (
        invitee_id INTEGER PRIMARY KEY,
        referrer_id INTEGER NOT NULL,
        created_at REAL NOT NULL,
        rewarded_at REAL
    );
    """,
    # 5 (issue 13): every Telegram update, recorded before its offset is confirmed (polling) or
    # the webhook answers 2xx; handled_at stays NULL until handled, so a restart handles it again.
    """
    CREATE TABLE updates (
        update_id BIGINT PRIMARY KEY,
        body TEXT NOT NULL,
        received_at REAL NOT NULL,
        handled_at REAL
    );
    CREATE INDEX updates_unhandled ON updates(handled_at, update_id);
    """,
)


class Database:
    """Owns the connection; `transaction()` serialises writers on one asyncio lock."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()

    async def open(self) -> None:
        """Open (creating the folder) and migrate to the newest schema."""
        if str(self.path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = await aiosqlite.connect(self.path, isolation_level=None)
        self._conn.row_factory = aiosqlite.Row
        await self._conn.execute("PRAGMA journal_mode=WAL")
        # FULL: a committed credit movement survives even a power cut, not only kill -9.
        await self._conn.execute("PRAGMA synchronous=FULL")
        await self._conn.execute("PRAGMA foreign_keys=ON")
        await self._conn.execute("PRAGMA busy_timeout=5000")
        await self._migrate()

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
        for version, script in enumerate(MIGRATIONS[current:], start=current + 1):
            async with self.transaction() as conn:
                for statement in _split(script):
                    await conn.execute(statement)
                await conn.execute(f"PRAGMA user_version={version}")
            log.info("database migrated to schema version %d", version)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """BEGIN IMMEDIATE … COMMIT, rolled back on any exception."""
        async with self._lock:
            conn = self.conn
            try:
                # Inside the try: a task cancelled while BEGIN runs must still roll back, or
                # every later write fails with "cannot start a transaction within a transaction".
                await conn.execute("BEGIN IMMEDIATE")
                yield conn
                await conn.execute("COMMIT")
            except BaseException:
                # Queued behind BEGIN/COMMIT on the connection's thread, so it runs even when the
                # awaiting task is being cancelled; no transaction open is not an error here.
                with contextlib.suppress(sqlite3.Error):
                    await conn.execute("ROLLBACK")
                raise

    # Reads take the lock too: on a shared connection they would otherwise see another task's
    # uncommitted writes. Inside `transaction()` use the yielded connection instead.
    async def fetchall(self, sql: str, params: tuple[object, ...] = ()) -> list[aiosqlite.Row]:
        async with self._lock, self.conn.execute(sql, params) as cur:
            return list(await cur.fetchall())

    async def fetchone(self, sql: str, params: tuple[object, ...] = ()) -> aiosqlite.Row | None:
        async with self._lock, self.conn.execute(sql, params) as cur:
            return await cur.fetchone()


def _split(script: str) -> list[str]:
    """Split a migration into statements (no semicolons inside our string literals)."""
    lines = [line for line in script.splitlines() if not line.strip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]

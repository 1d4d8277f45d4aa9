"""The database behind the bot: one storage contract on two engines, with versioned migrations.

`Database(target)` opens SQLite (aiosqlite) for a file path, the embedded default for one process,
or PostgreSQL (asyncpg) for a `postgresql://` URL, which several replicas share. The stores
(jobs, ledger, users, stats) are written once against `Tx`, the small interface both engines give:

    async with db.transaction() as tx:          # one writer at a time, on either engine
        cur = await tx.execute("UPDATE ... WHERE id = ?", (job_id,))   # cur.rowcount
        rows = await tx.execute_fetchall("INSERT ... RETURNING id", params)
    rows = await db.fetchall("SELECT ...", params)   # reads outside a transaction

SQL is written once in the portable subset both engines run: `?` placeholders (PostgreSQL gets
`$1, $2, ...`), `INSERT ... ON CONFLICT DO NOTHING` (not `INSERT OR IGNORE`), `RETURNING id` (not
`lastrowid`), `COALESCE`, no SQLite-only functions. Rows are read by index or column name, and
`dict(row)` works on both. Transactions behave the same: SQLite's `BEGIN IMMEDIATE` admits one
writer at a time, and every PostgreSQL write transaction first takes one advisory lock, so all
compare-and-set transitions and credit movements are serial across every replica too.

Adding a migration (both engines): append ONE entry to `MIGRATIONS`, never edit a shipped one.
- Write it in SQLite's DDL as before: `INTEGER PRIMARY KEY AUTOINCREMENT`, `INTEGER`, `REAL`,
  `TEXT`, `BLOB`. On PostgreSQL `postgres_ddl()` turns them into an identity column, `BIGINT`
  (Telegram ids exceed 32 bits), `DOUBLE PRECISION` (timestamps) and `BYTEA`.
- Keep data changes portable (plain UPDATE/INSERT; `ON CONFLICT DO NOTHING`).
- When the engines truly need different statements, append `Migration(sqlite=..., postgresql=...)`
  instead of a string; both must leave the same tables, columns and indexes.
Porting code written against aiosqlite: annotate with `Tx` instead of `aiosqlite.Connection`;
`cur = await tx.execute(...)` still gives `cur.rowcount`; `lastrowid` becomes `... RETURNING id`
read with `execute_fetchall`; `async with conn.execute(...) as cur` becomes `await tx.fetchone()`
or `execute_fetchall()`; `INSERT OR IGNORE` becomes `INSERT ... ON CONFLICT DO NOTHING`.

Each engine records the schema version it reached (SQLite: `PRAGMA user_version`; PostgreSQL:
the one-row table `schema_version`) and runs each missing step in its own transaction at start-up;
on PostgreSQL replicas starting together take turns on an advisory lock, so each step runs once.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol


@dataclass(frozen=True)
class Migration:
    """A migration step whose statements differ per engine (use a plain string when they don't)."""

    sqlite: str
    postgresql: str


# Each entry upgrades the schema by one version; never edit a shipped entry, append a new one.
MIGRATIONS: tuple[str | Migration, ...] = (
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
    # 6 (issue 17): replicas sharing one database. Each live process heartbeats its row; a job
    # is owned by the replica that last moved it, and a replica silent past the lease has its
    # unfinished jobs taken over by another (bot/storage/replicas.py).
    """
    CREATE TABLE replicas (
        replica_id TEXT PRIMARY KEY,
        started_at REAL NOT NULL,
        seen_at REAL NOT NULL
    );
    ALTER TABLE jobs ADD COLUMN owner TEXT;
    -- Webhook updates already taken by some replica (Telegram re-delivers when slow).
    CREATE TABLE seen_updates (
        update_id INTEGER PRIMARY KEY,
        seen_at REAL NOT NULL
    );
    CREATE INDEX seen_updates_at ON seen_updates(seen_at);
    -- When each operator alert last went out, so replicas send it once per incident in all.
    CREATE TABLE operator_alerts (
        alert_key TEXT PRIMARY KEY,
        sent_at REAL NOT NULL
    );
    """,
    # 7: the first name of whoever asked for the job, as Telegram gave it, so a group's status
    # message still names them after a restart or on another replica (it was kept in memory).
    """
    ALTER TABLE jobs ADD COLUMN requester_name TEXT;
    """,
    # 8: which replica took each update, so a starting replica handles again only the updates
    # of replicas without a lease (bot/storage/updates.py). `updates` already tells a re-delivered
    # update from a new one, for every replica: the separate `seen_updates` goes.
    """
    ALTER TABLE updates ADD COLUMN taken_by TEXT;
    DROP TABLE seen_updates;
    """,
)


Params = Sequence[Any]


class Row(Protocol):
    """A result row: by index, by column name, iterable; `dict(row)` gives column -> value."""

    def __getitem__(self, key: Any, /) -> Any: ...

    def __iter__(self) -> Iterator[Any]: ...

    def __len__(self) -> int: ...

    def keys(self) -> Any: ...


@dataclass(frozen=True)
class Executed:
    """What a write statement did."""

    rowcount: int


class Tx(Protocol):
    """A connection inside `Database.transaction()`: what every store writes against."""

    async def execute(self, sql: str, params: Params = ()) -> Executed: ...

    async def execute_fetchall(self, sql: str, params: Params = ()) -> list[Row]: ...

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None: ...


class Engine(Protocol):
    """What an engine (SQLite or PostgreSQL) gives the `Database` facade."""

    dialect: str

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def schema_version(self) -> int: ...

    async def claim_polling(self) -> bool: ...

    def transaction(self) -> Any: ...  # an async context manager yielding a Tx

    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]: ...

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None: ...


def is_postgres_url(target: object) -> bool:
    return isinstance(target, str) and target.startswith(("postgresql://", "postgres://"))


class Database:
    """The database of one process: SQLite for a path, PostgreSQL for a `postgresql://` URL."""

    def __init__(self, target: Path | str) -> None:
        self.engine: Engine
        if is_postgres_url(target):
            from bot.storage.postgres import PostgresEngine

            self.path: Path | None = None
            self.url: str | None = str(target)
            self.engine = PostgresEngine(str(target))
        else:
            from bot.storage.sqlite import SqliteEngine

            self.path = Path(target)
            self.url = None
            self.engine = SqliteEngine(self.path)

    @property
    def dialect(self) -> str:
        """`sqlite` or `postgresql`."""
        return self.engine.dialect

    @property
    def shared(self) -> bool:
        """True when other processes (replicas) may use the same database."""
        return self.dialect == "postgresql"

    async def open(self) -> None:
        """Connect (creating SQLite's folder) and migrate to the newest schema."""
        await self.engine.open()

    async def close(self) -> None:
        await self.engine.close()

    async def schema_version(self) -> int:
        return await self.engine.schema_version()

    async def claim_polling(self) -> bool:
        """True when no other process on this database long-polls Telegram (then none may
        until this one stops): Telegram serves getUpdates to one consumer per token."""
        return await self.engine.claim_polling()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Tx]:
        """One write transaction (one writer at a time), rolled back on any exception."""
        async with self.engine.transaction() as tx:
            yield tx

    # Inside `transaction()` use the yielded Tx instead: a read here would wait for the writer
    # (SQLite shares one connection) and would not see the transaction's own writes.
    async def fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        return await self.engine.fetchall(sql, params)

    async def fetchone(self, sql: str, params: Params = ()) -> Row | None:
        return await self.engine.fetchone(sql, params)


def migration_statements(step: str | Migration, dialect: str) -> list[str]:
    """The statements of one migration step for an engine."""
    if isinstance(step, Migration):
        script = step.postgresql if dialect == "postgresql" else step.sqlite
        return split_statements(script)
    statements = split_statements(step)
    return [postgres_ddl(s) for s in statements] if dialect == "postgresql" else statements


_PG_TYPES = (
    (re.compile(r"\bINTEGER\s+PRIMARY\s+KEY\s+AUTOINCREMENT\b", re.I),
     "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"),
    (re.compile(r"\bINTEGER\b", re.I), "BIGINT"),
    (re.compile(r"\bREAL\b", re.I), "DOUBLE PRECISION"),
    (re.compile(r"\bBLOB\b", re.I), "BYTEA"),
)  # fmt: skip


def postgres_ddl(statement: str) -> str:
    """SQLite column types in PostgreSQL's words (string literals are left alone)."""
    parts = statement.split("'")
    for i in range(0, len(parts), 2):  # even parts are outside quotes
        for pattern, replacement in _PG_TYPES:
            parts[i] = pattern.sub(replacement, parts[i])
    return "'".join(parts)


def split_statements(script: str) -> list[str]:
    """Split a migration into statements (no semicolons inside our string literals)."""
    lines = [line for line in script.splitlines() if not line.strip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]

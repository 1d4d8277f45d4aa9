"""The storage contract on both engines (issue 17): what the database itself guarantees, several
processes on one database, users and stats, and the DATABASE_URL setting."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from bot.config import ConfigError, load_settings
from bot.models import JobStatus as S
from bot.storage import Database, JobStore, Ledger
from bot.storage.db import MIGRATIONS, postgres_ddl
from bot.storage.jobs import Credit, ReserveOutcome
from bot.storage.postgres import to_postgres
from bot.storage.replicas import claim_alert
from bot.storage.stats import in_flight_counts, stats
from bot.storage.users import UserStore
from tests.pg_server import ENGINES, database_target

NOW = 1_700_000_000.0
BIG_ID = 7_000_000_123  # Telegram ids exceed 32 bits


def clock() -> float:
    return NOW


@pytest.fixture(name="target", params=ENGINES)
async def _target(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    async with database_target(request.param, request, tmp_path) as target:
        yield target


@pytest.fixture(name="db")
async def _db(target: str) -> AsyncIterator[Database]:
    db = Database(target)
    await db.open()
    yield db
    await db.close()


def store_on(db: Database, quota: int = 5) -> JobStore:
    return JobStore(db, Ledger(db, daily_quota=quota, clock=clock), clock=clock)


async def reserved_job(store: JobStore, user_id: int = BIG_ID, price: int = 2) -> int:
    job = await store.create_draft(
        user_id=user_id, chat_id=-1_002_000_000_001, thread_id=None, photo_message_id=10,
        photo_file_id="f", photo_width=640, photo_height=480, prompt="p", model="grok",
        options={"duration": "6"}, language="en",
    )  # fmt: skip
    outcome, _ = await store.reserve(job.id, user_id=user_id, price=price, max_active=5)
    assert outcome is ReserveOutcome.OK
    return job.id


async def test_values_come_back_with_their_types(db: Database) -> None:
    store = store_on(db)
    job_id = await reserved_job(store)
    await store.set_fields(job_id, {S.RESERVED}, deadline_at=NOW + 0.25, eta_s=30, progress=5)
    job = await store.get(job_id)
    assert job is not None
    assert (job.user_id, job.chat_id) == (BIG_ID, -1_002_000_000_001)
    assert job.deadline_at == NOW + 0.25 and isinstance(job.created_at, float)
    assert (job.eta_s, job.progress, job.options) == (30, 5, {"duration": "6"})
    rows = await store.ledger.rows(BIG_ID)
    assert [(r["kind"], r["amount"]) for r in rows] == [("allowance", 5), ("reserve", -2)]


async def _raw_ledger_insert(db: Database, job_id: int | None, kind: str, day: str) -> None:
    async with db.transaction() as tx:
        await tx.execute(
            "INSERT INTO ledger (user_id, job_id, kind, bucket, day, amount, created_at) "
            "VALUES (?, ?, ?, 'daily', ?, 0, ?)",
            (BIG_ID, job_id, kind, day, NOW),
        )


async def test_the_database_refuses_a_second_refund_settle_or_allowance(db: Database) -> None:
    """The unique indexes hold even when code bypasses the ledger's own checks."""
    store = store_on(db)
    job_id = await reserved_job(store)
    assert (await store.transition(job_id, {S.RESERVED}, S.FAILED, credit=Credit.REFUND)).won
    with pytest.raises(Exception, match=r"(?i)unique"):
        await _raw_ledger_insert(db, job_id, "refund", "2023-11-15")
    await _raw_ledger_insert(db, job_id, "settle", "2023-11-14")
    with pytest.raises(Exception, match=r"(?i)unique"):
        await _raw_ledger_insert(db, job_id, "settle", "2023-11-15")
    with pytest.raises(Exception, match=r"(?i)unique"):
        await _raw_ledger_insert(db, None, "allowance", "2023-11-14")
    # The failed transactions left nothing behind, and the next one works.
    assert (await store.ledger.balance(BIG_ID)).total == 5
    kinds = [r["kind"] for r in await store.ledger.rows(BIG_ID)]
    assert kinds == ["allowance", "reserve", "refund", "settle"]


async def test_a_failed_transaction_rolls_back_every_statement(db: Database) -> None:
    store = store_on(db)
    job_id = await reserved_job(store)
    with pytest.raises(RuntimeError):
        async with db.transaction() as tx:
            await tx.execute("UPDATE jobs SET prompt = 'changed' WHERE id = ?", (job_id,))
            raise RuntimeError("boom")
    job = await store.get(job_id)
    assert job is not None and job.prompt == "p"


async def test_two_processes_on_one_database_have_one_winner_and_one_refund(target: str) -> None:
    """Two replicas (two pools or connections) racing every transition of the same job."""
    first, second = Database(target), Database(target)
    await asyncio.gather(first.open(), second.open())  # migrations race too: each step once
    try:
        assert await first.schema_version() == await second.schema_version() == len(MIGRATIONS)
        a, b = store_on(first), store_on(second)
        job_id = await reserved_job(a)
        await a.transition(job_id, {S.RESERVED}, S.SUBMITTING)
        await a.transition(job_id, {S.SUBMITTING}, S.SUBMITTED, task_id="t")
        claims = await asyncio.gather(
            *(s.transition(job_id, {S.SUBMITTED}, S.DOWNLOADING) for s in (a, b) * 10)
        )
        assert sum(c.won for c in claims) == 1
        outcomes = await asyncio.gather(
            *(
                s.transition(
                    job_id, {S.DOWNLOADING}, S.FAILED if i % 2 else S.SENDING,
                    credit=Credit.REFUND if i % 2 else None,
                )
                for i, s in enumerate((a, b) * 10)
            )
        )  # fmt: skip
        assert sum(o.won for o in outcomes) == 1
        assert sum(o.refunded for o in outcomes) in (0, 2)
        history = await b.history(job_id)
        assert [h[1] for h in history][-2:] in (
            ["downloading", "failed"],
            ["downloading", "sending"],
        )
    finally:
        await first.close()
        await second.close()


async def test_two_processes_never_overspend_nor_exceed_the_active_limit(target: str) -> None:
    first, second = Database(target), Database(target)
    await first.open()
    await second.open()
    try:
        a, b = store_on(first), store_on(second)
        drafts = []
        for _ in range(12):
            job = await a.create_draft(
                user_id=BIG_ID, chat_id=1, thread_id=None, photo_message_id=1,
                photo_file_id="f", photo_width=1, photo_height=1, prompt="p", model="grok",
                options={}, language="en",
            )  # fmt: skip
            drafts.append(job.id)
        results = await asyncio.gather(
            *(
                (a, b)[i % 2].reserve(job_id, user_id=BIG_ID, price=1, max_active=4)
                for i, job_id in enumerate(drafts)
            )
        )
        assert sum(o is ReserveOutcome.OK for o, _ in results) == 4
        assert (await b.ledger.balance(BIG_ID)).total == 1
        counts = await in_flight_counts(first)
        assert counts["reserved"] == 4
    finally:
        await first.close()
        await second.close()


async def test_users_and_stats_on_both_engines(db: Database) -> None:
    users = UserStore(db, clock=clock)
    await users.touch(BIG_ID)
    await users.touch(BIG_ID)
    await users.ban(BIG_ID + 1)  # an id never seen
    assert await users.should_notify_ban(BIG_ID + 1)
    assert not await users.should_notify_ban(BIG_ID + 1)
    await users.set_language(BIG_ID, "ru")
    assert await users.language(BIG_ID) == "ru"
    assert await users.banned_ids() == [BIG_ID + 1]

    store = store_on(db)
    job_id = await reserved_job(store, price=3)
    for a, b in ((S.RESERVED, S.SUBMITTING), (S.SUBMITTING, S.SUBMITTED)):
        assert (await store.transition(job_id, {a}, b)).won
    assert (await store.transition(job_id, {S.SUBMITTED}, S.FAILED, credit=Credit.REFUND)).won
    await store.set_fields(job_id, {S.FAILED}, error_kind="provider")
    other = await reserved_job(store, price=1)
    result = await stats(db, NOW)
    assert result.today.jobs == {"grok": {"failed": 1, "reserved": 1}}
    assert result.today.failures == {"provider": 1}
    assert result.today.credits_spent == 1 and other > job_id


async def test_a_write_cancelled_while_waiting_for_the_writer_does_not_wedge_it(
    db: Database,
) -> None:
    """Shutdown cancels tasks that may be waiting for another writer (another replica)."""
    store = store_on(db)
    job_id = await reserved_job(store)
    holding = asyncio.Event()
    release = asyncio.Event()

    async def hold_the_writer() -> None:
        async with db.transaction() as tx:
            await tx.execute("UPDATE jobs SET prompt = 'held' WHERE id = ?", (job_id,))
            holding.set()
            await release.wait()

    holder = asyncio.create_task(hold_the_writer())
    await holding.wait()
    waiter = asyncio.create_task(store.transition(job_id, {S.RESERVED}, S.SUBMITTING))
    for _ in range(50):  # let it queue behind the writer (an ordering nudge, not a timing wait)
        await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    release.set()
    await holder
    failed = await store.transition(job_id, {S.RESERVED}, S.FAILED, credit=Credit.REFUND)
    assert failed.won and failed.refunded == 2
    job = await store.get(job_id)
    assert job is not None and job.prompt == "held"


async def test_postgres_schema_uses_wide_types(db: Database) -> None:
    if db.url is None:
        pytest.skip("PostgreSQL only: SQLite integers and reals are 64-bit already")
    conn = await asyncpg.connect(db.url)
    try:
        types = {
            (r["table_name"], r["column_name"]): r["data_type"]
            for r in await conn.fetch(
                "SELECT table_name, column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = 'public'"
            )
        }
        version = await conn.fetchval("SELECT version FROM schema_version")
    finally:
        await conn.close()
    assert types[("jobs", "user_id")] == "bigint"
    assert types[("jobs", "id")] == "bigint"
    assert types[("jobs", "created_at")] == "double precision"
    assert types[("jobs", "told_at")] == "double precision"
    assert version == len(MIGRATIONS)


def test_dialect_translation() -> None:
    assert to_postgres("SELECT '?' , a FROM t WHERE b = ? AND c IN (?, ?)") == (
        "SELECT '?' , a FROM t WHERE b = $1 AND c IN ($2, $3)"
    )
    assert postgres_ddl("id INTEGER PRIMARY KEY AUTOINCREMENT, at REAL, n INTEGER, x 'REAL'") == (
        "id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, at DOUBLE PRECISION, "
        "n BIGINT, x 'REAL'"
    )


def test_database_url_selects_postgresql_and_is_checked() -> None:
    base = {"TELEGRAM_BOT_TOKEN": "123:abc"}
    s = load_settings({**base, "DATABASE_URL": "postgresql://u:pw@db:5432/p2v"}, env_file=None)
    assert s.database_url is not None
    assert s.database_url.get_secret_value() == "postgresql://u:pw@db:5432/p2v"
    assert "pw" not in repr(s)
    assert load_settings({**base, "DATABASE_URL": ""}, env_file=None).database_url is None
    for bad in ("mysql://u@h/db", "postgresql://u:secretpw@h:5432", "not a url"):
        with pytest.raises(ConfigError) as caught:
            load_settings({**base, "DATABASE_URL": bad}, env_file=None)
        assert "DATABASE_URL" in str(caught.value) and "secretpw" not in str(caught.value)


async def test_an_operator_alert_is_claimed_once_per_window_across_processes(target: str) -> None:
    first, second = Database(target), Database(target)
    await first.open()
    await second.open()
    try:
        claims = await asyncio.gather(
            *(claim_alert(db, "evolink:auth", NOW, 3600) for db in (first, second) * 5)
        )
        assert sum(claims) == 1
        assert not await claim_alert(second, "evolink:auth", NOW + 3599, 3600)
        assert await claim_alert(second, "evolink:no_credits", NOW + 3599, 3600)  # another key
        assert await claim_alert(first, "evolink:auth", NOW + 3600, 3600)  # the next window
    finally:
        await first.close()
        await second.close()

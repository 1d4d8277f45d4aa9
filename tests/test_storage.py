"""Storage: migrations, compare-and-set transitions and the credit ledger, on both engines
(a real SQLite file and a real PostgreSQL server)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.models import JobStatus as S
from bot.storage import Database, JobStore, Ledger
from bot.storage.db import MIGRATIONS
from bot.storage.jobs import Credit, ReserveOutcome
from tests.pg_server import ENGINES, database_target

DAY = 86400.0


class Clock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(name="clock")
def _clock() -> Clock:
    return Clock()


@pytest.fixture(name="db", params=ENGINES)
async def _db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    async with database_target(request.param, request, tmp_path) as target:
        db = Database(target)
        await db.open()
        yield db
        await db.close()


@pytest.fixture(name="store")
def _store(db: Database, clock: Clock) -> JobStore:
    return JobStore(db, Ledger(db, daily_quota=5, clock=clock), clock=clock)


async def draft(store: JobStore, user_id: int = 1) -> int:
    job = await store.create_draft(
        user_id=user_id, chat_id=user_id, thread_id=None, photo_message_id=10,
        photo_file_id="f", photo_width=640, photo_height=480, prompt="p", model="grok",
        options={"duration": "6"}, language="en",
    )  # fmt: skip
    return job.id


async def test_database_is_created_with_its_folder_and_migrated(db: Database) -> None:
    assert db.url is not None or (db.path is not None and db.path.exists())
    assert await db.schema_version() == len(MIGRATIONS)
    db2 = Database(db.url or str(db.path))  # reopening does not re-run migrations
    await db2.open()
    assert await db2.schema_version() == await db.schema_version()
    await db2.close()


async def test_reserve_takes_daily_credits_and_refund_returns_them_once(store: JobStore) -> None:
    job_id = await draft(store)
    outcome, job = await store.reserve(job_id, user_id=1, price=2, max_active=2)
    assert outcome is ReserveOutcome.OK and job is not None and job.status is S.RESERVED
    assert (await store.ledger.balance(1)).total == 3
    first = await store.transition(job_id, {S.RESERVED}, S.FAILED, credit=Credit.REFUND)
    assert first.won and first.refunded == 2
    again = await store.transition(job_id, {S.FAILED, S.RESERVED}, S.FAILED, credit=Credit.REFUND)
    assert again.refunded == 0  # CAS allowed the no-op, the ledger refused a second refund
    assert (await store.ledger.balance(1)).total == 5
    kinds = [r["kind"] for r in await store.ledger.rows(1)]
    assert kinds == ["allowance", "reserve", "refund"]


async def test_reserve_refuses_when_short_and_writes_nothing(store: JobStore) -> None:
    job_id = await draft(store)
    outcome, job = await store.reserve(job_id, user_id=1, price=6, max_active=2)
    assert outcome is ReserveOutcome.NO_CREDITS and job is None
    fresh = await store.get(job_id)
    assert fresh is not None and fresh.status is S.DRAFT
    assert "reserve" not in [r["kind"] for r in await store.ledger.rows(1)]


async def test_reserve_limits_active_jobs_per_user(store: JobStore) -> None:
    ids = [await draft(store) for _ in range(3)]
    for job_id in ids[:2]:
        assert (await store.reserve(job_id, user_id=1, price=1, max_active=2))[
            0
        ] is ReserveOutcome.OK
    outcome, _ = await store.reserve(ids[2], user_id=1, price=1, max_active=2)
    assert outcome is ReserveOutcome.TOO_MANY_ACTIVE


async def test_granted_credits_are_used_after_the_daily_ones_and_do_not_expire(
    store: JobStore, clock: Clock
) -> None:
    await store.ledger.grant(1, 3)
    job_id = await draft(store)
    assert (await store.reserve(job_id, user_id=1, price=7, max_active=2))[0] is ReserveOutcome.OK
    bal = await store.ledger.balance(1)
    assert (bal.daily, bal.granted) == (0, 1)
    clock.now += DAY
    bal = await store.ledger.balance(1)
    assert (bal.daily, bal.granted) == (5, 1)  # a new day: fresh allowance, grants kept


async def test_settled_job_cannot_be_refunded(store: JobStore) -> None:
    job_id = await draft(store)
    await store.reserve(job_id, user_id=1, price=1, max_active=2)
    done = await store.transition(job_id, {S.RESERVED}, S.DELIVERED, credit=Credit.SETTLE)
    assert done.won
    late = await store.transition(job_id, {S.DELIVERED}, S.FAILED, credit=Credit.REFUND)
    assert late.refunded == 0
    assert (await store.ledger.balance(1)).total == 4


async def test_concurrent_claims_have_exactly_one_winner(store: JobStore) -> None:
    job_id = await draft(store)
    await store.reserve(job_id, user_id=1, price=1, max_active=2)
    await store.transition(job_id, {S.RESERVED}, S.SUBMITTING)
    await store.transition(job_id, {S.SUBMITTING}, S.SUBMITTED, task_id="t1")
    results = await asyncio.gather(
        *(store.transition(job_id, {S.SUBMITTED}, S.DOWNLOADING) for _ in range(10))
    )
    assert sum(r.won for r in results) == 1
    history = await store.history(job_id)
    assert [h[1] for h in history] == [
        "draft",
        "reserved",
        "submitting",
        "submitted",
        "downloading",
    ]


async def test_due_for_poll_and_deadline_queries(store: JobStore, clock: Clock) -> None:
    job_id = await draft(store)
    await store.reserve(job_id, user_id=1, price=1, max_active=2, deadline_at=clock.now + 100)
    await store.transition(job_id, {S.RESERVED}, S.SUBMITTING)
    await store.transition(
        job_id, {S.SUBMITTING}, S.SUBMITTED, task_id="t", provider="evolink",
        next_poll_at=clock.now + 10,
    )  # fmt: skip
    assert await store.due_for_poll(clock.now) == []
    assert [j.id for j in await store.due_for_poll(clock.now + 10)] == [job_id]
    assert await store.past_deadline(clock.now) == []
    assert [j.id for j in await store.past_deadline(clock.now + 101)] == [job_id]
    found = await store.by_task("evolink", "t")
    assert found is not None and found.id == job_id

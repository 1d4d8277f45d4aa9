"""`python -m bot migrate-db`: SQLite -> PostgreSQL, idempotent, checked by rows and balances."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.models import JobStatus as S
from bot.storage import Database, JobStore, Ledger
from bot.storage.jobs import Credit
from bot.storage.users import UserStore
from bot.testing.bot_api import FakeBotApi
from bot.testing.providers.evolink import EvolinkFake
from tests import test_e2e_flow as flows  # its tests are called, not collected again here
from tests.conftest import USER, BotFactory
from tests.pg_server import PgServer, drop_database, fresh_database

USERS = (7_000_000_001, 42)


@pytest.fixture(name="pg_url")
async def _pg_url(pg_server: PgServer) -> AsyncIterator[str]:
    url = await fresh_database(pg_server)
    yield url
    await drop_database(pg_server, url)


async def build_sqlite(path: Path) -> None:
    """A database with every kind of row: users, jobs in several states, every ledger kind."""
    db = Database(path)
    await db.open()
    clock = iter(float(1_700_000_000 + i) for i in range(10_000)).__next__
    ledger = Ledger(db, daily_quota=5, clock=clock)
    store = JobStore(db, ledger, clock=clock)
    users = UserStore(db, clock=clock)
    await users.ban(999)
    for user in USERS:
        await users.touch(user)
        await ledger.grant(user, 3, note="welcome")
        for end in (S.DELIVERED, S.FAILED, S.SUBMITTED):
            job = await store.create_draft(
                user_id=user, chat_id=user, thread_id=None, photo_message_id=1,
                photo_file_id="f", photo_width=1, photo_height=1, prompt="a 'quoted' prompt?",
                model="grok", options={"duration": "6"}, language="ru",
            )  # fmt: skip
            await store.reserve(job.id, user_id=user, price=2, max_active=5)
            await store.transition(job.id, {S.RESERVED}, S.SUBMITTED, task_id="t")
            credit = {S.DELIVERED: Credit.SETTLE, S.FAILED: Credit.REFUND}.get(end)
            if end is not S.SUBMITTED:
                await store.transition(job.id, {S.SUBMITTED}, end, credit=credit)
    await db.close()


def migrate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 (our own interpreter and module)
        [sys.executable, "-m", "bot", "migrate-db", *args],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


async def test_migrate_db_copies_everything_once_and_checks_it(
    tmp_path: Path, pg_url: str
) -> None:
    source = tmp_path / "bot.db"
    await build_sqlite(source)
    first = await asyncio.to_thread(migrate, "--from", str(source), "--to", pg_url)
    assert first.returncode == 0, first.stderr
    assert "jobs: 6 copied now; 6 rows in SQLite, 6 in PostgreSQL" in first.stdout
    assert "checked: row counts and every user's credit balance are equal" in first.stdout
    again = await asyncio.to_thread(migrate, "--from", str(source), "--to", pg_url)
    assert again.returncode == 0, again.stderr
    assert "jobs: 0 copied now; 6 rows in SQLite, 6 in PostgreSQL" in again.stdout
    assert "ledger: 0 copied now" in again.stdout

    sqlite_db, pg_db = Database(source), Database(pg_url)
    await sqlite_db.open()
    await pg_db.open()
    try:
        for user in USERS:
            before = await Ledger(sqlite_db, daily_quota=5).rows(user)
            after = await Ledger(pg_db, daily_quota=5).rows(user)
            assert after == before
        before_jobs = [dict(r) for r in await sqlite_db.fetchall("SELECT * FROM jobs ORDER BY id")]
        after_jobs = [dict(r) for r in await pg_db.fetchall("SELECT * FROM jobs ORDER BY id")]
        assert after_jobs == before_jobs
        assert await UserStore(pg_db).banned_ids() == [999]
        # The bot on PostgreSQL continues the ids after the copied ones.
        store = JobStore(pg_db, Ledger(pg_db, daily_quota=5))
        job = await store.create_draft(
            user_id=42, chat_id=42, thread_id=None, photo_message_id=1, photo_file_id="f",
            photo_width=1, photo_height=1, prompt="p", model="grok", options={}, language="en",
        )  # fmt: skip
        assert job.id == 7
    finally:
        await sqlite_db.close()
        await pg_db.close()


async def test_migrate_db_reports_a_difference_and_exits_1(tmp_path: Path, pg_url: str) -> None:
    source = tmp_path / "bot.db"
    await build_sqlite(source)
    pg_db = Database(pg_url)
    await pg_db.open()
    await Ledger(pg_db, daily_quota=5).grant(42, 100)  # a row SQLite does not have
    await pg_db.close()
    done = await asyncio.to_thread(migrate, "--from", str(source), "--to", pg_url)
    assert done.returncode == 1
    # Its rows took ids the copy needed: never overwritten, the balance check says so.
    assert "MISMATCH user 42 granted credits: 3 in SQLite, 103 in PostgreSQL" in done.stderr


def test_migrate_db_refuses_a_target_that_is_not_postgresql(tmp_path: Path) -> None:
    done = migrate("--from", str(tmp_path / "x.db"), "--to", "sqlite:///x.db")
    assert done.returncode == 2 and "postgresql://" in done.stderr


async def test_migrate_db_on_a_database_the_end_to_end_flows_produced(
    tg: FakeBotApi,
    evolink: EvolinkFake,
    start_bot: BotFactory,
    env: dict[str, str],
    pg_url: str,
) -> None:
    """The real bot fills the SQLite file (a delivery, a provider failure with its refund, an
    admin grant); the copy on PostgreSQL is the same and the bot carries on there."""
    await flows.test_happy_path_polling_mode(tg, evolink, start_bot)
    async with start_bot():
        _, msg_id = await flows.generate_job(tg, caption="this one fails")
        task = await evolink.wait_task(2)
        # Fail it once the bot recorded the task (a callback before that waits for the poll).
        await tg.wait_until(
            lambda: "Generating" in str((tg.message(USER, msg_id) or {}).get("text", "")),
            timeout=15,
        )
        evolink.fail(task.id, "content_policy_violation", "Content policy violation.")
        await tg.wait_call("sendMessage", lambda c: "refunded" in c.params.get("text", ""))
    done = await asyncio.to_thread(migrate, "--from", env["DATABASE_PATH"], "--to", pg_url)
    assert done.returncode == 0, done.stderr
    assert "jobs: 2 copied now; 2 rows in SQLite, 2 in PostgreSQL" in done.stdout
    assert "job_transitions: 0 copied now" not in done.stdout
    async with start_bot(DATABASE_URL=pg_url) as runtime:
        assert runtime.db.dialect == "postgresql" and runtime.ctx is not None
        kinds = [r["kind"] for r in await runtime.ctx.ledger.rows(USER)]
        assert kinds == ["allowance", "reserve", "settle", "reserve", "refund"]
        assert (await runtime.ctx.ledger.balance(USER)).total == 3  # the 10 s video: 2 credits
        jobs = await runtime.ctx.store.recent_for_user(USER)
        assert [j.status.value for j in jobs] == ["failed", "delivered"]

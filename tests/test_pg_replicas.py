"""Replicas on one PostgreSQL database (issue 17): leases, takeover of a dead replica's jobs,
in-process render jobs kept by their owner, polls claimed once, one long-polling process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from bot.config import load_settings
from bot.media.hosted import MediaStore
from bot.media.photos import PreparedPhoto
from bot.models import JobStatus as S
from bot.runtime import BotRuntime
from bot.storage import Database, JobStore, Ledger
from bot.storage.replicas import LEASE_S, Replicas
from bot.storage.updates import UpdateLog
from bot.testing.bot_api import FakeBotApi
from tests.conftest import USER, free_port
from tests.pg_balancer import Balancer
from tests.pg_server import PgServer, drop_database, fresh_database


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(name="url")
async def _url(pg_server: PgServer) -> AsyncIterator[str]:
    url = await fresh_database(pg_server)
    yield url
    await drop_database(pg_server, url)


class Replica:
    """One process's view: its database pool, lease and job store."""

    def __init__(self, url: str, name: str, clock: Clock) -> None:
        self.db = Database(url)
        self.replicas = Replicas(self.db, name, clock=clock)
        self.store = JobStore(
            self.db, Ledger(self.db, daily_quota=50, clock=clock), clock=clock, owner=name
        )
        self.store.in_process_providers = frozenset({"local"})

    async def __aenter__(self) -> Replica:
        await self.db.open()
        await self.replicas.heartbeat()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.db.close()


async def job_in(r: Replica, status: S, provider: str = "evolink", next_poll_at: float = 0) -> int:
    job = await r.store.create_draft(
        user_id=1, chat_id=1, thread_id=None, photo_message_id=1, photo_file_id="f",
        photo_width=1, photo_height=1, prompt="p", model="grok", options={}, language="en",
    )  # fmt: skip
    await r.store.reserve(job.id, user_id=1, price=1, max_active=0)
    path = [S.SUBMITTING, S.SUBMITTED, S.DOWNLOADING, S.SENDING]
    previous = S.RESERVED
    for step in path[: path.index(status) + 1] if status in path else []:
        fields = {"provider": provider, "next_poll_at": next_poll_at}
        assert (await r.store.transition(job.id, {previous}, step, **fields)).won
        previous = step
    return job.id


async def test_a_live_replicas_jobs_are_not_taken_a_dead_ones_go_to_one_claimer(url: str) -> None:
    clock = Clock()
    async with (
        Replica(url, "a", clock) as a,
        Replica(url, "b", clock) as b,
        Replica(url, "c", clock) as c,
    ):
        downloading = await job_in(a, S.DOWNLOADING)
        reserved = await job_in(a, S.RESERVED)
        assert await b.store.claim_orphans([S.DOWNLOADING, S.RESERVED]) == []
        clock.now += LEASE_S / 2
        await b.replicas.heartbeat()
        await c.replicas.heartbeat()
        assert await c.store.claim_orphans([S.DOWNLOADING, S.RESERVED]) == []
        clock.now += LEASE_S  # a missed its heartbeats: its lease ran out
        await b.replicas.heartbeat()
        await c.replicas.heartbeat()
        assert await b.replicas.live() == ["b", "c"]
        claimed = await b.store.claim_orphans([S.DOWNLOADING, S.RESERVED])
        assert sorted(j.id for j in claimed) == sorted([downloading, reserved])
        assert await c.store.claim_orphans([S.DOWNLOADING, S.RESERVED]) == []  # b holds them now
        owners = await b.db.fetchall("SELECT DISTINCT owner FROM jobs")
        assert [r[0] for r in owners] == ["b"]


async def test_a_live_replicas_updates_are_never_replayed_a_dead_ones_go_to_one_replica(
    url: str,
) -> None:
    """A starting replica handles again only what a replica without a lease took: an update a
    live replica is handling right now is not handled a second time (with every unhandled
    update replayed, b would take update 5 while a handles it)."""
    clock = Clock()
    async with (
        Replica(url, "a", clock) as a,
        Replica(url, "b", clock) as b,
        Replica(url, "c", clock) as c,
    ):
        log_a, log_b, log_c = (
            UpdateLog(r.db, clock, taker=name) for r, name in ((a, "a"), (b, "b"), (c, "c"))
        )
        body = {"update_id": 5, "message": {"text": "hi"}}
        assert await log_a.record(5, body)
        assert not await log_b.record(5, body)  # Telegram delivered it again, to b
        assert await log_b.claim_unhandled(LEASE_S) == []  # a is alive: a is handling it
        assert await log_a.claim_unhandled(LEASE_S) == []  # never our own: it is in our queue
        clock.now += LEASE_S * 1.5  # a missed its heartbeats
        await b.replicas.heartbeat()
        await c.replicas.heartbeat()
        assert await log_b.claim_unhandled(LEASE_S) == [body]
        assert await log_c.claim_unhandled(LEASE_S) == []  # b took it
        await log_b.handled(5)
        clock.now += LEASE_S * 1.5  # now b is gone too, but it handled the update
        await c.replicas.heartbeat()
        assert await log_c.claim_unhandled(LEASE_S) == []
        taken = await c.db.fetchall("SELECT taken_by FROM updates")
        assert [r[0] for r in taken] == ["b"]


async def test_a_replica_that_left_is_taken_over_at_once(url: str) -> None:
    clock = Clock()
    async with Replica(url, "a", clock) as a, Replica(url, "b", clock) as b:
        job_id = await job_in(a, S.SENDING)
        assert await b.store.claim_orphans([S.SENDING]) == []
        await a.replicas.leave()
        assert [j.id for j in await b.store.claim_orphans([S.SENDING])] == [job_id]


async def test_render_jobs_are_polled_by_their_owner_only_and_polls_are_claimed_once(
    url: str,
) -> None:
    clock = Clock()
    async with Replica(url, "a", clock) as a, Replica(url, "b", clock) as b:
        render = await job_in(a, S.SUBMITTED, provider="local", next_poll_at=clock.now)
        remote = await job_in(a, S.SUBMITTED, provider="evolink", next_poll_at=clock.now)
        # b would find no such render task and render the job a second time.
        assert [j.id for j in await b.store.due_for_poll(clock.now)] == [remote]
        assert [j.id for j in await a.store.due_for_poll(clock.now)] == [render]  # remote: b's
        assert await a.store.due_for_poll(clock.now) == []  # both claimed for a lease
        assert await b.store.due_for_poll(clock.now) == []
        clock.now += LEASE_S + 1  # the poll claims ran out, and so did a's lease
        await b.replicas.heartbeat()
        assert [j.id for j in await b.store.due_for_poll(clock.now)] == [remote]
        # a is dead: its render job is an orphan; once b claims it (take-over), b polls it.
        assert {j.id for j in await b.store.claim_orphans([S.SUBMITTED])} == {remote, render}
        assert [j.id for j in await b.store.due_for_poll(clock.now)] == [render]


async def test_only_one_process_may_long_poll_one_database(url: str) -> None:
    first, second = Database(url), Database(url)
    await first.open()
    await second.open()
    try:
        assert await first.claim_polling()
        assert await first.claim_polling()  # again: still ours
        assert not await second.claim_polling()
        await first.close()  # the process stopped (or died): the lock is free
        assert await second.claim_polling()
    finally:
        await first.close()
        await second.close()


async def test_a_second_polling_replica_is_refused_at_start_up(
    tg: FakeBotApi, env: dict[str, str], url: str
) -> None:
    settings = load_settings({**env, "DATABASE_URL": url, "HTTP_PORT": "0"}, env_file=None)
    first = BotRuntime(settings)
    second = BotRuntime(settings)
    try:
        await first.start()
        with pytest.raises(RuntimeError, match="another replica already long-polls"):
            await second.start()
        assert first.app is not None and first.app.updater is not None
        assert first.app.updater.running  # the first one polls on
    finally:
        await second.stop()
        await first.stop()


def test_replicas_sharing_the_media_folder_find_each_others_photos(tmp_path: Path) -> None:
    """A provider's fetch of /media/<token> may reach any replica (behind the load balancer)."""
    root = tmp_path / "media"
    a = MediaStore(root, shared=True)
    b = MediaStore(root, shared=True)
    alone = MediaStore(root)  # one process (SQLite): only what it stored or loaded
    token = a.put(7, PreparedPhoto(b"\xff\xd8jpeg", "image/jpeg", 1, 1, True))
    assert b.get(token) == (root / f"{token}.jpg", "image/jpeg")
    assert b.token_for_job(7) == token and b.path_for_job(7) == root / f"{token}.jpg"
    assert alone.get(token) is None
    a.release_job(7)  # the job ended on a: gone for every replica
    assert b.get(token) is None


async def test_an_update_delivered_again_to_another_replica_is_ignored(
    tg: FakeBotApi, env: dict[str, str], url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Two replicas behind a balancer; Telegram's re-delivery of an update reaches the other."""
    ports = [free_port(), free_port()]
    balancer = Balancer([f"http://127.0.0.1:{p}" for p in ports])
    await balancer.start()
    common = {
        **env, "DATABASE_URL": url, "PUBLIC_BASE_URL": balancer.base_url,
        "TELEGRAM_WEBHOOK_URL": f"{balancer.base_url}/telegram/webhook",
        "TELEGRAM_WEBHOOK_SECRET": "s3cret_value-1",
        "TELEGRAM_LOCAL_MODE": "true",  # plain http:// on test ports: a local Bot API server
    }  # fmt: skip
    tg.local_mode = True
    runtimes = [
        BotRuntime(load_settings({**common, "HTTP_PORT": str(p)}, env_file=None)) for p in ports
    ]
    try:
        for runtime in runtimes:
            await runtime.start()
        tg.user_command(USER, USER, "start")
        await tg.wait_call("sendMessage")
        first = next(f for f in balancer.forwarded if f.path.startswith("/telegram/webhook/"))
        other = next(u for u in balancer.upstreams if u != first.upstream)
        async with aiohttp.ClientSession() as session:
            async with session.post(
                f"{other}{first.path}", data=first.body,
                headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret_value-1",
                         "Content-Type": "application/json"},
            ) as answer:  # fmt: skip
                assert answer.status == 200
        # Decided before the answer: the copy never reached the other replica's handlers.
        ignored = [r for r in caplog.records if "already recorded, skipped" in r.getMessage()]
        assert len(ignored) == 1
        tg.user_command(USER, USER, "help")
        await tg.wait_call("sendMessage", lambda c: len(tg.calls_of("sendMessage")) >= 2)
        for runtime in runtimes:
            await runtime.stop()
        assert len(tg.calls_of("sendMessage")) == 2  # /start once, /help once
    finally:
        for runtime in runtimes:
            await runtime.stop()
        await balancer.stop()


async def test_a_replica_never_takes_its_own_jobs_over_even_with_a_late_heartbeat(
    url: str,
) -> None:
    """A busy event loop may miss heartbeats; the process is still working on its jobs."""
    clock = Clock()
    async with Replica(url, "a", clock) as a:
        job_id = await job_in(a, S.DOWNLOADING)
        clock.now += LEASE_S * 3  # a's own heartbeat is long overdue
        assert await a.store.claim_orphans([S.DOWNLOADING]) == []
        async with Replica(url, "b", clock) as b:  # but to another replica a looks dead
            assert [j.id for j in await b.store.claim_orphans([S.DOWNLOADING])] == [job_id]

"""Property test (issue 5): random sequences of job events on the real storage layer.

Hypothesis generates sequences of what happens to jobs (reservations with short credits, submit
steps and failover, callbacks and polls claiming a finished task, duplicated and raced with
asyncio.gather, task and delivery failures, cancel at every stage with either REFUND_ON_CANCEL,
the watchdog expiring jobs past their deadline, kill -9 and restart with the poller's recovery,
UTC day changes and admin grants). Every step runs the compare-and-set calls the job code makes on
the real JobStore/Ledger over a fresh database per example, on both engines (a SQLite file, a
PostgreSQL database on the server the suite starts), and every invariant in
tests/property_model.py is checked after every step.

The run is derandomised (the same examples every time, so CI cannot flake). To explore further:
PROPS_RANDOM=1 PROPS_EXAMPLES=5000 python -m pytest -q tests/test_properties.py
"""

from __future__ import annotations

import asyncio
import itertools
import os
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bot.jobs.service import JobService
from bot.models import JobStatus as S
from bot.storage import Database, JobStore, Ledger
from bot.storage.jobs import Credit, ReserveOutcome
from tests.pg_server import (
    ENGINES,
    PgServer,
    database_target,
    drop_database,
    fresh_database,
)
from tests.property_model import (
    ALLOWED_EDGES,
    CANCEL_SETTING,
    DEADLINE_S,
    INITIAL_OWNERS,
    RACE_KINDS,
    USERS,
    Advance,
    Aimed,
    Cancel,
    Checker,
    Claim,
    Clock,
    Crash,
    Deliver,
    DownloadFailed,
    Drive,
    Effect,
    Expire,
    Grant,
    NewDraft,
    NextDay,
    NoProviderLeft,
    Op,
    Progress,
    Race,
    Reserve,
    SendFailed,
    StartSending,
    Stats,
    SubmitClaim,
    SubmitDone,
    SubmitRefused,
    TaskFailed,
    TaskLost,
    Watchdog,
    World,
    race_op,
)

EXAMPLES = int(os.environ.get("PROPS_EXAMPLES", "200"))
# PostgreSQL costs a network round trip per statement and a fresh database per example, about
# five times SQLite's time: a quarter as many derandomised examples (the tours always run).
PG_EXAMPLES = int(os.environ.get("PROPS_PG_EXAMPLES", str(max(EXAMPLES // 4, 1))))
RANDOM = bool(os.environ.get("PROPS_RANDOM"))
# REFUND_ON_CANCEL=false must keep the credits of a job cancelled after submission, and only of
# those: JobService.cancel decides on the state it actually replaced.
ENFORCE_CANCEL_POLICY = True

refs = st.integers(0, 3)
users = st.sampled_from(USERS)
kinds = st.sampled_from(sorted(RACE_KINDS))
DUPLICABLE = ("claim", "task_failed", "expire", "cancel", "deliver", "submit_done", "advance")

ops: st.SearchStrategy[Op] = st.one_of(
    # The happy path, weighted so that sequences reach delivery often.
    st.builds(Advance, refs),
    st.builds(Advance, refs, st.integers(1, 6)),
    st.builds(Advance, refs, st.integers(1, 6)),
    st.builds(Reserve, refs, st.integers(0, 3)),
    st.builds(SubmitClaim, refs, st.sampled_from(("evolink", "local"))),
    st.builds(SubmitDone, refs),
    st.builds(SubmitRefused, refs, st.booleans()),
    st.builds(NoProviderLeft, refs),
    st.builds(Claim, refs),
    st.builds(TaskFailed, refs),
    st.builds(Progress, refs, st.integers(0, 99)),
    st.builds(TaskLost, refs, st.booleans()),
    st.builds(StartSending, refs),
    st.builds(DownloadFailed, refs),
    st.builds(Deliver, refs),
    st.builds(SendFailed, refs),
    st.builds(Cancel, refs, st.booleans()),
    st.builds(Expire, refs),
    # The same events aimed at a job in a state where they matter, or driven to one.
    st.builds(Aimed, kinds, refs),
    st.builds(Aimed, kinds, refs),
    st.builds(Drive, kinds, refs, st.integers(0, 4)),
    st.builds(Drive, kinds, refs, st.integers(0, 4)),
    # Races: different events on one job at once, and the same event many times at once.
    st.builds(Race, refs, st.lists(kinds, min_size=2, max_size=6).map(tuple), st.booleans()),
    st.builds(
        Race,
        refs,
        st.tuples(st.sampled_from(DUPLICABLE), st.integers(2, 12)).map(
            lambda kn: (kn[0],) * kn[1]
        ),
        st.booleans(),
    ),
    st.builds(Watchdog, st.sampled_from((0.0, 60.0, 120.0, 400.0))),
    st.just(Crash()),
    st.just(NextDay()),
    st.builds(Grant, users, st.integers(1, 5)),
    st.builds(NewDraft, users, st.none() | refs),
)
sequences = st.lists(ops, min_size=10, max_size=40)

# Explicit examples run first on every run, whatever is generated (the generated ones change with
# the test's source): every event at the stage where it matters, a crash and the watchdog at every
# stage, every answer of reserve, cancel at every stage, refunds to both buckets and across days.
# They alone cover everything the run asserts it exercised.
TOURS: list[list[Op]] = [
    *([Drive(kind, 0, first), Advance(0, 6)] for kind in sorted(RACE_KINDS) for first in (0, 3)),
    *([Advance(0, n), Crash(), Advance(0, 6)] for n in range(1, 6)),
    *([Advance(0, n), SubmitClaim(1, "local"), Crash(), Advance(1, 6)] for n in (1, 3)),
    *([Advance(0, n), Watchdog(DEADLINE_S + 1)] for n in range(1, 6)),
    # The watchdog acting on a stale list while the job reached sending (otherwise only a race
    # reaches that edge, and races interleave differently on each engine).
    [Advance(0, 5), Expire(0)],
    [Advance(0, 4), NextDay(), Watchdog(0.0), Advance(1, 6), Grant(1, 3), Reserve(2, 3)],
    [Race(0, ("claim",) * 12, True), Advance(0, 3), Race(0, ("claim",) * 12, True)],
    # Every answer of reserve: too many active, not a draft, short of credits.
    [Reserve(0, 1), Reserve(2, 1), NewDraft(1), Reserve(3, 1), Reserve(0, 1)],
    [Reserve(0, 3), Reserve(2, 1), Grant(1, 1), Reserve(2, 1)],
    [Cancel(0, True), Reserve(0, 1)],
    # Cancel at each paid stage, with and without REFUND_ON_CANCEL.
    *([Advance(0, n), Cancel(0, setting)] for n in (1, 2, 3) for setting in (True, False)),
    # Credits from the granted bucket, and split across both, come back where they were taken.
    [Grant(1, 5), Reserve(0, 3), Reserve(2, 3), Aimed("no_provider", 0), Cancel(0, True)],
    [Grant(1, 2), Reserve(0, 2), Reserve(2, 3), NextDay(), Watchdog(0.0), Reserve(3, 1)],
]


async def run_sequence(
    path: Path | str, sequence: list[Op], stats: Stats, *, cancel_policy: bool = False
) -> None:
    """One example: fresh database, the initial drafts, then each step and every invariant."""
    w = World(path, Clock(), stats)
    await w.open()
    checker = Checker(path)
    try:
        for user in INITIAL_OWNERS:
            await w.new_draft(user)
        await checker.check(w, w.model, [], cancel_policy=cancel_policy)
        for op in sequence:
            w.effects = []
            await op.apply(w)
            w.model.apply(w, w.effects)
            await checker.check(w, w.model, w.effects, cancel_policy=cancel_policy)
            stats.steps += 1
            live = [j for j in w.job_ids if not (await w.status(j)).is_terminal]
            if len(live) < 2:
                await w.new_draft(USERS[len(w.job_ids) % 2])  # keep live jobs to play with
        await checker.count_edges(stats)
        stats.examples += 1
    finally:
        await checker.close()
        await w.close()


async def _run_on_postgres(
    server: PgServer, sequence: list[Op], stats: Stats, *, cancel_policy: bool
) -> None:
    url = await fresh_database(server)
    try:
        await run_sequence(url, sequence, stats, cancel_policy=cancel_policy)
    finally:
        await drop_database(server, url)


@pytest.mark.parametrize("engine", ENGINES)
def test_random_job_event_sequences_keep_every_invariant(
    tmp_path: Path, engine: str, request: pytest.FixtureRequest
) -> None:
    stats = Stats()
    server: PgServer | None = (
        request.getfixturevalue("pg_server") if engine == "postgresql" else None
    )

    examples = EXAMPLES if server is None else PG_EXAMPLES

    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=not RANDOM,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
        print_blob=True,
    )
    @given(sequence=sequences)
    def check(sequence: list[Op]) -> None:
        if server is not None:
            policy = ENFORCE_CANCEL_POLICY
            asyncio.run(_run_on_postgres(server, sequence, stats, cancel_policy=policy))
            return
        with tempfile.TemporaryDirectory(dir=tmp_path) as folder:
            db = Path(folder) / "bot.db"
            asyncio.run(run_sequence(db, sequence, stats, cancel_policy=ENFORCE_CANCEL_POLICY))

    for tour in TOURS:
        check = example(sequence=tour)(check)
    check()

    # The property is only as good as what it exercised: every edge of the state machine, every
    # terminal state, every reservation outcome, races, crashes and refunds across midnight.
    if os.environ.get("PROPS_STATS"):
        print(f"\n{stats}")
    edges = {(S(a) if a else None, S(b)) for a, b in stats.edges}
    assert edges == ALLOWED_EDGES, f"never exercised: {ALLOWED_EDGES - edges}"
    assert set(stats.terminal) == {"delivered", "failed", "cancelled", "expired"}
    # CHANGED needs the service's priced options: tests/test_hostile_price_race.py drives it.
    assert set(stats.reserve_outcomes) == {o.value for o in ReserveOutcome} - {"changed"}
    assert stats.refund_after_day_change > 0
    assert set(stats.refunds_by_bucket) == {"daily", "granted"}
    assert stats.races >= examples // 4 and stats.crashes >= examples // 4, stats
    assert {"reserved:refund", "submitting:refund", "submitted:refund", "submitted:keep"} <= set(
        stats.cancel_policy
    ), stats.cancel_policy


# ---- targeted races -----------------------------------------------------------------------
@pytest.fixture(name="target", params=ENGINES)
async def _target(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """The database the targeted race tests use: a SQLite file or a fresh PostgreSQL database."""
    async with database_target(request.param, request, tmp_path) as target:
        yield target


async def _world(target: str) -> World:
    w = World(target, Clock(), Stats())
    await w.open()
    w.racing = True  # these tests race the store themselves: record outcomes, predict none
    return w


async def _job_in(w: World, status: S, price: int = 3) -> int:
    """A job of user 1 reserved for `price` (from both buckets when > 2) and taken to `status`."""
    await w.new_draft(1)
    job_id = w.job_ids[-1]
    await w.ledger.grant(1, 2)
    outcome, _ = await w.store.reserve(job_id, user_id=1, price=price, max_active=2)
    assert outcome is ReserveOutcome.OK
    path = [S.SUBMITTING, S.SUBMITTED, S.DOWNLOADING, S.SENDING]
    previous = S.RESERVED
    for step in path[: path.index(status) + 1] if status in path else []:
        provider = "evolink" if step is S.SUBMITTING else None
        fields = {"provider": provider} if provider else {}
        assert (await w.store.transition(job_id, {previous}, step, credit=None, **fields)).won
        previous = step
    return job_id


async def _ledger_rows(w: World, job_id: int) -> list[tuple[str, str, int]]:
    rows = await w.db.fetchall(
        "SELECT kind, bucket, amount FROM ledger WHERE job_id = ? ORDER BY id", (job_id,)
    )
    return [(r[0], r[1], r[2]) for r in rows]


async def test_twenty_identical_claims_then_twenty_refunds_have_one_winner_each(
    target: str,
) -> None:
    w = await _world(target)
    try:
        job_id = await _job_in(w, S.SUBMITTED, price=4)
        assert (await w.ledger.balance(1)).total == 1  # 3 daily + 2 granted - 4

        claims = await asyncio.gather(
            *(w.store.transition(job_id, {S.SUBMITTED}, S.DOWNLOADING) for _ in range(20))
        )
        assert sum(c.won for c in claims) == 1

        refunds = await asyncio.gather(
            *(
                w.store.transition(job_id, {S.DOWNLOADING}, S.FAILED, credit=Credit.REFUND)
                for _ in range(20)
            )
        )
        assert [r.refunded for r in refunds if r.won] == [4]
        assert sum(r.refunded for r in refunds) == 4
        assert await _ledger_rows(w, job_id) == [
            ("reserve", "daily", -3), ("reserve", "granted", -1),
            ("refund", "daily", 3), ("refund", "granted", 1),
        ]  # fmt: skip
        bal = await w.ledger.balance(1)
        assert (bal.daily, bal.granted) == (3, 2)
        steps = [(a, b) for a, b, _ in await w.store.history(job_id)]
        assert steps == [
            (None, "draft"), ("draft", "reserved"), ("reserved", "submitting"),
            ("submitting", "submitted"), ("submitted", "downloading"), ("downloading", "failed"),
        ]  # fmt: skip
    finally:
        await w.close()


@pytest.mark.parametrize("status", [S.RESERVED, S.SUBMITTING, S.SUBMITTED, S.DOWNLOADING])
async def test_twenty_mixed_events_at_once_leave_one_path_and_at_most_one_refund(
    target: str, status: S
) -> None:
    """Callbacks, polls, failures, the watchdog and cancels (the real StatusBoard.fail and
    cancel)."""
    w = await _world(target)
    try:
        job_id = await _job_in(w, status, price=2)
        before = len(await w.store.history(job_id))
        kinds = ("claim", "task_failed", "expire", "cancel", "download_failed") * 4
        w.effects = []
        await asyncio.gather(*(race_op(k, 0).apply(w) for k in kinds))
        won = [e for e in w.effects if isinstance(e, Effect) and e.won]
        steps = [(S(a or ""), S(b)) for a, b, _ in (await w.store.history(job_id))[before:]]
        # One event left the state, every later winner continued from where the last one left.
        assert len(steps) == len(won) >= 1 and steps[0][0] is status
        assert all(a is prev_b for (_, prev_b), (a, _) in itertools.pairwise(steps))
        assert sum(b.is_terminal for _, b in steps) == 1 and steps[-1][1].is_terminal
        refunds = [r for r in await _ledger_rows(w, job_id) if r[0] == "refund"]
        refunded = [e for e in won if e.credit is Credit.REFUND]
        assert len(refunded) <= 1 and sum(e.refunded for e in won) == sum(r[2] for r in refunds)
        assert (await w.ledger.balance(1)).total == (5 if refunded else 3)
    finally:
        await w.close()


async def test_concurrent_reservations_never_overspend_nor_exceed_the_active_limit(
    target: str,
) -> None:
    w = await _world(target)
    try:
        for _ in range(20):
            await w.new_draft(1)
        await w.ledger.grant(1, 2)  # 3 daily + 2 granted = 5 credits
        unlimited = await asyncio.gather(
            *(w.store.reserve(j, user_id=1, price=1, max_active=0) for j in w.job_ids[:10])
        )
        assert sum(o is ReserveOutcome.OK for o, _ in unlimited) == 5
        bal = await w.ledger.balance(1)
        assert (bal.daily, bal.granted) == (0, 0)
        await w.ledger.grant(1, 10)
        limited = await asyncio.gather(
            *(w.store.reserve(j, user_id=1, price=1, max_active=7) for j in w.job_ids[10:])
        )
        assert sum(o is ReserveOutcome.OK for o, _ in limited) == 2  # 5 active + 2 = the limit
        assert (await w.ledger.balance(1)).total == 8
    finally:
        await w.close()


async def test_two_connections_on_one_file_still_let_one_transition_win(target: str) -> None:
    """A restarted bot while the old process is not dead yet: two connections, one winner."""
    w = await _world(target)
    other = Database(w.path)
    await other.open()
    try:
        job_id = await _job_in(w, S.SUBMITTED, price=1)
        second = JobStore(other, Ledger(other, daily_quota=3, clock=w.clock), clock=w.clock)
        results = await asyncio.gather(
            *(
                store.transition(job_id, {S.SUBMITTED}, S.FAILED, credit=Credit.REFUND)
                for _ in range(10)
                for store in (w.store, second)
            )
        )
        assert sum(r.won for r in results) == 1
        assert sum(r.refunded for r in results) == 1
    finally:
        await other.close()
        await w.close()


# ---- regressions: bugs this test found, now fixed ---------------------------------------------
async def test_a_won_transition_returns_the_job_as_its_own_transition_left_it(
    target: str,
) -> None:
    w = await _world(target)
    try:
        job_id = await _job_in(w, S.DOWNLOADING, price=1)
        sending, delivered = await asyncio.gather(
            w.store.transition(job_id, {S.DOWNLOADING}, S.SENDING),
            w.store.transition(job_id, {S.SENDING}, S.DELIVERED, credit=Credit.SETTLE),
        )
        assert sending.won and delivered.won
        assert sending.job is not None and sending.job.status is S.SENDING
    finally:
        await w.close()


@pytest.mark.parametrize(
    ("seen", "moved_to", "setting"),
    [
        (S.RESERVED, S.SUBMITTING, False),  # submission started: refunded despite the setting
        (S.SUBMITTED, S.RESERVED, False),  # back to reserved (local task lost): not refunded
    ],
)
async def test_cancel_refunds_by_the_state_it_actually_cancelled(
    target: str, seen: S, moved_to: S, setting: bool
) -> None:
    """The button handler reads the job, the runner moves it, then JobService.cancel runs."""
    w = await _world(target)
    checker = Checker(w.path)
    try:
        job_id = await _job_in(w, seen, price=1)
        w.model.reserved[job_id] = {"daily": 1}
        stale = await w.store.get(job_id)
        assert stale is not None
        assert (await w.store.transition(job_id, {seen}, moved_to, provider="local")).won
        w.effects = []
        service = JobService(w.ctx(refund_on_cancel=setting), w.runner())
        CANCEL_SETTING.set(setting)
        reply = await service.cancel(stale)
        assert reply.then is not None
        await reply.then
        history = {job_id: list(await checker.rows("SELECT * FROM job_transitions"))}
        Checker._check_cancel_policy(w.effects, history, w.stats, enforce=True)
    finally:
        CANCEL_SETTING.set(None)
        await checker.close()
        await w.close()


async def test_a_task_cancelled_while_its_transaction_begins_does_not_wedge_the_database(
    tmp_path: Path,
) -> None:
    """Shutdown cancels background tasks; one caught at BEGIN must not break later writes."""
    w = await _world(str(tmp_path / "bot.db"))  # SQLite: its asyncio lock is the subject
    try:
        job_id = await _job_in(w, S.SUBMITTED, price=1)
        store = JobStore(w.db, w.ledger, clock=w.clock)  # the plain store: BEGIN comes first
        lock = w.db.engine._lock  # type: ignore[attr-defined]
        task = asyncio.create_task(store.transition(job_id, {S.SUBMITTED}, S.DOWNLOADING))
        for _ in range(100):  # until it holds the lock and waits on BEGIN (no thread involved yet)
            if lock.locked():
                break
            await asyncio.sleep(0)
        assert lock.locked() and not task.done()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        failed = await store.transition(job_id, {S.SUBMITTED}, S.FAILED, credit=Credit.REFUND)
        assert failed.won and failed.refunded == 1
    finally:
        await w.close()

"""The world, the operations and the invariants of the storage-layer property test.

`tests/test_properties.py` generates random sequences of the operations below and runs them on the
REAL `JobStore`/`Ledger` over a real SQLite file or PostgreSQL database. Failures, the watchdog,
crash recovery and cancel run the bot's own code (`StatusBoard.fail`, `Poller.watchdog_once`,
`Poller.recover`, `JobService.cancel`) around a stub context; the other steps (submit, claim,
deliver) are the compare-and-set call the job code makes there (same `allowed_from`, target status
and credit movement; each docstring names the code it mirrors), since the real ones also talk to
providers and Telegram. The invariants checked after every step are the ones the bot relies on: a
job only moves along the state machine, a terminal job never changes, credits are reserved once,
refunded at most once, never both refunded and settled, a failure is told once, and every balance
is the sum of the ledger.

Every credit movement must go through `JobStore.reserve` or `JobStore.transition`: the
`RecordingStore` below observes those two to feed the model.

Credits are checked three ways after every step: `Ledger.balance_in` (the bot's own sum, run in a
transaction that is rolled back so the check records nothing), a plain sum of the rows read
through a connection of the checker's own (`sqlite3` or `asyncpg`, not the bot's code),
and a pure-Python model fed only with the outcomes the operations observed.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections import Counter, defaultdict
from collections.abc import Coroutine, Iterable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import asyncpg

from bot.jobs.alerts import OperatorAlerts
from bot.jobs.chat_memory import ChatMemory
from bot.jobs.context import JobContext
from bot.jobs.poller import Poller
from bot.jobs.runner import JobRunner
from bot.jobs.service import JobService
from bot.jobs.status_board import StatusBoard
from bot.metrics import Metrics
from bot.models import ACTIVE_STATUSES, TERMINAL_STATUSES, FailureReason, JobStatus
from bot.storage import Balance, Database, JobStore, Ledger, Transition
from bot.storage.db import Tx, is_postgres_url
from bot.storage.jobs import Credit, ReserveOutcome
from bot.telegram.messenger import TelegramMessenger

S = JobStatus
QUOTA = 3  # DAILY_QUOTA: small, so reservations are sometimes refused
MAX_ACTIVE = 2  # MAX_ACTIVE_JOBS_PER_USER
DEADLINE_S = 300.0  # deadline_floor_s
USERS = (1, 2)
INITIAL_OWNERS = (1, 2, 1)  # the drafts every example starts with
MAX_JOBS = 12
START = 1_700_006_400.0 - 600.0  # ten minutes before a UTC midnight: ticks cross it
DAY_S = 86_400.0
WAITING = frozenset({S.SUBMITTED})
CANCELLABLE = frozenset({S.RESERVED, S.SUBMITTING, S.SUBMITTED})

# Every edge the job code can take (runner, delivery, StatusBoard.fail, service, poller).
ALLOWED_EDGES: frozenset[tuple[JobStatus | None, JobStatus]] = frozenset(
    {
        (None, S.DRAFT),
        (S.DRAFT, S.RESERVED), (S.DRAFT, S.CANCELLED),
        (S.RESERVED, S.SUBMITTING), (S.RESERVED, S.FAILED), (S.RESERVED, S.CANCELLED),
        (S.RESERVED, S.EXPIRED),
        (S.SUBMITTING, S.SUBMITTED), (S.SUBMITTING, S.RESERVED), (S.SUBMITTING, S.FAILED),
        (S.SUBMITTING, S.CANCELLED), (S.SUBMITTING, S.EXPIRED),
        (S.SUBMITTED, S.DOWNLOADING), (S.SUBMITTED, S.RESERVED), (S.SUBMITTED, S.FAILED),
        (S.SUBMITTED, S.CANCELLED), (S.SUBMITTED, S.EXPIRED),
        (S.DOWNLOADING, S.SENDING), (S.DOWNLOADING, S.SUBMITTED), (S.DOWNLOADING, S.FAILED),
        (S.DOWNLOADING, S.EXPIRED),
        (S.SENDING, S.DELIVERED), (S.SENDING, S.SUBMITTED), (S.SENDING, S.FAILED),
        (S.SENDING, S.EXPIRED),
    }
)  # fmt: skip


def utc_day(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d")


class Clock:
    """The injected clock: only operations move it, never real time."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass(frozen=True)
class Effect:
    """What one compare-and-set call observed (fed to the credit model after the step)."""

    job_id: int
    allowed: frozenset[JobStatus]
    to: JobStatus
    credit: Credit | None
    won: bool
    refunded: int
    day: str
    refund_on_cancel: bool | None = None  # set for a cancel: the operator setting it ran with
    replaced: JobStatus | None = None  # the status the compare-and-set found


@dataclass(frozen=True)
class Reserved:
    job_id: int
    user_id: int
    price: int
    outcome: ReserveOutcome
    day: str


@dataclass(frozen=True)
class Granted:
    user_id: int
    amount: int


@dataclass
class Stats:
    """What a whole run exercised (asserted by the test so the property cannot be vacuous)."""

    examples: int = 0
    steps: int = 0
    races: int = 0
    race_calls: int = 0
    crashes: int = 0
    invariant_checks: int = 0
    edges: Counter[tuple[str | None, str]] = field(default_factory=Counter)
    reserve_outcomes: Counter[str] = field(default_factory=Counter)
    terminal: Counter[str] = field(default_factory=Counter)
    cancel_policy: Counter[str] = field(default_factory=Counter)
    refund_after_day_change: int = 0
    refunds_by_bucket: Counter[str] = field(default_factory=Counter)

    def check(self, n: int = 1) -> None:
        self.invariant_checks += n


class PolicyViolation(AssertionError):
    """A cancel refunded, or kept the credits, against the rule for the state it cancelled."""


# The REFUND_ON_CANCEL a cancel runs with (per task, so raced cancels each keep their own).
CANCEL_SETTING: ContextVar[bool | None] = ContextVar("cancel_setting", default=None)


# The status the last compare-and-set of this task found (read inside its transaction).
REPLACED: ContextVar[JobStatus | None] = ContextVar("replaced", default=None)


class RecordingStore(JobStore):
    """The real JobStore; every transition is recorded and, outside a race, predicted."""

    def __init__(self, world: World, db: Database, ledger: Ledger) -> None:
        super().__init__(db, ledger, clock=world.clock)
        self.world = world

    async def _cas(self, conn: Tx, job_id: int, *args: Any, **kw: Any) -> Any:
        rows = await conn.execute_fetchall("SELECT status FROM jobs WHERE id = ?", (job_id,))
        found = next(iter(rows), None)
        REPLACED.set(JobStatus(found[0]) if found else None)
        return await super()._cas(conn, job_id, *args, **kw)

    async def transition(
        self,
        job_id: int,
        allowed_from: Iterable[JobStatus],
        to: JobStatus,
        *,
        credit: Any = None,  # a Credit, None, or one per replaced status (if the store learns it)
        note: str | None = None,
        **fields: Any,
    ) -> Transition:
        w = self.world
        allowed = frozenset(allowed_from)
        before = None if w.racing else await w.status(job_id)
        day = utc_day(w.clock())
        REPLACED.set(None)
        result = await super().transition(job_id, allowed, to, credit=credit, note=note, **fields)
        replaced = REPLACED.get()
        if before is not None:
            assert result.won == (before in allowed), (
                f"job {job_id}: {before} -> {to} allowed from {sorted(allowed)}, won={result.won}"
            )
            assert replaced is before
            # (In a race the returned job may already show a later state: see the report.)
            assert not result.won or (result.job is not None and result.job.status is to)
        applied = credit.get(replaced) if isinstance(credit, Mapping) else credit
        w.effects.append(
            Effect(
                job_id, allowed, to, applied, result.won, result.refunded, day,
                CANCEL_SETTING.get(), replaced,
            )
        )  # fmt: skip
        return result


@dataclass(frozen=True)
class _Provider:
    name: str

    @property
    def needs_public_image(self) -> bool:
        return self.name != "local"

    @property
    def in_process(self) -> bool:
        return self.name == "local"  # the local renderer: free to render again

    def cancel(self, task_id: str) -> bool:
        return self.in_process

    def discard(self, task_id: str) -> None:
        pass


class _Registry:
    def get(self, name: str) -> _Provider | None:
        return _Provider(name) if name in ("evolink", "local") else None

    def in_process(self, name: str | None) -> bool:
        return name == "local"

    def models(self) -> dict[str, Any]:
        return {}


class _Messenger:
    """What StatusBoard.fail/finish tell the user; counted, never sent."""

    def __init__(self) -> None:
        self.sent = 0

    async def send_text(self, *_: Any, **__: Any) -> int:
        self.sent += 1
        return self.sent

    async def edit(self, *_: Any, **__: Any) -> None:
        return None

    def forget(self, *_: Any) -> None:
        return None


class _Media:
    """finish() releases the job's photo once per terminal state it announces."""

    def __init__(self) -> None:
        self.released: Counter[int] = Counter()

    def release_job(self, job_id: int) -> None:
        self.released[job_id] += 1


class _Runner:
    async def submit(self, job_id: int) -> None:  # resubmission is a later operation
        return None


class World:
    """The database, the store and the ledger one example drives, reopened on a crash.

    `path`: a SQLite file, or a `postgresql://` URL (what `Database` opens)."""

    def __init__(self, path: Path | str, clock: Clock, stats: Stats) -> None:
        self.path = path
        self.clock = clock
        self.stats = stats
        self.db = Database(path)
        self.ledger = Ledger(self.db, daily_quota=QUOTA, clock=clock)
        self.store: JobStore = RecordingStore(self, self.db, self.ledger)
        self.job_ids: list[int] = []
        self.owner: dict[int, int] = {}
        self.effects: list[Effect | Reserved | Granted] = []
        self.racing = False
        self.counter = 0
        self.model = CreditModel()
        self.messenger = _Messenger()
        self.media = _Media()
        self.metrics = Metrics()

    async def open(self) -> None:
        await self.db.open()

    async def close(self) -> None:
        await self.db.close()

    async def reopen(self) -> None:
        """A crash and a restart: a new connection, store and ledger on the same file."""
        await self.db.close()
        self.db = Database(self.path)
        await self.db.open()
        self.ledger = Ledger(self.db, daily_quota=QUOTA, clock=self.clock)
        self.store = RecordingStore(self, self.db, self.ledger)

    def ctx(self, *, refund_on_cancel: bool = True) -> JobContext:
        """Just what StatusBoard.fail, JobService.cancel and the Poller use, around the real
        store."""
        stub = SimpleNamespace(
            store=self.store, ledger=self.ledger, clock=self.clock, registry=_Registry(),
            messenger=self.messenger, media=self.media, metrics=self.metrics,
            tasks=SimpleNamespace(spawn=_drop), people=ChatMemory(),
            settings=SimpleNamespace(
                refund_on_cancel=refund_on_cancel, admin_ids=frozenset(), alert_every_s=3600.0
            ),
            alerts=OperatorAlerts(
                lambda: cast(TelegramMessenger, self.messenger), frozenset(), self.clock, 3600.0
            ),
        )  # fmt: skip
        stub.board = StatusBoard(cast(JobContext, stub))  # the real one, around the stubs
        return cast(JobContext, stub)

    def runner(self) -> JobRunner:
        return cast(JobRunner, _Runner())

    def poller(self) -> Poller:
        return Poller(self.ctx(), self.runner())

    def job(self, ref: int) -> int:
        return self.job_ids[ref % len(self.job_ids)]

    def next_id(self) -> int:
        self.counter += 1
        return self.counter

    async def new_draft(self, user_id: int, retry_of: int | None = None) -> None:
        if len(self.job_ids) >= MAX_JOBS:
            return
        job = await self.store.create_draft(
            user_id=user_id, chat_id=user_id, thread_id=None, photo_message_id=10,
            photo_file_id="photo", photo_width=640, photo_height=480, prompt="waves",
            model="grok", options={"duration": "6"}, language="en", retry_of=retry_of,
        )  # fmt: skip
        self.job_ids.append(job.id)
        self.owner[job.id] = user_id

    async def status(self, job_id: int) -> JobStatus:
        job = await self.store.get(job_id)
        assert job is not None
        return job.status

    async def cas(
        self,
        job_id: int,
        allowed: Iterable[JobStatus],
        to: JobStatus,
        *,
        credit: Credit | None = None,
        note: str | None = None,
        **fields: Any,
    ) -> Transition:
        return await self.store.transition(job_id, allowed, to, credit=credit, note=note, **fields)


def _drop(coro: Coroutine[Any, Any, Any], name: str) -> None:
    """ctx.tasks.spawn for the poller's resubmissions: they are modelled as later operations."""
    del name
    coro.close()


# ---- operations ---------------------------------------------------------------------------
class Op:
    async def apply(self, w: World) -> None:
        raise NotImplementedError


@dataclass(frozen=True)
class Reserve(Op):
    """JobService.generate: draft -> reserved, credits taken in the same transaction."""

    ref: int
    price: int

    async def apply(self, w: World) -> None:
        job_id = w.job(self.ref)
        user = w.owner[job_id]
        expected = None
        if not w.racing:
            statuses = {j: await w.status(j) for j in w.job_ids}
            expected = w.model.expected_reserve(w, statuses, job_id, self.price)
        outcome, job = await w.store.reserve(
            job_id, user_id=user, price=self.price, max_active=MAX_ACTIVE,
            deadline_at=w.clock() + DEADLINE_S,
        )  # fmt: skip
        assert (outcome is ReserveOutcome.OK) == (job is not None)
        assert expected is None or outcome is expected, f"reserve: {outcome}, expected {expected}"
        if job is not None and not w.racing:  # (in a race it may show a later state)
            assert job.status is S.RESERVED and job.price == self.price
        w.effects.append(Reserved(job_id, user, self.price, outcome, utc_day(w.clock())))


@dataclass(frozen=True)
class SubmitClaim(Op):
    """JobRunner.submit: reserved -> submitting before the create request."""

    ref: int
    provider: str = "evolink"

    async def apply(self, w: World) -> None:
        job = await w.store.get(w.job(self.ref))
        assert job is not None
        if job.status is not S.RESERVED:
            return
        await w.cas(
            job.id, {S.RESERVED}, S.SUBMITTING,
            provider=self.provider, tried_providers=(*job.tried_providers, self.provider),
        )  # fmt: skip


@dataclass(frozen=True)
class SubmitDone(Op):
    """JobRunner._submitted: submitting -> submitted with the task id and the deadline."""

    ref: int

    async def apply(self, w: World) -> None:
        now = w.clock()
        await w.cas(
            w.job(self.ref), {S.SUBMITTING}, S.SUBMITTED,
            task_id=f"task-{w.next_id()}", eta_s=60, submitted_at=now,
            deadline_at=now + DEADLINE_S, next_poll_at=now + 5.0, poll_interval=5.0,
        )  # fmt: skip


@dataclass(frozen=True)
class SubmitRefused(Op):
    """JobRunner.submit on ProviderError: back to reserved for the next provider, or fail."""

    ref: int
    failover: bool

    async def apply(self, w: World) -> None:
        job_id = w.job(self.ref)
        if self.failover:
            await w.cas(job_id, {S.SUBMITTING}, S.RESERVED, note="evolink: upstream")
        else:
            await fail(w, job_id, {S.SUBMITTING}, "validation")


@dataclass(frozen=True)
class NoProviderLeft(Op):
    """JobRunner.submit with no candidate left: reserved -> failed, refunded."""

    ref: int

    async def apply(self, w: World) -> None:
        await fail(w, w.job(self.ref), {S.RESERVED}, "unavailable")


@dataclass(frozen=True)
class Claim(Op):
    """delivery.deliver, from a callback or a poll: submitted -> downloading."""

    ref: int

    async def apply(self, w: World) -> None:
        await w.cas(w.job(self.ref), {S.SUBMITTED}, S.DOWNLOADING, progress=100)


@dataclass(frozen=True)
class TaskFailed(Op):
    """JobRunner._on_event with a failed task: submitted -> failed, refunded."""

    ref: int

    async def apply(self, w: World) -> None:
        await fail(w, w.job(self.ref), WAITING, "content_policy")


@dataclass(frozen=True)
class Progress(Op):
    """JobRunner._on_event / _schedule_poll / _not_found: bookkeeping while submitted."""

    ref: int
    percent: int

    async def apply(self, w: World) -> None:
        job_id = w.job(self.ref)
        await w.store.set_fields(job_id, WAITING, progress=self.percent)
        await w.store.set_fields(
            job_id, WAITING, next_poll_at=w.clock() + 7.5, poll_interval=7.5, not_found_count=1
        )


@dataclass(frozen=True)
class TaskLost(Op):
    """JobRunner._not_found: a local task is rendered again; a remote one fails at the limit."""

    ref: int
    local: bool

    async def apply(self, w: World) -> None:
        job_id = w.job(self.ref)
        if self.local:
            await w.cas(job_id, WAITING, S.RESERVED, tried_providers=(), note="local task lost")
        else:
            await fail(w, job_id, WAITING, "upstream")


@dataclass(frozen=True)
class StartSending(Op):
    """delivery.deliver after the download: downloading -> sending."""

    ref: int

    async def apply(self, w: World) -> None:
        await w.cas(w.job(self.ref), {S.DOWNLOADING}, S.SENDING)


@dataclass(frozen=True)
class DownloadFailed(Op):
    """delivery._fetch: downloading -> failed, refunded."""

    ref: int

    async def apply(self, w: World) -> None:
        await fail(w, w.job(self.ref), {S.DOWNLOADING}, "download")


@dataclass(frozen=True)
class Deliver(Op):
    """delivery._send after Telegram accepted the video: sending -> delivered, settled."""

    ref: int

    async def apply(self, w: World) -> None:
        n = w.next_id()
        await w.cas(
            w.job(self.ref), {S.SENDING}, S.DELIVERED, credit=Credit.SETTLE,
            video_file_id=f"video-{n}", video_message_id=1000 + n,
        )  # fmt: skip


@dataclass(frozen=True)
class SendFailed(Op):
    """delivery._send when Telegram refuses: sending -> failed, refunded."""

    ref: int

    async def apply(self, w: World) -> None:
        await fail(w, w.job(self.ref), {S.SENDING}, "send")


@dataclass(frozen=True)
class Cancel(Op):
    """The real JobService.cancel, on the job as the button handler read it just before."""

    ref: int
    refund_on_cancel: bool

    async def apply(self, w: World) -> None:
        job = await w.store.get(w.job(self.ref))
        assert job is not None
        service = JobService(w.ctx(refund_on_cancel=self.refund_on_cancel), w.runner())
        CANCEL_SETTING.set(self.refund_on_cancel)
        try:
            reply = await service.cancel(job)
        finally:
            CANCEL_SETTING.set(None)
        if reply.then is not None:
            await reply.then  # finish(): the status message and the photo


@dataclass(frozen=True)
class Expire(Op):
    """Poller.watchdog_once for a job it listed (possibly a stale list): active -> expired."""

    ref: int

    async def apply(self, w: World) -> None:
        await fail(w, w.job(self.ref), ACTIVE_STATUSES, "timeout", to=S.EXPIRED)


@dataclass(frozen=True)
class Advance(Op):
    """The next happy-path steps for the job's current state (keeps sequences going deep)."""

    ref: int
    steps: int = 1

    async def apply(self, w: World) -> None:
        for _ in range(self.steps):
            step: Op | None = {
                S.DRAFT: Reserve(self.ref, 2),
                S.RESERVED: SubmitClaim(self.ref),
                S.SUBMITTING: SubmitDone(self.ref),
                S.SUBMITTED: Claim(self.ref),
                S.DOWNLOADING: StartSending(self.ref),
                S.SENDING: Deliver(self.ref),
            }.get(await w.status(w.job(self.ref)))
            if step is None:
                return
            await step.apply(w)


RACE_KINDS: dict[str, type[Op] | tuple[type[Op], bool]] = {
    "advance": Advance,
    "claim": Claim,
    "task_failed": TaskFailed,
    "expire": Expire,
    "cancel": (Cancel, True),
    "cancel_keep": (Cancel, False),
    "submit_claim": SubmitClaim,
    "submit_done": SubmitDone,
    "failover": (SubmitRefused, True),
    "lost_local": (TaskLost, True),
    "start_sending": StartSending,
    "download_failed": DownloadFailed,
    "deliver": Deliver,
    "send_failed": SendFailed,
    "no_provider": NoProviderLeft,
    "refused": (SubmitRefused, False),
    "lost_remote": (TaskLost, False),
}
NON_TERMINAL = frozenset(JobStatus) - TERMINAL_STATUSES
# The states in which each kind of event can change the job (used to aim events at a job).
AIM: dict[str, frozenset[JobStatus]] = {
    "advance": NON_TERMINAL,
    "claim": WAITING,
    "task_failed": WAITING,
    "expire": ACTIVE_STATUSES,
    "cancel": CANCELLABLE,  # (drafts are cancelled by the plain Cancel operation)
    "cancel_keep": CANCELLABLE,
    "submit_claim": frozenset({S.RESERVED}),
    "submit_done": frozenset({S.SUBMITTING}),
    "failover": frozenset({S.SUBMITTING}),
    "refused": frozenset({S.SUBMITTING}),
    "lost_local": WAITING,
    "lost_remote": WAITING,
    "start_sending": frozenset({S.DOWNLOADING}),
    "download_failed": frozenset({S.DOWNLOADING}),
    "deliver": frozenset({S.SENDING}),
    "send_failed": frozenset({S.SENDING}),
    "no_provider": frozenset({S.RESERVED}),
}


async def aim(w: World, ref: int, states: frozenset[JobStatus]) -> int:
    """The `ref`-th job among those in `states` (as an index into job_ids), else `ref`."""
    hits = [i for i, j in enumerate(w.job_ids) if await w.status(j) in states]
    return hits[ref % len(hits)] if hits else ref


@dataclass(frozen=True)
class Aimed(Op):
    """One event aimed at a job in a state where it can matter (random refs rarely hit one)."""

    kind: str
    ref: int

    async def apply(self, w: World) -> None:
        await race_op(self.kind, await aim(w, self.ref, AIM[self.kind])).apply(w)


def race_op(kind: str, ref: int) -> Op:
    spec = RACE_KINDS[kind]
    if isinstance(spec, tuple):
        cls, flag = spec
        return cls(ref, flag)  # type: ignore[call-arg]
    return spec(ref)  # type: ignore[call-arg]


@dataclass(frozen=True)
class Drive(Op):
    """A live job taken `first` happy-path steps on, then on until `kind` matters, then `kind`."""

    kind: str
    ref: int
    first: int = 0

    async def apply(self, w: World) -> None:
        ref = await aim(w, self.ref, NON_TERMINAL)
        await Advance(ref, self.first).apply(w)
        for _ in range(6):
            status = await w.status(w.job(ref))
            if status in AIM[self.kind]:
                await race_op(self.kind, ref).apply(w)
                return
            if status.is_terminal:
                return
            await Advance(ref).apply(w)


@dataclass(frozen=True)
class Race(Op):
    """Callbacks, polls, a cancel and the watchdog hitting one job at once (asyncio.gather)."""

    ref: int
    kinds: tuple[str, ...]
    aimed: bool = False  # at a job that is not terminal yet

    async def apply(self, w: World) -> None:
        ref = await aim(w, self.ref, NON_TERMINAL) if self.aimed else self.ref
        w.racing = True
        try:
            await asyncio.gather(*(race_op(k, ref).apply(w) for k in self.kinds))
        finally:
            w.racing = False
        w.stats.races += 1
        w.stats.race_calls += len(self.kinds)


@dataclass(frozen=True)
class Watchdog(Op):
    """Time passes, then the real Poller.watchdog_once expires every job past its deadline."""

    advance_s: float

    async def apply(self, w: World) -> None:
        w.clock.now += self.advance_s
        await w.poller().watchdog_once()


@dataclass(frozen=True)
class Crash(Op):
    """kill -9 and a restart: reopen the database, then the real Poller.recover."""

    async def apply(self, w: World) -> None:
        await w.reopen()
        w.stats.crashes += 1
        await w.poller().recover()


@dataclass(frozen=True)
class NextDay(Op):
    """A UTC day passes: yesterday's daily credits are gone, today's allowance is due."""

    async def apply(self, w: World) -> None:
        w.clock.now += DAY_S


@dataclass(frozen=True)
class Grant(Op):
    """/grant <user> <n>: credits that never expire."""

    user: int
    amount: int

    async def apply(self, w: World) -> None:
        balance = await w.ledger.grant(self.user, self.amount, note="admin")
        assert balance.granted >= self.amount
        w.effects.append(Granted(self.user, self.amount))


@dataclass(frozen=True)
class NewDraft(Op):
    """A new photo (or Retry / Change options: a new draft with retry_of)."""

    user: int
    retry_ref: int | None = None

    async def apply(self, w: World) -> None:
        retry_of = None if self.retry_ref is None else w.job(self.retry_ref)
        await w.new_draft(self.user, retry_of)


async def fail(
    w: World, job_id: int, allowed: Iterable[JobStatus], kind: str, *, to: JobStatus = S.FAILED
) -> bool:
    """The real StatusBoard.fail: the failure and its refund in one transaction, told once."""
    job = await w.store.get(job_id)
    assert job is not None
    return await w.ctx().board.fail(job, allowed, FailureReason(kind), kind, to=to)


# ---- the credit model ---------------------------------------------------------------------
class CreditModel:
    """Expected balances and per-job credit state, fed only with observed outcomes."""

    def __init__(self) -> None:
        self.granted: dict[int, int] = defaultdict(int)
        self.daily_delta: dict[tuple[int, str], int] = defaultdict(int)
        self.reserved: dict[int, dict[str, int]] = {}
        self.refunded: set[int] = set()
        self.settled: set[int] = set()
        self.final_credit: dict[int, Credit | None] = {}
        self.reserved_day: dict[int, str] = {}

    def daily(self, user: int, day: str) -> int:
        return QUOTA + self.daily_delta[(user, day)]

    def total(self, user: int, day: str) -> int:
        return self.daily(user, day) + self.granted[user]

    def expected_reserve(
        self, w: World, statuses: dict[int, JobStatus], job_id: int, price: int
    ) -> ReserveOutcome:
        """What JobStore.reserve must answer, in the order it checks."""
        user = w.owner[job_id]
        active = sum(1 for j, s in statuses.items() if w.owner[j] == user and s in ACTIVE_STATUSES)
        if active >= MAX_ACTIVE:
            return ReserveOutcome.TOO_MANY_ACTIVE
        if statuses[job_id] is not S.DRAFT:
            return ReserveOutcome.NOT_A_DRAFT
        if price > 0 and self.total(user, utc_day(w.clock())) < price:
            return ReserveOutcome.NO_CREDITS
        return ReserveOutcome.OK

    def apply(self, w: World, effects: list[Effect | Reserved | Granted]) -> None:
        # Within one step a job's reservation always precedes its refund or settle.
        ordered = sorted(effects, key=lambda e: 0 if isinstance(e, Reserved | Granted) else 1)
        for effect in ordered:
            if isinstance(effect, Granted):
                self.granted[effect.user_id] += effect.amount
            elif isinstance(effect, Reserved):
                w.stats.reserve_outcomes[effect.outcome.value] += 1
                if effect.outcome is ReserveOutcome.OK:
                    self._reserve(effect)
            else:
                self._transition(w, effect)

    def _reserve(self, r: Reserved) -> None:
        assert r.job_id not in self.reserved, f"job {r.job_id} reserved twice"
        from_daily = min(max(self.daily(r.user_id, r.day), 0), r.price)
        split = {"daily": from_daily, "granted": r.price - from_daily}
        self.reserved[r.job_id] = {b: a for b, a in split.items() if a}
        self.reserved_day[r.job_id] = r.day
        self.daily_delta[(r.user_id, r.day)] -= split["daily"]
        self.granted[r.user_id] -= split["granted"]

    def _transition(self, w: World, e: Effect) -> None:
        if not e.won:
            assert e.refunded == 0, f"job {e.job_id}: a lost compare-and-set refunded"
            return
        taken = sum(self.reserved.get(e.job_id, {}).values())
        if e.to in TERMINAL_STATUSES:
            assert e.job_id not in self.final_credit, f"job {e.job_id} terminal twice"
            self.final_credit[e.job_id] = e.credit
        if e.credit is Credit.REFUND:
            assert e.job_id not in self.refunded and e.job_id not in self.settled
            assert e.refunded == taken, f"job {e.job_id}: refunded {e.refunded}, took {taken}"
            self.refunded.add(e.job_id)
            user = w.owner[e.job_id]
            for bucket, amount in self.reserved.get(e.job_id, {}).items():
                w.stats.refunds_by_bucket[bucket] += 1
                if bucket == "daily":
                    self.daily_delta[(user, e.day)] += amount
                else:
                    self.granted[user] += amount
            if taken and e.day != self.reserved_day.get(e.job_id):
                w.stats.refund_after_day_change += 1
        else:
            assert e.refunded == 0
        if e.credit is Credit.SETTLE:
            assert e.job_id not in self.settled and e.job_id not in self.refunded
            self.settled.add(e.job_id)


# ---- invariants ---------------------------------------------------------------------------
class _Undo(Exception):
    def __init__(self, balance: Balance) -> None:
        super().__init__("undo")
        self.balance = balance


async def bot_balance(w: World, user: int) -> Balance:
    """Ledger.balance_in, in a transaction rolled back so the check writes no allowance."""
    try:
        async with w.db.transaction() as conn:
            raise _Undo(await w.ledger.balance_in(conn, user, w.clock()))
    except _Undo as undo:
        return undo.balance


@dataclass
class Snapshot:
    """What the checker saw at the previous step (append-only tables, terminal jobs)."""

    ledger: list[tuple[Any, ...]] = field(default_factory=list)
    transitions: list[tuple[Any, ...]] = field(default_factory=list)
    terminal: dict[int, tuple[Any, ...]] = field(default_factory=dict)


class Checker:
    """Every invariant, read with a connection of its own (sqlite3 or asyncpg, not the bot's code).

    Its queries take no parameters, so the same SQL runs on both engines."""

    def __init__(self, path: Path | str) -> None:
        self.target = path
        self.raw: sqlite3.Connection | None = None
        self.pg: Any = None
        if not is_postgres_url(path):
            self.raw = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        self.seen = Snapshot()

    async def close(self) -> None:
        if self.raw is not None:
            self.raw.close()
        if self.pg is not None:
            await self.pg.close()

    async def rows(self, sql: str) -> list[tuple[Any, ...]]:
        if self.raw is not None:
            return list(self.raw.execute(sql).fetchall())
        if self.pg is None:
            self.pg = await asyncpg.connect(str(self.target))
        return [tuple(r) for r in await self.pg.fetch(sql)]

    async def job_columns(self) -> list[str]:
        if self.raw is not None:
            return [d[0] for d in self.raw.execute("SELECT * FROM jobs LIMIT 0").description]
        rows = await self.rows(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_name = 'jobs' ORDER BY ordinal_position"
        )
        return [str(r[0]) for r in rows]

    async def check(
        self,
        w: World,
        model: CreditModel,
        effects: list[Effect | Reserved | Granted],
        *,
        cancel_policy: bool,
    ) -> None:
        stats = w.stats
        jobs = {r[0]: r for r in await self.rows("SELECT * FROM jobs ORDER BY id")}
        col = {name: i for i, name in enumerate(await self.job_columns())}
        ledger = await self.rows("SELECT * FROM ledger ORDER BY id")
        transitions = await self.rows("SELECT * FROM job_transitions ORDER BY id")

        # Append-only: earlier rows never change or vanish.
        assert ledger[: len(self.seen.ledger)] == self.seen.ledger, "ledger rewritten"
        assert transitions[: len(self.seen.transitions)] == self.seen.transitions, (
            "history rewritten"
        )
        stats.check(2)
        self.seen.ledger, self.seen.transitions = ledger, transitions

        history: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
        for row in transitions:
            history[row[1]].append(row)
        by_job: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
        for row in ledger:
            _, user, job_id, kind, bucket, _, amount, _, _ = row
            assert kind in {"allowance", "reserve", "refund", "settle", "grant"}, row
            if kind == "allowance":
                assert job_id is None and bucket == "daily" and amount == QUOTA, row
            elif kind == "grant":
                assert job_id is None and bucket == "granted" and amount > 0, row
            else:
                assert job_id in jobs and jobs[job_id][col["user_id"]] == user, row
                by_job[job_id].append(row)
            stats.check()
        allowances = Counter((r[1], r[5]) for r in ledger if r[3] == "allowance")
        assert all(n == 1 for n in allowances.values()), allowances
        assert set(jobs) == set(w.job_ids), "a job appeared or vanished"

        self._check_cancel_policy(effects, history, stats, enforce=cancel_policy)
        active: Counter[int] = Counter()
        failed = 0
        for job_id, row in jobs.items():
            status = JobStatus(row[col["status"]])  # a valid state, or ValueError
            self._check_history(job_id, status, history[job_id])
            self._check_job_credits(job_id, status, row[col["price"]], by_job[job_id], model)
            stats.check(3)
            # StatusBoard.fail / cancel finished the job exactly once (finish releases the photo).
            finished = w.media.released[job_id]
            expected = 1 if status in (S.FAILED, S.EXPIRED, S.CANCELLED) else 0
            assert finished == expected, f"job {job_id} {status}: finished {finished} times"
            failed += status in (S.FAILED, S.EXPIRED)
            if status in ACTIVE_STATUSES:
                active[row[col["user_id"]]] += 1
            if status in TERMINAL_STATUSES:
                frozen = (row, tuple(by_job[job_id]), tuple(history[job_id]))
                if job_id in self.seen.terminal:
                    assert self.seen.terminal[job_id] == frozen, f"terminal job {job_id} changed"
                else:
                    self.seen.terminal[job_id] = frozen
                    stats.terminal[status.value] += 1
                stats.check()
        assert all(n <= MAX_ACTIVE for n in active.values()), f"too many active: {active}"
        assert w.messenger.sent == failed, "a failure was told twice, or not at all"

        today = utc_day(w.clock())
        for user in USERS:
            daily = sum(r[6] for r in ledger if r[1] == user and r[4] == "daily" and r[5] == today)
            if not any(r[1] == user and r[3] == "allowance" and r[5] == today for r in ledger):
                daily += QUOTA  # granted lazily on the user's first action of the day
            granted = sum(r[6] for r in ledger if r[1] == user and r[4] == "granted")
            bal = await bot_balance(w, user)
            assert (bal.daily, bal.granted) == (daily, granted), (user, bal, daily, granted)
            assert (daily, granted) == (model.daily(user, today), model.granted[user]), (
                f"user {user}: ledger ({daily}, {granted}) != model "
                f"({model.daily(user, today)}, {model.granted[user]})"
            )
            assert daily >= 0 and granted >= 0, f"user {user} negative: {daily}, {granted}"
            stats.check(3)

    async def count_edges(self, stats: Stats) -> None:
        for from_status, to_status in await self.rows(
            "SELECT from_status, to_status FROM job_transitions"
        ):
            stats.edges[(from_status, to_status)] += 1

    @staticmethod
    def _check_cancel_policy(
        effects: list[Effect | Reserved | Granted],
        history: dict[int, list[tuple[Any, ...]]],
        stats: Stats,
        *,
        enforce: bool,
    ) -> None:
        """A cancel before submission is free; after it, refunded iff REFUND_ON_CANCEL."""
        for e in effects:
            if not (isinstance(e, Effect) and e.won and e.refund_on_cancel is not None):
                continue
            start = e.replaced
            assert start is not None and start.value == history[e.job_id][-1][2]
            if start is S.DRAFT:
                continue  # nothing was reserved
            refunded = e.credit is Credit.REFUND
            stats.cancel_policy[f"{start.value}:{'refund' if refunded else 'keep'}"] += 1
            should_refund = start is S.RESERVED or e.refund_on_cancel
            if enforce and refunded != should_refund:
                raise PolicyViolation(
                    f"job {e.job_id}: cancelled from {start} with REFUND_ON_CANCEL="
                    f"{e.refund_on_cancel}, credit={e.credit}"
                )

    @staticmethod
    def _check_history(job_id: int, status: JobStatus, rows: list[tuple[Any, ...]]) -> None:
        assert rows, f"job {job_id} has no history"
        previous: JobStatus | None = None
        last_at = float("-inf")
        for _, _, from_raw, to_raw, at, _ in rows:
            start = JobStatus(from_raw) if from_raw is not None else None
            to = JobStatus(to_raw)
            assert start == previous, f"job {job_id}: history jumps {previous} -> {start}"
            assert (start, to) in ALLOWED_EDGES, f"job {job_id}: illegal edge {start} -> {to}"
            assert previous is None or not previous.is_terminal, f"job {job_id} left {previous}"
            assert at >= last_at, f"job {job_id}: history goes back in time"
            previous, last_at = to, at
        assert previous == status, f"job {job_id} is {status}, history ends at {previous}"

    def _check_job_credits(
        self,
        job_id: int,
        status: JobStatus,
        price: int,
        rows: list[tuple[Any, ...]],
        model: CreditModel,
    ) -> None:
        reserves = {r[4]: r[6] for r in rows if r[3] == "reserve"}
        refunds = [r for r in rows if r[3] == "refund"]
        settles = [r for r in rows if r[3] == "settle"]
        assert len([r for r in rows if r[3] == "reserve"]) == len(reserves), rows
        assert all(a < 0 for a in reserves.values()), rows
        assert len(settles) <= 1, f"job {job_id} settled twice"
        assert len({r[7] for r in refunds}) <= 1, f"job {job_id} refunded twice"
        assert not (settles and refunds), f"job {job_id} both settled and refunded"
        assert {r[4]: r[6] for r in refunds} == (
            {b: -a for b, a in reserves.items()} if refunds else {}
        ), f"job {job_id}: refund {refunds} != reservation {reserves}"
        assert len(refunds) == len({r[4] for r in refunds}), rows
        balance = sum(r[6] for r in rows)
        was_reserved = job_id in model.reserved
        if not was_reserved:
            assert not rows and price == 0, f"job {job_id} never reserved but has {rows}"
            return
        assert -sum(reserves.values()) == price == sum(model.reserved[job_id].values()), (
            f"job {job_id}: reserved {reserves}, price {price}"
        )
        assert {b: -a for b, a in reserves.items()} == model.reserved[job_id], (
            f"job {job_id}: buckets {reserves} != model {model.reserved[job_id]}"
        )
        if price > 0:
            assert bool(refunds) == (job_id in model.refunded), f"job {job_id}: refund mismatch"
        assert bool(settles) == (job_id in model.settled), f"job {job_id}: settle mismatch"
        if status in ACTIVE_STATUSES:
            assert not refunds and not settles and balance == -price, rows
        elif status is S.DELIVERED:
            assert settles and balance == -price, f"job {job_id} delivered without a settle"
        elif status in (S.FAILED, S.EXPIRED):
            assert model.final_credit[job_id] is Credit.REFUND and balance == 0, rows
            assert bool(refunds) == (price > 0), f"job {job_id} failed without its credits back"
        elif status is S.CANCELLED:
            if model.final_credit[job_id] is Credit.REFUND:
                assert balance == 0 and bool(refunds) == (price > 0), rows
            else:
                assert not refunds and not settles and balance == -price, rows
        else:
            raise AssertionError(f"job {job_id} reserved but back in {status}")

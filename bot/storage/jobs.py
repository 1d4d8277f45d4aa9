"""Jobs: drafts, compare-and-set transitions with their credit movement, and the queries the
job service, the poller and the watchdog need."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from bot.models import ACTIVE_STATUSES, TERMINAL_STATUSES, Job, JobStatus
from bot.storage.db import Database, Row, Tx
from bot.storage.ledger import Ledger
from bot.storage.replicas import LEASE_S

MAX_NAME = 64  # Telegram's own limit on a first name: a longer one is not from Telegram

_UPDATABLE = frozenset(
    {
        "status_message_id", "prompt", "model", "options", "price", "provider", "task_id",
        "tried_providers", "progress", "eta_s", "deadline_at", "next_poll_at", "poll_interval",
        "error_kind", "error_message", "video_file_id", "video_message_id", "submitted_at",
        "media_token", "ask_message_id", "not_found_count", "told_at",
        "provider_cost", "seed", "queued_at",
    }
)  # fmt: skip


class Credit(StrEnum):
    """The credit movement that rides in a transition's transaction."""

    REFUND = "refund"
    SETTLE = "settle"


class ReserveOutcome(StrEnum):
    OK = "ok"
    NO_CREDITS = "no_credits"
    TOO_MANY_ACTIVE = "too_many_active"
    NOT_A_DRAFT = "not_a_draft"
    CHANGED = "changed"  # the draft's model or options changed after they were priced


@dataclass(frozen=True)
class Transition:
    """The result of a compare-and-set: the job after it, or None when another path won."""

    job: Job | None
    refunded: int = 0

    @property
    def won(self) -> bool:
        return self.job is not None


def _row_to_job(row: Row) -> Job:
    data = dict(row)
    data.pop("owner", None)  # the replica holding the job: storage bookkeeping, not the model
    data["options"] = json.loads(data["options"] or "{}")
    data["status"] = JobStatus(data["status"])
    data["tried_providers"] = tuple(p for p in (data["tried_providers"] or "").split(",") if p)
    return Job(**data)


def _encode(name: str, value: Any) -> Any:
    if name == "options":
        return json.dumps(value, sort_keys=True)
    if name == "tried_providers":
        return ",".join(value)
    return value


class JobStore:
    """All job reads and writes; every status change is compare-and-set with its history row.

    `owner` (a replica id, see replicas.py) is written on every job this store creates or
    moves; `in_process_providers` name the providers whose tasks live in the process that
    started them (the local renderer): on a shared database only their owner polls them.
    """

    def __init__(
        self,
        db: Database,
        ledger: Ledger,
        clock: Callable[[], float] = time.time,
        *,
        owner: str | None = None,
        lease_s: float = LEASE_S,
    ):
        self.db = db
        self.ledger = ledger
        self.clock = clock
        self.owner = owner
        self.lease_s = lease_s
        self.in_process_providers: frozenset[str] = frozenset()

    async def create_draft(
        self,
        *,
        user_id: int,
        chat_id: int,
        thread_id: int | None,
        photo_message_id: int,
        photo_file_id: str,
        photo_width: int,
        photo_height: int,
        prompt: str,
        model: str,
        options: dict[str, str],
        language: str,
        retry_of: int | None = None,
        requester_name: str | None = None,
    ) -> Job:
        now = self.clock()
        async with self.db.transaction() as conn:
            rows = await conn.execute_fetchall(
                "INSERT INTO jobs (user_id, chat_id, thread_id, photo_message_id, photo_file_id, "
                "photo_width, photo_height, prompt, model, options, status, callback_secret, "
                "language, created_at, updated_at, retry_of, owner, requester_name) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (
                    user_id, chat_id, thread_id, photo_message_id, photo_file_id, photo_width,
                    photo_height, prompt, model, json.dumps(options, sort_keys=True),
                    JobStatus.DRAFT.value, secrets.token_urlsafe(24), language, now, now, retry_of,
                    self.owner, requester_name[:MAX_NAME] if requester_name else None,
                ),
            )  # fmt: skip
            job_id = int(rows[0][0])
            await self._history(conn, job_id, None, JobStatus.DRAFT, now, None)
        job = await self.get(job_id)
        assert job is not None
        return job

    async def get(self, job_id: int) -> Job | None:
        row = await self.db.fetchone("SELECT * FROM jobs WHERE id = ?", (job_id,))
        return _row_to_job(row) if row else None

    async def update_draft(self, job_id: int, **fields: Any) -> Job | None:
        """Change a draft's prompt, model, options or status message; None if not a draft."""
        return (await self.transition(job_id, {JobStatus.DRAFT}, JobStatus.DRAFT, **fields)).job

    async def set_fields(
        self, job_id: int, allowed_from: Iterable[JobStatus], **fields: Any
    ) -> bool:
        """Update bookkeeping fields (progress, next poll) while the job is in `allowed_from`."""
        if not fields:
            return False
        names = list(fields)
        if not set(names) <= _UPDATABLE:
            raise ValueError(f"not updatable: {set(names) - _UPDATABLE}")
        statuses = [s.value for s in allowed_from]
        sql = (
            f"UPDATE jobs SET {', '.join(f'{n} = ?' for n in names)}, updated_at = ? "
            f"WHERE id = ? AND status IN ({', '.join('?' * len(statuses))})"
        )
        params = [_encode(n, fields[n]) for n in names] + [self.clock(), job_id, *statuses]
        async with self.db.transaction() as conn:
            cur = await conn.execute(sql, params)
            return cur.rowcount == 1

    async def set_status_message(self, job_id: int, message_id: int) -> bool:
        """Record the job's status message unless it has one, whatever its status meanwhile."""
        async with self.db.transaction() as conn:
            cur = await conn.execute(
                "UPDATE jobs SET status_message_id = ?, updated_at = ? "
                "WHERE id = ? AND status_message_id IS NULL",
                (message_id, self.clock(), job_id),
            )
            return cur.rowcount == 1

    async def move_chat(self, old_chat_id: int, new_chat_id: int) -> int:
        """A group became a supergroup: its jobs follow it (messages already sent stay in the
        old chat, so the ids that point at them are dropped). Returns how many moved."""
        async with self.db.transaction() as conn:
            cur = await conn.execute(
                "UPDATE jobs SET chat_id = ?, status_message_id = NULL, ask_message_id = NULL, "
                "updated_at = ? WHERE chat_id = ?",
                (new_chat_id, self.clock(), old_chat_id),
            )
            return cur.rowcount

    async def reserve(
        self,
        job_id: int,
        *,
        user_id: int,
        price: int,
        max_active: int,
        priced: tuple[str, dict[str, str]] | None = None,
        **fields: Any,
    ) -> tuple[ReserveOutcome, Job | None]:
        """draft → reserved, taking credits in the same transaction (refused when short).

        `priced` is the (model, options) the price was computed for: an option press handled
        between that read and this transaction would otherwise submit the new options at the
        old price, so the draft must still hold exactly them (else CHANGED, nothing taken).
        """
        try:
            return await self._reserve(job_id, user_id, price, max_active, priced, fields)
        except _Rollback as stop:
            return stop.outcome, None

    async def _reserve(
        self,
        job_id: int,
        user_id: int,
        price: int,
        max_active: int,
        priced: tuple[str, dict[str, str]] | None,
        fields: dict[str, Any],
    ) -> tuple[ReserveOutcome, Job | None]:
        now = self.clock()
        active = [s.value for s in ACTIVE_STATUSES]
        async with self.db.transaction() as conn:
            if priced is not None:
                rows = await conn.execute_fetchall(
                    "SELECT model, options FROM jobs WHERE id = ?", (job_id,)
                )
                row = next(iter(rows), None)
                if row is not None and (row[0], json.loads(row[1] or "{}")) != priced:
                    return ReserveOutcome.CHANGED, None
            rows = await conn.execute_fetchall(
                f"SELECT COUNT(*) FROM jobs WHERE user_id = ? AND status IN "
                f"({', '.join('?' * len(active))})",
                (user_id, *active),
            )
            if max_active and int(next(iter(rows))[0]) >= max_active:
                return ReserveOutcome.TOO_MANY_ACTIVE, None
            if await self._cas(
                conn, job_id, {JobStatus.DRAFT}, JobStatus.RESERVED, now, None,
                {"price": price, **fields},
            ) is None:  # fmt: skip
                return ReserveOutcome.NOT_A_DRAFT, None
            if not await self.ledger.reserve_in(conn, user_id, job_id, price, now):
                raise _Rollback(ReserveOutcome.NO_CREDITS)
            job = await self._get_in(conn, job_id)
        return ReserveOutcome.OK, job

    async def transition(
        self,
        job_id: int,
        allowed_from: Iterable[JobStatus],
        to: JobStatus,
        *,
        credit: Credit | Mapping[JobStatus, Credit | None] | None = None,
        note: str | None = None,
        **fields: Any,
    ) -> Transition:
        """Compare-and-set the status from one of `allowed_from` to `to`, with its credits.

        `credit` may depend on the status actually replaced (a mapping), decided inside the
        transaction: a caller's earlier read of the job may be stale by then.
        """
        now = self.clock()
        refunded = 0
        async with self.db.transaction() as conn:
            replaced = await self._cas(conn, job_id, set(allowed_from), to, now, note, fields)
            if replaced is None:
                return Transition(None)
            if isinstance(credit, Mapping):
                credit = credit.get(replaced)
            if credit is Credit.REFUND:
                refunded = await self.ledger.refund_in(conn, job_id, now)
            elif credit is Credit.SETTLE:
                user_id = int(next(iter(await conn.execute_fetchall(
                    "SELECT user_id FROM jobs WHERE id = ?", (job_id,)
                )))[0])  # fmt: skip
                await self.ledger.settle_in(conn, user_id, job_id, now)
            job = await self._get_in(conn, job_id)
        return Transition(job, refunded)

    async def _cas(
        self,
        conn: Tx,
        job_id: int,
        allowed_from: set[JobStatus],
        to: JobStatus,
        now: float,
        note: str | None,
        fields: dict[str, Any],
    ) -> JobStatus | None:
        """The compare-and-set itself; returns the status it replaced, None when it lost."""
        if not set(fields) <= _UPDATABLE:
            raise ValueError(f"not updatable: {set(fields) - _UPDATABLE}")
        rows = await conn.execute_fetchall("SELECT status FROM jobs WHERE id = ?", (job_id,))
        current = next(iter(rows), None)
        if current is None or JobStatus(current[0]) not in allowed_from:
            return None
        names = list(fields)
        sets = "".join(f", {n} = ?" for n in names)
        values = [_encode(n, fields[n]) for n in names]
        if self.owner is not None:  # whoever moves a job holds it (its lease: replicas.py)
            sets += ", owner = ?"
            values.append(self.owner)
        await conn.execute(
            f"UPDATE jobs SET status = ?, updated_at = ?{sets} WHERE id = ? AND status = ?",
            [to.value, now, *values, job_id, current[0]],
        )
        replaced = JobStatus(current[0])
        if replaced is not to:
            await self._history(conn, job_id, replaced, to, now, note)
        return replaced

    async def _get_in(self, conn: Tx, job_id: int) -> Job:
        """The job as this transaction left it (a later commit must not show through)."""
        rows = await conn.execute_fetchall("SELECT * FROM jobs WHERE id = ?", (job_id,))
        return _row_to_job(next(iter(rows)))

    async def _history(
        self,
        conn: Tx,
        job_id: int,
        from_status: JobStatus | None,
        to: JobStatus,
        now: float,
        note: str | None,
    ) -> None:
        await conn.execute(
            "INSERT INTO job_transitions (job_id, from_status, to_status, at, note) "
            "VALUES (?, ?, ?, ?, ?)",
            (job_id, from_status.value if from_status else None, to.value, now, note),
        )

    async def in_statuses(self, statuses: Iterable[JobStatus]) -> list[Job]:
        values = [s.value for s in statuses]
        rows = await self.db.fetchall(
            f"SELECT * FROM jobs WHERE status IN ({', '.join('?' * len(values))}) ORDER BY id",
            tuple(values),
        )
        return [_row_to_job(r) for r in rows]

    async def untold(self) -> list[Job]:
        """Failed, expired or cancelled jobs whose user was never told (a crash came between).

        Not delivered ones: the video itself told the user; only "Done" on the status message
        may be missing then.
        """
        final = [s.value for s in TERMINAL_STATUSES if s is not JobStatus.DELIVERED]
        rows = await self.db.fetchall(
            f"SELECT * FROM jobs WHERE told_at IS NULL "
            f"AND status IN ({', '.join('?' * len(final))}) ORDER BY id",
            tuple(final),
        )
        return [_row_to_job(r) for r in rows]

    async def due_for_poll(self, now: float) -> list[Job]:
        """Submitted jobs whose next poll is due.

        On a shared database the listed jobs are claimed: their next poll moves a lease ahead,
        so no other replica polls them meanwhile (the poll itself sets the real next time; a
        replica dying mid-poll only delays the job by the lease). Tasks of an in-process
        provider are listed to their owner only while it is alive (another replica would find
        no such task and render it a second time); `claim_orphans` hands them over after that.
        """
        if not self.db.shared:
            rows = await self.db.fetchall(
                "SELECT * FROM jobs WHERE status = ? AND next_poll_at IS NOT NULL "
                "AND next_poll_at <= ? "
                "ORDER BY next_poll_at LIMIT 100",
                (JobStatus.SUBMITTED.value, now),
            )
            return [_row_to_job(r) for r in rows]
        local = sorted(self.in_process_providers) or [""]
        async with self.db.transaction() as conn:
            rows = await conn.execute_fetchall(
                "SELECT id FROM jobs WHERE status = ? AND next_poll_at IS NOT NULL "
                "AND next_poll_at <= ? AND (provider IS NULL OR owner = ? "
                f"OR provider NOT IN ({', '.join('?' * len(local))})) "
                "ORDER BY next_poll_at LIMIT 100 FOR UPDATE SKIP LOCKED",
                (JobStatus.SUBMITTED.value, now, self.owner, *local),
            )
            jobs = []
            for (job_id,) in rows:
                await conn.execute(
                    "UPDATE jobs SET next_poll_at = ? WHERE id = ?", (now + self.lease_s, job_id)
                )
                jobs.append(await self._get_in(conn, int(job_id)))
        return jobs

    async def claim_orphans(self, statuses: Iterable[JobStatus]) -> list[Job]:
        """Jobs in `statuses` nobody alive holds, now held by this store's owner.

        SQLite: one process, so after a restart every job is an orphan (`in_statuses`).
        PostgreSQL: jobs whose owner left or missed its lease, each claimed by exactly one
        replica (`FOR UPDATE SKIP LOCKED` and the owner written in the same transaction).
        """
        if not self.db.shared:
            return await self.in_statuses(statuses)
        return await self._claim("status IN ({})", [s.value for s in statuses])

    async def claim_untold(self) -> list[Job]:
        """`untold()`, restricted on a shared database to orphans, which are claimed."""
        if not self.db.shared:
            return await self.untold()
        final = [s.value for s in TERMINAL_STATUSES if s is not JobStatus.DELIVERED]
        return await self._claim("told_at IS NULL AND status IN ({})", final)

    async def _claim(self, where: str, values: list[str]) -> list[Job]:
        now = self.clock()
        condition = where.format(", ".join("?" * len(values)))
        async with self.db.transaction() as conn:
            rows = await conn.execute_fetchall(
                # Never our own jobs: we are running, so we are working on them, even when our
                # heartbeat is late (a busy event loop) and the others may think us dead.
                f"SELECT id FROM jobs WHERE {condition} AND (owner IS NULL OR (owner != ? "
                "AND NOT EXISTS (SELECT 1 FROM replicas r WHERE r.replica_id = jobs.owner "
                "AND r.seen_at >= ?))) ORDER BY id FOR UPDATE SKIP LOCKED",
                (*values, self.owner or "", now - self.lease_s),
            )
            jobs = []
            for (job_id,) in rows:
                await conn.execute(
                    "UPDATE jobs SET owner = ? WHERE id = ?", (self.owner, int(job_id))
                )
                jobs.append(await self._get_in(conn, int(job_id)))
        return jobs

    async def past_deadline(self, now: float) -> list[Job]:
        active = [s.value for s in ACTIVE_STATUSES]
        rows = await self.db.fetchall(
            f"SELECT * FROM jobs WHERE status IN ({', '.join('?' * len(active))}) "
            "AND deadline_at IS NOT NULL AND deadline_at < ?",
            (*active, now),
        )
        return [_row_to_job(r) for r in rows]

    async def by_task(self, provider: str, task_id: str) -> Job | None:
        row = await self.db.fetchone(
            "SELECT * FROM jobs WHERE provider = ? AND task_id = ? ORDER BY id DESC LIMIT 1",
            (provider, task_id),
        )
        return _row_to_job(row) if row else None

    async def draft_awaiting_prompt(self, chat_id: int, user_id: int) -> Job | None:
        row = await self.db.fetchone(
            "SELECT * FROM jobs WHERE chat_id = ? AND user_id = ? AND status = ? "
            "AND ask_message_id IS NOT NULL AND prompt = '' ORDER BY id DESC LIMIT 1",
            (chat_id, user_id, JobStatus.DRAFT.value),
        )
        return _row_to_job(row) if row else None

    async def unpaid_or_open(self, user_id: int) -> list[tuple[int, JobStatus]]:
        """(id, status) of the user's drafts and unfinished jobs: those that keep a photo."""
        kept = [JobStatus.DRAFT.value, *(s.value for s in ACTIVE_STATUSES)]
        rows = await self.db.fetchall(
            f"SELECT id, status FROM jobs WHERE user_id = ? AND status IN "
            f"({', '.join('?' * len(kept))})",
            (user_id, *kept),
        )
        return [(int(r[0]), JobStatus(r[1])) for r in rows]

    async def photo_answered(self, chat_id: int, photo_message_id: int) -> bool:
        """Whether some job of this photo already has its options (or status) message."""
        row = await self.db.fetchone(
            "SELECT 1 FROM jobs WHERE chat_id = ? AND photo_message_id = ? "
            "AND status_message_id IS NOT NULL LIMIT 1",
            (chat_id, photo_message_id),
        )
        return row is not None

    async def draft_by_message(self, chat_id: int, message_id: int) -> Job | None:
        row = await self.db.fetchone(
            "SELECT * FROM jobs WHERE chat_id = ? AND status = ? "
            "AND (ask_message_id = ? OR status_message_id = ?) ORDER BY id DESC LIMIT 1",
            (chat_id, JobStatus.DRAFT.value, message_id, message_id),
        )
        return _row_to_job(row) if row else None

    async def recent_for_user(self, user_id: int, limit: int = 10) -> list[Job]:
        rows = await self.db.fetchall(
            "SELECT * FROM jobs WHERE user_id = ? AND status != ? ORDER BY id DESC LIMIT ?",
            (user_id, JobStatus.DRAFT.value, limit),
        )
        return [_row_to_job(r) for r in rows]

    async def history(self, job_id: int) -> list[tuple[str | None, str, float]]:
        rows = await self.db.fetchall(
            "SELECT from_status, to_status, at FROM job_transitions WHERE job_id = ? ORDER BY id",
            (job_id,),
        )
        return [(r[0], r[1], float(r[2])) for r in rows]


class _Rollback(Exception):
    """Raised inside a transaction to undo it and report an outcome."""

    def __init__(self, outcome: ReserveOutcome) -> None:
        super().__init__(outcome.value)
        self.outcome = outcome

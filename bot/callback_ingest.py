"""Cheap provider-callback ingest: what `/callbacks` needs beyond parsing the request.

A forged callback (wrong secret) or a duplicate of a genuine one must cost little more than
parsing it: no database round trip, no log line, no task. So:

- `KnownJobs` remembers, per job, what never changes once the task is submitted (the callback
  secret, the provider, the task id) in a bounded LRU; only a job seen for the first time (or
  not yet submitted) is read from the database.
- `Wakeups` coalesces wake-ups: at most one running per job, plus at most one more queued
  behind it (a callback may carry news the running query missed), started no sooner than
  `REWAKE_SPACING_S` after the previous one; any further duplicate is just counted.
- `RejectLog` writes at most one line a minute about refused callbacks, with the counts since
  the last line; the metric counts every one.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from bot.models import Job

log = logging.getLogger(__name__)

# `<job id>-<secret>`: ASCII digits only ('²'.isdigit() is True), no leading zero, at most 18
# digits so any id fits a signed 64-bit column; the secret is token_urlsafe's alphabet.
_TOKEN = re.compile(r"([1-9][0-9]{0,17})-([A-Za-z0-9_-]{16,128})")
REWAKE_SPACING_S = 1.0  # a flood of duplicates re-queries the provider at most once a second
KNOWN_JOBS_MAX = 50_000  # about 10 MB at most; a job's entry is a few short strings
REJECT_LOG_EVERY_S = 60.0


def parse_token(token: str) -> tuple[int, str] | None:
    """(job id, secret) from the last path segment of a callback URL; None when malformed."""
    match = _TOKEN.fullmatch(token)
    if match is None:
        return None
    return int(match.group(1)), match.group(2)


Spawn = Callable[[Coroutine[Any, Any, None], str], object]
Wake = Callable[[int], Coroutine[Any, Any, None]]
Load = Callable[[int], Coroutine[Any, Any, Job | None]]


@dataclass(frozen=True, slots=True)
class KnownJob:
    """What a callback is checked against; immutable once the job has a task."""

    secret: bytes
    provider: str | None
    task_id: str | None
    finished: bool

    @classmethod
    def of(cls, job: Job) -> KnownJob:
        return cls(job.callback_secret.encode(), job.provider, job.task_id, job.status.is_terminal)


class KnownJobs:
    """Bounded LRU of submitted jobs' callback facts (see the module doc)."""

    def __init__(self, load: Load, limit: int = KNOWN_JOBS_MAX) -> None:
        self.load = load
        self.limit = limit
        self._jobs: OrderedDict[int, KnownJob] = OrderedDict()
        self._loading: dict[int, asyncio.Future[Job | None]] = {}

    async def get(self, job_id: int) -> KnownJob | None:
        """The job's callback facts; None for an unknown job. A burst of callbacks for a job
        not seen yet shares one database read."""
        known = self._jobs.get(job_id)
        if known is not None:
            self._jobs.move_to_end(job_id)
            return known
        loading = self._loading.get(job_id)
        if loading is None:
            loading = asyncio.ensure_future(self.load(job_id))
            self._loading[job_id] = loading
            loading.add_done_callback(lambda _: self._loading.pop(job_id, None))
        job = await asyncio.shield(loading)
        return None if job is None else self.remember(job)

    def remember(self, job: Job) -> KnownJob:
        """A job read from the database; cached once its provider and task are fixed."""
        known = KnownJob.of(job)
        if job.task_id is None or job.provider is None:
            return known  # still being submitted (or failed over): read it again next time
        self._jobs[job.id] = known
        self._jobs.move_to_end(job.id)
        while len(self._jobs) > self.limit:
            self._jobs.popitem(last=False)
        return known

    def __len__(self) -> int:
        return len(self._jobs)


class Wakeups:
    """One wake-up task per job at most; duplicates while it runs queue one more run."""

    def __init__(self, wake: Wake, spawn: Spawn) -> None:
        self._wake = wake
        self._spawn = spawn
        self._running: set[int] = set()
        self._again: set[int] = set()

    def request(self, job_id: int) -> bool:
        """Ask for a wake-up; False when it merged into one already running or queued."""
        if job_id in self._running:
            self._again.add(job_id)
            return False
        self._running.add(job_id)
        self._spawn(self._run(job_id), f"callback-{job_id}")
        return True

    async def _run(self, job_id: int) -> None:
        try:
            while True:
                self._again.discard(job_id)
                started = time.monotonic()
                await self._wake(job_id)
                if job_id not in self._again:
                    return
                # Rate, not synchronisation: back-to-back duplicates must not turn into
                # back-to-back provider queries.
                await asyncio.sleep(REWAKE_SPACING_S - (time.monotonic() - started))
        finally:
            self._running.discard(job_id)
            self._again.discard(job_id)

    @property
    def pending(self) -> int:
        return len(self._running)


class RejectLog:
    """At most one log line per `every_s` about refused requests, with the counts since."""

    def __init__(
        self,
        what: str,
        every_s: float = REJECT_LOG_EVERY_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.what = what
        self.every_s = every_s
        self.clock = clock
        self._counts: Counter[str] = Counter()
        self._last: float | None = None

    def note(self, reason: str) -> None:
        self._counts[reason] += 1
        now = self.clock()
        if self._last is not None and now - self._last < self.every_s:
            return
        since = "" if self._last is None else f" in the last {now - self._last:.0f} s"
        summary = ", ".join(f"{reason}: {n}" for reason, n in sorted(self._counts.items()))
        log.warning("%s refused%s (%s)", self.what, since, summary)
        self._counts.clear()
        self._last = now

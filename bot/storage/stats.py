"""What `/stats` shows the operator: today and the last 7 days, in UTC, from the database alone.

Definitions (each period is [start, now]):
- "today" starts at the last UTC midnight; "7 days" at the UTC midnight six days before it, so it
  covers seven calendar days including today.
- jobs: paid jobs whose reservation (draft -> reserved) happened in the period, counted per model
  and per *current* state; drafts that were never generated are not jobs.
- failures: those jobs now failed or expired, per `jobs.error_kind` ("unknown" when not recorded).
- credits spent: net ledger movement of reserve and refund rows written in the period
  (a refund today of yesterday's job lowers today's figure); grants and allowances not counted.
- median time to video: reserved -> delivered, over jobs delivered in the period.

`in_flight_counts` is the live per-state count of unfinished jobs (for the metrics gauge).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from bot.models import ACTIVE_STATUSES, JobStatus
from bot.storage.db import Database

_FAILED = (JobStatus.FAILED.value, JobStatus.EXPIRED.value)

# First reservation time per job (a job is reserved once; MIN guards against a replayed row).
_RESERVED = (
    "SELECT job_id, MIN(at) AS at FROM job_transitions WHERE to_status = 'reserved' "
    "GROUP BY job_id"
)


@dataclass(frozen=True)
class PeriodStats:
    """The figures of one period."""

    start: float
    end: float
    jobs: dict[str, dict[str, int]] = field(default_factory=dict)  # model -> state -> count
    failures: dict[str, int] = field(default_factory=dict)  # error kind -> count
    credits_spent: int = 0
    delivered: int = 0
    median_time_to_video_s: float | None = None

    @property
    def total_jobs(self) -> int:
        return sum(sum(states.values()) for states in self.jobs.values())


@dataclass(frozen=True)
class Stats:
    now: float
    today: PeriodStats
    week: PeriodStats


def period_starts(now: float) -> tuple[float, float]:
    """(start of today, start of the 7-day window), both UTC midnights."""
    midnight = datetime.fromtimestamp(now, UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight.timestamp(), (midnight - timedelta(days=6)).timestamp()


async def stats(db: Database, now: float) -> Stats:
    today_start, week_start = period_starts(now)
    return Stats(
        now=now,
        today=await period_stats(db, today_start, now),
        week=await period_stats(db, week_start, now),
    )


async def period_stats(db: Database, start: float, end: float) -> PeriodStats:
    jobs: dict[str, dict[str, int]] = {}
    rows = await db.fetchall(
        f"SELECT j.model, j.status, COUNT(*) FROM jobs j JOIN ({_RESERVED}) r ON r.job_id = j.id "
        "WHERE r.at >= ? AND r.at <= ? GROUP BY j.model, j.status ORDER BY j.model, j.status",
        (start, end),
    )
    for model, status, count in rows:
        jobs.setdefault(str(model), {})[str(status)] = int(count)

    rows = await db.fetchall(
        "SELECT COALESCE(j.error_kind, 'unknown'), COUNT(*) FROM jobs j "
        f"JOIN ({_RESERVED}) r ON r.job_id = j.id "
        "WHERE r.at >= ? AND r.at <= ? AND j.status IN (?, ?) "
        "GROUP BY 1 ORDER BY 2 DESC, 1",
        (start, end, *_FAILED),
    )
    failures = {str(kind): int(count) for kind, count in rows}

    row = await db.fetchone(
        "SELECT COALESCE(-SUM(amount), 0) FROM ledger "
        "WHERE kind IN ('reserve', 'refund') AND created_at >= ? AND created_at <= ?",
        (start, end),
    )
    spent = int(row[0]) if row else 0

    rows = await db.fetchall(
        f"SELECT d.at - r.at FROM job_transitions d JOIN ({_RESERVED}) r ON r.job_id = d.job_id "
        "WHERE d.to_status = 'delivered' AND d.at >= ? AND d.at <= ?",
        (start, end),
    )
    durations = [float(r[0]) for r in rows]
    return PeriodStats(
        start=start,
        end=end,
        jobs=jobs,
        failures=failures,
        credits_spent=spent,
        delivered=len(durations),
        median_time_to_video_s=statistics.median(durations) if durations else None,
    )


async def in_flight_counts(db: Database) -> dict[str, int]:
    """Unfinished jobs per state, every active state present (0 when none)."""
    states = sorted(s.value for s in ACTIVE_STATUSES)
    rows = await db.fetchall(
        f"SELECT status, COUNT(*) FROM jobs WHERE status IN ({', '.join('?' * len(states))}) "
        "GROUP BY status",
        tuple(states),
    )
    counts = dict.fromkeys(states, 0)
    counts.update({str(status): int(n) for status, n in rows})
    return counts

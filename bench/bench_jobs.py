"""Jobs in flight: memory per waiting job, resume time after a restart, and the provider query
rate per waiting job once the callback grace has passed.

The bot runs as `python -m bot`. One real job is made through the fake Telegram; its row is the
template for N more waiting jobs written straight into the database (the fake evolink knows
their tasks, all still running), then the bot is restarted:

- memory per waiting job: resident memory a few seconds after start-up with N waiting jobs,
  minus the same with none, divided by N (baseline: the bot's own resident memory with none);
- resume: seconds from process start to a healthy server with N waiting jobs, as a ratio to the
  same start with none;
- queries per waiting job per second, in steady state (each job at the fallback poll interval,
  next polls spread evenly) over a window, and the busiest second against the provider budget.
"""

from __future__ import annotations

import asyncio
import os
import random
import secrets
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import (
    QUICK,
    Figure,
    bot_env,
    bot_process,
    fakes,
    generate,
    rss_bytes,
    save,
)

from bot.testing.providers._records import FakeTask

MANY = 500 if QUICK else int(os.environ.get("BENCH_MANY", "10000"))
STEADY = 50 if QUICK else 200
SETTLE_S = 2.0 if QUICK else 5.0
WINDOW_S = 5.0 if QUICK else 30.0
POLL_MAX_S = 30.0  # the production default; callback providers fall back to 2 x this
FALLBACK_S = 2 * POLL_MAX_S
PROVIDER_BUDGET = 5.0  # the scheduler's default per-provider rate (evolink documents none)


def add_waiting_jobs(db: Path, evolink: Any, count: int, spread_s: float) -> None:
    """`count` copies of the template job, submitted, next polls spread over `spread_s`."""
    now = time.time()
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        template = dict(conn.execute("SELECT * FROM jobs ORDER BY id LIMIT 1").fetchone())
        columns = [c for c in template if c != "id"]
        rows = []
        for i in range(count):
            task_id = f"bench-{secrets.token_hex(6)}-{i}"
            evolink.tasks[task_id] = FakeTask(
                task_id, "grok-imagine-image-to-video", {}, now, evolink.initial_status,
                updated=now,
            )  # fmt: skip
            row = template | {
                "status": "submitted", "task_id": task_id, "provider": "evolink",
                "callback_secret": secrets.token_urlsafe(24), "submitted_at": now,
                "deadline_at": now + 7200, "next_poll_at": now + random.uniform(0, spread_s),
                "poll_interval": FALLBACK_S, "status_message_id": None,
            }  # fmt: skip
            rows.append(tuple(row[c] for c in columns))
        marks = ", ".join("?" * len(columns))
        conn.executemany(f"INSERT INTO jobs ({', '.join(columns)}) VALUES ({marks})", rows)


async def restart(env: dict[str, str], workdir: Path, settle_s: float) -> tuple[float, int]:
    """(seconds to healthy, resident bytes after `settle_s`) of a fresh start."""
    start = time.monotonic()
    async with bot_process(env, workdir) as proc:
        ready = time.monotonic() - start
        await asyncio.sleep(settle_s)  # let recovery and the first scheduler ticks run
        return ready, rss_bytes(proc.pid)


def busiest_second(times: list[float]) -> int:
    times = sorted(times)
    best, left = 0, 0
    for right, t in enumerate(times):
        while t - times[left] >= 1.0:
            left += 1
        best = max(best, right - left + 1)
    return best


async def main() -> None:
    figures: list[Figure] = []
    extra: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        async with fakes() as (tg, evolink):
            env = bot_env(tg, evolink, workdir, CALLBACK_GRACE_S="20", POLL_MAX_S=str(POLL_MAX_S))
            db = Path(env["DATABASE_PATH"])
            async with bot_process(env, workdir):
                await generate(tg, 8000)
                await evolink.wait_task()
            ready_0, rss_0 = await restart(env, workdir, SETTLE_S)
            add_waiting_jobs(db, evolink, MANY, FALLBACK_S)
            ready_n, rss_n = await restart(env, workdir, SETTLE_S)
            per_job = (rss_n - rss_0) / MANY
            extra.update(ready_0=ready_0, ready_n=ready_n, rss_0=rss_0, rss_n=rss_n)
            figures.append(
                Figure("jobs", f"memory per waiting job, {MANY} jobs", per_job / 1024, "KiB",
                       rss_0 / 1024, "the bot's resident memory with no waiting job",
                       "<= 20 KiB per job", per_job <= 20 * 1024)
            )  # fmt: skip
            figures.append(
                Figure("jobs", f"resume after restart, {MANY} waiting jobs", ready_n, "s",
                       ready_0, "the same start with no waiting job", "<= 10 s",
                       ready_n <= 10.0)
            )  # fmt: skip
            # Steady state: a fresh database with STEADY waiting jobs at the fallback interval.
            with sqlite3.connect(db) as conn:
                conn.execute("DELETE FROM jobs WHERE task_id LIKE 'bench-%'")
            add_waiting_jobs(db, evolink, STEADY, FALLBACK_S)
            async with bot_process(env, workdir):
                first = len(evolink.requests)
                await asyncio.sleep(WINDOW_S)  # the measurement window itself
                queries = [r.time for r in evolink.requests[first:] if r.route == "query"]
            rate = len(queries) / STEADY / WINDOW_S
            extra.update(steady_queries=len(queries), window_s=WINDOW_S)
            figures.append(
                Figure("jobs", f"queries per waiting job per second, {STEADY} jobs", rate, "/s",
                       1 / POLL_MAX_S, "one query per POLL_MAX_S (the old steady state)",
                       "<= 0.02/s", rate <= 0.02)
            )  # fmt: skip
            peak = busiest_second(queries)
            figures.append(
                Figure("jobs", "busiest second of queries at the provider", peak, "queries",
                       PROVIDER_BUDGET, "the provider's request budget per second",
                       "never above the budget (+1 s burst)", peak <= 2 * PROVIDER_BUDGET)
            )  # fmt: skip
    save("jobs", figures, extra)


if __name__ == "__main__":
    asyncio.run(main())

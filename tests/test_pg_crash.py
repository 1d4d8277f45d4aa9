"""The crash test's kill points on PostgreSQL (issue 17): one `python -m bot` process, SIGKILLed
at every point of a job's life and restarted, with DATABASE_URL instead of the SQLite file.

On PostgreSQL a restarted process is a new replica: it takes the dead one's unfinished jobs over
once their lease runs out (REPLICA_LEASE_S, 1 s here), rather than at once at start-up as on
SQLite. The audit is the same: nothing lost, nothing delivered or charged twice.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.testing.bot_api import FakeBotApi
from bot.testing.providers.evolink import EvolinkFake
from tests.crash_harness import CrashRun, log_lines_for
from tests.pg_server import PgServer, drop_database, fresh_database
from tests.test_crash import SCENARIOS


@pytest.fixture(name="url")
async def _url(pg_server: PgServer) -> AsyncIterator[str]:
    url = await fresh_database(pg_server)
    yield url
    await drop_database(pg_server, url)


@pytest.mark.parametrize("scenario", list(SCENARIOS))
async def test_killed_anywhere_on_postgresql_nothing_is_lost_or_charged_twice(
    scenario: str,
    tg: FakeBotApi,
    evolink: EvolinkFake,
    env: dict[str, str],
    tmp_path: Path,
    url: str,
) -> None:
    evolink.duplicate_callbacks = 2
    crash_env = {
        **env,
        "DATABASE_URL": url,
        "REPLICA_LEASE_S": "1",
        "CALLBACK_GRACE_S": "0.3",
        "POLL_INITIAL_S": "0.05",
        "POLL_MAX_S": "0.2",
        "DAILY_QUOTA": "5",
        "LOG_LEVEL": "INFO",
    }
    run = CrashRun(tg, evolink, crash_env, tmp_path)
    audit = await run.run(SCENARIOS[scenario])
    print(f"\n[crash test on PostgreSQL: {scenario}]\n{audit.table()}")
    if audit.violations:
        jobs = {int(j) for v in audit.violations for j in re.findall(r"\bjob (\d+)", v)}
        print(f"bot log about jobs {sorted(jobs)}:\n{log_lines_for(run.log, jobs)}")
    assert not audit.violations, audit.report()
    assert audit.numbers["kills"] == len(SCENARIOS[scenario])

"""Throughput of one vs three `python -m bot` replicas on one PostgreSQL (not part of the tests).

Starts its own PostgreSQL (as the tests do), the fake Telegram, the fake evolink (tasks finish
by themselves after --task-s) and a round-robin balancer, then for each replica count: users
send photos and press Generate, and the clock runs until every job is delivered. Replicas are
for availability, not speed: this shows what they cost or gain against the fakes on this machine.

Usage:
    python bench/bench_replicas.py                     # 60 jobs, 1 and 3 replicas
    python bench/bench_replicas.py --jobs 120 --replicas 1 2 3
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.testing.bot_api import FakeBotApi
from bot.testing.providers.evolink import EvolinkFake
from tests.conftest import TOKEN, free_port
from tests.pg_balancer import Balancer
from tests.pg_server import PgServer, _bin_dir, _LocalCluster, drop_database, fresh_database
from tests.test_pg_replicas_e2e import Cluster, one_job


async def run_once(server: PgServer, replicas: int, jobs: int, task_s: float) -> float:
    url = await fresh_database(server)
    tg = FakeBotApi(TOKEN, local_mode=True)  # plain http:// webhooks on 127.0.0.1
    tg.flood = None  # replicas do not share one pace yet (known work): measure throughput
    evolink = EvolinkFake(
        time_scale=0.01, auto_complete=True, auto_delay=task_s, loopback_callbacks=True
    )
    await tg.start()
    await evolink.start()
    ports = [free_port() for _ in range(replicas)]
    balancer = Balancer([f"http://127.0.0.1:{p}" for p in ports])
    await balancer.start()
    with tempfile.TemporaryDirectory() as folder:
        env = {
            "TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_BASE_URL": tg.base_url,
            "EVOLINK_API_KEY": evolink.api_key, "EVOLINK_BASE_URL": evolink.base_url,
            "ALLOW_PRIVATE_URLS": "true", "HTTP_HOST": "127.0.0.1", "DATABASE_URL": url,
            "PUBLIC_BASE_URL": balancer.base_url, "MEDIA_DIR": f"{folder}/media",
            "TELEGRAM_WEBHOOK_URL": f"{balancer.base_url}/telegram/webhook",
            "TELEGRAM_WEBHOOK_SECRET": "bench-secret", "TELEGRAM_LOCAL_MODE": "true",
            "DAILY_QUOTA": "1000", "MAX_ACTIVE_JOBS_PER_USER": "100",
            "CALLBACK_GRACE_S": "5", "STATUS_EDIT_INTERVAL_S": "0.05", "LOG_LEVEL": "WARNING",
        }  # fmt: skip
        cluster = Cluster(env, ports, tg, Path(folder))
        try:
            for index in range(replicas):
                await cluster.start(index)
            users = [6000 + i for i in range(20)]
            per_user = jobs // len(users)
            started = time.monotonic()

            async def user(uid: int) -> None:
                for n in range(per_user):
                    await one_job(tg, uid, n, [])

            await asyncio.gather(*(user(u) for u in users))
            expected = per_user * len(users)
            await tg.wait_until(
                lambda: sum(c.status == 200 for c in tg.calls_of("sendVideo")) >= expected,
                timeout=600,
            )
            elapsed = time.monotonic() - started
        finally:
            await cluster.stop()
            await balancer.stop()
            await evolink.stop()
            await tg.stop()
    await drop_database(server, url)
    return expected / elapsed


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=60)
    parser.add_argument("--replicas", type=int, nargs="+", default=[1, 3])
    parser.add_argument("--task-s", type=float, default=0.4, help="the fake task's duration")
    args = parser.parse_args()
    bin_dir = _bin_dir()
    if bin_dir is None:
        raise SystemExit("PostgreSQL binaries not found (apt-get install postgresql)")
    pg = _LocalCluster(bin_dir)
    try:
        server = PgServer(pg.start())
        for replicas in args.replicas:
            rate = await run_once(server, replicas, args.jobs, args.task_s)
            print(f"{replicas} replica(s): {rate:.1f} jobs/s delivered ({args.jobs} jobs)")
    finally:
        pg.stop()


if __name__ == "__main__":
    asyncio.run(main())

"""Callback ingest: CPU per forged and per duplicate callback, and callback latency, each as a
ratio to a bare aiohttp handler that answers 200 (its own process, measured in the same run).

The bot runs as `python -m bot` with one job waiting at the fake evolink (the callback grace is
long, so nothing but callbacks wakes it). CPU is the server process's user + system time over
many requests (/proc/<pid>/stat), so the load generator here does not count.

- forged: the job's real id with a wrong secret (answered 404);
- duplicate: the genuine callback URL and body, for a task still running (each one a candidate
  wake-up: the bot re-queries the provider, duplicates coalesce);
- p99 latency with 32 callbacks in flight (closed loop), and at a fixed 1,000 callbacks/s
  (open loop, latency counted from each request's scheduled time).
"""

from __future__ import annotations

import asyncio
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import (
    QUICK,
    Figure,
    bot_env,
    bot_process,
    cpu_seconds,
    fakes,
    free_port,
    generate,
    percentile,
    save,
    wait_healthy,
)

N_CPU = 600 if QUICK else 4000
N_LATENCY = 300 if QUICK else 4000
OPEN_RATE = 200 if QUICK else 1000
OPEN_SECONDS = 1.0 if QUICK else 4.0


async def cpu_per_request(pid: int, url: str, body: bytes, n: int) -> tuple[float, list[int]]:
    """Server CPU seconds per request over `n` requests, 8 in flight; and the statuses seen."""
    statuses: list[int] = []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=8)) as session:

        async def worker(count: int) -> None:
            for _ in range(count):
                async with session.post(url, data=body, headers=JSON) as answer:
                    await answer.read()
                    statuses.append(answer.status)

        await asyncio.gather(*(worker(50) for _ in range(8)))  # warm-up: connections, caches
        statuses.clear()
        before = cpu_seconds(pid)
        await asyncio.gather(*(worker(n // 8) for _ in range(8)))
        used = cpu_seconds(pid) - before
    return used / len(statuses), statuses


async def closed_loop_p99(url: str, body: bytes, n: int, in_flight: int = 32) -> float:
    latencies: list[float] = []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=in_flight)) as session:

        async def worker(count: int) -> None:
            for _ in range(count):
                start = time.perf_counter()
                async with session.post(url, data=body, headers=JSON) as answer:
                    await answer.read()
                latencies.append(time.perf_counter() - start)

        await asyncio.gather(*(worker(n // in_flight) for _ in range(in_flight)))
    return percentile(latencies, 0.99)


async def open_loop_p99(url: str, body: bytes, rate: float, seconds: float) -> float:
    latencies: list[float] = []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=256)) as session:

        async def one(at: float) -> None:
            await asyncio.sleep(max(0.0, at - time.perf_counter()))
            async with session.post(url, data=body, headers=JSON) as answer:
                await answer.read()
            latencies.append(time.perf_counter() - at)

        start = time.perf_counter() + 0.2
        count = int(rate * seconds)
        await asyncio.gather(*(one(start + i / rate) for i in range(count)))
    return percentile(latencies, 0.99)


JSON = {"Content-Type": "application/json"}


async def waiting_job(db: Path) -> tuple[int, str, str]:
    while True:
        try:
            with sqlite3.connect(db) as conn:
                row = conn.execute(
                    "SELECT id, callback_secret, task_id FROM jobs WHERE task_id IS NOT NULL"
                ).fetchone()
        except sqlite3.Error:
            row = None
        if row:
            return int(row[0]), str(row[1]), str(row[2])
        await asyncio.sleep(0.05)  # polling another process's database: no signal to wait on


async def main() -> None:
    figures: list[Figure] = []
    extra: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        bare_port = free_port()
        bare = await asyncio.create_subprocess_exec(
            sys.executable, str(Path(__file__).with_name("bare_server.py")), str(bare_port)
        )
        try:
            await wait_healthy(bare_port, bare)
            async with fakes() as (tg, evolink):
                env = bot_env(tg, evolink, workdir)
                async with bot_process(env, workdir) as proc:
                    await generate(tg, 7000)
                    job_id, secret, task_id = await waiting_job(Path(env["DATABASE_PATH"]))
                    base = f"http://127.0.0.1:{env['HTTP_PORT']}/callbacks/evolink"
                    bare_url = f"http://127.0.0.1:{bare_port}/callbacks/evolink/{job_id}-{secret}"
                    body = f'{{"id": "{task_id}", "status": "processing"}}'.encode()
                    forged_url = f"{base}/{job_id}-{'A' * len(secret)}"
                    genuine_url = f"{base}/{job_id}-{secret}"
                    bare_cpu, _ = await cpu_per_request(bare.pid, bare_url, body, N_CPU)
                    forged_cpu, f_status = await cpu_per_request(proc.pid, forged_url, body, N_CPU)
                    dup_cpu, d_status = await cpu_per_request(proc.pid, genuine_url, body, N_CPU)
                    assert set(f_status) == {404} and set(d_status) == {200}, (
                        f_status[:3],
                        d_status[:3],
                    )
                    bare_p99 = await closed_loop_p99(bare_url, body, N_LATENCY)
                    bot_p99 = await closed_loop_p99(genuine_url, body, N_LATENCY)
                    bare_open = await open_loop_p99(bare_url, body, OPEN_RATE, OPEN_SECONDS)
                    bot_open = await open_loop_p99(genuine_url, body, OPEN_RATE, OPEN_SECONDS)
                    extra["provider_queries"] = len(evolink.requests_to("query"))
                    extra["callbacks_sent"] = 2 * N_CPU + 2 * N_LATENCY + OPEN_RATE * OPEN_SECONDS
        finally:
            bare.terminate()
            await bare.wait()
    figures += [
        Figure("callbacks", "CPU per forged callback (wrong secret, 404)", forged_cpu * 1e6, "us",
               bare_cpu * 1e6, "bare aiohttp handler answering 200", "<= 1.5x",
               forged_cpu / bare_cpu <= 1.5),
        Figure("callbacks", "CPU per duplicate genuine callback", dup_cpu * 1e6, "us",
               bare_cpu * 1e6, "bare aiohttp handler answering 200", "<= 3x",
               dup_cpu / bare_cpu <= 3.0),
        Figure("callbacks", "p99 latency, 32 callbacks in flight", bot_p99 * 1e3, "ms",
               bare_p99 * 1e3, "bare handler, same load", "<= 2x", bot_p99 / bare_p99 <= 2.0),
        Figure("callbacks", f"p99 latency at {OPEN_RATE} callbacks/s", bot_open * 1e3, "ms",
               bare_open * 1e3, "bare handler, same load", "<= 10 ms", bot_open * 1e3 <= 10.0),
    ]  # fmt: skip
    save("callbacks", figures, extra)


if __name__ == "__main__":
    asyncio.run(main())

"""Delivery: completion callback -> Telegram has the whole sendVideo, and memory per delivery.

The bot runs as `python -m bot` (its own process, so its memory is its own); the fake evolink and
the fake Bot API run here. Two figures:

- time from `succeed()` (the fake fires the completion callback) until the fake Bot API has
  received and answered the whole sendVideo, for a 20 MiB video with sound, as a ratio to a plain
  httpx download of the same URL plus a multipart upload of the same bytes to the same fake
  (measured in the same run, median of the repeats);
- the bot process's peak resident memory growth while k deliveries run at once (`VmHWM`, reset
  through /proc/<pid>/clear_refs before the burst), per delivery, as a fraction of the video size.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import (
    MB,
    QUICK,
    TOKEN,
    Figure,
    bot_env,
    bot_process,
    fakes,
    generate,
    median,
    rss_bytes,
    save,
    video_with_sound,
)

SIZE = (4 if QUICK else 20) * MB
REPEATS = 1 if QUICK else int(os.environ.get("BENCH_REPEATS", "3"))
CONCURRENT = (
    [2] if QUICK else [int(k) for k in os.environ.get("BENCH_CONCURRENT", "5,20").split(",") if k]
)


def peak_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def reset_peak(pid: int) -> bool:
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False


async def baseline_once(tg, evolink, url: str, chat_id: int) -> float:  # type: ignore[no-untyped-def]
    """A plain download of the result into memory, then a multipart sendVideo of the bytes."""
    async with httpx.AsyncClient(timeout=120) as client:
        start = time.perf_counter()
        data = (await client.get(url)).content
        answer = await client.post(
            f"{tg.base_url}/bot{TOKEN}/sendVideo",
            data={"chat_id": str(chat_id)},
            files={"video": ("video.mp4", data, "video/mp4")},
        )
        elapsed = time.perf_counter() - start
    assert answer.status_code == 200, answer.text[:200]
    return elapsed


async def one_delivery(tg, evolink, user: int, video: bytes) -> float:  # type: ignore[no-untyped-def]
    before = len(tg.calls_of("sendVideo"))
    known = set(evolink.tasks)
    await generate(tg, user)
    await tg.wait_until(lambda: set(evolink.tasks) - known, timeout=60)
    (task_id,) = set(evolink.tasks) - known
    start = time.perf_counter()
    evolink.succeed(task_id, video=video)
    await tg.wait_until(lambda: len(tg.calls_of("sendVideo")) > before, timeout=120)
    return time.perf_counter() - start


async def main() -> None:
    video = video_with_sound(SIZE)
    figures: list[Figure] = []
    extra: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        async with fakes() as (tg, evolink):
            env = bot_env(tg, evolink, workdir, MAX_ACTIVE_JOBS_PER_USER="2")
            async with bot_process(env, workdir) as proc:
                user = 5000
                await one_delivery(tg, evolink, user, video)  # warm-up: imports, codecs
                url = evolink.result_url(next(iter(evolink.tasks)))
                bot_times, base_times = [], []
                for _ in range(REPEATS):
                    user += 1
                    base_times.append(await baseline_once(tg, evolink, url, 5000))
                    bot_times.append(await one_delivery(tg, evolink, user, video))
                extra["bot_s"], extra["baseline_s"] = bot_times, base_times
                # Best of the repeats on both sides: on a shared machine the minimum is the
                # reading least disturbed by other load; the medians are kept in the JSON.
                extra["median_ratio"] = median(bot_times) / median(base_times)
                figures.append(
                    Figure(
                        "delivery", f"callback -> whole sendVideo, {SIZE // MB} MiB with sound",
                        min(bot_times), "s", min(base_times),
                        "plain httpx download + multipart upload, same bytes", "<= 1.10x",
                        min(bot_times) / min(base_times) <= 1.10,
                        f"best of {REPEATS}; median ratio {extra['median_ratio']:.2f}x",
                    )
                )  # fmt: skip
                for k in CONCURRENT:
                    users = [user + 1 + i for i in range(k)]
                    user += k
                    known = set(evolink.tasks)
                    before = len(tg.calls_of("sendVideo"))
                    await asyncio.gather(*(generate(tg, u) for u in users))
                    await tg.wait_until(
                        lambda: len(set(evolink.tasks) - known) == k,  # noqa: B023
                        timeout=120,
                    )
                    await asyncio.sleep(1.0)  # let the status edits settle before the baseline
                    rss_before = rss_bytes(proc.pid)
                    resettable = reset_peak(proc.pid)
                    for task_id in set(evolink.tasks) - known:
                        evolink.succeed(task_id, video=video)
                    await tg.wait_until(
                        lambda: len(tg.calls_of("sendVideo")) >= before + k,  # noqa: B023
                        timeout=300,
                    )
                    growth = max(0, peak_rss(proc.pid) - rss_before)
                    per = growth / k / SIZE
                    extra[f"rss_before_{k}"], extra[f"growth_{k}"] = rss_before, growth
                    figures.append(
                        Figure(
                            "delivery", f"peak memory growth per delivery, {k} at once",
                            per, "x video size", 1.0, "the video's size", "<= 0.25x (20 at once)",
                            per <= 0.25,
                            "" if resettable else "VmHWM could not be reset: includes start-up",
                        )
                    )  # fmt: skip
    save("delivery", figures, extra)


if __name__ == "__main__":
    asyncio.run(main())

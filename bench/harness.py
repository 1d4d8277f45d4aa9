"""What every benchmark shares: the project's fakes on 127.0.0.1, the bot in this process or as
`python -m bot`, process CPU and memory readings, results and charts.

`BENCH_QUICK=1` makes every benchmark small (CI runs it only to prove the suite still runs).
`BENCH_BOT_ROOT=/path/to/an/older/checkout` runs the bot of another checkout against the same
harness (how the "before" numbers in RESULTS.md were taken).
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import socket
import sqlite3
import statistics
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = Path(os.environ.get("BENCH_BOT_ROOT") or HERE.parent).resolve()
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
if str(HERE.parent) not in sys.path:
    sys.path.insert(1, str(HERE.parent))

from bot.testing.bot_api import FakeBotApi  # noqa: E402
from bot.testing.providers.evolink import EvolinkFake  # noqa: E402
from bot.testing.sample_media import make_sample_mp4  # noqa: E402

QUICK = os.environ.get("BENCH_QUICK", "") not in ("", "0", "false")
TOKEN = "123456789:BENCHtokenNotReal_0123456789abcdefXYZ"
RESULTS_JSON = HERE / "results"
MB = 1024 * 1024


@dataclass
class Figure:
    """One row of RESULTS.md: a measured value, its same-run baseline and their ratio."""

    bench: str
    figure: str
    value: float
    unit: str
    baseline: float | None
    baseline_what: str
    target: str
    met: bool | None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.baseline in (None, 0):
            return None
        assert self.baseline is not None
        return self.value / self.baseline


def save(bench: str, figures: list[Figure], extra: dict[str, Any] | None = None) -> None:
    """Write one benchmark's figures as JSON (RESULTS.md is rendered from these)."""
    RESULTS_JSON.mkdir(exist_ok=True)
    data = {
        "bench": bench,
        "quick": QUICK,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": machine(),
        "figures": [asdict(f) | {"ratio": f.ratio} for f in figures],
        "extra": extra or {},
    }
    (RESULTS_JSON / f"{bench}.json").write_text(json.dumps(data, indent=2))
    for f in figures:
        ratio = f"{f.ratio:.2f}x" if f.ratio is not None else "-"
        print(f"  {f.figure}: {f.value:.4g} {f.unit} (baseline {f.baseline}) ratio {ratio}")


def machine() -> str:
    cpus = os.cpu_count() or 0
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    return (
        f"{platform.machine()}, {cpus} CPUs, load {load:.1f}, Python {platform.python_version()}"
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def median(values: list[float]) -> float:
    return statistics.median(values)


def video_with_sound(size: int) -> bytes:
    """A real MP4 with an audio track, padded with one trailing `free` box up to `size` bytes."""
    head = make_sample_mp4(2.0, 320, 240, with_audio=True)
    pad = size - len(head)
    return head + pad.to_bytes(4, "big") + b"free" + bytes(pad - 8) if pad >= 8 else head


@asynccontextmanager
async def fakes() -> AsyncIterator[tuple[FakeBotApi, EvolinkFake]]:
    # local_mode: the benchmarks' webhooks are plain http:// on 127.0.0.1, which only a local Bot
    # API server delivers to; loopback_callbacks: the fake calls the bot back on 127.0.0.1.
    tg = FakeBotApi(TOKEN, local_mode=True)
    evolink = EvolinkFake(time_scale=0.01, loopback_callbacks=True)
    await tg.start()
    await evolink.start()
    try:
        yield tg, evolink
    finally:
        await evolink.stop()
        await tg.stop()


def bot_env(tg: FakeBotApi, evolink: EvolinkFake, workdir: Path, **extra: str) -> dict[str, str]:
    port = free_port()
    return {
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_BASE_URL": tg.base_url,
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "HTTP_HOST": "127.0.0.1",
        "HTTP_PORT": str(port),
        "DATABASE_PATH": str(workdir / "data" / "bot.db"),
        "EVOLINK_API_KEY": evolink.api_key,
        "EVOLINK_BASE_URL": evolink.base_url,
        "ALLOW_PRIVATE_URLS": "true",
        "DAILY_QUOTA": "5",
        "CALLBACK_GRACE_S": "600",
        "STATUS_EDIT_INTERVAL_S": "5",
        "LOG_LEVEL": "WARNING",
        **extra,
    }


@asynccontextmanager
async def bot_in_process(env: dict[str, str]) -> AsyncIterator[Any]:
    from bot.config import load_settings
    from bot.runtime import BotRuntime

    runtime = BotRuntime(load_settings(env, env_file=None))
    await runtime.start()
    try:
        yield runtime
    finally:
        await runtime.stop()


@asynccontextmanager
async def bot_process(
    env: dict[str, str], workdir: Path
) -> AsyncIterator[asyncio.subprocess.Process]:
    """`python -m bot` with `env`; yields once /healthz answers."""
    log = (workdir / "bot.log").open("ab")
    command = ["-m", "bot"]
    profile = os.environ.get("BENCH_PROFILE")
    if profile:  # the bot under pyinstrument: the text profile lands in bench/profiles/
        out = HERE / "profiles" / f"{profile}.txt"
        out.parent.mkdir(exist_ok=True)
        command = ["-m", "pyinstrument", "-r", "text", "--show-all", "-o", str(out), *command]
    proc = await asyncio.create_subprocess_exec(
        sys.executable, *command, cwd=workdir, stdout=log, stderr=log,
        env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT), **env},
    )  # fmt: skip
    try:
        await wait_healthy(int(env["HTTP_PORT"]), proc)
        yield proc
    finally:
        if proc.returncode is None:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), 20)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        log.close()


async def wait_healthy(port: int, proc: asyncio.subprocess.Process, limit_s: float = 300) -> float:
    """Seconds until /healthz answers 200 (polling a port is the only signal a process gives)."""
    import httpx

    start = time.monotonic()
    async with httpx.AsyncClient() as client:
        while time.monotonic() - start < limit_s:
            if proc.returncode is not None:
                raise RuntimeError(f"the bot exited with {proc.returncode}")
            try:
                if (await client.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200:
                    return time.monotonic() - start
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.05)
    raise TimeoutError("the bot never became healthy")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


async def generate(tg: FakeBotApi, user: int, caption: str = "waves") -> None:
    """A user sends a photo and presses Generate on the options message (as the tests do)."""
    from tests.e2e_helpers import options_message_id, press, send_photo_and_get_options

    _photo, options = await send_photo_and_get_options(tg, user, caption)
    await press(tg, user, user, options_message_id(tg, user, options), "Generate")


def job_rows(db_path: Path) -> list[dict[str, Any]]:
    with sqlite3.connect(db_path) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute("SELECT * FROM jobs ORDER BY id")]

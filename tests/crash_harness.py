"""The crash test's machinery: bot lives under kill plans, simulated users, and the audit.

A `CrashRun` runs the real `python -m bot` as a subprocess against the fake Bot API and the fake
evolink (both in the test process), one process ("life") per `Plan`. A plan sets
`P2V_CRASH_AT="<point>:<n>"` (see `bot/faults.py`), so the life SIGKILLs itself the n-th time it
reaches that point. Each plan also brings a batch of new users, one photo and one job each, with a
fate (succeed, fail, cancel, double-press Generate). When a life dies the next one starts on the
same database with the next plan; it recovers what the dead one left and takes its own batch. A
last life without a plan finishes everything, answers /balance for every user and is stopped with
SIGTERM. Then `audit()` checks the invariants on the database, the ledger and what the fakes saw.

The simulated users behave like people: they wait for the bot's messages, press the buttons it
shows, and press again (or resend the photo) only when their update demonstrably died with a
process (Telegram had handed it over, the process never answered). Every wait is on the fakes'
change signals, never on sleeps.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sqlite3
import sys
import time
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, NamedTuple

import asyncpg

from bot.testing.bot_api import FakeBotApi, UploadedFile
from bot.testing.providers.evolink import EvolinkFake
from bot.testing.sample_media import make_sample_photo
from tests.pg_sync import SyncPg

ROOT = Path(__file__).resolve().parents[1]
ACTIVE = frozenset({"reserved", "submitting", "submitted", "downloading", "sending"})
TERMINAL = frozenset({"delivered", "failed", "cancelled", "expired"})
MAX_TRIES = 50  # a safety net: each retry needs a process that died holding the update
_CALLBACK_JOB = re.compile(r"/callbacks/evolink/(\d+)-")
_FAILURE_TEXT = re.compile(r"Failed:|Took too long")
_BALANCE = re.compile(r"Today: (-?\d+) of \d+.*Gift credits: (-?\d+).*now: (-?\d+)", re.DOTALL)

Json = dict[str, Any]


class Fate(StrEnum):
    """What happens to a user's job (the test plays the provider and the user)."""

    SUCCEED = "succeed"  # the task completes; its callback arrives three times
    FAIL = "fail"  # the task fails at the provider
    CANCEL = "cancel"  # the user presses Cancel once the task exists; the task completes late
    DOUBLE = "double"  # Generate pressed twice in a row, then the task completes


S, F, C, D = Fate.SUCCEED, Fate.FAIL, Fate.CANCEL, Fate.DOUBLE
MIXED = (S, F, C, D)


@dataclass(frozen=True)
class Plan:
    """Kill the life the `n`-th time it reaches `point`; `fates` is the batch it starts with."""

    point: str
    n: int = 1
    fates: tuple[Fate, ...] = MIXED

    @property
    def spec(self) -> str:
        return f"{self.point}:{self.n}"


class Stage(StrEnum):
    NEW = "new"  # photo not sent yet
    OPTIONS = "options"  # photo sent, waiting for the options message
    GENERATE = "generate"  # Generate pressed, waiting for the answer or the reservation
    RUN = "run"  # the job is paid for; waiting for its task
    CANCEL = "cancel"  # Cancel pressed
    END = "end"  # waiting for a terminal state the user was told about
    DONE = "done"


@dataclass
class Sim:
    """One simulated user: one photo (resent only if lost), one job."""

    user: int
    fate: Fate
    plan: int
    stage: Stage = Stage.NEW
    photo_id: int = 0
    photos: int = 0
    presses: int = 0
    job_id: int | None = None
    status_msg: int | None = None
    queries: list[str] = field(default_factory=list)  # callback query ids of the last press
    updates: list[int] = field(default_factory=list)  # update ids of the last action
    action_life: int = 0  # the life that was (or was about to be) alive at the last action
    task_done: bool = False  # the test completed the job's provider task


@dataclass
class Life:
    """One bot process and what it left behind when it died."""

    index: int
    plan: Plan | None
    proc: asyncio.subprocess.Process
    crash_lines_before: int
    started: float
    dead: bool = False
    stopped: bool = False  # we sent SIGTERM (its plan never fired, or the final life)
    returncode: int | None = None
    killed_at_plan: bool = False
    ended: float = 0.0
    at_death: dict[int, str] = field(default_factory=dict)  # active job id -> status
    pending_at_death: frozenset[int] = frozenset()  # update ids Telegram still held
    creates_at_death: Counter[int] = field(default_factory=Counter)  # job id -> creates


class JobRow(NamedTuple):
    id: int
    user_id: int
    status: str
    error_kind: str | None
    price: int
    photo_message_id: int
    status_message_id: int | None


@dataclass
class Audit:
    """The invariants' verdict, the numbers, and a table of every life."""

    violations: list[str]
    rows: list[tuple[str, ...]]
    numbers: dict[str, int | float]
    notes: list[str]

    def table(self) -> str:
        head = ("life", "plan", "outcome", "jobs caught (status at death -> final)", "dupes")
        widths = [max(len(r[i]) for r in (head, *self.rows)) for i in range(len(head))]
        lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in (head,)]
        lines.append("  ".join("-" * w for w in widths))
        lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in self.rows]
        lines.append("numbers: " + ", ".join(f"{k}={v}" for k, v in self.numbers.items()))
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)

    def report(self) -> str:
        return "\n".join(["invariants violated:", *self.violations, "", self.table()])


class CrashRun:
    """Runs plans against the real bot process and keeps what is needed for the audit."""

    def __init__(
        self,
        tg: FakeBotApi,
        evolink: EvolinkFake,
        env: dict[str, str],
        workdir: Path,
        *,
        first_user: int = 5000,
        stall_timeout: float = 60.0,
        settle_timeout: float = 20.0,
        users_retry: bool = True,
    ) -> None:
        # users_retry=False: nobody sends a photo or presses again after a crash, so every
        # update that died with a process must be handled from the bot's own record of it.
        self.users_retry = users_retry
        self.tg = tg
        self.evolink = evolink
        self.env = {k: v for k, v in env.items() if k != "P2V_CRASH_AT"}
        self.workdir = workdir
        self.log = workdir / "bot.log"
        self.db_path = Path(env["DATABASE_PATH"])
        self.db_url = env.get("DATABASE_URL")  # set: the bot runs on PostgreSQL (issue 17)
        self.daily_quota = int(env.get("DAILY_QUOTA", "5"))
        self.stall_timeout = stall_timeout
        self.settle_timeout = settle_timeout
        self.lives: list[Life] = []
        self.sims: list[Sim] = []
        self.balances: dict[int, tuple[int, int, int]] = {}
        self.unsettled: list[str] = []
        self.wall_s = 0.0
        self._next_user = first_user
        self._photo = make_sample_photo(640, 480)
        self._videos: Counter[int] = Counter()  # chat id -> sendVideo calls Telegram accepted
        self._video_times: dict[int, list[float]] = {}  # chat id -> when Telegram accepted them
        self._calls_seen = 0
        self._tasks_seen = 0
        self._tasks_by_job: dict[int, list[str]] = {}
        self._db: sqlite3.Connection | SyncPg | None = None
        self._jobs: dict[int, JobRow] = {}
        self.quiet_spells = 0
        self._finished = False
        self._driver: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[Any]] = set()

    # ---- the run ------------------------------------------------------------------------------
    async def run(self, plans: Sequence[Plan]) -> Audit:
        started = time.monotonic()
        self._driver = asyncio.create_task(self._drive())
        self._spawn(self._bridge())
        try:
            await self._supervise(plans)
        finally:
            self._finished = True
            self.tg.signal.fire()
            for life in self.lives:
                if life.proc.returncode is None:
                    life.proc.kill()
                    await life.proc.wait()
            for task in (self._driver, *self._background):
                task.cancel()
            await asyncio.gather(self._driver, *self._background, return_exceptions=True)
            self.wall_s = time.monotonic() - started
        try:
            return self.audit()
        finally:
            if isinstance(self._db, SyncPg):
                self._db.close()
                self._db = None

    async def _supervise(self, plans: Sequence[Plan]) -> None:
        for index, plan in enumerate(plans):
            await self._live(index, plan)
        final = await self._start(None)
        try:
            await self._until(self._settled, "the final life", limit=self.settle_timeout)
        except TimeoutError:
            self.unsettled = [self._describe(s) for s in self.sims if s.stage is not Stage.DONE]
        await self._ask_balances()
        await self._stop(final)

    async def _live(self, index: int, plan: Plan) -> None:
        """One life: start it with its plan and its batch, until it dies or all is over."""
        life = await self._start(plan)
        self._launch(index, plan)
        await self._until(lambda: life.dead or self._all_terminal(), f"plan {plan.spec}")
        if not life.dead:  # every job is over and the plan never fired
            with contextlib.suppress(TimeoutError):
                await self._until(
                    lambda: life.dead or self._settled(), "users told", limit=self.settle_timeout
                )
        if not life.dead:
            await self._stop(life)

    async def _start(self, plan: Plan | None) -> Life:
        index = len(self.lives)
        env = {**self.env, **({"P2V_CRASH_AT": plan.spec} if plan else {})}
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        banner = f"===== life {index}: P2V_CRASH_AT={plan.spec if plan else ''}"
        proc = await spawn_bot(env, self.workdir, self.log, banner)
        life = Life(index, plan, proc, text.count("crash point "), time.monotonic())
        self.lives.append(life)
        self._spawn(self._reap(life))
        self.tg.signal.fire()
        return life

    async def _reap(self, life: Life) -> None:
        """Wait for the process to end and record what it left (the database is final now)."""
        life.returncode = await life.proc.wait()
        life.ended = time.monotonic()
        jobs = self._read_jobs()
        life.at_death = {j.id: j.status for j in jobs.values() if j.status in ACTIVE}
        life.pending_at_death = frozenset(int(u["update_id"]) for u in self.tg.updates.pending)
        life.creates_at_death = self._creates()
        if life.plan is not None and life.returncode == -signal.SIGKILL:
            text = self.log.read_text(errors="replace")
            line = f"crash point {life.plan.point} reached"
            life.killed_at_plan = text.count("crash point ") > life.crash_lines_before and (
                line in text.split(f"===== life {life.index}:", 1)[-1]
            )
        life.dead = True
        self.tg.signal.fire()

    async def _stop(self, life: Life) -> None:
        life.stopped = True
        if life.proc.returncode is None:
            life.proc.send_signal(signal.SIGTERM)
        await self._until(lambda: life.dead, f"life {life.index} to stop on SIGTERM", limit=30)

    def _launch(self, plan_index: int, plan: Plan) -> None:
        for fate in plan.fates:
            self.sims.append(Sim(self._next_user, fate, plan_index))
            self._next_user += 1
        self.tg.signal.fire()

    def _settled(self) -> bool:
        return all(s.stage is Stage.DONE for s in self.sims)

    def _all_terminal(self) -> bool:
        """Every user is past their last action and every job is over (told or not)."""
        return all(
            s.stage in (Stage.END, Stage.DONE)
            and (row := self._jobs.get(s.job_id or 0)) is not None
            and row.status in TERMINAL
            for s in self.sims
        )

    async def _until(self, predicate: Callable[[], bool], what: str, limit: float = 0) -> None:
        """Wait on the fakes' change signal; a failed driver or a stall ends the wait loudly."""
        driver = self._driver
        assert driver is not None
        try:
            await self.tg.wait_until(
                lambda: driver.done() or predicate(), timeout=limit or self.stall_timeout
            )
        except TimeoutError:
            if limit:
                raise
            stuck = "\n".join(self._describe(s) for s in self.sims if s.stage is not Stage.DONE)
            raise AssertionError(
                f"stalled waiting for {what}; unfinished users:\n{stuck}"
            ) from None
        if driver.done():
            driver.result()  # the driver's exception, if any
            raise AssertionError("the user driver stopped early")

    async def _ask_balances(self) -> None:
        """Every user asks /balance; the last life answers from the ledger."""
        asked = {
            s.user: self.tg.user_command(s.user, s.user, "balance")["message_id"]
            for s in self.sims
        }

        def answers() -> dict[int, tuple[int, int, int]]:
            found: dict[int, tuple[int, int, int]] = {}
            for user, msg_id in asked.items():
                for msg in self.tg.bot_messages(user):
                    match = _BALANCE.search(msg.get("text", ""))
                    if match and msg["message_id"] > msg_id:  # the answer to this /balance
                        daily, granted, total = (int(g) for g in match.groups())
                        found[user] = (daily, granted, total)
            return found

        await self._until(lambda: len(answers()) == len(asked), "the /balance answers")
        self.balances = answers()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _bridge(self) -> None:
        """Turn every change at the fake evolink into a change signal of the fake Bot API."""
        while True:
            await self.evolink.wait_for(self._evolink_changed(self._evolink_version()), 3600)
            self.tg.signal.fire()

    def _evolink_changed(self, seen: tuple[int, int, int]) -> Callable[[], bool | None]:
        return lambda: True if self._evolink_version() != seen else None

    def _evolink_version(self) -> tuple[int, int, int]:
        e = self.evolink
        return len(e.requests), len(e.tasks), len(e.callback_attempts)

    def _version(self) -> tuple[object, ...]:
        tg = self.tg
        return (
            len(tg.calls), len(tg.answered_callbacks), len(tg.updates.pending),
            self._evolink_version(), len(self.lives), sum(life.dead for life in self.lives),
            len(self.sims),
        )  # fmt: skip

    # ---- the users ----------------------------------------------------------------------------
    async def _drive(self) -> None:
        """React to every change: each user takes whatever step the bot's messages allow."""
        while not self._finished:
            if self._step():
                self.tg.signal.fire()  # the supervisor waits on what the users did and saw
                continue
            try:
                await self.tg.wait_until(self._changed(self._version()), timeout=5)
            except TimeoutError:
                # Only database changes with no HTTP after them get here; a stall is the
                # supervisor's to report, so just look again.
                self.quiet_spells += 1

    def _changed(self, seen: tuple[object, ...]) -> Callable[[], bool]:
        return lambda: self._finished or self._version() != seen

    def _step(self) -> bool:
        """Every user takes the steps they can; True when anything was done or seen to change."""
        self._index()
        jobs = self._read_jobs()
        acted = jobs != self._jobs
        self._jobs = jobs
        for sim in self.sims:
            for _ in range(len(Stage)):
                if sim.stage is Stage.DONE or not self._advance(sim, jobs):
                    break
                acted = True
        return acted

    def _advance(self, sim: Sim, jobs: dict[int, JobRow]) -> bool:
        """One step of one user; True when it did something or moved on."""
        match sim.stage:
            case Stage.NEW:
                self._send_photo(sim)
                return True
            case Stage.OPTIONS:
                return self._on_options(sim)
            case Stage.GENERATE:
                return self._on_generate(sim, jobs)
            case Stage.RUN:
                return self._on_run(sim, jobs)
            case Stage.CANCEL:
                return self._on_cancel(sim, jobs)
            case Stage.END:
                row = jobs.get(sim.job_id or 0)
                if row is not None and row.status in TERMINAL and self.told(sim, row):
                    sim.stage = Stage.DONE
                    return True
        return False

    def _send_photo(self, sim: Sim) -> None:
        if sim.photos >= MAX_TRIES:
            raise AssertionError(f"user {sim.user}: {sim.photos} photos and never an answer")
        caption = f"user {sim.user}: the waves roll in slowly"
        sim.photo_id = int(
            self.tg.user_photo(sim.user, sim.user, self._photo, caption)["message_id"]
        )
        sim.photos += 1
        self._acted(sim, [])
        sim.stage = Stage.OPTIONS

    def _on_options(self, sim: Sim) -> bool:
        for msg in self.tg.bot_messages(sim.user):
            reply = (msg.get("reply_to_message") or {}).get("message_id")
            data = next((d for d in _buttons(msg) if d.startswith("g|")), None)
            if reply == sim.photo_id and data is not None:
                sim.job_id, sim.status_msg = int(data.split("|")[1]), int(msg["message_id"])
                self._press(sim, data, times=2 if sim.fate is Fate.DOUBLE else 1)
                sim.stage = Stage.GENERATE
                return True
        if self._lost(sim):  # the photo died with a process before any answer: send it again
            self._send_photo(sim)
            return True
        return False

    def _on_generate(self, sim: Sim, jobs: dict[int, JobRow]) -> bool:
        row = jobs.get(sim.job_id or 0)
        if self._answered(sim) or (row is not None and row.status != "draft"):
            sim.stage = Stage.RUN
            return True
        if self._lost(sim) and f"g|{sim.job_id}" in self._shown(sim):
            self._press(sim, f"g|{sim.job_id}")
            return True
        return False

    def _on_run(self, sim: Sim, jobs: dict[int, JobRow]) -> bool:
        row = jobs.get(sim.job_id or 0)
        task = self.task_of(sim.job_id or 0)
        if row is None or row.status == "draft":
            return False  # the answer came before the reservation was visible to us
        if row.status in TERMINAL:
            self._complete_late(sim)  # a result arriving now must change nothing
            sim.stage = Stage.END
            return True
        if task is None:
            return False
        if sim.fate is Fate.CANCEL:
            if f"x|{sim.job_id}" not in self._shown(sim):
                return False
            self._press(sim, f"x|{sim.job_id}")
            sim.stage = Stage.CANCEL
            return True
        sim.task_done = True
        if sim.fate is Fate.FAIL:
            if sim.user % 2:
                self.evolink.fail(task, "content_policy_violation", "Content policy violation.")
            else:
                self.evolink.fail(task)
        else:
            self.evolink.succeed(task)
        sim.stage = Stage.END
        return True

    def _on_cancel(self, sim: Sim, jobs: dict[int, JobRow]) -> bool:
        row = jobs.get(sim.job_id or 0)
        if self._answered(sim) or (row is not None and row.status in TERMINAL):
            self._complete_late(sim)
            sim.stage = Stage.END
            return True
        if self._lost(sim) and f"x|{sim.job_id}" in self._shown(sim):
            self._press(sim, f"x|{sim.job_id}")
            return True
        return False

    def _complete_late(self, sim: Sim) -> None:
        task = self.task_of(sim.job_id or 0)
        if task is not None and not sim.task_done:
            sim.task_done = True
            self.evolink.succeed(task)

    def _press(self, sim: Sim, data: str, times: int = 1) -> None:
        if sim.presses >= MAX_TRIES:
            raise AssertionError(f"user {sim.user}: pressed {data} {sim.presses} times, no answer")
        assert sim.status_msg is not None
        queries = [
            self.tg.user_click(sim.user, sim.user, sim.status_msg, data) for _ in range(times)
        ]
        sim.presses += 1
        self._acted(sim, queries)

    def _acted(self, sim: Sim, queries: list[str]) -> None:
        """Remember the updates just queued and which life they are meant for."""
        pending = self.tg.updates.pending
        count = max(len(queries), 1)
        sim.queries = queries
        sim.updates = [int(u["update_id"]) for u in pending[-count:]]
        last = self.lives[-1] if self.lives else None
        sim.action_life = len(self.lives) if last is None or last.dead else last.index

    def _answered(self, sim: Sim) -> bool:
        return any(q in self.tg.answered_callbacks for q in sim.queries)

    def _lost(self, sim: Sim) -> bool:
        """A process that died after the action had taken its updates from Telegram."""
        return self.users_retry and any(
            life.dead
            and life.index >= sim.action_life
            and not any(u in life.pending_at_death for u in sim.updates)
            for life in self.lives
        )

    def _shown(self, sim: Sim) -> list[str]:
        msg = self.tg.message(sim.user, sim.status_msg or 0)
        return _buttons(msg) if msg else []

    def told(self, sim: Sim, row: JobRow) -> bool:
        """The user saw the outcome: the video, a failure message, or the cancelled status."""
        if row.status == "delivered":
            return self._videos[sim.user] >= 1
        if row.status in ("failed", "expired"):
            return any(
                _FAILURE_TEXT.search(m.get("text", ""))
                and (m.get("reply_to_message") or {}).get("message_id") == row.photo_message_id
                and m["message_id"] != row.status_message_id
                for m in self.tg.bot_messages(sim.user)
            )
        if row.status == "cancelled":
            msg = self.tg.message(sim.user, row.status_message_id or 0)
            return msg is not None and "Cancelled" in msg.get("text", "")
        return False

    # ---- what the fakes and the database hold -------------------------------------------------
    def _index(self) -> None:
        calls = self.tg.calls
        for call in calls[self._calls_seen :]:
            if call.method == "sendVideo" and call.status == 200:
                chat = int(call.params["chat_id"])
                self._videos[chat] += 1
                self._video_times.setdefault(chat, []).append(call.at)
        self._calls_seen = len(calls)
        tasks = list(self.evolink.tasks.values())
        for task in tasks[self._tasks_seen :]:
            match = _CALLBACK_JOB.search(task.callback_url or "")
            if match:
                self._tasks_by_job.setdefault(int(match.group(1)), []).append(task.id)
        self._tasks_seen = len(tasks)

    def task_of(self, job_id: int) -> str | None:
        found = self._tasks_by_job.get(job_id)
        return found[0] if found else None

    def _creates(self) -> Counter[int]:
        counts: Counter[int] = Counter()
        for req in self.evolink.requests_to("create"):
            body = req.json if isinstance(req.json, dict) else {}
            match = _CALLBACK_JOB.search(str(body.get("callback_url") or ""))
            counts[int(match.group(1)) if match else -1] += 1
        return counts

    def _options_twice(self) -> int:
        """Photos that got more than one options message (a replay of a handled update)."""
        shown: Counter[tuple[int, int]] = Counter()
        for call in self.tg.calls_of("sendMessage"):
            reply = (call.params.get("reply_parameters") or {}).get("message_id")
            markup = call.params.get("reply_markup") or {}
            if call.status == 200 and reply and "'g|" in str(markup):
                shown[(int(call.params["chat_id"]), int(reply))] += 1
        return sum(n - 1 for n in shown.values() if n > 1)

    def _replayed(self) -> int:
        """Updates the lives handled from their own record after a crash (from the bot log)."""
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return sum(int(n) for n in re.findall(r"replaying (\d+) update", text))

    def _conn(self) -> sqlite3.Connection | SyncPg | None:
        if self._db is None and self.db_url:
            self._db = SyncPg(self.db_url)
        elif self._db is None and self.db_path.exists():
            self._db = sqlite3.connect(self.db_path, timeout=10, isolation_level=None)
        return self._db

    def _read_jobs(self) -> dict[int, JobRow]:
        conn = self._conn()
        if conn is None:
            return {}
        try:
            rows = conn.execute(
                "SELECT id, user_id, status, error_kind, price, photo_message_id, "
                "status_message_id FROM jobs"
            ).fetchall()
        except (sqlite3.OperationalError, asyncpg.UndefinedTableError) as exc:
            if "no such table" in str(exc) or "does not exist" in str(exc):
                return {}  # the first life has not created the schema yet
            raise
        return {int(r[0]): JobRow(*r) for r in rows}

    def _ledger(self) -> list[tuple[int | None, int, str, str, str, int]]:
        conn = self._conn()
        assert conn is not None
        return list(conn.execute("SELECT job_id, user_id, kind, bucket, day, amount FROM ledger"))

    def _describe(self, sim: Sim) -> str:
        row = self._read_jobs().get(sim.job_id or 0)
        return (
            f"user {sim.user} ({sim.fate}, plan #{sim.plan}): stage {sim.stage}, job "
            f"{sim.job_id} {row.status if row else '-'} {row.error_kind if row else ''}, "
            f"task {self.task_of(sim.job_id or 0)}, photos {sim.photos}, presses {sim.presses}"
        )

    # ---- the audit ----------------------------------------------------------------------------
    def audit(self) -> Audit:
        self._index()
        jobs = self._read_jobs()
        ledger = self._ledger()
        creates = self._creates()
        bad: list[str] = []
        notes: list[str] = []
        by_job = {s.job_id: s for s in self.sims if s.job_id is not None}

        # Every plan killed its life at its point; every other life ended cleanly on SIGTERM.
        for life in self.lives:
            name = f"life {life.index} ({life.plan.spec if life.plan else 'final'})"
            if life.plan is not None and not life.killed_at_plan:
                bad.append(f"{name}: the kill point was never reached (rc {life.returncode})")
            if life.stopped and not life.killed_at_plan and life.returncode != 0:
                bad.append(f"{name}: exit status {life.returncode} after SIGTERM")
        bad += [f"not settled: {u}" for u in self.unsettled]

        # 0 lost: every Generate press has a terminal job the user was told about.
        for sim in self.sims:
            row = jobs.get(sim.job_id or 0)
            if row is None or row.status == "draft":
                bad.append(f"lost: {self._describe(sim)}")
            elif row.status not in TERMINAL:
                bad.append(f"not terminal: {self._describe(sim)}")
            elif not self.told(sim, row):
                bad.append(f"never told: {self._describe(sim)}")
        for row in jobs.values():
            if row.status != "draft" and row.id not in by_job:
                bad.append(f"job {row.id} ({row.status}) belongs to no Generate press")
            if row.status not in TERMINAL | {"draft"}:
                bad.append(f"job {row.id} left {row.status}")

        # 0 delivered twice, except where Telegram had the video and the database did not: each
        # accepted sendVideo belongs to the life that sent it (by time). A life that died with
        # the job still "sending" may have left one copy; every other life together sends the
        # one video of a delivered job, and none of any other job.
        starts = [life.started for life in self.lives]
        dupes_after_send = dupes_other = 0
        dupes_by_life: Counter[int] = Counter()
        for sim in self.sims:
            row = jobs.get(sim.job_id or 0)
            if row is None:
                continue
            per_life = Counter(
                bisect_right(starts, t) - 1 for t in self._video_times.get(sim.user, [])
            )
            window = {
                i for i, life in enumerate(self.lives) if life.at_death.get(row.id) == "sending"
            }
            copies = {i: n for i, n in per_life.items() if i in window}
            final = sum(n for i, n in per_life.items() if i not in window)
            wanted = 1 if row.status == "delivered" else 0
            if final != wanted or any(n > 1 for n in copies.values()) or (copies and not wanted):
                bad.append(
                    f"videos by life {dict(per_life)} (lives that died sending: "
                    f"{sorted(window)}): {self._describe(sim)}"
                )
            for i, n in copies.items():
                dupes_by_life[i] += n
                plan = self.lives[i].plan
                if plan is not None and plan.point == "after_send":
                    dupes_after_send += n
                else:
                    dupes_other += n

        # 0 charged twice: one reservation, at most one refund, never refund and settle.
        kinds: dict[int, Counter[str]] = {}
        amounts: dict[int, Counter[str]] = {}
        for job_id, _user, kind, bucket, _day, amount in ledger:
            if job_id is None:
                continue
            kinds.setdefault(job_id, Counter())[f"{kind}:{bucket}"] += 1
            kinds[job_id][kind] += 1
            amounts.setdefault(job_id, Counter())[kind] += amount
        for row in jobs.values():
            k, a = kinds.get(row.id, Counter()), amounts.get(row.id, Counter())
            twice = [key for key, n in k.items() if ":" in key and n > 1]
            if twice:
                bad.append(f"job {row.id}: ledger rows {twice} more than once")
            if k["refund"] and k["settle"]:
                bad.append(f"job {row.id}: both refunded and settled")
            if row.status == "draft" and k:
                bad.append(f"job {row.id}: a draft with ledger rows {dict(k)}")
            if row.status == "draft":
                continue
            if a["reserve"] != -row.price:
                bad.append(f"job {row.id}: reserved {-a['reserve']}, price {row.price}")
            if row.status == "delivered" and (k["settle"] != 1 or k["refund"]):
                bad.append(f"job {row.id}: delivered but ledger {dict(k)}")
            if row.status in ("failed", "cancelled", "expired") and (
                k["settle"] or a["refund"] != -a["reserve"]
            ):
                bad.append(f"job {row.id}: {row.status} but ledger {dict(k)} {dict(a)}")

        # Every user's balance (what /balance says) is the sum of their ledger rows.
        today = datetime.now(UTC).strftime("%Y-%m-%d")
        days = {day for *_, day, _amount in ledger if day}
        for sim in self.sims:
            mine = [r for r in ledger if r[1] == sim.user]
            daily = sum(r[5] for r in mine if r[3] == "daily" and r[4] == today)
            granted = sum(r[5] for r in mine if r[3] == "granted")
            shown = self.balances.get(sim.user)
            if shown != (daily, granted, daily + granted):
                bad.append(f"user {sim.user}: /balance says {shown}, ledger {daily}+{granted}")
            row = jobs.get(sim.job_id or 0)
            if days == {today} and row is not None:
                spent = row.price if row.status == "delivered" else 0
                if daily + granted != self.daily_quota - spent:
                    bad.append(
                        f"user {sim.user}: balance {daily + granted}, expected "
                        f"{self.daily_quota - spent} after a {row.status} job"
                    )
        if days != {today}:
            notes.append("the run crossed UTC midnight: expected balances not compared")

        # The provider: at most one create per job; a create whose answer died with the process
        # is never repeated, and that job is failed, refunded and its user told.
        for job_id, n in creates.items():
            if job_id < 0 or n > 1:
                bad.append(f"job {job_id}: {n} create requests")
        unknown_outcome = 0
        for life in self.lives:
            for job_id, status in life.at_death.items():
                row = jobs[job_id]
                if status == "submitting" and (row.status, row.error_kind) != (
                    "failed",
                    "unknown_outcome",
                ):
                    if row.status != "cancelled":
                        bad.append(f"job {job_id}: died submitting, ended {row.status}")
            if life.plan is not None and life.plan.point == "after_create" and life.dead:
                hit = [
                    j for j, st in life.at_death.items()
                    if st == "submitting" and life.creates_at_death[j] == 1
                ]  # fmt: skip
                if not hit:
                    bad.append(f"life {life.index}: after_create kill left no submitting job")
                for job_id in hit:
                    unknown_outcome += 1
                    row = jobs[job_id]
                    if creates[job_id] != 1:
                        bad.append(f"job {job_id}: {creates[job_id]} creates after after_create")
                    # failed by the recovery, or cancelled by its user first: refunded either way
                    refunded = amounts.get(job_id, Counter())["refund"]
                    if row.status not in ("failed", "cancelled") or refunded != row.price:
                        bad.append(
                            f"job {job_id}: after_create ended {row.status}, refund {refunded}"
                        )

        # Evidence for the report.
        stale = sum(
            1
            for s in self.sims
            if (row := jobs.get(s.job_id or 0)) is not None
            and row.status == "delivered"
            and "Done"
            not in (self.tg.message(s.user, row.status_message_id or 0) or {}).get("text", "")
        )
        if stale:
            notes.append(f"{stale} delivered job(s) whose status message never said Done")
        rows: list[tuple[str, ...]] = []
        for life in self.lives:
            if life.plan is None:
                outcome = f"final, rc {life.returncode}"
            elif life.killed_at_plan:
                outcome = "killed"
            else:
                outcome = f"NOT REACHED (rc {life.returncode})"
            caught = Counter(
                f"{st}->{jobs[j].status}"
                + (f"({jobs[j].error_kind})" if jobs[j].error_kind else "")
                for j, st in life.at_death.items()
            )
            summary = ", ".join(f"{n}x {what}" for what, n in sorted(caught.items()))
            rows.append(
                (
                    str(life.index),
                    life.plan.spec if life.plan else "-",
                    outcome,
                    summary or "-",
                    str(dupes_by_life[life.index]),
                )
            )
        statuses = Counter(j.status for j in jobs.values())
        numbers: dict[str, int | float] = {
            "kills": sum(life.killed_at_plan for life in self.lives),
            "lives": len(self.lives),
            "users": len(self.sims),
            "jobs": sum(n for s, n in statuses.items() if s != "draft"),
            **{s: n for s, n in sorted(statuses.items())},
            "creates": sum(creates.values()),
            "unknown_outcome_after_create": unknown_outcome,
            "updates_replayed": self._replayed(),
            "photos_answered_twice": self._options_twice(),
            "dupes_after_send": dupes_after_send,
            "dupes_other_window": dupes_other,
            "quiet_spells": self.quiet_spells,
            "wall_s": round(self.wall_s, 1),
        }
        return Audit(bad, rows, numbers, notes)


class Hold:
    """Holds every request of one fake Bot API method until `release()`.

    Test-only: the fake has no public hook for this, so it swaps the method's handler in the
    fake's method table (and puts it back on release).
    """

    def __init__(self, tg: FakeBotApi, method: str) -> None:
        self.tg = tg
        self.key = method.lower()
        self.name, self.handler = tg._methods[self.key]
        self.arrived = 0
        self._open = asyncio.Event()
        tg._methods[self.key] = (self.name, self._held)

    async def _held(self, params: Json, files: dict[str, UploadedFile]) -> Any:
        self.arrived += 1
        self.tg.signal.fire()
        await self._open.wait()
        return await self.handler(params, files)

    def release(self) -> None:
        self._open.set()
        self.tg._methods[self.key] = (self.name, self.handler)


async def spawn_bot(
    env: dict[str, str], cwd: Path, log: Path, banner: str
) -> asyncio.subprocess.Process:
    """`python -m bot` configured by `env` only (no .env: `cwd` is a test folder)."""
    with log.open("ab") as out:
        out.write(f"\n{banner}\n".encode())
        out.flush()
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", cwd=cwd, stdout=out, stderr=out,
            env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT), **env},
        )  # fmt: skip


def log_lines_for(log: Path, job_ids: Iterable[int]) -> str:
    """The bot log lines about some jobs, with the life banners, to explain a violation."""
    ids = set(job_ids)
    pattern = re.compile(r"\bjob (\d+)\b")
    keep = []
    for line in log.read_text(errors="replace").splitlines() if log.exists() else []:
        found = pattern.search(line)
        if line.startswith("=====") or "crash point" in line or (found and int(found[1]) in ids):
            keep.append(line)
    return "\n".join(keep)


def _buttons(msg: Json | None) -> list[str]:
    rows = ((msg or {}).get("reply_markup") or {}).get("inline_keyboard", [])
    return [str(b.get("callback_data")) for row in rows for b in row if "callback_data" in b]


def points_of(plans: Iterable[Plan]) -> set[str]:
    return {p.point for p in plans}

"""The crash test: SIGKILL the real bot at every kill point of a job's life, restart, lose nothing.

Each scenario runs `python -m bot` as a subprocess against the fake Bot API and the fake evolink
and chains plans: a life is killed at `P2V_CRASH_AT="<point>:<n>"` (bot/faults.py), the next
life starts on the same database with the next plan, recovers what the dead one left and takes
a new batch of users (jobs that succeed, fail at the provider, are cancelled, or get a double
Generate press; every provider callback arrives three times). A last life without a plan
finishes everything. Then, on the database, the ledger and what the fakes saw: every job is
terminal, none lost, none delivered twice (except where Telegram had accepted the video and the
database did not know yet), none charged twice, every balance is the sum of its ledger, and no
create request was ever repeated. `pytest -s` prints a table of every life and the numbers.
"""

from __future__ import annotations

import re
import signal
import sqlite3
from collections import Counter
from pathlib import Path

import pytest

from bot.faults import POINTS
from bot.testing.bot_api import FakeBotApi
from bot.testing.providers.evolink import EvolinkFake
from tests.conftest import USER
from tests.crash_harness import C, CrashRun, D, F, Hold, Plan, S, log_lines_for, spawn_bot
from tests.e2e_helpers import options_message_id, press, send_photo_and_get_options

SCENARIOS: dict[str, tuple[Plan, ...]] = {
    # From the photo to the recorded task id: drafts, reservations, the create request.
    "submission": (
        Plan("draft_created", 1),
        Plan("draft_created", 3),
        Plan("reserved", 1),
        Plan("reserved", 3),
        Plan("before_create", 1),
        Plan("before_create", 3),
        Plan("after_create", 1),
        Plan("after_create", 2),
        Plan("after_create", 4),
        Plan("submitted", 1),
        Plan("submitted", 3),
    ),
    # Waiting for the provider, and the two endings that are not a delivery.
    "waiting": (
        Plan("before_query", 1),
        Plan("before_query", 4, (S, S, F, D, S)),
        Plan("after_query", 1),
        Plan("after_query", 3),
        Plan("after_query", 5, (S, S, F, D, S)),
        Plan("failed", 1, (F, S, C)),
        Plan("failed", 2, (F, F, S)),
        Plan("failed", 3, (F, F, F, S)),
        Plan("cancelled", 1, (C, S)),
        Plan("cancelled", 2, (C, C, S)),
    ),
    # From the finished task to the recorded delivery, including the one open window.
    "delivery": (
        Plan("claimed", 1),
        Plan("claimed", 2),
        Plan("downloaded", 1),
        Plan("downloaded", 2),
        Plan("before_send", 1),
        Plan("before_send", 2),
        Plan("after_send", 1),
        Plan("after_send", 2, (S, D, S)),
        Plan("after_send", 3, (S, S, S, D)),
        Plan("delivered", 1),
        Plan("delivered", 2),
    ),
}
# Updates that died with a process (taken from Telegram, not handled yet, or handled but not
# marked): the users never send or press again here, so the bot's own record must carry them.
SCENARIOS["updates"] = (
    Plan("update_recorded", 1),
    Plan("update_recorded", 3),
    Plan("update_recorded", 6, (S, D, C)),
    Plan("update_handled", 1),
    Plan("update_handled", 4, (S, F, D)),
)
NO_USER_RETRIES = {"updates"}
ALL_PLANS = [plan for plans in SCENARIOS.values() for plan in plans]


def test_the_plans_cover_every_kill_point_several_times() -> None:
    assert {plan.point for plan in ALL_PLANS} == set(POINTS)
    assert all(plan.point in POINTS for plan in ALL_PLANS)
    assert len(ALL_PLANS) >= 30
    later = Counter(plan.point for plan in ALL_PLANS if plan.n > 1)
    assert set(later) == set(POINTS)  # every point also hit by a later job, not only the first


@pytest.mark.parametrize("scenario", list(SCENARIOS))
async def test_killed_anywhere_nothing_is_lost_or_charged_twice(
    scenario: str,
    tg: FakeBotApi,
    evolink: EvolinkFake,
    env: dict[str, str],
    tmp_path: Path,
) -> None:
    evolink.duplicate_callbacks = 2  # every callback that gets through arrives three times
    crash_env = {
        **env,
        "CALLBACK_GRACE_S": "0.3",
        "POLL_INITIAL_S": "0.05",
        "POLL_MAX_S": "0.2",
        "DAILY_QUOTA": "5",
        "LOG_LEVEL": "INFO",
    }
    run = CrashRun(tg, evolink, crash_env, tmp_path, users_retry=scenario not in NO_USER_RETRIES)
    try:
        audit = await run.run(SCENARIOS[scenario])
    except BaseException:
        print(_tail(run.log))
        raise
    print(f"\n[crash test: {scenario}]\n{audit.table()}")
    if audit.violations:
        jobs = {int(j) for v in audit.violations for j in re.findall(r"\bjob (\d+)", v)}
        print(f"bot log about jobs {sorted(jobs)}:\n{log_lines_for(run.log, jobs)}")
    assert not audit.violations, audit.report()
    assert audit.numbers["kills"] == len(SCENARIOS[scenario])


def _tail(log: Path, lines: int = 60) -> str:
    if not log.exists():
        return "(no bot log)"
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


async def test_a_callback_served_before_recovery_is_delivered_once(
    tg: FakeBotApi, evolink: EvolinkFake, env: dict[str, str], tmp_path: Path
) -> None:
    """A restart must not reset a job that the new process is already delivering.

    The first life dies with the job submitted; the task finishes while no bot is up. The second
    life's web server is up (its deleteWebhook is held, so it has not taken updates yet) when
    the provider's callback lands: it delivers the job, and its sendVideo is held too. Then the
    start-up goes on; whatever recovery does now must not make the video go out twice.
    """
    log = tmp_path / "bot.log"

    def status_text(message_id: int) -> str:
        return str((tg.message(USER, message_id) or {}).get("text", ""))

    first = await spawn_bot(env, tmp_path, log, "===== first life")
    try:
        _, options = await send_photo_and_get_options(tg, USER, "a restart race")
        msg_id = options_message_id(tg, USER, options)
        await press(tg, USER, USER, msg_id, "Generate")
        task = await evolink.wait_task()
        await tg.wait_until(lambda: "Generating" in status_text(msg_id), timeout=15)
    finally:
        first.kill()
        await first.wait()
    evolink.succeed(task.id)
    await evolink.wait_callback_attempts(4)  # all of them hit a dead bot
    starting, sending = Hold(tg, "deleteWebhook"), Hold(tg, "sendVideo")
    second = await spawn_bot(env, tmp_path, log, "===== second life")
    try:
        await tg.wait_until(lambda: starting.arrived > 0, timeout=30)  # its web server is up
        attempts = await evolink.send_callback(task.id, retries=False)
        assert attempts[-1].ok
        await tg.wait_until(lambda: sending.arrived > 0, timeout=15)  # it is sending the video
        commands = len(tg.calls_of("setMyCommands"))
        starting.release()
        # setMyCommands comes after the recovery: whatever it does is done by then.
        await tg.wait_until(lambda: len(tg.calls_of("setMyCommands")) > commands, timeout=15)
        sending.release()
        await tg.wait_until(lambda: "Done" in status_text(msg_id), timeout=30)
    finally:
        if second.returncode is None:
            second.send_signal(signal.SIGTERM)
        await second.wait()
    videos = [c for c in tg.calls_of("sendVideo") if c.status == 200]
    with sqlite3.connect(env["DATABASE_PATH"]) as conn:
        kinds = [k for (k,) in conn.execute("SELECT kind FROM ledger ORDER BY id")]
    assert len(videos) == 1, log_lines_for(log, [1])
    assert kinds == ["allowance", "reserve", "settle"]

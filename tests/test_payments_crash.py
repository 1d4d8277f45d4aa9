"""The real `python -m bot` SIGKILLed in the middle of a Stars purchase, then restarted: the
payment is credited exactly once and the buyer told exactly once, whether Telegram still holds
the successful_payment update (it is redelivered) or PTB had already confirmed it before the
process died (only getStarTransactions still knows: the start-up reconciliation credits it).

Then the ledger audit: one purchase row per Telegram charge, of the pack's credits, and every
balance equal to the sum of its ledger rows.
"""

from __future__ import annotations

import asyncio
import re
import signal
import sqlite3
from pathlib import Path

import pytest

from bot.faults import PAYMENT_POINTS
from bot.testing.bot_api import FakeBotApi
from bot.testing.providers.evolink import EvolinkFake
from tests.conftest import USER
from tests.crash_harness import spawn_bot
from tests.payments_support import (
    invoice_message_id,
    open_packs,
    request_invoice,
    texts_to,
    wait_message,
)

CASES = [
    # killed before the ledger write; the update is still at Telegram and comes again
    ("payment_received", False),
    # killed before the ledger write; PTB had confirmed the update: only the reconciliation
    ("payment_received", True),
    # killed after the ledger write, before the buyer was told
    ("payment_credited", False),
    ("payment_credited", True),
]
_BALANCE = re.compile(r"now: <b>(-?\d+)</b>")


def test_the_cases_cover_every_payment_kill_point() -> None:
    assert {point for point, _ in CASES} == set(PAYMENT_POINTS)


def _is_payment(update: dict[str, object]) -> bool:
    message = update.get("message")
    return isinstance(message, dict) and "successful_payment" in message


@pytest.mark.parametrize(("point", "confirmed"), CASES)
async def test_killed_during_a_purchase_it_is_credited_exactly_once(
    point: str,
    confirmed: bool,
    tg: FakeBotApi,
    evolink: EvolinkFake,
    env: dict[str, str],
    tmp_path: Path,
) -> None:
    log = tmp_path / "bot.log"
    base = {**env, "DAILY_QUOTA": "0", "LOG_LEVEL": "INFO"}
    first = await spawn_bot({**base, "P2V_CRASH_AT": f"{point}:1"}, tmp_path, log, "== life 1")
    try:
        await tg.wait_call("setMyCommands", timeout=60)  # started and taking updates
        await request_invoice(tg, await open_packs(tg), "10 credits")
        tg.user_pay(USER, USER, invoice_message_id(tg))
        returncode = await asyncio.wait_for(first.wait(), timeout=60)
    finally:
        if first.returncode is None:
            first.kill()
            await first.wait()
    assert returncode == -signal.SIGKILL, log.read_text()
    assert f"crash point {point} reached" in log.read_text()
    (charge,) = tg.payments.charges.values()
    held = [u for u in tg.updates.pending if _is_payment(u)]
    print(f"\n[{point}] successful_payment still held by Telegram at death: {bool(held)}")
    if confirmed:  # as if PTB had confirmed the update before the process died
        tg.updates.pending = [u for u in tg.updates.pending if not _is_payment(u)]
    told_before = len(texts_to(tg, USER, "Payment received"))

    mark = len(tg.calls)
    second = await spawn_bot(base, tmp_path, log, "== life 2")
    try:
        await wait_message(tg, USER, "Payment received", after=mark)
        await tg.wait_call("setMyCommands", lambda c: tg.calls.index(c) >= mark, timeout=60)
        tg.user_command(USER, USER, "balance")
        shown = await wait_message(tg, USER, "Your credits", after=mark)
        await tg.wait_until(lambda: not tg.updates.available() and tg.waiting_polls > 0)
    finally:
        if second.returncode is None:
            second.send_signal(signal.SIGTERM)  # a clean stop lets running handlers finish
        await asyncio.wait_for(second.wait(), timeout=60)
    assert second.returncode == 0

    # Told exactly once over both lives; credited exactly once.
    assert told_before + len(texts_to(tg, USER, "Payment received")[told_before:]) == 1
    assert len(texts_to(tg, USER, "Payment received")) == 1
    with sqlite3.connect(env["DATABASE_PATH"]) as conn:
        purchases = conn.execute(
            "SELECT user_id, note, amount, bucket FROM ledger WHERE kind = 'purchase'"
        ).fetchall()
        payments = conn.execute(
            "SELECT charge_id, credits, stars, told_at FROM payments"
        ).fetchall()
        bought = conn.execute(
            "SELECT COALESCE(SUM(amount), 0) FROM ledger WHERE user_id = ? AND bucket = 'bought'",
            (USER,),
        ).fetchone()[0]
    audit_purchases(tg, purchases)
    assert [(c, n, s) for c, n, s, _ in payments] == [(charge.charge_id, 10, 50)]
    assert payments[0][3] is not None  # told
    match = _BALANCE.search(str(shown.params["text"]))
    assert match is not None and int(match.group(1)) == bought == 10


def audit_purchases(tg: FakeBotApi, purchases: list[tuple[int, str, int, str]]) -> None:
    """Every charge Telegram made has exactly one purchase row, of its pack, for its buyer."""
    by_charge: dict[str, list[tuple[int, int, str]]] = {}
    for user_id, charge_id, amount, bucket in purchases:
        by_charge.setdefault(charge_id, []).append((user_id, amount, bucket))
    assert set(by_charge) == set(tg.payments.charges)
    for charge in tg.payments.charges.values():
        credits = int(charge.payload.split(":")[1])  # p2v1:<credits>:<stars>:<user>:<nonce>
        assert by_charge[charge.charge_id] == [(charge.user["id"], credits, "bought")]

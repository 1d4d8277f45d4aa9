"""The record of received updates: recorded once, marked handled, replayed, pruned."""

from __future__ import annotations

from pathlib import Path

from bot.storage import Database
from bot.storage.updates import KEEP_HANDLED_S, UpdateLog


async def test_an_update_is_recorded_once_replayed_until_handled_then_pruned(
    tmp_path: Path,
) -> None:
    now = [1000.0]
    db = Database(tmp_path / "bot.db")
    await db.open()
    try:
        log = UpdateLog(db, clock=lambda: now[0])
        body = {"update_id": 7, "message": {"text": "&<>"}}
        assert await log.record(7, body) is True
        assert await log.record(7, body) is False  # Telegram delivered it again
        assert await log.unhandled() == [body]
        await log.handled(7)
        assert await log.is_handled(7) and await log.unhandled() == []
        now[0] += KEEP_HANDLED_S + 1
        assert await log.prune() == 1
        assert await log.record(8, {"update_id": 8}) is True
        assert await log.prune() == 0  # unhandled updates are never pruned
    finally:
        await db.close()

"""The record of received Telegram updates: nothing Telegram handed over is lost in a crash.

An update is written here before Telegram is told it arrived (the next getUpdates offset, or
the webhook's 2xx); it is marked handled once its handlers ran. A restart handles again every
update not marked, so a photo or a button press in flight when the process died is not lost.
Plain SQL that PostgreSQL runs as well.

Replicas share the record: it also tells a webhook update Telegram delivered again, to any
replica, from a new one (`record` is True once). Each update names the replica that took it
(`taken_by`); a replica handles again only what a replica without a lease took (see replicas.py),
never what a live one is handling right now.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from bot.storage.db import Database

KEEP_HANDLED_S = 24 * 3600.0  # handled updates are kept a day (to explain what happened)
REPLAY_LIMIT = 1000  # an outage's backlog is replayed in one go; more waits for the next start


class UpdateLog:
    """Record, mark handled, and list the updates a dead process left unhandled."""

    def __init__(
        self, db: Database, clock: Callable[[], float] = time.time, taker: str | None = None
    ) -> None:
        self.db = db
        self.clock = clock
        self.taker = taker  # this process's replica id

    async def record(self, update_id: int, body: dict[str, Any]) -> bool:
        """Keep the update (once: Telegram may deliver it again); True when it is new."""
        async with self.db.transaction() as conn:
            cur = await conn.execute(
                "INSERT INTO updates (update_id, body, received_at, taken_by) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (update_id) DO NOTHING",
                (update_id, json.dumps(body, ensure_ascii=False), self.clock(), self.taker),
            )
            return cur.rowcount == 1

    async def handled(self, update_id: int) -> None:
        async with self.db.transaction() as conn:
            await conn.execute(
                "UPDATE updates SET handled_at = ? WHERE update_id = ? AND handled_at IS NULL",
                (self.clock(), update_id),
            )

    async def is_handled(self, update_id: int) -> bool:
        row = await self.db.fetchone(
            "SELECT handled_at FROM updates WHERE update_id = ?", (update_id,)
        )
        return row is not None and row[0] is not None

    async def unhandled(self) -> list[dict[str, Any]]:
        """Bodies of the updates recorded but never handled, oldest first."""
        rows = await self.db.fetchall(
            "SELECT body FROM updates WHERE handled_at IS NULL ORDER BY update_id LIMIT ?",
            (REPLAY_LIMIT,),
        )
        return [json.loads(str(row[0])) for row in rows]

    async def claim_unhandled(self, lease_s: float) -> list[dict[str, Any]]:
        """The unhandled updates this process should handle again, oldest first.

        One process (SQLite): all of them, since whoever took them died. A shared database:
        only those taken by a replica that lost its lease (or by nobody recorded), now taken by
        this one in the same transaction (`FOR UPDATE SKIP LOCKED`), so each goes to exactly
        one replica; never our own, which are in our queue.
        """
        if not self.db.shared:
            return await self.unhandled()
        async with self.db.transaction() as conn:
            rows = await conn.execute_fetchall(
                "SELECT update_id, body FROM updates WHERE handled_at IS NULL AND (taken_by IS "
                "NULL OR (taken_by != ? AND NOT EXISTS (SELECT 1 FROM replicas r WHERE "
                "r.replica_id = updates.taken_by AND r.seen_at >= ?))) ORDER BY update_id "
                "LIMIT ? FOR UPDATE SKIP LOCKED",
                (self.taker or "", self.clock() - lease_s, REPLAY_LIMIT),
            )
            for update_id, _ in rows:
                await conn.execute(
                    "UPDATE updates SET taken_by = ? WHERE update_id = ?",
                    (self.taker, int(update_id)),
                )
        return [json.loads(str(body)) for _, body in rows]

    async def prune(self) -> int:
        """Forget handled updates older than KEEP_HANDLED_S; returns how many."""
        async with self.db.transaction() as conn:
            cur = await conn.execute(
                "DELETE FROM updates WHERE handled_at IS NOT NULL AND handled_at < ?",
                (self.clock() - KEEP_HANDLED_S,),
            )
            return int(cur.rowcount)

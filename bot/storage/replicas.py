"""Replicas sharing one database: who is alive, and the lease that hands a dead one's work over.

Every process has a `replica_id` and heartbeats its row in `replicas` every sixth of the lease. A
job belongs to the replica that last changed it (`jobs.owner`, written by every compare-and-set of
that replica's `JobStore`). A replica whose heartbeat is older than `LEASE_S`, or which left
cleanly, has lost its lease: any other replica may claim its unfinished jobs
(`JobStore.claim_orphans`, `FOR UPDATE SKIP LOCKED` on PostgreSQL, so each orphan goes to exactly
one claimer) and run the same recovery a restart runs. On SQLite there is one process, so every job
is its own after a restart and these checks are skipped."""

from __future__ import annotations

import os
import secrets
import socket
import time
from collections.abc import Callable

from bot.storage.db import Database

# REPLICA_LEASE_S's default. Six missed heartbeats: long enough that a busy event loop is not
# mistaken for a dead process.
LEASE_S = 30.0
FORGET_AFTER_S = 86_400.0


def new_replica_id() -> str:
    """Host, process and a random part: unique even when a container restarts with the same pid."""
    return f"{socket.gethostname()[:40]}-{os.getpid()}-{secrets.token_hex(4)}"


class Replicas:
    """This process's row in `replicas`."""

    def __init__(
        self,
        db: Database,
        replica_id: str | None = None,
        *,
        clock: Callable[[], float] = time.time,
        lease_s: float = LEASE_S,
    ) -> None:
        self.db = db
        self.replica_id = replica_id or new_replica_id()
        self.clock = clock
        self.lease_s = lease_s

    async def heartbeat(self) -> None:
        now = self.clock()
        async with self.db.transaction() as tx:
            await tx.execute(
                "INSERT INTO replicas (replica_id, started_at, seen_at) VALUES (?, ?, ?) "
                "ON CONFLICT (replica_id) DO UPDATE SET seen_at = excluded.seen_at",
                (self.replica_id, now, now),
            )
            # Rows of processes long gone (killed ones never leave): the table stays small.
            await tx.execute("DELETE FROM replicas WHERE seen_at < ?", (now - FORGET_AFTER_S,))

    async def leave(self) -> None:
        """A clean stop: the others may take this replica's unfinished jobs over at once."""
        async with self.db.transaction() as tx:
            await tx.execute("DELETE FROM replicas WHERE replica_id = ?", (self.replica_id,))

    async def live(self) -> list[str]:
        rows = await self.db.fetchall(
            "SELECT replica_id FROM replicas WHERE seen_at >= ? ORDER BY replica_id",
            (self.clock() - self.lease_s,),
        )
        return [str(r[0]) for r in rows]


async def claim_alert(db: Database, key: str, now: float, every_s: float) -> bool:
    """True for exactly one caller, in all replicas, per `every_s` per alert `key`."""
    async with db.transaction() as tx:
        done = await tx.execute(
            "INSERT INTO operator_alerts (alert_key, sent_at) VALUES (?, ?) "
            "ON CONFLICT (alert_key) DO UPDATE SET sent_at = excluded.sent_at "
            "WHERE operator_alerts.sent_at <= ?",
            (key, now, now - every_s),
        )
    return done.rowcount == 1

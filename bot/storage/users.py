"""Users as the operator sees them: first seen, chosen language, ban state.

A row is created the first time a user sends anything (`touch`), or by an admin's `/ban` for an
id never seen. The language column holds the user's `/language` choice only (NULL = follow their
Telegram client). A ban is "one polite message, then silence": `ban()` clears `ban_notified`, and
`should_notify_ban()` flips it in one UPDATE, so exactly one caller per ban ever gets True, even
when several updates of the same user are handled at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from bot.storage.db import Database


@dataclass(frozen=True)
class UserRecord:
    """One row of the users table."""

    user_id: int
    language: str | None
    banned: bool
    ban_notified: bool
    created_at: float


class UserStore:
    """Reads and writes of the users table; every write is one short transaction."""

    def __init__(self, db: Database, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.clock = clock
        # Ids known to have a row: `touch` runs on every update and must not write every time.
        self._known: set[int] = set()

    async def touch(self, user_id: int, language_code: str | None = None) -> None:
        """Record a user the first time they show up (no-op afterwards).

        `language_code` is the Telegram client's language; it is not stored as a choice (the
        column is for `/language` only), so a user who changes the app's language follows it.
        """
        if user_id in self._known:
            return
        async with self.db.transaction() as conn:
            await conn.execute(
                "INSERT INTO users (user_id, created_at) VALUES (?, ?) ON CONFLICT DO NOTHING",
                (user_id, self.clock()),
            )
        self._known.add(user_id)

    async def get(self, user_id: int) -> UserRecord | None:
        row = await self.db.fetchone(
            "SELECT user_id, language, banned, ban_notified, created_at FROM users "
            "WHERE user_id = ?",
            (user_id,),
        )
        if row is None:
            return None
        return UserRecord(
            user_id=int(row[0]),
            language=str(row[1]) if row[1] is not None else None,
            banned=bool(row[2]),
            ban_notified=bool(row[3]),
            created_at=float(row[4]),
        )

    async def language(self, user_id: int) -> str | None:
        """The language the user chose with /language, or None."""
        record = await self.get(user_id)
        return record.language if record else None

    async def set_language(self, user_id: int, lang: str) -> None:
        await self._upsert(user_id, "language = ?", (lang,), language=lang)

    async def ban(self, user_id: int) -> None:
        """Ban (also an id never seen); the next update of theirs gets one notice."""
        await self._upsert(user_id, "banned = 1, ban_notified = 0", (), banned=1)

    async def unban(self, user_id: int) -> None:
        await self._upsert(user_id, "banned = 0, ban_notified = 0", (), banned=0)

    async def is_banned(self, user_id: int) -> bool:
        record = await self.get(user_id)
        return bool(record and record.banned)

    async def should_notify_ban(self, user_id: int) -> bool:
        """True exactly once per ban: the caller sends the notice; later calls stay silent."""
        async with self.db.transaction() as conn:
            cur = await conn.execute(
                "UPDATE users SET ban_notified = 1 "
                "WHERE user_id = ? AND banned = 1 AND ban_notified = 0",
                (user_id,),
            )
            return cur.rowcount == 1

    async def banned_ids(self) -> list[int]:
        rows = await self.db.fetchall("SELECT user_id FROM users WHERE banned = 1 ORDER BY 1")
        return [int(r[0]) for r in rows]

    async def _upsert(
        self,
        user_id: int,
        assignments: str,
        params: tuple[object, ...],
        *,
        language: str | None = None,
        banned: int = 0,
    ) -> None:
        # `assignments` is one of the fixed strings above, never user input.
        async with self.db.transaction() as conn:
            cur = await conn.execute(
                f"UPDATE users SET {assignments} WHERE user_id = ?", (*params, user_id)
            )
            if cur.rowcount == 0:
                await conn.execute(
                    "INSERT INTO users (user_id, language, banned, ban_notified, created_at) "
                    "VALUES (?, ?, ?, 0, ?)",
                    (user_id, language, banned, self.clock()),
                )
        self._known.add(user_id)

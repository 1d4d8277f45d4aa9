"""Referrals: a personal deep link (`/start ref_<code>`) and a bonus for both sides, once.

A user's code is random (it does not reveal their Telegram id) and stored. An invitation counts
only for a new user: their users row was created no earlier than the /start message was sent,
they have no job yet, they were not invited before, and the code is not their own. The bonus
(REFERRAL_BONUS credits each, granted bucket, never expire) is paid when the invitee's first video
is delivered: `referrals.rewarded_at` flips in the same transaction as the two ledger rows, and a
unique index on those rows makes a second payment impossible. `reward_all_due()` at start-up pays
what a crash between the delivery and the bonus left unpaid.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from bot.storage.db import Database
from bot.storage.ledger import Ledger

log = logging.getLogger(__name__)

PREFIX = "ref_"
_CODE = re.compile(r"[A-Za-z0-9]{6,16}")
# A users row created up to this long before the /start message's date still counts as new:
# Telegram dates are whole seconds, our clock is not.
_DATE_SLACK_S = 2.0


class Invitation(StrEnum):
    ACCEPTED = "accepted"
    OFF = "off"  # REFERRAL_BONUS=0
    UNKNOWN = "unknown"  # no such code
    SELF = "self"
    EXISTING = "existing"  # not a new user, or invited before


@dataclass(frozen=True)
class Reward:
    invitee_id: int
    referrer_id: int
    bonus: int


class Referrals:
    def __init__(self, db: Database, ledger: Ledger, bonus: int, clock: Callable[[], float]):
        self.db = db
        self.ledger = ledger
        self.bonus = bonus
        self.clock = clock

    @property
    def enabled(self) -> bool:
        return self.bonus > 0

    async def code_for(self, user_id: int) -> str:
        """The user's code, made on first use."""
        row = await self.db.fetchone(
            "SELECT code FROM referral_codes WHERE user_id = ?", (user_id,)
        )
        if row is not None:
            return str(row[0])
        async with self.db.transaction() as conn:
            await conn.execute(
                "INSERT INTO referral_codes (user_id, code) VALUES (?, ?) ON CONFLICT DO NOTHING",
                (user_id, _new_code()),
            )
            found = await conn.fetchone(
                "SELECT code FROM referral_codes WHERE user_id = ?", (user_id,)
            )
        assert found is not None
        return str(found[0])

    async def accept(self, invitee_id: int, argument: str, sent_at: float) -> Invitation:
        """`/start ref_<code>` from `invitee_id`, whose message Telegram dated `sent_at`."""
        if not self.enabled:
            return Invitation.OFF
        code = argument.removeprefix(PREFIX)
        if not _CODE.fullmatch(code):
            return Invitation.UNKNOWN
        async with self.db.transaction() as conn:
            owner = await conn.fetchone(
                "SELECT user_id FROM referral_codes WHERE code = ?", (code,)
            )
            if owner is None:
                return Invitation.UNKNOWN
            referrer_id = int(owner[0])
            if referrer_id == invitee_id:
                return Invitation.SELF
            user = await conn.fetchone(
                "SELECT created_at FROM users WHERE user_id = ?", (invitee_id,)
            )
            jobs = await conn.fetchone(
                "SELECT COUNT(*) FROM jobs WHERE user_id = ?", (invitee_id,)
            )
            is_new = (
                user is not None
                and float(user[0]) >= sent_at - _DATE_SLACK_S
                and jobs is not None
                and int(jobs[0]) == 0
            )
            if not is_new:
                return Invitation.EXISTING
            cur2 = await conn.execute(
                "INSERT INTO referrals (invitee_id, referrer_id, created_at) VALUES (?, ?, ?) "
                "ON CONFLICT DO NOTHING",
                (invitee_id, referrer_id, self.clock()),
            )
            if cur2.rowcount != 1:
                return Invitation.EXISTING
        log.info("referral: user %s invited by user %s", invitee_id, referrer_id)
        return Invitation.ACCEPTED

    async def reward_due(self, invitee_id: int) -> Reward | None:
        """Pay the bonus if `invitee_id` was invited and has a delivered video; once."""
        if not self.enabled:
            return None
        now = self.clock()
        async with self.db.transaction() as conn:
            row = await conn.fetchone(
                "SELECT referrer_id FROM referrals WHERE invitee_id = ? AND rewarded_at IS NULL "
                "AND EXISTS (SELECT 1 FROM jobs WHERE jobs.user_id = referrals.invitee_id "
                "AND jobs.status = 'delivered')",
                (invitee_id,),
            )
            if row is None:
                return None
            referrer_id = int(row[0])
            claimed = await conn.execute(
                "UPDATE referrals SET rewarded_at = ? "
                "WHERE invitee_id = ? AND rewarded_at IS NULL",
                (now, invitee_id),
            )
            if claimed.rowcount != 1:
                return None
            for user_id in (invitee_id, referrer_id):
                await self.ledger.referral_in(conn, user_id, self.bonus, invitee_id, now)
        log.info(
            "referral bonus: %s credit(s) each to user %s and user %s",
            self.bonus,
            invitee_id,
            referrer_id,
        )
        return Reward(invitee_id, referrer_id, self.bonus)

    async def reward_all_due(self) -> list[Reward]:
        """Start-up: pay every bonus a crash left unpaid."""
        if not self.enabled:
            return []
        rows = await self.db.fetchall("SELECT invitee_id FROM referrals WHERE rewarded_at IS NULL")
        rewards = [await self.reward_due(int(r[0])) for r in rows]
        return [r for r in rewards if r is not None]


def _new_code() -> str:
    return secrets.token_hex(5)  # 10 hex characters, 40 bits: unguessable enough for a bonus

"""The invoice payload: which pack, for whom, and a nonce naming the invoice we issued.

`p2v1:<credits>:<stars>:<user id>:<nonce>`, ASCII, far below Telegram's 128-byte limit. Nothing in
it is secret (the buyer sees it in their receipt, and it is logged); it is checked against the
invoice row written before sendInvoice, so a forged or altered payload is refused at pre-checkout.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from bot.payments.packs import CreditPack

PREFIX = "p2v1"
MAX_BYTES = 128
_PATTERN = re.compile(rf"{PREFIX}:(\d{{1,7}}):(\d{{1,6}}):(\d{{1,19}}):([0-9a-f]{{16}})")


@dataclass(frozen=True)
class InvoicePayload:
    credits: int
    stars: int
    user_id: int
    nonce: str

    def encode(self) -> str:
        text = f"{PREFIX}:{self.credits}:{self.stars}:{self.user_id}:{self.nonce}"
        assert len(text.encode()) <= MAX_BYTES
        return text

    @classmethod
    def parse(cls, text: str | None) -> InvoicePayload | None:
        """None for anything we did not make."""
        match = _PATTERN.fullmatch(text or "")
        if match is None:
            return None
        credits, stars, user_id, nonce = match.groups()
        return cls(int(credits), int(stars), int(user_id), nonce)


def new_payload(pack: CreditPack, user_id: int) -> InvoicePayload:
    return InvoicePayload(pack.credits, pack.stars, user_id, secrets.token_hex(8))

"""Credit packs: what one Telegram Stars invoice buys. A pack is named by its credit count."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

CURRENCY = "XTR"  # Telegram Stars: no payment provider, no provider token


@dataclass(frozen=True)
class CreditPack:
    credits: int
    stars: int


def packs_from(pairs: Iterable[tuple[int, int]]) -> tuple[CreditPack, ...]:
    """The packs of CREDIT_PACKS, fewest credits first."""
    return tuple(sorted((CreditPack(c, s) for c, s in pairs), key=lambda p: p.credits))


def find_pack(packs: Iterable[CreditPack], credits: int) -> CreditPack | None:
    return next((p for p in packs if p.credits == credits), None)

"""Stars received, Stars refunded and credits sold per UTC day, for /stats."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.storage.db import Database
from bot.texts import t


@dataclass(frozen=True)
class DayFigures:
    day: str
    stars_received: int = 0
    stars_refunded: int = 0
    credits_sold: int = 0


async def per_day(db: Database, now: float, days: int = 7) -> list[DayFigures]:
    """The last `days` UTC days including today, newest first; days without payments omitted."""
    first = (datetime.fromtimestamp(now, UTC) - timedelta(days=days - 1)).strftime("%Y-%m-%d")
    received = await db.fetchall(
        "SELECT day, SUM(stars), SUM(credits) FROM payments WHERE day >= ? GROUP BY day",
        (first,),
    )
    refunded = await db.fetchall(
        "SELECT refund_day, SUM(stars) FROM payments "
        "WHERE refund_day IS NOT NULL AND refund_day >= ? GROUP BY refund_day",
        (first,),
    )
    figures: dict[str, dict[str, int]] = {}
    for day, stars, credits in received:
        figures.setdefault(str(day), {}).update(received=int(stars), sold=int(credits))
    for day, stars in refunded:
        figures.setdefault(str(day), {})["refunded"] = int(stars)
    return [
        DayFigures(day, f.get("received", 0), f.get("refunded", 0), f.get("sold", 0))
        for day, f in sorted(figures.items(), reverse=True)
    ]


def format_lines(lang: str, figures: list[DayFigures]) -> str:
    """The /stats block (HTML)."""
    lines = [t(lang, "admin_stats_stars_title")]
    if not figures:
        lines.append(t(lang, "admin_stats_stars_none"))
    for f in figures:
        lines.append(
            t(
                lang,
                "admin_stats_stars_day",
                day=f.day,
                received=f.stars_received,
                refunded=f.stars_refunded,
                credits=f.credits_sold,
            )
        )
    return "\n".join(lines)

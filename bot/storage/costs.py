"""What providers report charging (issue 11): per model and provider, for /stats.

Over jobs reserved in the period (`jobs.created_at` of paid jobs is close enough: a draft lives
minutes): how many, how many delivered, the provider's reported cost of the delivered ones (in
that provider's own units: evolink and aimlapi credits, apikley credits where reported), and the
credits our users were charged for them. Plain SQL, portable to PostgreSQL.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.models import JobStatus
from bot.storage.db import Database


@dataclass(frozen=True)
class CostRow:
    model: str
    provider: str
    jobs: int
    delivered: int
    cost: float  # sum over delivered jobs of the provider's reported cost
    costed: int  # delivered jobs that had a reported cost
    credits: int  # credits charged for the delivered jobs

    @property
    def per_video(self) -> float | None:
        return self.cost / self.costed if self.costed else None


async def cost_rows(db: Database, since: float) -> list[CostRow]:
    rows = await db.fetchall(
        "SELECT model, provider, COUNT(*), "
        "SUM(CASE WHEN status = ? THEN 1 ELSE 0 END), "
        "SUM(CASE WHEN status = ? AND provider_cost IS NOT NULL THEN provider_cost ELSE 0 END), "
        "SUM(CASE WHEN status = ? AND provider_cost IS NOT NULL THEN 1 ELSE 0 END), "
        "SUM(CASE WHEN status = ? THEN price ELSE 0 END) "
        "FROM jobs WHERE provider IS NOT NULL AND created_at >= ? "
        "GROUP BY model, provider ORDER BY model, provider",
        (*(JobStatus.DELIVERED.value,) * 4, since),
    )
    return [
        CostRow(str(r[0]), str(r[1]), int(r[2]), int(r[3] or 0), float(r[4] or 0),
                int(r[5] or 0), int(r[6] or 0))
        for r in rows
    ]  # fmt: skip

"""Everything the job service needs, built once in `bot/runtime.py` and passed in (no globals)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bot.jobs.alerts import OperatorAlerts
from bot.jobs.limits import DOCUMENTED_LIMITS
from bot.jobs.user_limits import UserLimits
from bot.media.download import make_download_client
from bot.media.hosted import MediaStore
from bot.metrics import Metrics
from bot.pricing import PriceTable
from bot.providers.registry import ProviderRegistry
from bot.storage import JobStore, Ledger
from bot.storage.replicas import claim_alert
from bot.telegram.messenger import TelegramMessenger

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobSettings:
    """The operator settings the job lifecycle obeys."""

    work_dir: Path
    public_base_url: str | None
    admin_ids: frozenset[int] = frozenset()
    max_active: int = 2
    user_limits: UserLimits = field(default_factory=UserLimits)
    refund_on_cancel: bool = True
    allow_private_urls: bool = False
    poll_initial_s: float = 3.0
    poll_max_s: float = 30.0
    callback_grace_s: float = 20.0
    deadline_floor_s: float = 900.0
    max_upload_bytes: int = 50 * 1024 * 1024
    # A result above the upload limit is still fetched (and checked) up to this size, then
    # offered as a link; anything larger, or endless, fails with a refund.
    max_result_bytes: int = 512 * 1024 * 1024
    media_ttl_s: float = 3 * 3600
    alert_every_s: float = 3600.0
    # issue 11: provider -> (max concurrent tasks, max creations per hour), 0 = no limit
    provider_limits: Mapping[str, tuple[int, int]] = field(
        default_factory=lambda: dict(DOCUMENTED_LIMITS)
    )
    provider_low_balance: float = 0.0  # alert the admins below this provider balance (0: never)
    credit_packs: tuple[tuple[int, int], ...] = ()  # issue 15: (credits, stars); () = no Stars
    spicy_in_groups: bool = False  # SPICY_IN_GROUPS: offer the 18+ style in groups


@dataclass
class JobContext:
    """Shared collaborators plus the set of background tasks the service owns."""

    settings: JobSettings
    store: JobStore
    ledger: Ledger
    registry: ProviderRegistry
    prices: PriceTable
    media: MediaStore
    messenger: TelegramMessenger
    http: httpx.AsyncClient
    # Result downloads only, a pool apart from `http` (provider API calls), built by the runtime
    # on the SSRF guard's address-pinning transport; closed by its owner.
    downloads: httpx.AsyncClient = field(default_factory=make_download_client)
    metrics: Metrics = field(default_factory=Metrics)
    clock: Callable[[], float] = time.time
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    status_locks: dict[int, asyncio.Lock] = field(default_factory=dict)
    # issue 15: called with the user id after each delivered video (the referral bonus)
    on_delivered: list[Callable[[int], Awaitable[None]]] = field(default_factory=list)
    # Shown to people, kept in memory only (a restart merely drops them): the first name of each
    # user who asked for a video (groups name the job's owner), group option keyboards unfolded
    # with a tap, and who has seen the 18+ notice of the Spicy style.
    display_names: dict[int, str] = field(default_factory=dict)
    expanded: set[int] = field(default_factory=set)
    spicy_told: set[int] = field(default_factory=set)

    # The admins' alerts and their memory (one alert per incident, the recent failure rate).
    alerts: OperatorAlerts = field(init=False)

    def __post_init__(self) -> None:
        db = self.store.db

        async def claim(key: str, now: float, every: float) -> bool:
            return await claim_alert(db, key, now, every)

        self.alerts = OperatorAlerts(
            lambda: self.messenger, self.settings.admin_ids, lambda: self.clock(),
            self.settings.alert_every_s, claim=claim if db.shared else None,
        )  # fmt: skip

    def status_lock(self, job_id: int) -> asyncio.Lock:
        """Held while a job's status message is edited: edits never overtake each other."""
        return self.status_locks.setdefault(job_id, asyncio.Lock())

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        """Run a tracked background task; its failure is logged, never lost silently."""
        task = asyncio.create_task(coro, name=name)
        self.tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background task %s failed", task.get_name(), exc_info=task.exception())

    async def cancel_all(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    def is_admin(self, user_id: int) -> bool:
        return user_id in self.settings.admin_ids

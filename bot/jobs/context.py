"""Everything the job service needs, built once in `bot/runtime.py` and passed in (no globals):
frozen dependencies, and the owners of the state that changes."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bot.jobs.alerts import OperatorAlerts
from bot.jobs.chat_memory import ChatMemory
from bot.jobs.limits import DOCUMENTED_LIMITS
from bot.jobs.status_board import StatusBoard
from bot.jobs.tasks import TaskGroup
from bot.jobs.user_limits import UserLimits
from bot.media.download import make_download_client
from bot.media.hosted import MediaStore
from bot.metrics import Metrics
from bot.pricing import PriceTable
from bot.providers.registry import ProviderRegistry
from bot.storage import JobStore, Ledger
from bot.storage.replicas import claim_alert
from bot.telegram.messenger import TelegramMessenger


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


@dataclass(frozen=True, eq=False)  # one context per bot: compared and hashed by identity
class JobContext:
    """The job service's dependencies, fixed once built, plus the small owners of its mutable
    state: operator alerts, the status board, the background tasks and the chat memory."""

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

    # The owners of what changes while the bot runs, built from the dependencies above.
    alerts: OperatorAlerts = field(init=False)  # one alert per incident, recent failure rate
    board: StatusBoard = field(init=False)  # status messages, their edit locks, the endings
    tasks: TaskGroup = field(init=False)  # every background task, cancelled at shutdown
    people: ChatMemory = field(init=False)  # unfolded keyboards, the 18+ notice

    def __post_init__(self) -> None:
        db = self.store.db

        async def claim(key: str, now: float, every: float) -> bool:
            return await claim_alert(db, key, now, every)

        alerts = OperatorAlerts(
            lambda: self.messenger, self.settings.admin_ids, lambda: self.clock(),
            self.settings.alert_every_s, claim=claim if db.shared else None,
        )  # fmt: skip
        # The documented way to set derived fields of a frozen dataclass.
        object.__setattr__(self, "alerts", alerts)
        object.__setattr__(self, "board", StatusBoard(self))
        object.__setattr__(self, "tasks", TaskGroup())
        object.__setattr__(self, "people", ChatMemory())

    def is_admin(self, user_id: int) -> bool:
        return user_id in self.settings.admin_ids

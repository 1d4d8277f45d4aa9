"""The composition root: builds every part from `Settings`, starts and stops them together.

One event loop runs PTB (long polling, or webhook updates arriving on our own aiohttp server),
the aiohttp server (health, callbacks, hosted photos) and the job poller. Only this module and
`__main__` import `handlers`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any
from urllib.parse import urlsplit

import httpx
from aiohttp import web
from telegram import Update
from telegram.constants import FileSizeLimit, ParseMode
from telegram.error import InvalidToken, NetworkError, TelegramError
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder, Defaults

import handlers
from bot.config import Settings
from bot.jobs.accounts import AccountService
from bot.jobs.balances import BalanceWatch
from bot.jobs.context import JobContext, JobSettings
from bot.jobs.poller import Poller
from bot.jobs.runner import JobRunner
from bot.jobs.service import JobService
from bot.jobs.user_limits import UserLimits
from bot.media.download import DOWNLOAD_LIMITS, make_download_client
from bot.media.hosted import MediaStore
from bot.media.net_guard import guarded_transport
from bot.metrics import Metrics, metrics_route
from bot.payments.packs import packs_from
from bot.payments.referrals import Referrals
from bot.payments.service import PaymentService
from bot.payments.store import PaymentStore
from bot.pricing import PriceTable
from bot.providers.registry import build_providers
from bot.storage import Database, JobStore, Ledger
from bot.storage.replicas import Replicas
from bot.storage.stats import in_flight_counts
from bot.storage.updates import UpdateLog
from bot.storage.users import UserStore
from bot.telegram.messenger import TelegramMessenger
from bot.telegram.profile import publish_profile
from bot.telegram.recorded import RecordingApplication, RecordingQueue, parse_update, replay
from bot.web import SERVER_LIMITS, WebDeps, create_web_app
from handlers import payments as payment_handlers
from handlers.context import CONTEXT_TYPES, BotData, HandlerConfig, HandlerServices, PayTexts

log = logging.getLogger(__name__)

STARTUP_RETRY_WAITS = (1.0, 2.0, 4.0, 8.0, 15.0)
# Tasks that live as long as the bot (not work in progress: an idle bot still runs them).
BACKGROUND_LOOPS = frozenset({"poller", "balances", "replica-heartbeat"})
# Just under Telegram's ~30 messages/s: at exactly 30, jitter bunches requests at the edge and
# each 429 makes PTB's limiter pause every request (a burst of 1,000 users took 1.5-3x longer).
TELEGRAM_RATE_PER_S = 28


class BotRuntime:
    """Everything the running bot owns; `start()` then `stop()`, symmetric."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        database_url = settings.database_url
        self.db = Database(
            database_url.get_secret_value() if database_url else settings.database_path
        )
        self.http: httpx.AsyncClient | None = None
        self.downloads: httpx.AsyncClient | None = None
        self.app: Application[Any, Any, Any, Any, Any, Any] | None = None
        self.ctx: JobContext | None = None
        self.services: HandlerServices | None = None
        self.poller: Poller | None = None
        self.balances: BalanceWatch | None = None
        self.runner: JobRunner | None = None
        self.web_runner: web.AppRunner | None = None
        self.replicas: Replicas | None = None
        self.port: int | None = None
        self._telegram_ok = False
        self.metrics = Metrics()
        self.update_log = UpdateLog(self.db)
        configured = settings.telegram_webhook_secret
        self.webhook_secret = configured.get_secret_value() if configured else None

    async def start(self) -> None:
        s = self.settings
        await self.db.open()
        if not s.webhook_mode and not await self.db.claim_polling():
            raise RuntimeError(
                "another replica already long-polls Telegram on this database (Telegram allows "
                "one getUpdates consumer per token): run replicas in webhook mode "
                "(TELEGRAM_WEBHOOK_URL), or only one process"
            )
        # Issue 17: this process's lease on the jobs it moves (replicas sharing PostgreSQL).
        self.replicas = Replicas(self.db, lease_s=s.replica_lease_s)
        await self.replicas.heartbeat()
        self.update_log.taker = self.replicas.replica_id  # each update names who took it
        ledger = Ledger(self.db, daily_quota=s.daily_quota)
        store = JobStore(
            self.db, ledger, owner=self.replicas.replica_id, lease_s=s.replica_lease_s
        )
        # Replicas share MEDIA_DIR: a provider's photo fetch may reach any of them.
        media = MediaStore(s.media_dir, default_ttl_s=s.media_ttl_s, shared=self.db.shared)
        media.load()
        self.http = httpx.AsyncClient(timeout=httpx.Timeout(30.0, connect=10.0))
        # Result downloads: a pool of their own, connecting only to the addresses the SSRF guard
        # checked (no DNS rebinding; no proxy from the environment).
        self.downloads = make_download_client(
            transport=guarded_transport(s.allow_private_urls, limits=DOWNLOAD_LIMITS)
        )
        work_dir = s.database_path.parent / "work"
        registry = build_providers(s, self.http, work_dir)
        store.in_process_providers = frozenset(
            p.name for p in registry.providers if not p.needs_public_image
        )
        app = self._build_application()
        self.app = app
        upload_limit = (
            FileSizeLimit.FILESIZE_UPLOAD_LOCAL_MODE
            if s.telegram_local_mode
            else FileSizeLimit.FILESIZE_UPLOAD
        )
        job_settings = JobSettings(
            work_dir=work_dir, public_base_url=s.public_base_url, admin_ids=s.admin_user_ids,
            max_active=s.max_active_jobs_per_user, refund_on_cancel=s.refund_on_cancel,
            allow_private_urls=s.allow_private_urls, poll_initial_s=s.poll_initial_s,
            poll_max_s=s.poll_max_s, callback_grace_s=s.callback_grace_s,
            deadline_floor_s=s.job_deadline_floor_s, max_upload_bytes=int(upload_limit),
            media_ttl_s=s.media_ttl_s, provider_limits=s.limits(),
            provider_low_balance=s.provider_low_balance, credit_packs=s.credit_packs,
            spicy_in_groups=s.spicy_in_groups,
            user_limits=UserLimits(
                max_drafts=s.max_drafts_per_user, photos_per_minute=s.photos_per_minute,
                max_hosted_bytes=s.max_hosted_mb_per_user * 1024 * 1024,
            ),
        )  # fmt: skip
        ctx = JobContext(
            settings=job_settings, store=store, ledger=ledger, registry=registry,
            prices=PriceTable.load(s.prices_file), media=media,
            messenger=TelegramMessenger(app.bot, min_edit_interval=s.status_edit_interval_s),
            http=self.http, metrics=self.metrics, downloads=self.downloads,
        )  # fmt: skip
        self.ctx = ctx
        ctx.messenger.moves.on_moved = store.move_chat  # a migrated group's jobs follow it
        runner = JobRunner(ctx)
        self.runner = runner
        for provider in registry.providers:
            provider.bind_wakeup(runner.wake_task)
        self.poller = Poller(ctx, runner)
        self.balances = BalanceWatch(ctx)  # issue 11: provider balances, low-balance alert
        user_store = UserStore(self.db)
        payments, referrals = self._payments(app, ledger, user_store)
        self.services = HandlerServices(
            jobs=JobService(ctx, runner),
            accounts=AccountService(user_store, ledger, self.metrics, lambda: ctx.clock()),
            config=HandlerConfig(
                admin_ids=s.admin_user_ids, group_mode=s.group_mode,
                allowed_chat_ids=s.allowed_chat_ids, daily_quota=s.daily_quota,
                display_timezone=s.display_timezone,
            ),
            payments=payments, referrals=referrals,
            pay_texts=PayTexts(s.paysupport_text, s.terms_text),
        )  # fmt: skip
        bot_data = app.bot_data
        assert isinstance(bot_data, BotData)
        bot_data.wire(self.services)
        ctx.board.on_delivered(payment_handlers.referral_notifier(app))
        # issue 15: the payment handlers come ahead of the catch-alls of `handlers.register`.
        payment_handlers.register(app, s.admin_user_ids)
        handlers.register(app, s.admin_user_ids)
        await self._initialize_telegram(app)
        self._telegram_ok = True
        resubmit = await self.poller.recover()  # before serving: nothing can race it
        await self._recover_payments(app)
        await self._start_web(ctx, runner)
        await app.start()
        await self.update_log.prune()
        await replay(app, self.update_log, s.replica_lease_s)  # what a dead process took
        await self._start_updates()
        self.poller.resume(resubmit)
        ctx.tasks.spawn(self.poller.run(), "poller")  # the names are BACKGROUND_LOOPS
        ctx.tasks.spawn(self.balances.run(), "balances")
        ctx.tasks.spawn(self._heartbeats(), "replica-heartbeat")
        await self._set_commands()
        log.info(
            "bot @%s running: %s mode, providers %s, web on %s:%s",
            app.bot.username, "webhook" if s.webhook_mode else "polling",
            ",".join(p.name for p in registry.providers), s.http_host, self.port,
        )  # fmt: skip

    def _payments(
        self, app: Application[Any, Any, Any, Any, Any, Any], ledger: Ledger, users: UserStore
    ) -> tuple[PaymentService, Referrals]:
        """issue 15: Stars purchases, refunds and referrals."""
        s = self.settings
        payments = PaymentService(
            PaymentStore(self.db, ledger), packs_from(s.credit_packs), app.bot, self.metrics,
            users.language,
        )  # fmt: skip
        return payments, Referrals(self.db, ledger, s.referral_bonus, time.time)

    async def _recover_payments(self, app: Application[Any, Any, Any, Any, Any, Any]) -> None:
        """Credit purchases whose update died with a previous process; pay due bonuses.

        Not fatal: the same work runs again at the next start, and updates still credit."""
        if self.services is None:
            return
        payments, referrals = self.services.payments, self.services.referrals
        try:
            if payments is not None and payments.enabled:
                await payments.reconcile()
            if referrals is not None:
                for reward in await referrals.reward_all_due():
                    await payment_handlers.tell_reward(app, reward)
        except TelegramError as exc:
            log.warning("payment reconciliation failed (retried at the next start): %s", exc)

    async def _heartbeats(self) -> None:
        """Keep this replica's lease alive (replicas.py); a failed beat is retried next time."""
        assert self.replicas is not None
        every = self.settings.replica_lease_s / 6  # six beats may be missed before takeover
        while True:
            await asyncio.sleep(every)
            try:
                await self.replicas.heartbeat()
                if self.db.shared and self.app is not None:
                    # Updates a replica took and did not handle before it died: ours now.
                    await replay(self.app, self.update_log, self.settings.replica_lease_s)
            except Exception:
                log.exception("replica heartbeat failed; retrying")

    async def _initialize_telegram(self, app: Application[Any, Any, Any, Any, Any, Any]) -> None:
        """getMe: a refused token fails at once; an unreachable Bot API is retried a while
        (a network blip at start-up should not stop the bot)."""
        for attempt, wait in enumerate((*STARTUP_RETRY_WAITS, None), start=1):
            try:
                await app.initialize()
                return
            except InvalidToken:
                raise
            except NetworkError as exc:
                if wait is None:
                    raise
                log.warning(
                    "Bot API not reachable (attempt %d): %s; retrying in %.0f s",
                    attempt,
                    exc,
                    wait,
                )
                await asyncio.sleep(wait)

    def _build_application(self) -> Application[Any, Any, Any, Any, Any, Any]:
        s = self.settings
        root = s.telegram_api_base_url.rstrip("/")
        builder = (
            ApplicationBuilder()
            .context_types(CONTEXT_TYPES)  # handlers get a typed BotContext
            .token(s.telegram_bot_token.get_secret_value())
            .base_url(f"{root}/bot")
            .base_file_url(f"{root}/file/bot")
            .defaults(Defaults(parse_mode=ParseMode.HTML))
            # PTB's limiter keeps us under Telegram's flood limits and retries RetryAfter.
            .rate_limiter(AIORateLimiter(overall_max_rate=TELEGRAM_RATE_PER_S, max_retries=5))
            .concurrent_updates(True)
            .media_write_timeout(300)
            # A second connection lets the final getUpdates (confirming the last offset on stop)
            # go out while the cancelled long poll is still being torn down.
            .get_updates_connection_pool_size(2)
            # Every update is recorded before it is confirmed, and replayed after a crash.
            .update_queue(RecordingQueue(self.update_log))
            .application_class(RecordingApplication)
        )
        if s.telegram_local_mode:
            builder = builder.local_mode(True)
        if s.webhook_mode:
            builder = builder.updater(None)
        app = builder.build()
        assert isinstance(app, RecordingApplication)
        app.update_log = self.update_log
        return app

    async def _start_web(self, ctx: JobContext, runner: JobRunner) -> None:
        s = self.settings
        app = self.app
        assert app is not None
        webhook_path: str | None = None
        if s.webhook_endpoint is not None:
            webhook_path = urlsplit(s.webhook_endpoint).path or "/"

        async def refresh_gauges() -> None:
            self.metrics.set_active(await in_flight_counts(self.db))

        token = s.metrics_token.get_secret_value() if s.metrics_token else None

        async def on_update(data: dict[str, Any]) -> None:
            # Recorded by the queue before this returns, so before the webhook answers 2xx; an
            # update Telegram delivers again (to any replica) is recorded already and skipped.
            update = parse_update(data, app.bot)
            if update is not None:
                await app.update_queue.put(update)

        deps = WebDeps(
            store=ctx.store, media=ctx.media, registry=ctx.registry, on_wake=runner.wake,
            spawn=lambda coro, name: ctx.tasks.spawn(coro, name), ready=self.readiness,
            webhook_path=webhook_path,
            webhook_secret=self.webhook_secret,
            on_update=on_update if s.webhook_mode else None,
            on_callback=self.metrics.callback,
            extra_routes=[web.get("/metrics", metrics_route(self.metrics, token, refresh_gauges))],
            info=self.balances.info if self.balances is not None else None,
        )  # fmt: skip
        self.web_runner = web.AppRunner(create_web_app(deps), access_log=None, **SERVER_LIMITS)
        await self.web_runner.setup()
        site = web.TCPSite(self.web_runner, s.http_host, s.http_port)
        await site.start()
        server = site._server  # the only way aiohttp exposes the bound port (HTTP_PORT=0)
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else s.http_port

    async def _start_updates(self) -> None:
        s, app = self.settings, self.app
        assert app is not None
        if s.webhook_mode:
            assert s.webhook_endpoint is not None
            if self.webhook_secret is None:
                log.warning(
                    "TELEGRAM_WEBHOOK_INSECURE: running without TELEGRAM_WEBHOOK_SECRET; anyone "
                    "who finds the webhook URL can post fake updates"
                )
            await app.bot.set_webhook(
                s.webhook_endpoint,
                secret_token=self.webhook_secret,
                allowed_updates=Update.ALL_TYPES,
            )
        else:
            assert app.updater is not None
            # start_polling removes any webhook; never drop pending updates (photos users sent).
            await app.updater.start_polling(
                allowed_updates=Update.ALL_TYPES, drop_pending_updates=False
            )

    async def _set_commands(self) -> None:
        assert self.app is not None
        await publish_profile(self.app.bot, payments=bool(self.settings.credit_packs))

    async def readiness(self) -> dict[str, bool]:
        try:
            await self.db.fetchone("SELECT 1")
            database = True
        except Exception:
            database = False
        providers = bool(self.ctx and self.ctx.registry.providers)
        return {"database": database, "telegram": self._telegram_ok, "providers": providers}

    async def stop(self) -> None:
        """Stop taking updates, finish nothing new, cancel background work, close everything."""
        app = self.app
        if app is not None:
            if app.updater is not None and app.updater.running:
                await app.updater.stop()
            if app.running:
                await app.stop()
        if self.ctx is not None:
            await self.ctx.tasks.cancel_all()
            await self.ctx.messenger.aclose()
            for provider in self.ctx.registry.providers:
                await provider.aclose()
        if app is not None:
            try:
                await app.shutdown()
            except Exception:
                log.exception("PTB shutdown failed")
        if self.web_runner is not None:
            await self.web_runner.cleanup()
        if self.http is not None:
            await self.http.aclose()
        if self.downloads is not None:
            await self.downloads.aclose()
        if self.replicas is not None:
            try:
                await self.replicas.leave()  # the others take its unfinished jobs over at once
            except Exception:
                log.exception("could not leave the replica table")
        await self.db.close()


async def run_until_stopped(settings: Settings, stop: asyncio.Event) -> None:
    runtime = BotRuntime(settings)
    try:
        await runtime.start()
        await stop.wait()
    finally:
        await runtime.stop()

"""Telegram's server-side update queue: getUpdates long polling and webhook delivery."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from urllib.parse import urlsplit

import aiohttp

from bot.testing.bot_api.store import now
from bot.testing.bot_api.wire import ApiError, Json, bad_request

log = logging.getLogger(__name__)

# Update types Telegram sends when allowed_updates is empty or was never set.
_OPT_IN_ONLY = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
WEBHOOK_PORTS = frozenset({80, 88, 443, 8443})
_SECRET_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


class Signal:
    """A broadcast "state changed" that sync code fires and async code waits on (no polling)."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def fire(self) -> None:
        """Wake every current waiter."""
        self._event.set()
        self._event = asyncio.Event()

    async def wait_for(self, predicate: Callable[[], bool]) -> None:
        """Return once `predicate()` holds, re-checked on every fire (wrap in asyncio.timeout)."""
        while not predicate():
            await self._event.wait()


def update_type(update: Json) -> str | None:
    """The payload key of an update ("message", "callback_query", ...)."""
    return next((key for key in update if key != "update_id"), None)


class UpdateQueue:
    """Pending updates, confirmed by getUpdates offsets or by a 2xx from the webhook."""

    def __init__(self, signal: Signal, retry_delays: tuple[float, ...]) -> None:
        self.signal = signal
        self.retry_delays = retry_delays
        self.pending: list[Json] = []
        self.allowed_updates: list[str] = []
        self.webhook_url: str | None = None
        self.webhook_secret: str | None = None
        self.max_connections = 40
        self.deliveries: list[tuple[int, int]] = []
        self.closing = False
        self._last_id = 863_000_000
        self._poll_generation = 0
        self._last_error: tuple[int, str] | None = None
        self.waiting_polls = 0
        self.local_mode = False  # a local Bot API server delivers to HTTP and any port

    def push(self, update: Json) -> Json:
        """Queue an update, giving it the next update_id unless it carries one."""
        update = dict(update)
        if isinstance(update.get("update_id"), int):
            self._last_id = max(self._last_id, update["update_id"])
        else:
            self._last_id += 1
            update = {"update_id": self._last_id, **update}
        self.pending.append(update)
        self.signal.fire()
        return update

    def _wanted(self, update: Json) -> bool:
        kind = update_type(update)
        if self.allowed_updates:
            return kind in self.allowed_updates
        return kind not in _OPT_IN_ONLY

    def available(self) -> list[Json]:
        """Pending updates of the allowed types; unwanted ones are dropped as Telegram does."""
        self.pending = [update for update in self.pending if self._wanted(update)]
        return self.pending

    async def get_updates(self, params: Json) -> list[Json]:
        """getUpdates: confirm by offset, then long-poll up to `timeout` seconds."""
        if self.webhook_url:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        if isinstance(params.get("allowed_updates"), list):
            self.allowed_updates = [str(kind) for kind in params["allowed_updates"]]
        offset = int(params.get("offset") or 0)
        if offset > 0:
            self.pending = [u for u in self.pending if u["update_id"] >= offset]
        elif offset < 0:
            self.pending = self.pending[offset:]
        limit = min(max(int(params.get("limit") or 100), 1), 100)
        timeout = max(int(params.get("timeout") or 0), 0)
        # A newer getUpdates ends the older one with 409, as on Telegram (fired below).
        self._poll_generation += 1
        generation = self._poll_generation

        def done() -> bool:
            interrupted = generation != self._poll_generation or self.webhook_url is not None
            return self.closing or interrupted or bool(self.available())

        self.waiting_polls += 1
        self.signal.fire()  # also lets tests see that a long poll is waiting
        try:
            async with asyncio.timeout(timeout):
                await self.signal.wait_for(done)
        except TimeoutError:
            pass
        finally:
            self.waiting_polls -= 1
        if generation != self._poll_generation:
            raise ApiError(
                409,
                "Conflict: terminated by other getUpdates request; "
                "make sure that only one bot instance is running",
            )
        if self.webhook_url is not None:
            raise ApiError(409, "Conflict: terminated by setWebhook request")
        return [] if self.closing else list(self.available()[:limit])

    def set_webhook(self, params: Json) -> str:
        """setWebhook; returns the description Telegram answers with."""
        url = str(params.get("url") or "")
        if not url:
            return self.delete_webhook(params)
        self._check_webhook_url(url)
        secret = params.get("secret_token")
        if secret is not None:
            secret = str(secret)
            if not 1 <= len(secret) <= 256 or not set(secret) <= _SECRET_CHARS:
                raise bad_request("secret token contains unallowed characters")
        if params.get("drop_pending_updates"):
            self.pending.clear()
        if isinstance(params.get("allowed_updates"), list):
            self.allowed_updates = [str(kind) for kind in params["allowed_updates"]]
        same = url == self.webhook_url and secret == self.webhook_secret
        self.webhook_url, self.webhook_secret = url, secret
        self.max_connections = int(params.get("max_connections") or 40)
        self._last_error = None
        self.signal.fire()
        return "Webhook is already set" if same else "Webhook was set"

    def _check_webhook_url(self, url: str) -> None:
        """The cloud Bot API delivers only to HTTPS on ports 80, 88, 443 and 8443."""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            raise bad_request(
                "bad webhook: Failed to resolve host: Name or service not known"
            ) from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        if self.local_mode:
            return
        if parts.scheme != "https":
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        if (port or 443) not in WEBHOOK_PORTS:
            raise bad_request(
                "bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443"
            )

    def delete_webhook(self, params: Json) -> str:
        """deleteWebhook; pending updates stay for getUpdates unless dropped."""
        if params.get("drop_pending_updates"):
            self.pending.clear()
        was_set = self.webhook_url is not None
        self.webhook_url = self.webhook_secret = None
        self.signal.fire()
        return "Webhook was deleted" if was_set else "Webhook is already deleted"

    def webhook_info(self) -> Json:
        """getWebhookInfo."""
        info: Json = {
            "url": self.webhook_url or "",
            "has_custom_certificate": False,
            "pending_update_count": len(self.available()),
        }
        if self.webhook_url:
            info["max_connections"] = self.max_connections
            if self.allowed_updates:
                info["allowed_updates"] = list(self.allowed_updates)
            if self._last_error:
                info["last_error_date"], info["last_error_message"] = self._last_error
        return info

    async def deliver_forever(self, session: aiohttp.ClientSession) -> None:
        """POST queued updates to the webhook one at a time, in order, while one is set."""
        while True:
            await self.signal.wait_for(
                lambda: self.closing or (self.webhook_url is not None and bool(self.available()))
            )
            if self.closing:
                return
            update = self.available()[0]
            if await self._deliver(session, update) is not None:
                self.pending = [u for u in self.pending if u is not update]
                self.signal.fire()

    async def _deliver(self, session: aiohttp.ClientSession, update: Json) -> int | None:
        """Attempts with back-off; the last status, or None if the webhook went away meanwhile."""
        status = 0
        for delay in (0.0, *self.retry_delays):
            if delay:
                await asyncio.sleep(delay)  # Telegram's retry back-off, not test synchronisation
            url, secret = self.webhook_url, self.webhook_secret
            if url is None or self.closing:
                return None
            headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret else {}
            status, message = await _post(session, url, update, headers)
            self.deliveries.append((update["update_id"], status))
            self.signal.fire()
            if 200 <= status < 300:
                return status
            self._last_error = (now(), message)
            log.info("webhook answered %s for update %s", status, update["update_id"])
        return status  # Telegram gives up eventually; the fake gives up after the retries


async def _post(
    session: aiohttp.ClientSession, url: str, update: Json, headers: dict[str, str]
) -> tuple[int, str]:
    try:
        async with session.post(url, json=update, headers=headers) as response:
            await response.read()
            reason = f"{response.status} {response.reason or ''}".strip()
            return response.status, f"Wrong response from the webhook: {reason}"
    except (aiohttp.ClientError, TimeoutError) as exc:
        return 0, f"Connection failed: {type(exc).__name__}"

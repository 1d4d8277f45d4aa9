"""The one HTTP call every adapter uses: auth, timeouts, retries, defensive JSON, error mapping.

Retry policy (numbers below): a 429 is retried after its `Retry-After` (or a backoff) a bounded
number of times, unless the wait is longer than we are willing to block, when `RateLimited` is
raised instead; an UPSTREAM failure (5xx, HTML page, body code 500) is retried once on a create
and up to `max_attempts` on a query. A create whose request may have reached the vendor
(read/write timeout, dropped connection) is never retried: `ProviderTimeout(outcome_unknown=True)`.
"""

from __future__ import annotations

import asyncio
import json as jsonlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from bot.models import ErrorKind
from bot.providers._parsing import excerpt, text_of
from bot.providers.errors import ProviderError, ProviderTimeout, UpstreamError

log = logging.getLogger(__name__)

TIMEOUT = httpx.Timeout(30.0, connect=10.0, pool=10.0)
RATE_LIMIT_RETRIES = 2  # extra attempts after a 429
MAX_RETRY_AFTER_S = 30.0  # wait longer than this? raise RateLimited and let the caller decide
CREATE_UPSTREAM_RETRIES = 1  # a 5xx on create: one retry, then give up
BACKOFF_BASE_S = 1.0
BACKOFF_MAX_S = 8.0

# Tests replace this so backoff never really waits.
_sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

MapError = Callable[[int, Any, httpx.Response], ProviderError]
BodyCheck = Callable[[Any, httpx.Response], ProviderError | None]

# Raised before a single byte reached the vendor: always safe to retry or fail over.
_NOT_SENT = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.UnsupportedProtocol,
    httpx.ProxyError,
    httpx.LocalProtocolError,
)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header (delta-seconds or HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _backoff(attempt: int) -> float:
    return float(min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2 ** (attempt - 1)))


def _request_id(response: httpx.Response, body: Any) -> str | None:
    rid = response.headers.get("x-request-id")
    if not rid and isinstance(body, dict):
        rid = text_of(body.get("requestId") or body.get("request_id"))
    return rid or None


def _finish(
    err: ProviderError, response: httpx.Response, body: Any, api_key: str
) -> ProviderError:
    """Fill what every error carries; never let the key through in a message."""
    err.status = err.status if err.status is not None else response.status_code
    err.request_id = err.request_id or _request_id(response, body)
    if body is None:
        err.message = f"{err.message} (body: {excerpt(response.content, secret=api_key)})"
    if api_key and api_key in err.message:
        err.message = err.message.replace(api_key, "***")
    err.args = (err.message,)
    if err.kind is ErrorKind.RATE_LIMITED and err.retry_after is None:
        err.retry_after = parse_retry_after(response.headers.get("retry-after"))
    return err


def _parse(response: httpx.Response) -> Any:
    """The JSON body, or None when it is empty, HTML or truncated."""
    if not response.content.strip():
        return None
    try:
        return jsonlib.loads(response.content)
    except ValueError:
        return None


async def call_json(
    client: httpx.AsyncClient,
    provider: str,
    method: str,
    url: str,
    *,
    api_key: str,
    json: dict[str, Any] | None = None,
    params: dict[str, Any] | None = None,
    create: bool = False,
    map_error: MapError,
    body_error: BodyCheck | None = None,
    max_attempts: int = 3,
) -> Any:
    """Send one vendor call and return its parsed JSON body; raise a mapped `ProviderError`."""
    headers = {"Authorization": f"Bearer {api_key}", "Accept": "application/json"}
    path = httpx.URL(url).path
    upstream_limit = 1 + CREATE_UPSTREAM_RETRIES if create else max(1, max_attempts)
    attempts = rate_limited = 0
    while True:
        attempts += 1
        try:
            response = await client.request(
                method, url, headers=headers, json=json, params=params, timeout=TIMEOUT
            )
        except _NOT_SENT as exc:
            timed_out = isinstance(exc, httpx.TimeoutException)
            kind = "timed out connecting" if timed_out else "could not connect"
            err: ProviderError = (
                ProviderTimeout(
                    f"{method} {path}: {kind}", outcome_unknown=False, provider=provider
                )
                if timed_out
                else UpstreamError(
                    f"{method} {path}: {kind} ({type(exc).__name__})", provider=provider
                )
            )
            if attempts < upstream_limit:
                log.warning("%s %s %s: %s, retrying", provider, method, path, kind)
                await _sleep(_backoff(attempts))
                continue
            raise err from None
        except (httpx.TransportError, httpx.DecodingError) as exc:
            # The request may have reached the vendor: a create may have made a task and a charge.
            # (DecodingError: an answer whose Content-Encoding does not decode, e.g. "gzip, gzip".)
            msg = f"{method} {path}: no answer after sending ({type(exc).__name__})"
            if not create and attempts < upstream_limit:
                log.warning("%s %s, retrying", provider, msg)
                await _sleep(_backoff(attempts))
                continue
            raise ProviderTimeout(msg, outcome_unknown=create, provider=provider) from None

        body = _parse(response)
        if response.is_success:
            if body is None:
                snippet = excerpt(response.content, secret=api_key)
                err = UpstreamError(
                    f"{method} {path}: unreadable JSON body: {snippet!r}",
                    provider=provider,
                    status=response.status_code,
                )
                err.request_id = _request_id(response, None)
                if create:
                    # The vendor said yes but we cannot read the task id: a task (and a charge)
                    # may exist, so the outcome is unknown and no other provider may try.
                    raise ProviderTimeout(
                        err.message, outcome_unknown=True, provider=provider,
                        status=response.status_code, request_id=err.request_id,
                    )  # fmt: skip
            else:
                checked = body_error(body, response) if body_error else None
                if checked is None:
                    return body
                err = _finish(checked, response, body, api_key)
        else:
            err = _finish(map_error(response.status_code, body, response), response, body, api_key)

        if err.kind is ErrorKind.RATE_LIMITED:
            wait = err.retry_after if err.retry_after is not None else _backoff(rate_limited + 1)
            if rate_limited < RATE_LIMIT_RETRIES and wait <= MAX_RETRY_AFTER_S:
                rate_limited += 1
                log.warning("%s %s %s: rate limited, waiting %.1f s", provider, method, path, wait)
                await _sleep(wait)
                continue
            err.retry_after = wait
        elif err.kind is ErrorKind.UPSTREAM and attempts < upstream_limit:
            log.warning("%s %s %s: %s, retrying", provider, method, path, err.message)
            await _sleep(_backoff(attempts))
            continue
        raise err

"""The shared provider call: auth, timeouts, retries, defensive JSON, error mapping."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from bot.models import ErrorKind
from bot.providers import _http, _parsing
from bot.providers.errors import (
    ProviderAuthError as AuthError,
)
from bot.providers.errors import (
    ProviderError,
    ProviderTimeout,
    RateLimited,
    TaskNotFound,
    UpstreamError,
    error_for,
)
from tests.replay import Replay, record_sleeps

KEY = "sk-test-SECRET-0123456789"
URL = "https://vendor.test/v1/things"

Item = httpx.Response | Exception


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Backoff waits are recorded instead of slept."""
    return record_sleeps(monkeypatch)


def simple_map(status: int, body: Any, response: httpx.Response) -> ProviderError:
    message = body.get("message", "?") if isinstance(body, dict) else f"HTTP {status}"
    kind = _parsing.kind_for_status(status)
    return error_for(kind, message, provider="v", status=status)


async def call(replay: Replay, **kwargs: Any) -> Any:
    kwargs.setdefault("map_error", simple_map)
    async with httpx.AsyncClient(transport=httpx.MockTransport(replay)) as client:
        method = kwargs.pop("method", "POST")
        return await _http.call_json(client, "v", method, URL, api_key=KEY, **kwargs)


def exc(cls: Callable[..., Exception]) -> Exception:
    return cls("boom", request=httpx.Request("POST", URL))


async def test_success_sends_bearer_json_and_timeouts(sleeps: list[float]) -> None:
    replay = Replay(httpx.Response(200, json={"id": "t1"}))
    body = await call(replay, json={"a": 1}, params={"q": "x"}, create=True)
    assert body == {"id": "t1"}
    (req,) = replay.requests
    assert req.headers["authorization"] == f"Bearer {KEY}"
    assert req.url.params["q"] == "x"
    assert json.loads(req.content) == {"a": 1}
    timeout = req.extensions["timeout"]
    assert timeout["connect"] == 10.0 and timeout["read"] == 30.0
    assert sleeps == []


@pytest.mark.parametrize(
    "error", [httpx.ReadTimeout, httpx.WriteTimeout, httpx.RemoteProtocolError]
)
async def test_create_after_send_is_outcome_unknown_and_never_retried(
    sleeps: list[float], error: Callable[..., Exception]
) -> None:
    replay = Replay(exc(error), httpx.Response(200, json={"id": "t2"}))
    with pytest.raises(ProviderTimeout) as info:
        await call(replay, create=True)
    assert info.value.outcome_unknown is True
    assert info.value.next_provider_may_try is False
    assert len(replay.requests) == 1 and sleeps == []


async def test_query_read_timeout_is_retried(sleeps: list[float]) -> None:
    replay = Replay(exc(httpx.ReadTimeout), httpx.Response(200, json={"ok": True}))
    assert await call(replay, method="GET") == {"ok": True}
    assert len(replay.requests) == 2 and len(sleeps) == 1


async def test_query_read_timeouts_exhausted(sleeps: list[float]) -> None:
    replay = Replay(*(exc(httpx.ReadTimeout) for _ in range(3)))
    with pytest.raises(ProviderTimeout) as info:
        await call(replay, method="GET", max_attempts=3)
    assert info.value.outcome_unknown is False and len(replay.requests) == 3
    assert sleeps == [1.0, 2.0]  # exponential backoff, injected so nothing really waits


async def test_connect_error_never_left_so_next_provider_may_try(sleeps: list[float]) -> None:
    replay = Replay(exc(httpx.ConnectError), exc(httpx.ConnectError))
    with pytest.raises(UpstreamError) as info:
        await call(replay, create=True)
    assert info.value.next_provider_may_try is True
    assert KEY not in str(info.value)
    assert len(replay.requests) == 2  # never sent, so one retry is safe even for a create


async def test_connect_timeout_is_timeout_with_known_outcome(sleeps: list[float]) -> None:
    replay = Replay(exc(httpx.ConnectTimeout), exc(httpx.PoolTimeout))
    with pytest.raises(ProviderTimeout) as info:
        await call(replay, create=True)
    assert info.value.outcome_unknown is False and info.value.next_provider_may_try is True


async def test_429_retry_after_seconds_is_honoured(sleeps: list[float]) -> None:
    replay = Replay(
        httpx.Response(429, headers={"Retry-After": "7"}, json={"message": "slow down"}),
        httpx.Response(200, json={"id": "t3"}),
    )
    assert await call(replay, create=True) == {"id": "t3"}
    assert len(replay.requests) == 2
    assert sleeps and sleeps[0] >= 7


async def test_429_without_header_backs_off_then_gives_up(sleeps: list[float]) -> None:
    replay = Replay(*(httpx.Response(429, json={"message": "no"}) for _ in range(5)))
    with pytest.raises(RateLimited) as info:
        await call(replay)
    assert len(replay.requests) == 1 + _http.RATE_LIMIT_RETRIES
    assert len(sleeps) == _http.RATE_LIMIT_RETRIES and all(s > 0 for s in sleeps)
    assert info.value.retry_after is not None and info.value.retry_after > 0


async def test_429_with_long_retry_after_raises_at_once(sleeps: list[float]) -> None:
    replay = Replay(httpx.Response(429, headers={"Retry-After": "120"}, json={"message": "later"}))
    with pytest.raises(RateLimited) as info:
        await call(replay, create=True)
    assert info.value.retry_after == 120
    assert len(replay.requests) == 1 and sleeps == []


def test_retry_after_http_date() -> None:
    now = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert _http.parse_retry_after("Wed, 01 Jan 2025 12:00:20 GMT", now=now) == 20
    assert _http.parse_retry_after("Wed, 01 Jan 2025 11:00:00 GMT", now=now) == 0
    assert _http.parse_retry_after("soon") is None
    assert _http.parse_retry_after(None) is None
    assert _http.parse_retry_after(" 3 ") == 3


async def test_5xx_on_create_retried_once(sleeps: list[float]) -> None:
    replay = Replay(*(httpx.Response(503, json={"message": "down"}) for _ in range(4)))
    with pytest.raises(UpstreamError) as info:
        await call(replay, create=True)
    assert len(replay.requests) == 1 + _http.CREATE_UPSTREAM_RETRIES
    assert info.value.status == 503 and len(sleeps) == 1


async def test_5xx_on_query_retried_per_max_attempts(sleeps: list[float]) -> None:
    replay = Replay(
        httpx.Response(500, json={"message": "x"}),
        httpx.Response(500, json={"message": "x"}),
        httpx.Response(200, json={"ok": 1}),
    )
    assert await call(replay, method="GET", max_attempts=3) == {"ok": 1}
    assert len(replay.requests) == 3 and len(sleeps) == 2


async def test_4xx_is_not_retried(sleeps: list[float]) -> None:
    replay = Replay(httpx.Response(404, json={"message": "gone"}))
    with pytest.raises(TaskNotFound):
        await call(replay, method="GET")
    assert len(replay.requests) == 1 and sleeps == []


HTML = b"<html>\n<head><title>502 Bad Gateway</title></head>\n<body>" + b"x" * 5000 + b"</body>"


async def test_html_error_page_is_upstream_with_short_excerpt(sleeps: list[float]) -> None:
    page = httpx.Response(502, content=HTML, headers={"content-type": "text/html"})
    replay = Replay(page, page)
    with pytest.raises(UpstreamError) as info:
        await call(replay, create=True)
    message = info.value.message
    assert "502 Bad Gateway" in message and "\n" not in message
    assert len(message) < 400


@pytest.mark.parametrize("content", [b"", b"   ", b'{"id": "task-unif', b"<html>oops</html>"])
async def test_unreadable_200_body_on_create_is_outcome_unknown_and_not_retried(
    sleeps: list[float], content: bytes
) -> None:
    replay = Replay(httpx.Response(200, content=content), httpx.Response(200, json={"id": "x"}))
    with pytest.raises(ProviderTimeout) as info:
        await call(replay, create=True)
    assert info.value.status == 200 and info.value.outcome_unknown
    assert len(replay.requests) == 1


async def test_unreadable_200_body_on_query_is_retried(sleeps: list[float]) -> None:
    replay = Replay(httpx.Response(200, content=b'{"sta'), httpx.Response(200, json={"s": 1}))
    assert await call(replay, method="GET") == {"s": 1}


async def test_key_echoed_by_vendor_never_reaches_the_error(sleeps: list[float]) -> None:
    replay = Replay(
        httpx.Response(401, json={"message": f"bad key {KEY}"}),
    )
    with pytest.raises(AuthError) as info:
        await call(replay)
    assert KEY not in str(info.value) and KEY not in repr(info.value.args)
    replay = Replay(httpx.Response(401, content=f"<p>Bearer {KEY}</p>".encode()))
    with pytest.raises(AuthError) as info:
        await call(replay)
    assert KEY not in str(info.value) and "***" in str(info.value)


async def test_request_id_from_header_and_body(sleeps: list[float]) -> None:
    replay = Replay(httpx.Response(404, headers={"x-request-id": "req-42"}, json={}))
    with pytest.raises(ProviderError) as info:
        await call(replay)
    assert info.value.request_id == "req-42" and "req-42" in str(info.value)
    replay = Replay(httpx.Response(401, json={"message": "no", "requestId": "b7e3"}))
    with pytest.raises(ProviderError) as info:
        await call(replay)
    assert info.value.request_id == "b7e3"


async def test_body_error_hook_decides_from_the_body(sleeps: list[float]) -> None:
    def body_error(body: Any, response: httpx.Response) -> ProviderError | None:
        code = body.get("code")
        if code == 200:
            return None
        return error_for(_parsing.kind_for_status(code), "body says no", provider="v")

    replay = Replay(
        httpx.Response(200, headers={"Retry-After": "2"}, json={"code": 429}),
        httpx.Response(200, json={"code": 402}),
    )
    with pytest.raises(ProviderError) as info:
        await call(replay, body_error=body_error, create=True)
    assert info.value.kind is ErrorKind.INSUFFICIENT_CREDITS
    assert info.value.status == 200
    assert sleeps == [2.0] and len(replay.requests) == 2

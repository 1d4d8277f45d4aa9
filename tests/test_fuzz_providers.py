"""Fuzzing the provider doors: whatever a provider answers, the client raises only the one
ProviderError tree (or returns a sane result), never anything else."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.models import VideoOptions
from bot.providers import _http
from bot.providers.aimlapi import AimlapiProvider
from bot.providers.apikley import ApikleyProvider
from bot.providers.base import InvalidCallback, VideoRequest
from bot.providers.errors import ProviderError
from bot.providers.evolink import EvolinkProvider
from bot.providers.foxapi import FoxapiProvider

PROVIDERS = [EvolinkProvider, ApikleyProvider, FoxapiProvider, AimlapiProvider]
EXAMPLES = 60  # per provider and door

JSON_LEAF = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=30),
    st.sampled_from(["completed", "failed", "processing", "SUCCESS", "task-unified-1-x",
                     "https://127.0.0.1/v.mp4", "file:///etc/passwd", "http://[::1]/x", ""]),
)  # fmt: skip
JSON_KEYS = st.sampled_from(
    ["id", "task_id", "taskId", "status", "state", "data", "results", "result_urls", "output",
     "error", "code", "msg", "message", "progress", "task_info", "estimated_time", "video",
     "url", "resultJson", "generation_id", "successFlag", "response", "x"]
)  # fmt: skip
JSON = st.recursive(
    JSON_LEAF,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(JSON_KEYS, inner, max_size=6)
    ),
    max_leaves=20,
)
BODY = st.one_of(
    JSON.map(lambda v: json.dumps(v).encode()),
    JSON.map(lambda v: json.dumps(v).encode()[:-3]),  # truncated
    st.just(b"<html><body>502 Bad Gateway</body></html>"),
    st.binary(max_size=200),
    st.just(b""),
)
ANSWER = st.tuples(
    st.sampled_from([200, 200, 200, 201, 202, 204, 301, 302, 400, 401, 402, 403, 404, 409, 413,
                     422, 429, 500, 502, 503, 504, 520]),
    st.sampled_from(["application/json", "text/html", "text/plain", "", "application/x-gzip"]),
    BODY,
    st.sampled_from(["", "gzip", "gzip, gzip", "br", "bogus"]),
    st.sampled_from(["", "1", "-5", "1e9", "soon", "Wed, 21 Oct 2015 07:28:00 GMT"]),
)  # fmt: skip


def _client(answer: tuple[int, str, bytes, str, str]) -> httpx.AsyncClient:
    status, content_type, body, encoding, retry_after = answer

    def handler(request: httpx.Request) -> httpx.Response:
        headers = {"Content-Type": content_type} if content_type else {}
        content = body
        if encoding:
            headers["Content-Encoding"] = encoding
            if encoding.startswith("gzip"):
                content = gzip.compress(body)  # "gzip, gzip" then fails to decode twice
        if retry_after:
            headers["Retry-After"] = retry_after
        if status in (301, 302):
            headers["Location"] = "http://169.254.169.254/latest/meta-data/"
        return httpx.Response(status, headers=headers, content=content)

    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


def _request(provider: Any) -> VideoRequest:
    model = next(iter(provider.models))
    return VideoRequest(
        "a cat", VideoOptions(model, provider.models[model].defaults()), Path("/x.jpg"),
        "https://bot.example.com/media/abc", "https://bot.example.com/callbacks/x/1-abc",
    )  # fmt: skip


@pytest.fixture(name="no_waits")
def _no_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retries and Retry-After waits return at once (the waits themselves are tested elsewhere)."""

    async def no_wait(_seconds: float) -> None:
        return None

    monkeypatch.setattr(_http, "_sleep", no_wait)


@pytest.mark.parametrize("cls", PROVIDERS, ids=lambda c: c.__name__)
@settings(
    max_examples=EXAMPLES, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)  # fmt: skip
@given(answer=ANSWER)
async def test_any_provider_answer_is_a_result_or_a_provider_error(
    cls: Any, answer: tuple[int, str, bytes, str, str], no_waits: None
) -> None:
    async with _client(answer) as client:
        provider = cls(client, api_key="k", base_url="https://api.example.com")
        for call in (lambda: provider.submit(_request(provider)), lambda: provider.query("t-1")):
            try:
                result = await call()
            except ProviderError:
                continue
            assert result is not None


@pytest.mark.parametrize("cls", PROVIDERS, ids=lambda c: c.__name__)
@settings(max_examples=EXAMPLES, deadline=None)
@given(body=BODY, headers=st.dictionaries(st.sampled_from(
    ["Content-Type", "X-Signature", "X-Timestamp", "Signature", "X-Webhook-Signature"]),
    st.text(max_size=40), max_size=3))  # fmt: skip
def test_any_callback_body_is_a_task_id_or_refused(
    cls: Any, body: bytes, headers: dict[str, str]
) -> None:
    provider = cls(httpx.AsyncClient(), api_key="k", base_url="https://api.example.com")
    try:
        task_id = provider.callback_task_id(headers, body)
    except InvalidCallback:
        return
    assert isinstance(task_id, str) and task_id

"""apikley adapter replayed against the documented examples in tests/data/apikley."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.models import ErrorKind, TaskState, VideoOptions
from bot.providers.apikley import ApikleyProvider
from bot.providers.base import InvalidCallback, VideoProvider, VideoRequest
from bot.providers.errors import (
    ContentPolicyError,
    InsufficientCredits,
    ProviderAuthError,
    ProviderConfigError,
    ProviderError,
    ProviderTimeout,
    ProviderValidationError,
    RateLimited,
    TaskNotFound,
    UpstreamError,
)
from tests.replay import DATA as FIXTURES
from tests.replay import Replay, loader, record_sleeps

KEY = "apikley-key-SECRET"
BASE = "https://apikley.test"
IMAGE = "https://bot.example/media/abc123"
CALLBACK = "https://bot.example/callbacks/apikley/tok"
TASK = "281e5b0a7c1d4e2f9b3a6c8d5e7f39b9"
HMAC_KEY = "whsec-test"
NOW = 1_700_000_000


DATA = FIXTURES / "apikley"
data = loader("apikley")


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    return record_sleeps(monkeypatch)


def provider(replay: Replay, **kwargs: Any) -> ApikleyProvider:
    client = httpx.AsyncClient(transport=httpx.MockTransport(replay))
    return ApikleyProvider(client, api_key=KEY, base_url=BASE, **kwargs)


def request(
    prompt: str = "The girl waves", callback: str | None = None, **values: str
) -> VideoRequest:
    options = VideoOptions(model="grok", values=values)
    return VideoRequest(prompt, options, Path("/nonexistent.jpg"), IMAGE, callback)


def test_is_a_video_provider_without_spicy_duration_or_resolution() -> None:
    p = provider(Replay())
    assert isinstance(p, VideoProvider)
    assert p.name == "apikley" and p.uses_callbacks and p.needs_public_image
    grok = p.models["grok"]
    assert grok.defaults() == {"mode": "normal"}
    assert grok.option("mode").values == ("fun", "normal")  # type: ignore[union-attr]


async def test_submit_sends_the_documented_body() -> None:
    replay = Replay(httpx.Response(200, json=data("create")))
    submitted = await provider(replay).submit(request(callback=CALLBACK, mode="fun"))
    assert submitted.task_id == TASK and submitted.eta_s is None
    req = replay.requests[0]
    assert req.method == "POST" and str(req.url) == BASE + "/api/v1/jobs/createTask"
    assert req.headers["authorization"] == f"Bearer {KEY}"
    assert replay.body() == {
        "model": "grok-imagine/image-to-video",
        "callBackUrl": CALLBACK,
        "input": {"image_urls": [IMAGE], "prompt": "The girl waves", "mode": "fun"},
    }


async def test_submit_never_sends_spicy_nor_a_null_callback() -> None:
    replay = Replay(httpx.Response(200, json=data("create")))
    await provider(replay).submit(request(mode="spicy", duration="10"))
    body = replay.body()
    assert "callBackUrl" not in body
    assert body["input"] == {"image_urls": [IMAGE], "prompt": "The girl waves", "mode": "normal"}


async def test_submit_requires_a_prompt() -> None:
    replay = Replay()
    with pytest.raises(ProviderValidationError):
        await provider(replay).submit(request(prompt=" "))
    assert replay.requests == []


async def test_submit_without_task_id_is_outcome_unknown() -> None:
    replay = Replay(httpx.Response(200, json={"code": 200, "msg": "success", "data": {}}))
    with pytest.raises(ProviderTimeout) as info:
        await provider(replay).submit(request())
    assert info.value.outcome_unknown


async def test_submit_timeout_after_send_is_outcome_unknown() -> None:
    replay = Replay(httpx.ReadTimeout("slow"), httpx.Response(200, json=data("create")))
    with pytest.raises(ProviderTimeout) as info:
        await provider(replay).submit(request())
    assert info.value.outcome_unknown and len(replay.requests) == 1


ERRORS = [
    ("error_401", ProviderAuthError),
    ("error_402", InsufficientCredits),
    ("error_404", ProviderConfigError),  # on create: the endpoint or model, not a task (issue 11)
    ("error_422", ProviderValidationError),  # names input.prompt: the user's prompt
    ("error_429", RateLimited),
    ("error_455", UpstreamError),
    ("error_500", UpstreamError),
    ("error_501", UpstreamError),
    ("error_505", UpstreamError),
]


@pytest.mark.parametrize(("name", "cls"), ERRORS)
@pytest.mark.parametrize("http_equals_code", [True, False])
async def test_error_codes_whether_in_http_status_or_only_in_the_body(
    name: str, cls: type[ProviderError], http_equals_code: bool
) -> None:
    body = data(name)
    status = body["code"] if http_equals_code else 200
    replay = Replay(*(httpx.Response(status, json=body) for _ in range(5)))
    with pytest.raises(cls) as info:
        await provider(replay).submit(request())
    err = info.value
    assert type(err) is cls and err.code == str(body["code"]) and err.status == status
    assert err.message == body["msg"] and err.provider == "apikley"


async def test_body_code_429_waits_retry_after_then_succeeds(no_sleep: list[float]) -> None:
    replay = Replay(
        httpx.Response(429, headers={"Retry-After": "3"}, json=data("error_429")),
        httpx.Response(200, json=data("create")),
    )
    assert (await provider(replay).submit(request())).task_id == TASK
    assert no_sleep == [3.0]


async def test_moderation_words_in_a_422_are_content_policy() -> None:
    body = {"code": 422, "msg": "Prompt flagged as sensitive content"}
    with pytest.raises(ContentPolicyError):
        await provider(Replay(httpx.Response(200, json=body))).submit(request())


@pytest.mark.parametrize(
    ("name", "state"),
    [
        ("record_waiting", TaskState.QUEUED),
        ("record_queuing", TaskState.QUEUED),
        ("record_generating", TaskState.RUNNING),
        ("record_success_video", TaskState.SUCCEEDED),
        ("record_fail", TaskState.FAILED),
    ],
)
async def test_query_state_mapping(name: str, state: TaskState) -> None:
    replay = Replay(httpx.Response(200, json=data(name)))
    event = await provider(replay).query(TASK)
    req = replay.requests[0]
    assert req.method == "GET" and req.url.path == "/api/v1/jobs/recordInfo"
    assert req.url.params["taskId"] == TASK
    assert event.state is state and event.task_id == TASK
    assert event.progress is None and event.eta_s is None


async def test_query_success_parses_result_json_string() -> None:
    event = await provider(Replay(httpx.Response(200, json=data("record_success")))).query("x")
    assert event.video_url == "https://example.com/generated-content.jpg"
    assert event.task_id == "task_12345678"
    video = await provider(Replay(httpx.Response(200, json=data("record_success_video")))).query(
        TASK
    )
    assert (
        video.video_url
        == json.loads(data("record_success_video")["data"]["resultJson"])["resultUrls"][0]
    )


async def test_query_success_accepts_result_json_as_an_object() -> None:
    body = data("record_success_video")
    body["data"]["resultJson"] = {"resultUrls": ["https://cdn.test/v.mp4"]}
    body["data"]["state"] = "SUCCESS"
    event = await provider(Replay(httpx.Response(200, json=body))).query(TASK)
    assert event.state is TaskState.SUCCEEDED and event.video_url == "https://cdn.test/v.mp4"


@pytest.mark.parametrize("result", ["", None, "{truncated", '{"resultUrls": []}'])
async def test_query_success_without_urls_is_an_upstream_failure(result: Any) -> None:
    body = data("record_success_video")
    body["data"]["resultJson"] = result
    event = await provider(Replay(httpx.Response(200, json=body))).query(TASK)
    assert event.state is TaskState.FAILED and event.error_kind is ErrorKind.UPSTREAM


async def test_query_success_last_resort_mp4() -> None:
    body = data("record_success_video")
    body["data"]["resultJson"] = '{"videos": [{"src": "https://cdn.test/x/y.mp4?sig=1"}]}'
    event = await provider(Replay(httpx.Response(200, json=body))).query(TASK)
    assert event.video_url == "https://cdn.test/x/y.mp4?sig=1"


@pytest.mark.parametrize(
    ("code", "msg", "kind"),
    [
        ("500", "Internal server error", ErrorKind.UPSTREAM),
        ("501", "Generation failed", ErrorKind.UPSTREAM),
        ("422", "image_urls is invalid", ErrorKind.VALIDATION),
        ("500", "Rejected by content moderation", ErrorKind.CONTENT_POLICY),
        ("400", "Your content was flagged by moderation", ErrorKind.CONTENT_POLICY),
        ("", "Task timed out", ErrorKind.TIMEOUT),
        ("", "", ErrorKind.UPSTREAM),
    ],
)
async def test_query_failed_task_errors(code: str, msg: str, kind: ErrorKind) -> None:
    body = data("record_fail")
    body["data"].update(failCode=code, failMsg=msg)
    event = await provider(Replay(httpx.Response(200, json=body))).query(TASK)
    assert event.state is TaskState.FAILED and event.error_kind is kind
    assert event.error_code == (code or None) and event.error_message == (msg or None)


async def test_query_moderation_fixture() -> None:
    event = await provider(Replay(httpx.Response(200, json=data("record_fail_moderation")))).query(
        TASK
    )
    assert event.error_kind is ErrorKind.CONTENT_POLICY and event.error_code == "400"


async def test_query_unknown_state_keeps_polling() -> None:
    body = data("record_generating")
    body["data"]["state"] = "rendering"
    event = await provider(Replay(httpx.Response(200, json=body))).query(TASK)
    assert event.state is TaskState.UNKNOWN


async def test_query_errors_read_message_or_msg() -> None:
    replay = Replay(
        httpx.Response(200, json={"code": 404, "message": "recordInfo is null"}),
        httpx.Response(404, json={"code": 404, "msg": "Task not found"}),
    )
    p = provider(replay)
    with pytest.raises(TaskNotFound, match="recordInfo is null"):
        await p.query(TASK)
    with pytest.raises(TaskNotFound, match="Task not found"):
        await p.query(TASK)


async def test_query_html_and_truncated_bodies_are_upstream() -> None:
    html = httpx.Response(502, text="<html><h1>502 Bad Gateway</h1></html>")
    with pytest.raises(UpstreamError, match="Bad Gateway"):
        await provider(Replay(html, html, html)).query(TASK)
    cut = httpx.Response(200, content=b'{"code":200,"message":"succ')
    with pytest.raises(UpstreamError):
        await provider(Replay(cut, cut, cut)).query(TASK)
    not_object = httpx.Response(200, json=["a"])
    with pytest.raises(UpstreamError):
        await provider(Replay(not_object, not_object, not_object)).query(TASK)


@pytest.mark.parametrize(
    "name", ["callback_success", "callback_fail", "callback_full_kie", "callback_full_kie_fail"]
)
def test_callback_task_id(name: str) -> None:
    body = (DATA / f"{name}.json").read_bytes()
    assert provider(Replay()).callback_task_id({}, body) == TASK


def test_callback_task_id_snake_case_variant() -> None:
    body = json.dumps({"code": 200, "msg": "ok", "data": {"task_id": "t-9"}}).encode()
    assert provider(Replay()).callback_task_id({}, body) == "t-9"


@pytest.mark.parametrize("body", [b"", b"{oops", b'"text"', b'{"code":200,"data":{}}', b"[]"])
def test_malformed_callback_is_refused(body: bytes) -> None:
    with pytest.raises(InvalidCallback):
        provider(Replay()).callback_task_id({}, body)


def sign(task_id: str, stamp: int, key: str = HMAC_KEY) -> str:
    digest = hmac.new(key.encode(), f"{task_id}.{stamp}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def signed(stamp: int, signature: str) -> dict[str, str]:
    return {"X-Webhook-Timestamp": str(stamp), "X-Webhook-Signature": signature}


def hmac_provider() -> ApikleyProvider:
    return provider(Replay(), hmac_key=HMAC_KEY, clock=lambda: float(NOW))


def test_hmac_good_signature_is_accepted() -> None:
    body = (DATA / "callback_success.json").read_bytes()
    p = hmac_provider()
    assert p.callback_task_id(signed(NOW - 10, sign(TASK, NOW - 10)), body) == TASK
    lower = {k.lower(): v for k, v in signed(NOW, sign(TASK, NOW)).items()}
    assert p.callback_task_id(lower, body) == TASK


@pytest.mark.parametrize(
    "headers",
    [
        {},
        signed(NOW, sign(TASK, NOW, key="other-key")),
        signed(NOW, sign("another-task", NOW)),
        signed(NOW, sign(TASK, NOW - 1)),
        signed(NOW - 301, sign(TASK, NOW - 301)),
        signed(NOW + 301, sign(TASK, NOW + 301)),
        {"X-Webhook-Timestamp": "soon", "X-Webhook-Signature": sign(TASK, NOW)},
        {"X-Webhook-Timestamp": str(NOW)},
    ],
    ids=[
        "unsigned",
        "wrong-key",
        "wrong-task",
        "wrong-stamp",
        "stale",
        "future",
        "bad-ts",
        "no-sig",
    ],
)
def test_hmac_bad_or_stale_signature_is_refused(headers: dict[str, str]) -> None:
    body = (DATA / "callback_success.json").read_bytes()
    with pytest.raises(InvalidCallback):
        hmac_provider().callback_task_id(headers, body)

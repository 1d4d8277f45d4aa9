"""evolink adapter replayed against the documented examples in tests/data/evolink."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from bot.models import ErrorKind, TaskState, VideoOptions
from bot.providers.base import InvalidCallback, VideoProvider, VideoRequest
from bot.providers.errors import (
    ContentPolicyError,
    InsufficientCredits,
    ProviderAuthError,
    ProviderError,
    ProviderTimeout,
    ProviderValidationError,
    RateLimited,
    TaskNotFound,
    UpstreamError,
)
from bot.providers.evolink import EvolinkProvider
from tests.replay import DATA as FIXTURES
from tests.replay import Replay, loader, record_sleeps

KEY = "evo-key-SECRET"
BASE = "https://evolink.test"
IMAGE = "https://bot.example/media/abc123"
CALLBACK = "https://bot.example/callbacks/evolink/tok"


DATA = FIXTURES / "evolink"
data = loader("evolink")


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    return record_sleeps(monkeypatch)


def provider(replay: Replay) -> EvolinkProvider:
    client = httpx.AsyncClient(transport=httpx.MockTransport(replay))
    return EvolinkProvider(client, api_key=KEY, base_url=BASE + "/")


def request(
    model: str = "grok", prompt: str = "The person starts dancing", **values: str
) -> VideoRequest:
    return VideoRequest(
        prompt=prompt,
        options=VideoOptions(model=model, values=values),
        image_path=Path("/nonexistent.jpg"),
        image_url=IMAGE,
        callback_url=None,
    )


def test_is_a_video_provider_with_the_briefed_models() -> None:
    p = provider(Replay())
    assert isinstance(p, VideoProvider)
    assert p.name == "evolink" and p.uses_callbacks and p.needs_public_image
    grok, horse = p.models["grok"], p.models["happyhorse"]
    assert grok.defaults() == {"mode": "normal", "duration": "6", "quality": "480p"}
    assert grok.option("mode").values == ("fun", "normal", "spicy")  # type: ignore[union-attr]
    assert grok.prompt_required
    assert horse.defaults() == {"duration": "5", "quality": "720p"}
    # documented 3-15 s: the four common lengths (issue 11)
    assert horse.option("duration").values == ("3", "5", "10", "15")  # type: ignore[union-attr]
    assert horse.seeded and not grok.seeded
    assert not horse.prompt_required and horse.min_side_px == 300 and horse.max_aspect == 2.5


async def test_submit_grok_sends_the_documented_body() -> None:
    replay = Replay(httpx.Response(200, json=data("create_grok")))
    submitted = await provider(replay).submit(request())
    assert submitted.task_id == "task-unified-1757169743-7cvnl5zw"
    assert submitted.eta_s == 120
    req = replay.requests[0]
    assert req.method == "POST" and str(req.url) == BASE + "/v1/videos/generations"
    assert req.headers["authorization"] == f"Bearer {KEY}"
    assert replay.body() == {
        "model": "grok-imagine-image-to-video",
        "prompt": "The person starts dancing",
        "image_urls": [IMAGE],
        "duration": 6,
        "mode": "normal",
        "quality": "480p",
    }


async def test_submit_grok_with_options_and_callback() -> None:
    replay = Replay(httpx.Response(200, json=data("create_grok")))
    req = request(mode="spicy", duration="10", quality="720p")
    req = VideoRequest(req.prompt, req.options, req.image_path, req.image_url, CALLBACK)
    await provider(replay).submit(req)
    body = replay.body()
    assert body["mode"] == "spicy" and body["duration"] == 10 and body["quality"] == "720p"
    assert body["callback_url"] == CALLBACK


async def test_submit_happyhorse_omits_empty_prompt_and_mode() -> None:
    replay = Replay(httpx.Response(200, json=data("create_happyhorse")))
    submitted = await provider(replay).submit(request("happyhorse", prompt="  ", duration="15"))
    assert submitted.task_id == "task-unified-1761313744-h1i2vcd9" and submitted.eta_s == 2400
    assert replay.body() == {
        "model": "happyhorse-1.0-image-to-video",
        "image_urls": [IMAGE],
        "duration": 15,
        "quality": "720p",
    }


async def test_submit_replaces_values_the_spec_does_not_offer() -> None:
    replay = Replay(httpx.Response(200, json=data("create_grok")))
    await provider(replay).submit(request(duration="15", quality="1080p", mode="spicy"))
    body = replay.body()
    assert body["duration"] == 6 and body["quality"] == "480p" and body["mode"] == "spicy"


@pytest.mark.parametrize(
    ("req", "why"),
    [
        (request(prompt=""), "prompt"),
        (request(model="veo"), "not sold"),
        (VideoRequest("p", VideoOptions("grok"), Path("/x.jpg"), None, None), "image URL"),
    ],
)
async def test_submit_refuses_locally_without_a_request(req: VideoRequest, why: str) -> None:
    replay = Replay()
    with pytest.raises(ProviderValidationError, match=why):
        await provider(replay).submit(req)
    assert replay.requests == []


async def test_submit_without_task_id_is_outcome_unknown() -> None:
    body = data("create_grok")
    del body["id"]
    with pytest.raises(ProviderTimeout) as info:
        await provider(Replay(httpx.Response(200, json=body))).submit(request())
    assert info.value.outcome_unknown and not info.value.next_provider_may_try


async def test_submit_timeout_after_send_is_outcome_unknown_and_single() -> None:
    replay = Replay(httpx.ReadTimeout("slow"), httpx.Response(200, json=data("create_grok")))
    with pytest.raises(ProviderTimeout) as info:
        await provider(replay).submit(request())
    assert info.value.outcome_unknown and info.value.provider == "evolink"
    assert len(replay.requests) == 1


async def test_submit_429_waits_retry_after_then_succeeds(no_sleep: list[float]) -> None:
    replay = Replay(
        httpx.Response(429, headers={"Retry-After": "4"}, json=data("error_429")),
        httpx.Response(200, json=data("create_grok")),
    )
    submitted = await provider(replay).submit(request())
    assert submitted.task_id.startswith("task-unified-")
    assert len(replay.requests) == 2 and no_sleep[0] >= 4


@pytest.mark.parametrize(
    ("name", "state", "progress", "eta"),
    [
        ("task_pending", TaskState.QUEUED, 0, 165),
        ("task_processing", TaskState.RUNNING, 65, None),
        ("task_completed", TaskState.SUCCEEDED, 100, None),
        ("task_failed_content_policy", TaskState.FAILED, 0, None),
        ("task_cancelled", TaskState.FAILED, 0, None),
    ],
)
async def test_query_state_mapping(
    name: str, state: TaskState, progress: int, eta: int | None
) -> None:
    replay = Replay(httpx.Response(200, json=data(name)))
    event = await provider(replay).query("task-unified-1757169743-7cvnl5zw")
    assert str(replay.requests[0].url) == BASE + "/v1/tasks/task-unified-1757169743-7cvnl5zw"
    assert replay.requests[0].method == "GET"
    assert event.state is state and event.progress == progress and event.eta_s == eta


async def test_query_completed_gives_the_result_url() -> None:
    event = await provider(Replay(httpx.Response(200, json=data("task_completed")))).query("t")
    assert event.video_url == data("task_completed")["results"][0]
    assert event.task_id == "task-unified-1757169743-7cvnl5zw" and event.error_kind is None


async def test_query_result_data_variant() -> None:
    body = data("task_completed_result_data")
    event = await provider(Replay(httpx.Response(200, json=body))).query("t")
    assert event.state is TaskState.SUCCEEDED
    assert event.video_url == body["result_data"][0]["video_url"]


async def test_query_result_data_url_need_not_end_in_mp4() -> None:
    body = {
        "id": "t",
        "status": "completed",
        "result_data": [{}, {"video_url": "https://r/v?i=1"}],
    }
    event = await provider(Replay(httpx.Response(200, json=body))).query("t")
    assert event.video_url == "https://r/v?i=1"


async def test_query_last_resort_finds_a_nested_https_mp4() -> None:
    body = {
        "id": "t",
        "status": "completed",
        "results": [],
        "extra": {"v": ["x", "https://c.d/a.MP4"]},
    }
    event = await provider(Replay(httpx.Response(200, json=body))).query("t")
    assert event.video_url == "https://c.d/a.MP4"


async def test_query_completed_without_url_is_an_upstream_failure() -> None:
    body = {"id": "t", "status": "completed", "results": ["http:/bad"], "x": "http://a/b.mp4"}
    event = await provider(Replay(httpx.Response(200, json=body))).query("t")
    assert event.state is TaskState.FAILED and event.error_kind is ErrorKind.UPSTREAM
    assert event.error_code == "no_video_url"


@pytest.mark.parametrize(
    ("name", "kind", "code"),
    [
        ("task_failed_content_policy", ErrorKind.CONTENT_POLICY, "content_policy_violation"),
        ("task_failed_invalid_parameters", ErrorKind.VALIDATION, "invalid_parameters"),
        ("task_failed_generation_timeout", ErrorKind.TIMEOUT, "generation_timeout"),
        ("task_failed_service_error", ErrorKind.UPSTREAM, "service_error"),
        ("task_cancelled", ErrorKind.CANCELLED, "request_cancelled"),
    ],
)
async def test_query_failed_task_errors(name: str, kind: ErrorKind, code: str) -> None:
    event = await provider(Replay(httpx.Response(200, json=data(name)))).query("t")
    assert event.state is TaskState.FAILED
    assert event.error_kind is kind and event.error_code == code
    assert event.error_message == data(name)["error"]["message"]


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        ("image_processing_error", ErrorKind.VALIDATION),
        ("image_dimension_mismatch", ErrorKind.VALIDATION),
        ("request_cancelled", ErrorKind.CANCELLED),
        ("quota_exceeded", ErrorKind.RATE_LIMITED),
        ("generation_failed_no_content", ErrorKind.UPSTREAM),
        ("resource_exhausted", ErrorKind.UPSTREAM),
        ("service_unavailable", ErrorKind.UPSTREAM),
        ("unknown_error", ErrorKind.UPSTREAM),
        ("something_new", ErrorKind.UPSTREAM),
    ],
)
async def test_query_every_documented_task_code(code: str, kind: ErrorKind) -> None:
    body = {"id": "t", "status": "FAILED", "error": {"code": code, "message": "m"}}
    event = await provider(Replay(httpx.Response(200, json=body))).query("t")
    assert event.state is TaskState.FAILED and event.error_kind is kind


async def test_query_cancelled_status_without_error_and_unknown_status() -> None:
    replay = Replay(
        httpx.Response(200, json={"id": "t", "status": "cancelled"}),
        httpx.Response(200, json={"id": "t", "status": "Warming_Up", "progress": 150}),
        httpx.Response(200, json={"status": " Completed ", "results": ["https://x/y.mp4"]}),
    )
    p = provider(replay)
    cancelled = await p.query("t")
    assert cancelled.state is TaskState.FAILED and cancelled.error_kind is ErrorKind.CANCELLED
    unknown = await p.query("t")
    assert unknown.state is TaskState.UNKNOWN and unknown.progress == 100
    done = await p.query("task-unified-9")
    assert done.state is TaskState.SUCCEEDED and done.task_id == "task-unified-9"


ERRORS = [
    ("error_invalid_task_id", 400, ProviderValidationError, "invalid_task_id"),
    ("error_401", 401, ProviderAuthError, "401"),
    ("error_402", 402, InsufficientCredits, "402"),
    ("error_403", 403, ProviderAuthError, "403"),
    ("error_404", 404, TaskNotFound, "404"),
    ("error_413", 413, ProviderValidationError, "413"),
    ("error_500", 500, UpstreamError, "500"),
    ("error_502", 502, UpstreamError, "502"),
    ("error_503", 503, UpstreamError, "503"),
    ("error_content_policy", 400, ContentPolicyError, "400"),
]


@pytest.mark.parametrize(("name", "status", "cls", "code"), ERRORS)
async def test_http_error_mapping(
    name: str, status: int, cls: type[ProviderError], code: str
) -> None:
    replay = Replay(*(httpx.Response(status, json=data(name)) for _ in range(3)))
    with pytest.raises(cls) as info:
        await provider(replay).query("task-unified-1")
    err = info.value
    assert type(err) is cls and err.provider == "evolink" and err.status == status
    assert err.code == code and err.message == data(name)["error"]["message"]


async def test_http_error_code_may_be_a_string_or_an_int() -> None:
    as_string = {"error": {"code": "insufficient_quota", "message": "no money"}}
    as_int = {"error": {"code": 402, "message": "no money", "type": "insufficient_quota_error"}}
    for body in (as_string, as_int):
        with pytest.raises(InsufficientCredits):
            await provider(Replay(httpx.Response(402, json=body))).submit(request())
    with pytest.raises(ProviderAuthError):  # no type: the int code decides
        await provider(Replay(httpx.Response(400, json={"error": {"code": 401}}))).submit(
            request()
        )


async def test_429_with_a_long_retry_after_is_rate_limited() -> None:
    replay = Replay(httpx.Response(429, headers={"Retry-After": "600"}, json=data("error_429")))
    with pytest.raises(RateLimited) as info:
        await provider(replay).submit(request())
    assert info.value.retry_after == 600 and len(replay.requests) == 1


async def test_html_502_on_query_is_upstream_with_excerpt() -> None:
    page = httpx.Response(502, text="<html><title>502 Bad Gateway</title></html>")
    with pytest.raises(UpstreamError, match="Bad Gateway"):
        await provider(Replay(page, page, page)).query("t")


@pytest.mark.parametrize("name", ["task_completed", "task_failed_content_policy", "task_pending"])
def test_callback_body_is_the_task_object(name: str) -> None:
    body = (DATA / f"{name}.json").read_bytes()
    assert provider(Replay()).callback_task_id({}, body) == "task-unified-1757169743-7cvnl5zw"


@pytest.mark.parametrize(
    "body", [b"", b"{not json", b"[1, 2]", b'{"status": "completed"}', b'{"id": 5}', b"\xff\xfe"]
)
def test_malformed_callback_is_refused(body: bytes) -> None:
    with pytest.raises(InvalidCallback):
        provider(Replay()).callback_task_id({}, body)

"""foxapi.cc: grok-imagine-image-to-video (providers.md §3).

Create `POST /v1/videos/generations` (one `image_url` string), query `GET /v1/tasks/{id}`. No
callback is documented: poll only. Results are objects `{url, …}`; an older page shows
`output:{url, urls[]}`, so both are read.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import httpx

from bot import catalog
from bot.catalog import ModelSpec, OptionSpec
from bot.models import TaskEvent, TaskState
from bot.providers import _http
from bot.providers import _parsing as P
from bot.providers.base import InvalidCallback, Submitted, VideoRequest, WakeUp
from bot.providers.errors import ProviderError, UpstreamError, outcome_unknown

NAME = "foxapi"
VENDOR_MODEL = "grok-imagine-image-to-video"

MODELS: dict[str, ModelSpec] = {
    "grok": ModelSpec(
        key="grok",
        title=catalog.GROK_TITLE,
        options=(
            OptionSpec("duration", ("6", "10", "15"), "6"),
            OptionSpec("aspect_ratio", catalog.ASPECT_RATIOS, "auto"),
            OptionSpec("quality", ("480p", "720p"), "480p"),
        ),
    ),
}

STATES = {
    "pending": TaskState.QUEUED,
    "processing": TaskState.RUNNING,
    "completed": TaskState.SUCCEEDED,
    "failed": TaskState.FAILED,
    "cancelled": TaskState.FAILED,
    "canceled": TaskState.FAILED,
}


def map_error(status: int, body: Any, response: httpx.Response) -> ProviderError:
    """foxapi's `{"error":{message,type,code?}}` (or bare status) onto the error tree."""
    return P.unified_error(NAME, status, body)


def video_url(task: Mapping[str, Any]) -> str | None:
    """`results[0].url` (or a string), else `output.url`, `output.urls[0]`, else any https .mp4."""
    results = task.get("results")
    if isinstance(results, list) and results:
        first = results[0]
        candidate = P.obj(first).get("url") if isinstance(first, dict) else first
        if P.is_url(candidate):
            return str(candidate)
    output = P.obj(task.get("output"))
    if P.is_url(output.get("url")):
        return str(output["url"])
    urls = output.get("urls")
    if isinstance(urls, list) and urls and P.is_url(urls[0]):
        return str(urls[0])
    return P.find_mp4(task)


def task_event(task: Mapping[str, Any], task_id: str) -> TaskEvent:
    """A task answer as a neutral `TaskEvent`."""
    status = str(task.get("status") or "").strip().lower()
    state = STATES.get(status, TaskState.UNKNOWN)
    common: dict[str, Any] = {
        "task_id": str(task.get("id") or task_id),
        "progress": P.as_progress(task.get("progress")),
        "eta_s": P.as_int(P.obj(task.get("task_info")).get("estimated_time")),
        "raw": dict(task),
    }
    if state is TaskState.SUCCEEDED:
        url = video_url(task)
        if url:
            return TaskEvent(state=state, video_url=url, **common)
        return P.no_video_event(NAME, task, common)
    if state is TaskState.FAILED:
        return P.unified_failure(status, task, common, cancelled_code="cancelled")
    return TaskEvent(state=state, **common)


class FoxapiProvider:
    """foxapi.cc adapter: poll only."""

    name = NAME
    uses_callbacks = False
    needs_public_image = True

    def __init__(self, client: httpx.AsyncClient, *, api_key: str, base_url: str) -> None:
        self.models: dict[str, ModelSpec] = dict(MODELS)
        self._client = client
        self._api_key = api_key
        self._base = base_url.rstrip("/")

    def build_body(self, request: VideoRequest) -> dict[str, Any]:
        """The create body for `request` (quality goes out as `resolution`)."""
        _spec, values = P.checked_options(NAME, self.models, request)
        return {
            "model": VENDOR_MODEL,
            "prompt": request.prompt,
            "image_url": request.image_url,
            "duration": int(values["duration"]),
            "aspect_ratio": values["aspect_ratio"],
            "resolution": values["quality"],
        }

    async def submit(self, request: VideoRequest) -> Submitted:
        """Create the task; raise a `ProviderError` on refusal."""
        body = await _http.call_json(
            self._client,
            NAME,
            "POST",
            f"{self._base}/v1/videos/generations",
            api_key=self._api_key,
            json=self.build_body(request),
            create=True,
            map_error=map_error,
        )
        task_id = body.get("id") if isinstance(body, dict) else None
        if not isinstance(task_id, str) or not task_id:
            # A yes without an id: a task may exist, so never let another provider try.
            raise outcome_unknown("create answer has no task id", provider=NAME, status=200)
        info = P.obj(body.get("task_info"))
        return Submitted(task_id=task_id, eta_s=P.as_int(info.get("estimated_time")))

    async def query(self, task_id: str) -> TaskEvent:
        """Ask foxapi where the task stands."""
        body = await _http.call_json(
            self._client,
            NAME,
            "GET",
            f"{self._base}/v1/tasks/{quote(task_id, safe='')}",
            api_key=self._api_key,
            map_error=map_error,
        )
        if not isinstance(body, dict):
            raise UpstreamError("task answer is not an object", provider=NAME, status=200)
        return task_event(body, task_id)

    def callback_task_id(self, headers: Mapping[str, str], body: bytes) -> str:
        """foxapi documents no callbacks: any callback is refused."""
        raise InvalidCallback("foxapi sends no callbacks")

    def bind_wakeup(self, wake: WakeUp) -> None:
        """Remote provider: completion arrives by poll."""

    async def aclose(self) -> None:
        """Nothing to release: the HTTP client is shared."""

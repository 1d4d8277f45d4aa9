"""foxapi.cc: grok-imagine-image-to-video (docs/providers.md).

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
from bot.providers import _parsing as P
from bot.providers._remote import RemoteProvider
from bot.providers.base import Submitted, VideoRequest
from bot.providers.errors import ProviderError, UpstreamError

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

STATES = P.UNIFIED_STATES


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
        "cost": P.as_number(P.obj(task.get("usage")).get("credits_reserved")),
    }
    if state is TaskState.SUCCEEDED:
        url = video_url(task)
        if url:
            return TaskEvent(state=state, video_url=url, **common)
        return P.no_video_event(NAME, task, common)
    if state is TaskState.FAILED:
        return P.unified_failure(status, task, common, cancelled_code="cancelled")
    return TaskEvent(state=state, **common)


class FoxapiProvider(RemoteProvider):
    """foxapi.cc adapter: poll only."""

    name = NAME
    result_retention_s: float | None = (
        24 * 3600.0
    )  # result URLs are valid 24 h (docs/providers.md)
    catalog = MODELS
    _map_error = staticmethod(map_error)

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
        body = await self._call(
            "POST", "/v1/videos/generations", json=self.build_body(request), create=True
        )
        return P.unified_submitted(NAME, body)

    async def query(self, task_id: str) -> TaskEvent:
        """Ask foxapi where the task stands."""
        body = await self._call("GET", f"/v1/tasks/{quote(task_id, safe='')}")
        if not isinstance(body, dict):
            raise UpstreamError("task answer is not an object", provider=NAME, status=200)
        return task_event(body, task_id)

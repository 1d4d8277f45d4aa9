"""evolink.ai: grok-imagine and happyhorse image-to-video (docs/providers.md).

Create `POST /v1/videos/generations`, query `GET /v1/tasks/{id}`; the callback body is the task
object itself. Errors are `{"error":{code,message,type,param?}}` with `code` an int or a string.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import quote

import httpx

from bot import catalog
from bot.catalog import ModelSpec, OptionSpec
from bot.models import TaskEvent, TaskState
from bot.providers import _parsing as P
from bot.providers._remote import RemoteProvider
from bot.providers.base import InvalidCallback, Submitted, VideoRequest
from bot.providers.errors import ProviderError, UpstreamError

log = logging.getLogger(__name__)

NAME = "evolink"

MODELS: dict[str, ModelSpec] = {
    "grok": ModelSpec(
        key="grok",
        title=catalog.GROK_TITLE,
        options=(
            OptionSpec("mode", ("fun", "normal", "spicy"), "normal"),
            OptionSpec("duration", ("6", "10"), "6"),
            OptionSpec("quality", ("480p", "720p"), "480p"),
        ),
    ),
    "happyhorse": ModelSpec(
        key="happyhorse",
        title=catalog.HAPPYHORSE_TITLE,
        options=(
            # documented 3-15 s: the four common lengths
            OptionSpec("duration", ("3", "5", "10", "15"), "5"),
            OptionSpec("quality", ("720p", "1080p"), "720p"),
        ),
        prompt_required=False,
        seeded=True,
        min_side_px=300,
        max_aspect=2.5,
    ),
}
VENDOR_MODELS = {
    "grok": "grok-imagine-image-to-video",
    "happyhorse": "happyhorse-1.0-image-to-video",
}

STATES = P.UNIFIED_STATES
RESULT_RETENTION_S = 24 * 3600.0  # result URLs are valid 24 h (docs/providers.md)


def map_error(status: int, body: Any, response: httpx.Response) -> ProviderError:
    """evolink's HTTP error body (or bare status) onto the error tree."""
    return P.unified_error(NAME, status, body)


def video_url(task: Mapping[str, Any]) -> str | None:
    """`results[0]`, else `result_data[*].video_url`, else any https .mp4 in the payload."""
    results = task.get("results")
    if isinstance(results, list) and results and P.is_url(results[0]):
        return str(results[0])
    data = task.get("result_data")
    if isinstance(data, list):
        for item in data:
            if isinstance(item, dict) and P.is_url(item.get("video_url")):
                return str(item["video_url"])
    return P.find_mp4(task)


def task_event(task: Mapping[str, Any], *, provider: str = NAME) -> TaskEvent:
    """A task object (query answer or callback body) as a neutral `TaskEvent`."""
    status = str(task.get("status") or "").strip().lower()
    state = STATES.get(status, TaskState.UNKNOWN)
    info = P.obj(task.get("task_info"))
    common: dict[str, Any] = {
        "task_id": str(task.get("id") or ""),
        "progress": P.as_progress(task.get("progress")),
        "eta_s": P.as_int(info.get("estimated_time")),
    }
    if state is TaskState.SUCCEEDED:
        url = video_url(task)
        if url:
            return TaskEvent(state=state, video_url=url, **common)
        return P.no_video_event(provider, task, common)
    if state is TaskState.FAILED:
        return P.unified_failure(status, task, common, cancelled_code="request_cancelled")
    return TaskEvent(state=state, **common)


class EvolinkProvider(RemoteProvider):
    """evolink.ai adapter: two models, HTTPS callbacks plus polling."""

    name = NAME
    uses_callbacks = True
    result_retention_s: float | None = RESULT_RETENTION_S
    catalog = MODELS
    _map_error = staticmethod(map_error)

    def build_body(self, request: VideoRequest) -> dict[str, Any]:
        """The create body for `request` (options normalised against the model's spec)."""
        spec, values = P.checked_options(NAME, self.models, request)
        body: dict[str, Any] = {
            "model": VENDOR_MODELS[spec.key],
            "image_urls": [request.image_url],
            "duration": int(values["duration"]),
            "quality": values["quality"],
        }
        if "mode" in values:
            body["mode"] = values["mode"]
        if spec.seeded and request.seed is not None:
            body["seed"] = request.seed
        if request.prompt.strip():
            body["prompt"] = request.prompt
        if request.callback_url is not None:
            body["callback_url"] = request.callback_url
        return body

    async def submit(self, request: VideoRequest) -> Submitted:
        """Create the task; raise a `ProviderError` on refusal."""
        body = await self._call(
            "POST", "/v1/videos/generations", json=self.build_body(request), create=True
        )
        submitted = P.unified_submitted(NAME, body)
        usage = P.obj(body.get("usage"))
        return replace(submitted, cost=P.as_number(usage.get("credits_reserved")))

    async def query(self, task_id: str) -> TaskEvent:
        """Ask evolink where the task stands."""
        body = await self._call("GET", f"/v1/tasks/{quote(task_id, safe='')}")
        if not isinstance(body, dict):
            raise UpstreamError("task answer is not an object", provider=NAME, status=200)
        event = task_event(body)
        return event if event.task_id else P.with_task_id(event, task_id)

    def callback_task_id(self, headers: Mapping[str, str], body: bytes) -> str:
        """The callback body is the task object: its `id` (unsigned; re-query before acting)."""
        try:
            task = json.loads(body)
        except ValueError:
            raise InvalidCallback("callback body is not JSON") from None
        task_id = task.get("id") or task.get("task_id") if isinstance(task, dict) else None
        if not isinstance(task_id, str) or not task_id:
            raise InvalidCallback("callback has no task id")
        return task_id

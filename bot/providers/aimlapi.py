"""aimlapi.com: x-ai/grok-imagine-video (docs/providers.md).

Create `POST /v2/video/generations`, query `GET /v2/video/generations?generation_id=`. A failed
generation is HTTP 200 with `status: "error"`. Errors are `{message, path, requestId, statusCode,
timestamp}`, and 403 means the credits are exhausted. Poll only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import httpx

from bot import catalog
from bot.catalog import ModelSpec, OptionSpec
from bot.models import ErrorKind, TaskEvent, TaskState
from bot.providers import _parsing as P
from bot.providers._remote import RemoteProvider
from bot.providers.base import Submitted, VideoRequest
from bot.providers.errors import ProviderError, UpstreamError, outcome_unknown

NAME = "aimlapi"
VENDOR_MODEL = "x-ai/grok-imagine-video"

# The documented aspect enum (no "auto"; 16:9 when absent). The keyboard's "auto" (keep the
# photo's shape) goes out as the documented ratio nearest to the photo.
DOCUMENTED_ASPECTS = ("1:1", "16:9", "9:16", "4:3", "3:4", "3:2", "2:3")
# No quality option: for image-to-video aimlapi picks the resolution from the input image, so a
# quality choice would be neither honoured nor worth a price (docs/providers.md).
MODELS: dict[str, ModelSpec] = {
    "grok": ModelSpec(
        key="grok",
        title=catalog.GROK_TITLE,
        options=(
            OptionSpec("duration", ("6", "10", "15"), "6"),
            OptionSpec(
                "aspect_ratio",
                tuple(r for r in catalog.ASPECT_RATIOS if r in (*DOCUMENTED_ASPECTS, "auto")),
                catalog.AUTO_ASPECT,
            ),
        ),
    ),
}

STATES = {
    "queued": TaskState.QUEUED,
    "generating": TaskState.RUNNING,
    "completed": TaskState.SUCCEEDED,
    "error": TaskState.FAILED,
}
_CREDITS_WORDS = re.compile(r"exhaust|credit|balance|quota", re.IGNORECASE)
_TIMEOUT_WORDS = re.compile(r"time[ds]? ?out", re.IGNORECASE)


def map_error(status: int, body: Any, response: httpx.Response) -> ProviderError:
    """aimlapi's `{message, statusCode, requestId, …}` (or bare status) onto the error tree."""
    data = P.obj(body)
    message = P.text_of(data.get("message")) or f"HTTP {status}"
    if isinstance(data.get("message"), list):  # validation errors may list every field
        message = "; ".join(str(m) for m in data["message"])
    code = P.text_of(data.get("statusCode")) or str(status)
    kind = P.kind_for_status(status)
    if status == 403:
        kind = ErrorKind.INSUFFICIENT_CREDITS if _CREDITS_WORDS.search(message) else ErrorKind.AUTH
    if kind in (ErrorKind.VALIDATION, ErrorKind.UNKNOWN) and P.looks_like_moderation(message):
        kind = ErrorKind.CONTENT_POLICY
    return P.make_error(kind, NAME, message, status=status, code=code)


def _failure(error: Mapping[str, Any]) -> tuple[ErrorKind, str | None, str | None]:
    """Kind, code and message of a generation's `error:{name, message}`."""
    name = P.text_of(error.get("name"))
    message = P.text_of(error.get("message"))
    text = f"{name or ''} {message or ''}"
    if P.looks_like_moderation(text):
        return ErrorKind.CONTENT_POLICY, name, message
    if _TIMEOUT_WORDS.search(text):
        return ErrorKind.TIMEOUT, name, message
    return ErrorKind.UPSTREAM, name, message


def task_event(body: Mapping[str, Any], task_id: str) -> TaskEvent:
    """A generation answer as a neutral `TaskEvent`."""
    state = STATES.get(str(body.get("status") or "").strip().lower(), TaskState.UNKNOWN)
    common: dict[str, Any] = {
        "task_id": str(body.get("id") or task_id),
        "progress": P.as_progress(body.get("progress")),
        "cost": P.as_number(P.obj(P.obj(body.get("meta")).get("usage")).get("credits_used")),
    }
    if state is TaskState.SUCCEEDED:
        url = P.obj(body.get("video")).get("url")
        url = url if P.is_url(url) else P.find_mp4(body)
        if url:
            return TaskEvent(state=state, video_url=url, **common)
        return P.no_video_event(NAME, body, common)
    if state is TaskState.FAILED:
        kind, code, message = _failure(P.obj(body.get("error")))
        return TaskEvent(
            state=state, error_kind=kind, error_code=code, error_message=message, **common
        )
    return TaskEvent(state=state, **common)


class AimlapiProvider(RemoteProvider):
    """aimlapi.com adapter: poll only; failures can arrive as HTTP 200."""

    name = NAME
    catalog = MODELS
    _map_error = staticmethod(map_error)

    def build_body(self, request: VideoRequest) -> dict[str, Any]:
        """The create body for `request`: no `resolution` (chosen by aimlapi from the photo)."""
        _spec, values = P.checked_options(NAME, self.models, request)
        body: dict[str, Any] = {
            "model": VENDOR_MODEL,
            "image_url": request.image_url,
            "duration": int(values["duration"]),
        }
        aspect = values["aspect_ratio"]
        if aspect == catalog.AUTO_ASPECT:
            aspect = catalog.nearest_ratio(request.image_size, DOCUMENTED_ASPECTS) or ""
        if aspect:  # unknown photo size: leave it to aimlapi rather than force 16:9 on a guess
            body["aspect_ratio"] = aspect
        if request.prompt.strip():  # optional for aimlapi
            body["prompt"] = request.prompt
        return body

    async def submit(self, request: VideoRequest) -> Submitted:
        """Create the generation; raise a `ProviderError` on refusal."""
        body = await self._call(
            "POST", "/v2/video/generations", json=self.build_body(request), create=True
        )
        if not isinstance(body, dict):
            raise outcome_unknown("create answer is not an object", provider=NAME, status=200)
        if str(body.get("status") or "").strip().lower() == "error":
            kind, code, message = _failure(P.obj(body.get("error")))
            raise P.make_error(kind, NAME, message or "generation refused", status=200, code=code)
        task_id = body.get("id") or body.get("generation_id")
        if not isinstance(task_id, str) or not task_id:
            raise outcome_unknown("create answer has no generation id", provider=NAME, status=200)
        return Submitted(task_id=task_id)

    async def query(self, task_id: str) -> TaskEvent:
        """Ask aimlapi where the generation stands."""
        body = await self._call("GET", "/v2/video/generations", params={"generation_id": task_id})
        if not isinstance(body, dict):
            raise UpstreamError("generation answer is not an object", provider=NAME, status=200)
        return task_event(body, task_id)

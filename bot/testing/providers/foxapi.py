"""Fake foxapi.cc: `POST /v1/videos/generations` (`image_url` string), `GET /v1/tasks/{id}`.

Shapes follow `docs/providers.md` and `tests/data/foxapi/`. No callback
is documented, so none is sent. `legacy_output` switches to the older `output:{url, urls[]...}`
query shape. Inferred [inference]: credits, result width/height, the 422 `code` for bad values
(`invalid_parameter`), and unknown fields refused with `unsupported_advanced_options`.
"""

from __future__ import annotations

import random
import string
import time
from collections.abc import Mapping
from typing import Any, ClassVar

from aiohttp import web

from bot.testing.providers._base import FakeProviderServer
from bot.testing.providers._records import FakeTask, ImageCheck
from bot.testing.providers._validate import Invalid, get_enum, get_int, get_str

MODEL = "grok-imagine-image-to-video"
ASPECT_RATIOS = ("auto", "16:9", "4:3", "3:2", "1:1", "2:3", "3:4", "9:16")
_FIELDS = ("model", "prompt", "image_url", "duration", "aspect_ratio", "resolution")
_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "insufficient_quota",
    404: "not_found",
    422: "invalid_request_error",
    429: "rate_limit_error",
    500: "server_error",
    503: "service_unavailable_error",
}
_MESSAGES = {
    400: "Invalid JSON body",
    401: "Invalid API key",
    402: "Insufficient quota",
    404: "Task not found",
    422: "Invalid request",
    429: "Rate limit exceeded",
    500: "Internal server error",
    503: "No available channel",
}
_ALNUM = string.ascii_lowercase + string.digits


def output_size(
    resolution: str, aspect_ratio: str, source: tuple[int, int] | None
) -> tuple[int, int]:
    """Width and height of the result: the short side from `resolution`, the aspect as asked."""
    short = int(resolution.removesuffix("p"))
    if aspect_ratio == "auto":
        w, h = source or (16, 9)
    else:
        w, h = (int(x) for x in aspect_ratio.split(":"))
    if w >= h:
        return 2 * round(short * w / h / 2), short
    return short, 2 * round(short * h / w / 2)


class FoxapiFake(FakeProviderServer):
    """api.foxapi.cc with grok-imagine-image-to-video (poll only)."""

    vendor: ClassVar[str] = "foxapi"
    progression: ClassVar[tuple[str, ...]] = ("pending", "processing", "completed")
    failed_status: ClassVar[str] = "failed"
    cancelled_status: ClassVar[str | None] = "cancelled"  # the older doc variant
    default_failure: ClassVar[tuple[str, str]] = ("generation_failed", "Task failed upstream")
    cancel_error: ClassVar[tuple[str, str] | None] = ("task_cancelled", "Task was cancelled")

    def __init__(self, *, legacy_output: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.legacy_output = legacy_output

    def add_routes(self, app: web.Application) -> None:
        """`POST /v1/videos/generations` and `GET /v1/tasks/{task_id}`."""
        app.router.add_post("/v1/videos/generations", self._create, name="create")
        app.router.add_get("/v1/tasks/{task_id}", self._query, name="query")

    def error_response(
        self,
        status: int,
        message: str | None = None,
        *,
        param: str | None = None,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> web.Response:
        """`{"error":{message, type[, code]}}`."""
        error: dict[str, Any] = {
            "message": message or _MESSAGES.get(status, "Error"),
            "type": _ERROR_TYPES.get(status, "server_error"),
        }
        if code is not None:
            error["code"] = code
        return web.json_response({"error": error}, status=status, headers=headers)

    def image_task_error(self, check: ImageCheck) -> tuple[str, str]:
        """A refused image as a failed task [inference]."""
        return "image_processing_error", f"Image could not be processed: {check.reason}"

    # -- handlers ------------------------------------------------------------------------------
    async def _create(self, request: web.Request) -> web.Response:
        try:
            body = await self.read_json_object(request)
        except Invalid as exc:
            return self.error_response(400, exc.message)
        try:
            params = self._validate(body)
        except Invalid as exc:
            return self.error_response(422, exc.message, code=exc.code or "invalid_parameter")
        result = await self.create_task(
            request,
            task_id=f"task-unified-{int(time.time())}-{''.join(random.choices(_ALNUM, k=8))}",
            model=MODEL,
            body=body,
            callback_url=None,
            image_urls=[params["image_url"]],
            params=params,
        )
        if isinstance(result, ImageCheck):
            message = f"image_url could not be processed: {result.reason}"
            return self.error_response(422, message, code="invalid_image")
        return web.json_response(
            {
                "created": int(result.created),
                "id": result.id,
                "model": result.model,
                "object": "video.generation.task",
                "progress": 0,
                "status": self.initial_status,
                "task_info": {"can_cancel": True, "estimated_time": 45},
                "type": "video",
            }
        )

    async def _query(self, request: web.Request) -> web.Response:
        # `sync_upstream=true` only refreshes from upstream; the request log keeps it.
        task = self.tasks.get(request.match_info["task_id"])
        if task is None:
            return self.error_response(404, "Task not found")
        self.on_query(task)
        return web.json_response(self.render_task(task))

    # -- shapes --------------------------------------------------------------------------------
    def render_task(self, task: FakeTask) -> dict[str, Any]:
        """The query body: `results` objects, or the older `output` shape."""
        done = task.status == self.success_status
        out: dict[str, Any] = {
            "id": task.id,
            "object": "video.generation.task",
            "type": "video",
            "model": task.model,
            "status": task.status,
            "progress": task.progress,
            "created": int(task.created),
        }
        error = None
        if task.status in (self.failed_status, self.cancelled_status):
            error = {"code": task.error_code, "message": task.error_message, "type": "task_error"}
        url = self.result_url(task.id)
        width, height = self._size(task)
        duration = task.params["duration"]
        if self.legacy_output:
            del out["model"]
            out["output"] = (
                {"url": url, "urls": [url], "duration": duration, "width": width, "height": height}
                if done
                else None
            )
            if error is not None and task.status == self.failed_status:
                out["error"] = error
            return out
        out["results"] = (
            [{"url": url, "width": width, "height": height, "duration": duration}]
            if done
            else None
        )
        out["error"] = error
        out["usage"] = {"credits_reserved": max(1, duration * 5 // 6), "user_group": "default"}
        return out

    @staticmethod
    def _size(task: FakeTask) -> tuple[int, int]:
        checks = [c for c in task.image_checks if c.width and c.height]
        source = (checks[0].width or 16, checks[0].height or 9) if checks else None
        return output_size(task.params["resolution"], task.params["aspect_ratio"], source)

    # -- validation ----------------------------------------------------------------------------
    @staticmethod
    def _validate(body: dict[str, Any]) -> dict[str, Any]:
        extra = [key for key in body if key not in _FIELDS]
        if extra:
            raise Invalid(
                f"Unsupported advanced options: {', '.join(extra)}",
                extra[0],
                code="unsupported_advanced_options",
            )
        model = get_str(body, "model", required=True)
        if model != MODEL:
            raise Invalid(f"model {model!r} is not supported", "model", code="model_not_found")
        get_str(body, "prompt", required=True)
        return {
            "image_url": get_str(body, "image_url", required=True),
            "duration": get_int(body, "duration", 6, lo=1, hi=15),
            "aspect_ratio": get_enum(body, "aspect_ratio", ASPECT_RATIOS, "auto"),
            "resolution": get_enum(body, "resolution", ("480p", "720p"), "720p"),
        }

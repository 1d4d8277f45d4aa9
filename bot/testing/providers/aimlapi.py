"""Fake aimlapi.com: `POST /v2/video/generations`, `GET /v2/video/generations?generation_id=`.

Shapes follow `docs/providers.md` and `tests/data/aimlapi/`. A failed
generation is HTTP 200 with `status:"error"`; exhausted credits are HTTP 403. No callback.
Inferred [inference]: credits per second, the image failure name (`InvalidImageError`), an
unknown model as 404 and unknown fields refused with 400.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar

from aiohttp import web

from bot.testing.providers._base import FakeProviderServer, current_path
from bot.testing.providers._records import FakeTask, ImageCheck
from bot.testing.providers._validate import (
    Invalid,
    get_enum,
    get_int,
    get_str,
    get_str_list,
    only_fields,
)
from bot.testing.providers.foxapi import output_size
from bot.testing.sample_media import make_sample_mp4

MODEL = "x-ai/grok-imagine-video"
ASPECT_RATIOS = ("1:1", "16:9", "9:16", "4:3", "3:4", "3:2", "2:3")
_FIELDS = (
    "model",
    "prompt",
    "image_url",
    "reference_images",
    "duration",
    "aspect_ratio",
    "resolution",
)
_MESSAGES = {
    400: "Body validation failed",
    401: "Invalid API key",
    403: "You have exhausted the available credits resource limit",
    404: "Not found",
    429: "Too many requests",
    500: "Internal server error",
    503: "Service unavailable",
}
CREDITS_PER_SECOND = 12000  # the sample's 120000 for the default 10 s [inference]


class AimlapiFake(FakeProviderServer):
    """api.aimlapi.com with x-ai/grok-imagine-video (poll only)."""

    vendor: ClassVar[str] = "aimlapi"
    progression: ClassVar[tuple[str, ...]] = ("queued", "generating", "completed")
    failed_status: ClassVar[str] = "error"
    default_failure: ClassVar[tuple[str, str]] = ("GenerationError", "Video generation failed")

    def __init__(
        self, *, credits_exhausted: bool = False, reject_unknown_fields: bool = True, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.credits_exhausted = credits_exhausted
        self.reject_unknown_fields = reject_unknown_fields

    def add_routes(self, app: web.Application) -> None:
        """`POST` and `GET /v2/video/generations`."""
        app.router.add_post("/v2/video/generations", self._create, name="create")
        app.router.add_get("/v2/video/generations", self._query, name="query")

    def error_response(
        self,
        status: int,
        message: str | None = None,
        *,
        param: str | None = None,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> web.Response:
        """`{message, path, requestId, statusCode, timestamp}`, `statusCode` a string."""
        now = datetime.now(UTC)
        body = {
            "message": message or _MESSAGES.get(status, "Error"),
            "path": current_path.get() or "/v2/video/generations",
            "requestId": str(uuid.uuid4()),
            "statusCode": str(status),
            "timestamp": now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z",
        }
        return web.json_response(body, status=status, headers=headers)

    def image_task_error(self, check: ImageCheck) -> tuple[str, str]:
        """A refused image as an `error` generation [inference]."""
        return "InvalidImageError", f"Image could not be processed: {check.reason}"

    # -- handlers ------------------------------------------------------------------------------
    async def _create(self, request: web.Request) -> web.Response:
        if self.credits_exhausted:
            return self.error_response(403)
        try:
            body = await self.read_json_object(request)
            params = self._validate(body)
        except Invalid as exc:
            return self.error_response(exc.status, exc.message)
        images = [params["image_url"]] if params["image_url"] else params["reference_images"]
        result = await self.create_task(
            request,
            task_id=str(uuid.uuid4()),
            model=MODEL,
            body=body,
            callback_url=None,
            image_urls=images,
            params=params,
        )
        if isinstance(result, ImageCheck):
            verb = "could not be fetched" if result.problem == "unreachable" else "is not usable"
            return self.error_response(400, f"image_url {verb}: {result.reason}")
        self._shape_result(result)
        return web.json_response({"id": result.id, "status": self.initial_status})

    def _shape_result(self, task: FakeTask) -> None:
        """The video honours `aspect_ratio` (16:9 when absent); for image-to-video the
        resolution follows the input image whatever `resolution` said (the documented rule)."""
        source = next(
            ((c.width, c.height) for c in task.image_checks if c.width and c.height), None
        )
        short = 720 if source is None or min(source) >= 720 else 480
        size = output_size(f"{short}p", task.params["aspect_ratio"], None)
        task.params["output_size"] = size
        # A tiny stand-in of the same shape (short side 48 px) keeps the tests fast.
        scale = 48 / min(size)
        task.video = make_sample_mp4(
            width=2 * round(size[0] * scale / 2), height=2 * round(size[1] * scale / 2)
        )

    async def _query(self, request: web.Request) -> web.Response:
        generation_id = request.query.get("generation_id", "")
        if not generation_id:
            return self.error_response(400, "generation_id is required")
        task = self.tasks.get(generation_id)
        if task is None:
            return self.error_response(404, "Generation not found")
        self.on_query(task)
        return web.json_response(self.render_task(task))

    # -- shapes --------------------------------------------------------------------------------
    def render_task(self, task: FakeTask) -> dict[str, Any]:
        """The poll body; a failure is still HTTP 200."""
        done = task.status == self.success_status
        failed = task.status == self.failed_status
        credits = CREDITS_PER_SECOND * task.params["duration"]
        return {
            "id": task.id,
            "status": task.status,
            "video": {"url": self.result_url(task.id)} if done else None,
            "error": {"name": task.error_code, "message": task.error_message} if failed else None,
            "meta": {"usage": {"credits_used": credits}} if done else None,
        }

    # -- validation ----------------------------------------------------------------------------
    def _validate(self, body: dict[str, Any]) -> dict[str, Any]:
        if self.reject_unknown_fields:
            only_fields(body, _FIELDS)
        model = get_str(body, "model", required=True)
        if model != MODEL:
            raise Invalid(f"Model {model} not found", "model", status=404)
        get_str(body, "prompt")
        image_url = get_str(body, "image_url")
        refs = get_str_list(body, "reference_images", min_items=1, max_items=7, required=False)
        if image_url and refs:
            raise Invalid("image_url cannot be combined with reference_images", "image_url")
        duration = body.get("duration")
        if isinstance(duration, str) and duration.isdigit():
            body = {**body, "duration": int(duration)}  # the doc's own sample sends "8"
        return {
            "image_url": image_url,
            "reference_images": refs,
            "duration": get_int(body, "duration", 10, lo=1, hi=15),
            "aspect_ratio": get_enum(body, "aspect_ratio", ASPECT_RATIOS, "16:9"),
            "resolution": get_enum(body, "resolution", ("480p", "720p", "1080p"), "720p"),
        }

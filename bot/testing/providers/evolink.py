"""Fake evolink.ai: `POST /v1/videos/generations`, `GET /v1/tasks/{id}`, callbacks with retries.

Shapes follow `docs/providers.md` and `tests/data/evolink/`. The documented
callback rules (HTTPS, no private address, at most 2048 characters) are on by default; end-to-end
tests opt in to `loopback_callbacks` to be called back on 127.0.0.1. Inferred where the
docs are silent [inference]: credits per request, the string form of `error.code`, refusing
unknown fields, and the image failures (`image_processing_error`, `image_dimension_mismatch`).
"""

from __future__ import annotations

import random
import string
import time
from collections.abc import Mapping
from typing import Any, ClassVar

from aiohttp import web

from bot.testing.providers._base import FakeProviderServer
from bot.testing.providers._images import is_loopback_url, strict_callback_problem
from bot.testing.providers._records import FakeTask, ImageCheck
from bot.testing.providers._validate import (
    Invalid,
    get_enum,
    get_int,
    get_str,
    get_str_list,
    only_fields,
)

GROK = "grok-imagine-image-to-video"
HAPPYHORSE = "happyhorse-1.0-image-to-video"
_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "insufficient_quota_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large_error",
    429: "rate_limit_error",
    500: "internal_server_error",
    502: "upstream_error",
    503: "service_unavailable_error",
}
_MESSAGES = {
    400: "Invalid request",
    401: "Invalid API key",
    402: "Insufficient balance",
    403: "Permission denied",
    404: "Task not found",
    413: "Request too large",
    429: "Rate limit exceeded",
    500: "Internal server error",
    502: "Upstream error",
    503: "Service unavailable",
}
# `error.code` when `error_code_as_string` is on [inference, after D1's "invalid_task_id"].
_SLUGS = {
    400: "invalid_parameter",
    401: "invalid_api_key",
    402: "insufficient_quota",
    403: "permission_denied",
    404: "not_found",
    413: "request_too_large",
    429: "rate_limit_exceeded",
    500: "internal_error",
    502: "upstream_error",
    503: "service_unavailable",
}
_GROK_FIELDS = ("model", "prompt", "image_urls", "duration", "mode", "quality", "callback_url")
_HH_FIELDS = ("model", "prompt", "image_urls", "quality", "duration", "seed", "callback_url")
_ALNUM = string.ascii_lowercase + string.digits


class EvolinkFake(FakeProviderServer):
    """evolink.ai with grok-imagine-image-to-video and happyhorse-1.0-image-to-video."""

    vendor: ClassVar[str] = "evolink"
    progression: ClassVar[tuple[str, ...]] = ("pending", "processing", "completed")
    failed_status: ClassVar[str] = "failed"
    cancelled_status: ClassVar[str | None] = "cancelled"
    default_failure: ClassVar[tuple[str, str]] = (
        "service_error",
        "Service error, please retry later.",
    )
    cancel_error: ClassVar[tuple[str, str] | None] = ("request_cancelled", "Request cancelled.")
    callback_retry_delays: ClassVar[tuple[float, ...]] = (1.0, 2.0, 4.0)

    def __init__(
        self,
        *,
        error_code_as_string: bool = False,
        reject_unknown_fields: bool = True,
        loopback_callbacks: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.error_code_as_string = error_code_as_string
        self.reject_unknown_fields = reject_unknown_fields
        # The one relaxation of the documented callback rules, for end-to-end tests only: a
        # callback to 127.0.0.1 (the only address a fake may call) is accepted over http.
        self.loopback_callbacks = loopback_callbacks

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
        """`{"error":{code, message, type, param?}}`, `code` the HTTP status or a string."""
        error: dict[str, Any] = {
            "code": (code or _SLUGS.get(status, str(status)))
            if self.error_code_as_string
            else status,
            "message": message or _MESSAGES.get(status, "Error"),
            "type": _ERROR_TYPES.get(status, "api_error"),
        }
        if param is not None:
            error["param"] = param
        return web.json_response({"error": error}, status=status, headers=headers)

    def image_task_error(self, check: ImageCheck) -> tuple[str, str]:
        """`image_dimension_mismatch` for size/aspect, `image_processing_error` otherwise."""
        if check.problem == "dimension":
            return "image_dimension_mismatch", f"Image dimensions not supported: {check.reason}"
        return "image_processing_error", f"Image processing failed: {check.reason}"

    # -- handlers ------------------------------------------------------------------------------
    async def _create(self, request: web.Request) -> web.Response:
        try:
            body = await self.read_json_object(request)
            model, params = self._validate(body)
        except Invalid as exc:
            return self.error_response(exc.status, exc.message, param=exc.param, code=exc.code)
        hh = model == HAPPYHORSE
        result = await self.create_task(
            request,
            task_id=f"task-unified-{int(time.time())}-{''.join(random.choices(_ALNUM, k=8))}",
            model=model,
            body=body,
            callback_url=params.get("callback_url"),
            image_urls=params["image_urls"],
            min_side=300 if hh else 1,
            max_aspect=2.5 if hh else None,
            params=params,
        )
        if isinstance(result, ImageCheck):
            message = f"Image could not be processed: {result.reason}"
            return self.error_response(400, message, param="image_urls")
        created = self._render(result, with_usage=True)
        created["status"], created["progress"] = self.initial_status, 0
        return web.json_response(created)

    async def _query(self, request: web.Request) -> web.Response:
        task_id = request.match_info["task_id"]
        if not task_id.startswith("task-unified-"):
            message = "Invalid task ID format, must start with 'task-unified-'"
            return self.error_response(400, message, param="task_id", code="invalid_task_id")
        task = self.tasks.get(task_id)
        if task is None:
            return self.error_response(404, "Task not found", code="task_not_found")
        self.on_query(task)
        return web.json_response(self.render_task(task))

    # -- shapes --------------------------------------------------------------------------------
    def render_task(self, task: FakeTask) -> dict[str, Any]:
        """The `GET /v1/tasks/{id}` body, also the callback body."""
        return self._render(task, with_usage=False)

    def _render(self, task: FakeTask, *, with_usage: bool) -> dict[str, Any]:
        hh = task.model == HAPPYHORSE
        terminal = self.is_terminal(task.status)
        info: dict[str, Any] = {"can_cancel": not terminal}
        if not terminal:
            info["estimated_time"] = 2400 if hh else 120
        if hh:
            info["video_duration"] = task.params["duration"]
        out: dict[str, Any] = {
            "created": int(task.created),
            "id": task.id,
            "model": task.model,
            "object": "video.generation.task",
            "progress": task.progress,
            "status": task.status,
            "task_info": info,
            "type": "video",
        }
        if task.status == self.success_status:
            out["results"] = [self.result_url(task.id)]
        if task.status in (self.failed_status, self.cancelled_status):
            out["error"] = {"code": task.error_code, "message": task.error_message}
        if with_usage:
            out["usage"] = self._usage(task)
        return out

    @staticmethod
    def _usage(task: FakeTask) -> dict[str, Any]:
        # Prices are [inference]; the documented points are grok 5 per call and happyhorse
        # 607500 for 5 s at 720p (121500 per second).
        duration, quality = task.params["duration"], task.params["quality"]
        if task.model == HAPPYHORSE:
            per_second = 121500 * (2 if quality == "1080p" else 1)
            return {
                "billing_rule": "per_second",
                "credits_reserved": per_second * duration,
                "user_group": "default",
            }
        credits = 5 * (duration // 6) + (3 if quality == "720p" else 0)
        return {"billing_rule": "per_call", "credits_reserved": credits, "user_group": "default"}

    # -- validation ----------------------------------------------------------------------------
    def _validate(self, body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        model = get_str(body, "model", required=True)
        if model not in (GROK, HAPPYHORSE):
            raise Invalid(
                f"Model '{model}' not found", "model", status=404, code="model_not_found"
            )
        hh = model == HAPPYHORSE
        if self.reject_unknown_fields:
            only_fields(body, _HH_FIELDS if hh else _GROK_FIELDS)
        params: dict[str, Any] = {
            "image_urls": get_str_list(body, "image_urls", min_items=1, max_items=1),
            "callback_url": get_str(body, "callback_url"),
        }
        if hh:
            prompt = get_str(body, "prompt")
            params["prompt"] = prompt[:5000] if prompt else prompt  # excess is truncated
            params["quality"] = get_enum(body, "quality", ("720p", "1080p"), "720p")
            params["duration"] = get_int(body, "duration", 5, lo=3, hi=15)
            params["seed"] = get_int(body, "seed", 0, lo=1, hi=2147483647) or None
        else:
            params["prompt"] = get_str(body, "prompt", required=True)
            params["duration"] = get_int(body, "duration", 6, choices=(6, 10))
            params["mode"] = get_enum(body, "mode", ("fun", "normal", "spicy"), "normal")
            params["quality"] = get_enum(body, "quality", ("480p", "720p"), "480p")
        callback = params["callback_url"]
        if self.strict and callback is not None:
            problem = strict_callback_problem(callback)
            if problem and self.loopback_callbacks and is_loopback_url(callback):
                problem = None
            if problem:
                raise Invalid(problem, "callback_url")
        return model, params

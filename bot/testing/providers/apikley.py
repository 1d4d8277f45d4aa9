"""Fake apikley (a kie.ai mirror): `createTask`, `recordInfo`, one callback per finished task.

Shapes follow `docs/providers.md` and `tests/data/apikley/`. Unknown in
the docs, so switchable: whether errors come with HTTP status = `code` (default) or HTTP 200
(`errors_in_body`), the short (apikley) or full (kie) callback body, kie's HMAC headers. Inferred
[inference]: `failCode` "400" for a refused image and the `resultJson` per waiting state.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from aiohttp import web

from bot.testing.providers._base import FakeProviderServer
from bot.testing.providers._records import FakeTask, ImageCheck
from bot.testing.providers._validate import (
    Invalid,
    get_enum,
    get_int,
    get_str,
    get_str_list,
    only_fields,
)

MODEL = "grok-imagine/image-to-video"
_MESSAGES = {
    400: "Bad request",
    401: "You do not have access permissions",
    402: "Insufficient credits",
    404: "Task not found",
    405: "Method not allowed",
    422: "Validation error",
    429: "Rate limited",
    455: "Service unavailable: system maintenance",
    500: "Server error",
    501: "Generation failed",
    502: "Bad gateway",
    503: "Service unavailable",
    505: "Feature disabled",
}
# Only what apikley's page lists: kie.ai's `duration` and `resolution` are not documented here.
_INPUT_FIELDS = ("image_urls", "task_id", "index", "prompt", "mode")
MAX_CONCURRENT = 25  # documented: 25 concurrent tasks per account
MAX_PER_HOUR = 250  # documented: 250 task creations per hour
HOUR_S = 3600.0


def _ms(seconds: float | None) -> int | None:
    return None if seconds is None else int(seconds * 1000)


class ApikleyFake(FakeProviderServer):
    """api.apikley.ru with grok-imagine/image-to-video."""

    vendor: ClassVar[str] = "apikley"
    progression: ClassVar[tuple[str, ...]] = ("waiting", "queuing", "generating", "success")
    failed_status: ClassVar[str] = "fail"
    default_failure: ClassVar[tuple[str, str]] = ("500", "Internal server error")
    default_image_failure: ClassVar[str] = "create"
    callback_retry_delays: ClassVar[tuple[float, ...]] = ()  # retry policy unknown: sent once

    def __init__(
        self,
        *,
        errors_in_body: bool = False,
        full_callback: bool = False,
        hmac_key: str | None = None,
        max_concurrent: int | None = MAX_CONCURRENT,
        max_per_hour: int | None = MAX_PER_HOUR,
        balance: float = 1000.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.errors_in_body = errors_in_body
        self.full_callback = full_callback
        self.hmac_key = hmac_key
        self.max_concurrent = max_concurrent  # documented: 25 (None: off)
        self.max_per_hour = max_per_hour  # documented: 250 in any rolling hour (None: off)
        self.balance = balance  # GET /api/v1/chat/credit
        self.credits_per_task = 10.0  # [inference] what a task consumes, reported in the record
        self.report_credits = False  # put `creditsConsumed` in finished records (kie clients)
        # What a successful record's resultJson holds: the URLs, "" or null (both seen in clients).
        self.success_result_json: Literal["urls", "", "null"] = "urls"

    def add_routes(self, app: web.Application) -> None:
        """`POST /api/v1/jobs/createTask` and `GET /api/v1/jobs/recordInfo`."""
        app.router.add_post("/api/v1/jobs/createTask", self._create, name="create")
        app.router.add_get("/api/v1/jobs/recordInfo", self._query, name="query")
        app.router.add_get("/api/v1/chat/credit", self._credit, name="credit")

    def error_response(
        self,
        status: int,
        message: str | None = None,
        *,
        param: str | None = None,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> web.Response:
        """`{code, msg}`; HTTP status = `code`, or 200 with `errors_in_body`."""
        body = {"code": status, "msg": message or _MESSAGES.get(status, "Error")}
        http = 200 if self.errors_in_body else status
        return web.json_response(body, status=http, headers=headers)

    def image_task_error(self, check: ImageCheck) -> tuple[str, str]:
        """A refused image as a failed task [inference]."""
        return "400", f"Image could not be processed: {check.reason}"

    # -- handlers ------------------------------------------------------------------------------
    async def _create(self, request: web.Request) -> web.Response:
        try:
            body = await self.read_json_object(request)
            inputs = self._validate(body)
        except Invalid as exc:
            return self.error_response(422 if exc.status == 400 else exc.status, exc.message)
        running = sum(not self.is_terminal(t.status) for t in self.tasks.values())
        if self.max_concurrent is not None and running >= self.max_concurrent:
            return self.error_response(429, "Too many concurrent tasks")
        hour_ago = time.time() - HOUR_S
        created = sum(t.created > hour_ago for t in self.tasks.values())
        if self.max_per_hour is not None and created >= self.max_per_hour:
            return self.error_response(429, "Hourly task creation limit reached")
        result = await self.create_task(
            request,
            task_id=uuid.uuid4().hex,
            model=MODEL,
            body=body,
            callback_url=body.get("callBackUrl"),
            image_urls=inputs.get("image_urls") or [],
            params=inputs,
        )
        if isinstance(result, ImageCheck):
            return self.error_response(422, f"input.image_urls: {result.reason}")
        return web.json_response({"code": 200, "msg": "success", "data": {"taskId": result.id}})

    async def _credit(self, request: web.Request) -> web.Response:
        """The account balance (D10): `{code, msg, data: <credits>}`."""
        if not self._authorised(request):
            return self.error_response(401)
        return web.json_response({"code": 200, "msg": "success", "data": self.balance})

    async def _query(self, request: web.Request) -> web.Response:
        task_id = request.query.get("taskId", "")
        if not task_id:
            return self.error_response(422, "taskId is required")
        task = self.tasks.get(task_id)
        if task is None:
            return self.error_response(404, "Task not found")
        self.on_query(task)
        return web.json_response(self.render_task(task))

    # -- shapes --------------------------------------------------------------------------------
    def render_task(self, task: FakeTask) -> dict[str, Any]:
        """The `recordInfo` body (note `message`, not `msg`)."""
        return {"code": 200, "message": "success", "data": self._kie_record(task)}

    def _kie_record(self, task: FakeTask) -> dict[str, Any]:
        failed = task.status == self.failed_status
        result_json: str | None = ""
        if task.status == self.success_status:
            result_json = {
                "urls": json.dumps({"resultUrls": [self.result_url(task.id)]}),
                "": "",
                "null": None,
            }[self.success_result_json]
        elif task.status in ("generating", self.failed_status):
            result_json = None
        done = task.completed
        return {
            "taskId": task.id,
            "model": task.model,
            "state": task.status,
            "param": json.dumps(task.body),
            "resultJson": result_json,
            "failCode": (task.error_code or "500") if failed else "",
            "failMsg": (task.error_message or "") if failed else "",
            "costTime": int((done - task.created) * 1000) if done and not failed else 0,
            **(
                {"creditsConsumed": self.credits_per_task}
                if self.report_credits and task.status == self.success_status
                else {}
            ),
            "completeTime": _ms(done),
            "createTime": _ms(task.created),
            "updateTime": _ms(task.updated),
        }

    def callback_request(self, task: FakeTask) -> tuple[bytes, dict[str, str]]:
        """apikley's `{code, msg, data:{taskId}}`, or kie's full record; HMAC headers if keyed."""
        ok = task.status == self.success_status
        data: dict[str, Any] = {"taskId": task.id}
        if self.full_callback:
            data = self._kie_record(task)
            del data["updateTime"]
        body = {
            "code": 200 if ok else 501,
            "msg": "Playground task completed successfully." if ok else "Playground task failed.",
            "data": data,
        }
        headers: dict[str, str] = {}
        if self.hmac_key is not None:
            stamp = str(int(time.time()))
            headers["X-Webhook-Timestamp"] = stamp
            headers["X-Webhook-Signature"] = webhook_signature(self.hmac_key, task.id, stamp)
        return json.dumps(body).encode(), headers

    # -- validation ----------------------------------------------------------------------------
    def _validate(self, body: dict[str, Any]) -> dict[str, Any]:
        only_fields(body, ("model", "callBackUrl", "input"))
        model = get_str(body, "model", required=True)
        if model != MODEL:
            raise Invalid(f"model {model!r} is not supported, use {MODEL}", "model")
        get_str(body, "callBackUrl")
        raw = body.get("input")
        if not isinstance(raw, dict):
            raise Invalid("input is required and must be an object", "input")
        only_fields(raw, _INPUT_FIELDS, "input.")
        out: dict[str, Any] = {
            "prompt": get_str(raw, "prompt", required=True, max_len=5000, where="input."),
            "mode": get_enum(raw, "mode", ("fun", "normal", "spicy"), "normal", where="input."),
            "image_urls": get_str_list(
                raw, "image_urls", min_items=1, max_items=1, required=False, where="input."
            ),
            "task_id": get_str(raw, "task_id", max_len=100, where="input."),
            "index": get_int(raw, "index", 0, lo=0, hi=5, where="input."),
        }
        if bool(out["image_urls"]) == bool(out["task_id"]):
            raise Invalid("provide exactly one of input.image_urls or input.task_id", "input")
        if out["image_urls"] and out["mode"] == "spicy":
            raise Invalid("spicy mode is not available with external images", "input.mode")
        return out


def webhook_signature(key: str, task_id: str, timestamp: str) -> str:
    """kie.ai's `base64(HMAC-SHA256(taskId + "." + timestamp, key))`."""
    digest = hmac.new(key.encode(), f"{task_id}.{timestamp}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()

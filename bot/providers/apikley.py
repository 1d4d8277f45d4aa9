"""apikley (a kie.ai mirror): grok-imagine/image-to-video (docs/providers.md).

Create `POST /api/v1/jobs/createTask`, query `GET /api/v1/jobs/recordInfo?taskId=`. Success is
decided from the body `code` (200), whatever the HTTP status; `resultJson` is a JSON string.
Callbacks carry `data.taskId`, optionally signed with kie's HMAC.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from bot import catalog
from bot.catalog import ModelSpec, OptionSpec
from bot.models import ErrorKind, TaskEvent, TaskState
from bot.providers import _parsing as P
from bot.providers._remote import RemoteProvider
from bot.providers.base import InvalidCallback, Submitted, VideoRequest
from bot.providers.errors import ProviderError, UpstreamError, outcome_unknown

NAME = "apikley"
VENDOR_MODEL = "grok-imagine/image-to-video"
SIGNATURE_TOLERANCE_S = 300

# spicy is refused for external images, and kie's duration/resolution are unverified here.
MODELS: dict[str, ModelSpec] = {
    "grok": ModelSpec(
        key="grok",
        title=catalog.GROK_TITLE,
        options=(OptionSpec("mode", ("fun", "normal"), "normal"),),
    ),
}

STATES = {
    "waiting": TaskState.QUEUED,
    "queuing": TaskState.QUEUED,
    "generating": TaskState.RUNNING,
    "success": TaskState.SUCCEEDED,
    "fail": TaskState.FAILED,
}
# Where present (seen in kie.ai clients, not in apikley's page): the credits a task consumed.
COST_FIELDS = ("creditsConsumed", "consumeCredits")
_TIMEOUT_WORDS = re.compile(r"time[ds]? ?out", re.IGNORECASE)


def _code_error(code: int, body: Any, status: int) -> ProviderError:
    """A body `code` (or the HTTP status when the body has none) as a `ProviderError`."""
    data = P.obj(body)
    message = P.text_of(data.get("msg")) or P.text_of(data.get("message")) or f"code {code}"
    kind = P.kind_for_status(code)
    if kind in (ErrorKind.VALIDATION, ErrorKind.UNKNOWN) and P.looks_like_moderation(message):
        kind = ErrorKind.CONTENT_POLICY
    return P.make_error(kind, NAME, message, status=status, code=str(code))


def map_error(status: int, body: Any, response: httpx.Response) -> ProviderError:
    """HTTP non-2xx: the body `code` when it names an error, else the HTTP status."""
    code = P.as_int(P.obj(body).get("code"))
    return _code_error(code if code and code != 200 else status, body, status)


def body_error(body: Any, response: httpx.Response) -> ProviderError | None:
    """HTTP 2xx: still a failure when the body `code` is not 200."""
    if not isinstance(body, dict):
        return UpstreamError("answer is not a JSON object", provider=NAME)
    code = P.as_int(body.get("code"))
    if code is None or code == 200:
        return None
    return _code_error(code, body, response.status_code)


def parse_result(result: Any) -> dict[str, Any]:
    """`resultJson` as an object: it is a JSON string, an object, "" or null."""
    if isinstance(result, str):
        try:
            result = json.loads(result) if result.strip() else None
        except ValueError:
            result = None
    return P.obj(result)


def task_event(body: Mapping[str, Any], task_id: str) -> TaskEvent:
    """A recordInfo answer as a neutral `TaskEvent`."""
    data = P.obj(body.get("data"))
    state = STATES.get(str(data.get("state") or "").strip().lower(), TaskState.UNKNOWN)
    cost = next(
        (P.as_number(data.get(k)) for k in COST_FIELDS if P.as_number(data.get(k)) is not None),
        None,
    )
    common: dict[str, Any] = {
        "task_id": str(data.get("taskId") or data.get("task_id") or task_id),
        "progress": P.as_progress(data.get("progress")),
        "cost": cost,
    }
    if state is TaskState.SUCCEEDED:
        result = parse_result(data.get("resultJson"))
        urls = result.get("resultUrls")
        urls = [u for u in urls if P.is_url(u)] if isinstance(urls, list) else []
        url = urls[0] if urls else P.find_mp4(result) or P.find_mp4(data)
        if url:
            return TaskEvent(state=state, video_url=url, **common)
        return P.no_video_event(NAME, body, common)
    if state is TaskState.FAILED:
        code = P.text_of(data.get("failCode"))
        message = P.text_of(data.get("failMsg"))
        number = P.as_int(code)
        kind = P.kind_for_status(number) if number is not None else ErrorKind.UNKNOWN
        if P.looks_like_moderation(message):
            kind = ErrorKind.CONTENT_POLICY
        elif message and _TIMEOUT_WORDS.search(message):
            kind = ErrorKind.TIMEOUT
        elif kind is ErrorKind.UNKNOWN:
            kind = ErrorKind.UPSTREAM
        return TaskEvent(
            state=state, error_kind=kind, error_code=code, error_message=message, **common
        )
    return TaskEvent(state=state, **common)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lowered), None)
    return value


class ApikleyProvider(RemoteProvider):
    """apikley adapter: body-coded answers, `callBackUrl` callbacks (optionally HMAC-signed)."""

    name = NAME
    uses_callbacks = True
    result_retention_s: float | None = 24 * 3600.0  # "valid for 24 hours" (docs/providers.md)
    english_only_prompts = True  # the prompt field "supports English language prompts"
    catalog = MODELS
    _map_error = staticmethod(map_error)
    _body_error = staticmethod(body_error)

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        api_key: str,
        base_url: str,
        hmac_key: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(client, api_key=api_key, base_url=base_url)
        self._hmac_key = hmac_key
        self._clock = clock

    def build_body(self, request: VideoRequest) -> dict[str, Any]:
        """The createTask body for `request`."""
        _spec, values = P.checked_options(NAME, self.models, request)
        body: dict[str, Any] = {
            "model": VENDOR_MODEL,
            "input": {
                "image_urls": [request.image_url],
                "prompt": request.prompt,
                "mode": values["mode"],
            },
        }
        if request.callback_url is not None:
            body["callBackUrl"] = request.callback_url
        return body

    async def submit(self, request: VideoRequest) -> Submitted:
        """Create the task; raise a `ProviderError` on refusal."""
        body = await self._call(
            "POST", "/api/v1/jobs/createTask", json=self.build_body(request), create=True
        )
        data = P.obj(body.get("data"))
        task_id = data.get("taskId") or data.get("task_id") or body.get("taskId")
        if not isinstance(task_id, str) or not task_id:
            # A yes without an id: a task may exist, so never let another provider try.
            raise outcome_unknown("create answer has no taskId", provider=NAME, status=200)
        return Submitted(task_id=task_id)

    async def query(self, task_id: str) -> TaskEvent:
        """Ask apikley where the task stands."""
        body = await self._call("GET", "/api/v1/jobs/recordInfo", params={"taskId": task_id})
        return task_event(body, task_id)

    async def balance(self) -> float | None:
        """`GET /api/v1/chat/credit`: the account's remaining credits (`data`)."""
        body = await self._call("GET", "/api/v1/chat/credit")
        data = body.get("data") if isinstance(body, dict) else None
        if isinstance(data, dict):
            data = data.get("credits", data.get("balance"))
        return P.as_number(data)

    def callback_task_id(self, headers: Mapping[str, str], body: bytes) -> str:
        """`data.taskId` of a callback; with an HMAC key, only when the signature is valid."""
        try:
            payload = json.loads(body)
        except ValueError:
            raise InvalidCallback("callback body is not JSON") from None
        if not isinstance(payload, dict):
            raise InvalidCallback("callback body is not an object")
        data = P.obj(payload.get("data"))
        task_id = data.get("taskId") or data.get("task_id") or payload.get("taskId")
        if not isinstance(task_id, str) or not task_id:
            raise InvalidCallback("callback has no taskId")
        if self._hmac_key is not None:
            self._verify(headers, task_id, self._hmac_key)
        return task_id

    def _verify(self, headers: Mapping[str, str], task_id: str, key: str) -> None:
        """kie's X-Webhook-Signature: base64(HMAC-SHA256(taskId + "." + timestamp))."""
        stamp = (_header(headers, "X-Webhook-Timestamp") or "").strip()
        signature = (_header(headers, "X-Webhook-Signature") or "").strip()
        if not stamp.isdigit() or not signature:
            raise InvalidCallback("callback is not signed")
        if abs(self._clock() - int(stamp)) > SIGNATURE_TOLERANCE_S:
            raise InvalidCallback("callback timestamp outside the tolerance")
        digest = hmac.new(key.encode(), f"{task_id}.{stamp}".encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(base64.b64encode(digest), signature.encode()):
            raise InvalidCallback("callback signature does not match")

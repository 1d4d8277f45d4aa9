"""Wire level of the fake Bot API: request bodies, value coercion and Telegram-shaped errors."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aiohttp import web

Json = dict[str, Any]

# Parameters Telegram expects as JSON-serialised strings in form bodies.
JSON_FIELDS = frozenset(
    {
        "reply_markup",
        "entities",
        "caption_entities",
        "reply_parameters",
        "allowed_updates",
        "media",
        "commands",
        "scope",
        "link_preview_options",
    }
)
INT_FIELDS = frozenset(
    {
        "chat_id",
        "message_id",
        "user_id",
        "offset",
        "limit",
        "timeout",
        "width",
        "height",
        "duration",
        "max_connections",
        "message_thread_id",
        "reply_to_message_id",
        "cache_time",
    }
)
BOOL_FIELDS = frozenset(
    {
        "disable_notification",
        "protect_content",
        "supports_streaming",
        "drop_pending_updates",
        "show_alert",
        "has_spoiler",
        "allow_sending_without_reply",
        "disable_web_page_preview",
        "disable_content_type_detection",
        "show_caption_above_media",
        "allow_paid_broadcast",
    }
)


class ApiError(Exception):
    """A Bot API failure, answered as {"ok": false, "error_code", "description", "parameters"?}."""

    def __init__(self, code: int, description: str, parameters: Json | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters

    def body(self) -> Json:
        """The JSON body Telegram sends for this error."""
        body: Json = {"ok": False, "error_code": self.code, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def bad_request(detail: str) -> ApiError:
    """A 400 with Telegram's "Bad Request: " prefix."""
    return ApiError(400, f"Bad Request: {detail}")


@dataclass(frozen=True)
class UploadedFile:
    """One multipart file part exactly as the bot sent it."""

    field: str
    filename: str | None
    content_type: str
    data: bytes


@dataclass(frozen=True)
class Call:
    """One Bot API request the bot made: decoded parameters, uploads and the status answered."""

    method: str
    params: Json
    files: dict[str, UploadedFile]
    at: float
    status: int = 200


async def read_params(request: web.Request) -> tuple[Json, dict[str, UploadedFile]]:
    """Decode query string plus urlencoded, multipart or JSON body into coerced parameters."""
    raw: Json = dict(request.query)
    files: dict[str, UploadedFile] = {}
    if request.body_exists:
        if request.content_type == "application/json":
            try:
                body = await request.json()
            except ValueError as exc:
                raise bad_request("can't parse JSON object") from exc
            if not isinstance(body, dict):
                raise bad_request("can't parse JSON object")
            raw.update(body)
        else:
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, web.FileField):
                    data = value.file.read()
                    files[key] = UploadedFile(key, value.filename, value.content_type, data)
                else:
                    raw[key] = value
    return coerce(raw), files


def coerce(raw: Json) -> Json:
    """Turn the all-strings form encoding PTB uses back into ints, bools and JSON values."""
    params: Json = {}
    for key, value in raw.items():
        if isinstance(value, str):
            if key in JSON_FIELDS:
                value = _json_value(key, value)
            elif key in INT_FIELDS:
                value = _int_value(key, value)
            elif key in BOOL_FIELDS:
                value = value.strip().lower() in ("true", "1")
        params[key] = value
    return params


def _json_value(key: str, value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError as exc:
        what = "reply keyboard markup" if key == "reply_markup" else key
        raise bad_request(f"can't parse {what} JSON object") from exc


def _int_value(key: str, value: str) -> int | str:
    text = value.strip()
    if text.lstrip("-").isdigit():
        return int(text)
    if key == "chat_id":
        return text  # "@channelusername" is a valid chat_id
    raise bad_request(f"invalid {key} specified")


def json_response(body: Json, status: int = 200) -> web.Response:
    """A JSON response with compact separators and UTF-8 text, as Telegram sends."""
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    return web.Response(text=text, status=status, content_type="application/json")


@dataclass(frozen=True)
class Described:
    """A result that Telegram answers with a human description too (setWebhook and friends)."""

    result: Any
    description: str


def ok_response(result: Any) -> web.Response:
    """{"ok": true, "result": ...} (plus "description" for a `Described` result)."""
    if isinstance(result, Described):
        return json_response(
            {"ok": True, "result": result.result, "description": result.description}
        )
    return json_response({"ok": True, "result": result})


def error_response(error: ApiError) -> web.Response:
    """The error body with the matching HTTP status."""
    return json_response(error.body(), status=error.code)

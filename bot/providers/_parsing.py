"""Vendor-neutral parsing helpers the adapters share: error vocabularies, numbers, URLs, options.

Kept apart from `_http` (the call itself) so each stays small; vendor JSON still never leaves the
adapter modules, these only read values an adapter hands them.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

from bot.catalog import ModelSpec
from bot.models import ErrorKind, TaskEvent, TaskState
from bot.providers.base import Submitted, VideoRequest
from bot.providers.errors import (
    ProviderError,
    ProviderTimeout,
    ProviderValidationError,
    error_for,
    outcome_unknown,
)

log = logging.getLogger(__name__)

EXCERPT_CHARS = 200

KIND_BY_STATUS: dict[int, ErrorKind] = {
    400: ErrorKind.VALIDATION,
    401: ErrorKind.AUTH,
    402: ErrorKind.INSUFFICIENT_CREDITS,
    403: ErrorKind.AUTH,
    404: ErrorKind.NOT_FOUND,
    413: ErrorKind.VALIDATION,
    422: ErrorKind.VALIDATION,
    429: ErrorKind.RATE_LIMITED,
}

# Error `type`s of the task-unified platforms (evolink, foxapi) and the generic ones.
KIND_BY_TYPE: dict[str, ErrorKind] = {
    "authentication_error": ErrorKind.AUTH,
    "permission_error": ErrorKind.AUTH,
    "insufficient_quota_error": ErrorKind.INSUFFICIENT_CREDITS,
    "insufficient_quota": ErrorKind.INSUFFICIENT_CREDITS,
    "rate_limit_error": ErrorKind.RATE_LIMITED,
    "invalid_request_error": ErrorKind.VALIDATION,
    "request_too_large_error": ErrorKind.VALIDATION,
    "content_policy_violation": ErrorKind.CONTENT_POLICY,
    "not_found_error": ErrorKind.NOT_FOUND,
    "not_found": ErrorKind.NOT_FOUND,
    "internal_server_error": ErrorKind.UPSTREAM,
    "server_error": ErrorKind.UPSTREAM,
    "upstream_error": ErrorKind.UPSTREAM,
    "service_unavailable_error": ErrorKind.UPSTREAM,
    "model_unavailable": ErrorKind.UPSTREAM,
}

# Failed-task `error.code`s (evolink D2; foxapi runs the same platform). Others: UPSTREAM.
KIND_BY_TASK_CODE: dict[str, ErrorKind] = {
    "content_policy_violation": ErrorKind.CONTENT_POLICY,
    "invalid_parameters": ErrorKind.VALIDATION,
    "image_processing_error": ErrorKind.VALIDATION,
    "image_dimension_mismatch": ErrorKind.VALIDATION,
    "generation_timeout": ErrorKind.TIMEOUT,
    "request_cancelled": ErrorKind.CANCELLED,
    "quota_exceeded": ErrorKind.RATE_LIMITED,
}

_MODERATION = re.compile(
    r"moderat|content[ _-]?polic|nsfw|sensitive|inappropriate|unsafe|flagged|censor"
    r"|safety (?:system|filter|check)|prohibited content",
    re.IGNORECASE,
)


def kind_for_status(status: int) -> ErrorKind:
    """The error kind an HTTP (or body) status code means on its own."""
    if status >= 500 or status in (455, 501, 505):
        return ErrorKind.UPSTREAM
    return KIND_BY_STATUS.get(status, ErrorKind.UNKNOWN)


def kind_for_task_code(code: str | None) -> ErrorKind:
    """Kind of a failed task's error code (task-unified platforms)."""
    norm = (code or "").strip().lower()
    if norm.startswith("insufficient_quota"):
        return ErrorKind.INSUFFICIENT_CREDITS
    return KIND_BY_TASK_CODE.get(norm, ErrorKind.UPSTREAM)


def looks_like_moderation(text: str | None) -> bool:
    """True when a vendor message speaks of moderation or content policy."""
    return bool(text and _MODERATION.search(text))


def excerpt(raw: bytes | str, *, secret: str = "") -> str:
    """A short, single-line, printable excerpt of a body, with the API key scrubbed."""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    if secret:
        text = text.replace(secret, "***")
    text = re.sub(r"\s+", " ", "".join(c if c.isprintable() else " " for c in text)).strip()
    return text[:EXCERPT_CHARS] + ("…" if len(text) > EXCERPT_CHARS else "")


def text_of(value: Any) -> str | None:
    """A vendor code or message as a string (codes may be ints), or None when absent."""
    if value is None or value == "":
        return None
    return str(value)


def make_error(
    kind: ErrorKind, provider: str, message: str, *, status: int | None, code: str | None = None
) -> ProviderError:
    """Build the tree's class for `kind` (TIMEOUT without an unknown outcome)."""
    if kind is ErrorKind.TIMEOUT:
        return ProviderTimeout(
            message, outcome_unknown=False, provider=provider, status=status, code=code
        )
    return error_for(kind, message, provider=provider, status=status, code=code)


def unified_error(provider: str, status: int, body: Any) -> ProviderError:
    """Map a `{"error":{code?,message,type}}` body (evolink, foxapi) onto the error tree.

    The `type` wins over the HTTP status (foxapi sends "no channel" as 422
    service_unavailable_error); an int `code` is an HTTP status, a string one a business code.
    """
    err = obj(obj(body).get("error"))
    code = text_of(err.get("code"))
    etype = (text_of(err.get("type")) or "").lower()
    message = text_of(err.get("message")) or f"HTTP {status}"
    kind = KIND_BY_TYPE.get(etype)
    if kind is None and code and not code.isdigit():
        kind = KIND_BY_TYPE.get(code.lower())
        if kind is None and code.lower().startswith("insufficient_quota"):
            kind = ErrorKind.INSUFFICIENT_CREDITS
    if kind is None and code and code.isdigit():
        kind = kind_for_status(int(code))
    if kind is None or kind is ErrorKind.UNKNOWN:
        kind = kind_for_status(status)
    if kind in (ErrorKind.VALIDATION, ErrorKind.UNKNOWN) and looks_like_moderation(message):
        kind = ErrorKind.CONTENT_POLICY
    return make_error(kind, provider, message, status=status, code=code or etype or None)


def obj(value: Any) -> dict[str, Any]:
    """The value when it is a JSON object, else an empty one (vendors send null or junk)."""
    return value if isinstance(value, dict) else {}


def as_int(value: Any) -> int | None:
    """An int from a vendor number or numeric string, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if math.isfinite(value) else None  # JSON 1e999 reads as inf
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        return int(value.strip())
    return None


def as_number(value: Any) -> float | None:
    """A non-negative vendor amount (number or numeric string), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None
    if isinstance(value, int | float) and value >= 0 and value == value:  # not NaN
        return float(value)
    return None


def as_progress(value: Any) -> int | None:
    """A 0-100 progress, clamped, or None when the vendor sent none."""
    number = as_int(value)
    return None if number is None else max(0, min(100, number))


def is_url(value: Any) -> bool:
    """True for an http(s) URL string."""
    return isinstance(value, str) and value.lower().startswith(("https://", "http://"))


def find_mp4(payload: Any) -> str | None:
    """Last resort: the first https string in the payload whose path ends in .mp4."""
    if isinstance(payload, str):
        is_https = payload.lower().startswith("https://")
        return payload if is_https and urlsplit(payload).path.lower().endswith(".mp4") else None
    items = payload.values() if isinstance(payload, Mapping) else payload
    if isinstance(payload, Mapping | list | tuple):
        for item in items:
            found = find_mp4(item)
            if found:
                return found
    return None


def no_video_event(provider: str, raw: Mapping[str, Any], common: dict[str, Any]) -> TaskEvent:
    """A 'completed' task without any video URL: a failure we log with the raw payload."""
    log.warning("%s: completed task without a video URL: %s", provider, excerpt(str(raw)))
    return TaskEvent(
        state=TaskState.FAILED,
        error_kind=ErrorKind.UPSTREAM,
        error_code="no_video_url",
        error_message="the provider reported success but sent no video URL",
        **common,
    )


# Task statuses of the unified task shape (evolink, foxapi); cancelled ends as a failure.
UNIFIED_STATES = {
    "pending": TaskState.QUEUED,
    "processing": TaskState.RUNNING,
    "completed": TaskState.SUCCEEDED,
    "failed": TaskState.FAILED,
    "cancelled": TaskState.FAILED,
    "canceled": TaskState.FAILED,
}


def unified_submitted(provider: str, body: Any) -> Submitted:
    """The create answer in the unified task shape (evolink, foxapi): `id`, `task_info`."""
    task_id = body.get("id") if isinstance(body, dict) else None
    if not isinstance(task_id, str) or not task_id:
        # A yes without an id: a task may exist, so never let another provider try.
        raise outcome_unknown("create answer has no task id", provider=provider, status=200)
    info = obj(body.get("task_info"))
    return Submitted(task_id=task_id, eta_s=as_int(info.get("estimated_time")))


def unified_failure(
    status: str, task: Mapping[str, Any], common: dict[str, Any], *, cancelled_code: str
) -> TaskEvent:
    """A failed or cancelled task in the unified task shape (evolink, foxapi): `error{code,…}`."""
    error = obj(task.get("error"))
    code = text_of(error.get("code"))
    message = text_of(error.get("message"))
    kind = kind_for_task_code(code)
    if status in ("cancelled", "canceled") and not code:
        kind, code = ErrorKind.CANCELLED, cancelled_code
    if kind is ErrorKind.UPSTREAM and looks_like_moderation(message):
        kind = ErrorKind.CONTENT_POLICY
    return TaskEvent(
        state=TaskState.FAILED, error_kind=kind, error_code=code, error_message=message, **common
    )


def with_task_id(event: TaskEvent, task_id: str) -> TaskEvent:
    """The event with the task id we asked about (when the vendor body omitted it)."""
    return replace(event, task_id=task_id)


def checked_options(
    provider: str, models: Mapping[str, ModelSpec], request: VideoRequest
) -> tuple[ModelSpec, dict[str, str]]:
    """The request's model spec and its options with defaults; refuse what cannot be sent."""
    spec = models.get(request.options.model)
    if spec is None:
        raise ProviderValidationError(
            f"model {request.options.model!r} is not sold here", provider=provider
        )
    if not request.image_url:
        raise ProviderValidationError("a public image URL is required", provider=provider)
    if spec.prompt_required and not request.prompt.strip():
        raise ProviderValidationError("a prompt is required for this model", provider=provider)
    return spec, spec.normalise(dict(request.options.values))


# ---- issue 11: a refused create blamed on the right party --------------------------------------
# The provider could not fetch the photo we host: its side (or the network), never the user's.
_FETCH_WORDS = re.compile(
    r"unreachable|could not be (?:fetched|downloaded|retrieved)"
    r"|(?:failed|unable|cannot|could not)(?: to)? (?:fetch|download|access|retrieve|reach)"
    r"|not (?:publicly )?accessible|timed? ?out",
    re.IGNORECASE,
)
# What the user can change: the photo's content or shape, or the prompt.
_PHOTO_WORDS = re.compile(
    r"dimension|aspect ratio (?:beyond|out of|exceeds|not supported)|too (?:small|large|big)"
    r"|resolution of the image|image (?:size|format)"
    r"|unsupported image|not a (?:decodable|valid) image|larger than|below \d+ ?px",
    re.IGNORECASE,
)
_PROMPT_WORDS = re.compile(r"\bprompt\b", re.IGNORECASE)


def classify_create_refusal(err: ProviderError) -> ProviderError:
    """Re-blame a refused create (see docs/providers.md, "Whose fault").

    A create can only be refused for the user's photo or prompt when the vendor says so; a 404
    (model or endpoint), a refused parameter the bot chose and any unknown 4xx are the operator's
    configuration (alert, fail over); a photo the vendor could not fetch is the vendor's side or
    the network's (fail over). Content-policy refusals stay the user's.
    """
    kind = err.kind
    text = f"{err.code or ''} {err.message}"
    if kind is ErrorKind.NOT_FOUND:
        new = ErrorKind.CONFIG
    elif kind is ErrorKind.VALIDATION:
        if _FETCH_WORDS.search(text):
            new = ErrorKind.UPSTREAM
        elif _PROMPT_WORDS.search(text) or _PHOTO_WORDS.search(text):
            return err  # the user's photo or prompt: tell them what to change
        else:
            new = ErrorKind.CONFIG
    elif kind is ErrorKind.UNKNOWN and err.status is not None and 400 <= err.status < 500:
        new = ErrorKind.CONFIG
    else:
        return err
    again = make_error(new, err.provider, err.message, status=err.status, code=err.code)
    again.request_id, again.retry_after = err.request_id, err.retry_after
    return again


def refusal_is_about_prompt(err: ProviderError) -> bool:
    """True when a user-side refusal names the prompt rather than the photo."""
    return err.kind is ErrorKind.VALIDATION and bool(
        _PROMPT_WORDS.search(f"{err.code or ''} {err.message}")
    )

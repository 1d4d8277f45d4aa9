"""What the fake provider servers record and keep: requests, tasks, image checks, callbacks."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Route = Literal["create", "query", "download", "callback", "credit"]
ROUTES: tuple[Route, ...] = ("create", "query", "download", "callback", "credit")
# Faults with a fixed meaning; any other three-digit string ("401", "402", "503"...) answers the
# vendor's own error body for that HTTP status.
NAMED_FAULTS = frozenset({"429", "500", "html502", "timeout", "malformed", "drop"})
ImageProblem = Literal["unreachable", "format", "size", "dimension"]


@dataclass(frozen=True)
class Recorded:
    """One HTTP request the fake received (header names lower-cased)."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    json: Any  # the decoded JSON body, None when the body is empty or not JSON
    text: str  # the raw body, decoded leniently
    route: str  # "create", "query", "download" or "" for anything else
    time: float  # time.monotonic() on arrival


@dataclass(frozen=True)
class ImageCheck:
    """The fake's GET of an image URL it was handed, the way the real service fetches it."""

    url: str
    ok: bool
    reason: str  # "ok" or why the image is refused
    status: int | None = None  # HTTP status, None when unreachable or not fetched
    content_type: str | None = None
    size: int | None = None  # bytes received (stops just past the 10 MB limit)
    width: int | None = None
    height: int | None = None
    format: str | None = None  # Pillow's format name: JPEG, PNG, WEBP...
    problem: ImageProblem | None = None
    fetched: bool = True  # False for a non-loopback host: tests never leave 127.0.0.1
    token_in_url: bool = False  # the URL looks like it carries a Telegram bot token


@dataclass(frozen=True)
class CallbackAttempt:
    """One POST of a task callback: the answer's status, or the exception's class name."""

    task_id: str
    url: str
    outcome: int | str
    time: float  # time.monotonic() when the attempt finished
    body: bytes
    headers: dict[str, str]

    @property
    def ok(self) -> bool:
        """True when the receiver answered 2xx."""
        return isinstance(self.outcome, int) and 200 <= self.outcome < 300


@dataclass
class Fault:
    """A fault armed on one route for the next `times` requests."""

    kind: str
    times: int
    retry_after: float | None = None
    message: str | None = None  # a status fault's error message (the vendor's default if None)


@dataclass
class ScriptSpec:
    """The statuses the next created task walks through, one per query or `advance`."""

    states: list[str]
    on_create: bool = False  # apply the first state before the create response is sent
    error_code: str | None = None
    error_message: str | None = None


@dataclass
class FakeTask:
    """A task as the fake keeps it; each vendor renders it in its own JSON."""

    id: str
    model: str
    body: dict[str, Any]  # the create request as received
    created: float  # time.time() at creation
    status: str
    progress: int = 0
    callback_url: str | None = None
    video: bytes | None = None
    error_code: str | None = None
    error_message: str | None = None
    queries: int = 0
    script: list[str] = field(default_factory=list)
    script_error: tuple[str | None, str | None] = (None, None)
    image_checks: list[ImageCheck] = field(default_factory=list)
    updated: float = 0.0
    completed: float | None = None
    history: list[str] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)  # normalised options (duration...)

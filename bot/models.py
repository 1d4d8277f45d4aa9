"""Provider-neutral data the whole bot shares: options, task events and job states."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path


class TaskState(StrEnum):
    """Where a provider task stands; UNKNOWN means "keep polling"."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    UNKNOWN = "unknown"


class ErrorKind(StrEnum):
    """One vocabulary for every vendor's failures (docs/providers.md)."""

    AUTH = "auth"
    INSUFFICIENT_CREDITS = "insufficient_credits"
    RATE_LIMITED = "rate_limited"
    VALIDATION = "validation"
    CONTENT_POLICY = "content_policy"
    NOT_FOUND = "not_found"
    UPSTREAM = "upstream"
    TIMEOUT = "timeout"
    CANCELLED = "cancelled"
    UNKNOWN = "unknown"
    # issue 11: the operator's configuration was refused (404 model or endpoint, a parameter the
    # bot chose): alert the admins and fail over; never the user's fault
    CONFIG = "config"

    @property
    def is_users_part(self) -> bool:
        """True when the user's input caused it (a retry is charged again)."""
        return self in (ErrorKind.VALIDATION, ErrorKind.CONTENT_POLICY)

    @property
    def is_operators_part(self) -> bool:
        """True when only the operator can fix it (key, provider balance)."""
        return self in (ErrorKind.AUTH, ErrorKind.INSUFFICIENT_CREDITS, ErrorKind.CONFIG)


class FailureReason(StrEnum):
    """Why a job failed: stored in `jobs.error_kind`, explained to the user
    (`bot.telegram.views.failure_reason`), weighed by the failure-rate alert, counted by /stats."""

    # The user's part: their photo or description was refused (a retry is charged again).
    CONTENT_POLICY = "content_policy"
    VALIDATION = "validation"
    PROMPT = "prompt"  # issue 11: the provider refused the description itself
    # Ours or the provider's: the job is refunded and the user may simply try again.
    TIMEOUT = "timeout"
    UPSTREAM = "upstream"
    UNAVAILABLE = "unavailable"  # no provider could take it (keys, balance, rate limit)
    UNKNOWN_OUTCOME = "unknown_outcome"  # a submission whose fate we could not learn
    DOWNLOAD = "download"  # the finished video could not be fetched
    BROKEN_RESULT = "broken_result"  # issue 10: the fetched video is not a playable video
    SEND = "send"  # Telegram would not take the video
    # A provider's task failed with this kind, recorded as the provider said it.
    AUTH = "auth"
    INSUFFICIENT_CREDITS = "insufficient_credits"
    RATE_LIMITED = "rate_limited"
    NOT_FOUND = "not_found"
    CANCELLED = "cancelled"
    UNKNOWN = "unknown"
    CONFIG = "config"

    @classmethod
    def of_task(cls, kind: ErrorKind | None) -> FailureReason:
        """A failed task's reason: the provider's kind, or UPSTREAM when it gave none."""
        return cls(kind.value) if kind is not None else cls.UPSTREAM

    @classmethod
    def parse(cls, stored: str | None) -> FailureReason | None:
        """The stored `error_kind` (None when unset or written by an older version)."""
        try:
            return cls(stored) if stored else None
        except ValueError:
            return None

    @property
    def is_users_part(self) -> bool:
        """The user's input was refused: not counted against the providers by the alert."""
        return self in (FailureReason.CONTENT_POLICY, FailureReason.VALIDATION)


class JobStatus(StrEnum):
    """The job state machine; see README for the diagram."""

    DRAFT = "draft"
    RESERVED = "reserved"
    SUBMITTING = "submitting"
    SUBMITTED = "submitted"
    DOWNLOADING = "downloading"
    SENDING = "sending"
    DELIVERED = "delivered"
    FAILED = "failed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATUSES


TERMINAL_STATUSES = frozenset(
    {JobStatus.DELIVERED, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.EXPIRED}
)
ACTIVE_STATUSES = frozenset(
    {
        JobStatus.RESERVED,
        JobStatus.SUBMITTING,
        JobStatus.SUBMITTED,
        JobStatus.DOWNLOADING,
        JobStatus.SENDING,
    }
)


@dataclass(frozen=True)
class VideoOptions:
    """What the user picked on the keyboard; values are validated against the catalog."""

    model: str
    values: dict[str, str] = field(default_factory=dict)

    def get(self, name: str, default: str | None = None) -> str | None:
        return self.values.get(name, default)


@dataclass(frozen=True)
class TaskEvent:
    """What a callback or a poll learnt about one provider task."""

    task_id: str
    state: TaskState
    progress: int | None = None
    video_url: str | None = None
    video_path: Path | None = None  # set by the local provider: a file, nothing to download
    error_kind: ErrorKind | None = None
    error_code: str | None = None
    error_message: str | None = None
    eta_s: int | None = None
    cost: float | None = None  # the provider's reported charge, in its own units (issue 11)


@dataclass(frozen=True)
class Job:
    """One row of the jobs table: a draft (options being chosen) or a paid generation."""

    id: int
    user_id: int
    chat_id: int
    thread_id: int | None
    photo_message_id: int
    status_message_id: int | None
    photo_file_id: str
    photo_width: int
    photo_height: int
    prompt: str
    model: str
    options: dict[str, str]
    price: int
    status: JobStatus
    provider: str | None
    task_id: str | None
    callback_secret: str
    tried_providers: tuple[str, ...]
    progress: int | None
    eta_s: int | None
    deadline_at: float | None
    next_poll_at: float | None
    poll_interval: float | None
    error_kind: str | None
    error_message: str | None
    video_file_id: str | None
    video_message_id: int | None
    language: str
    created_at: float
    updated_at: float
    submitted_at: float | None
    retry_of: int | None
    media_token: str | None
    ask_message_id: int | None
    not_found_count: int
    told_at: float | None = None  # when the user was told the final outcome
    # issue 11: what the provider reported it charged (its own units), the seed sent (HappyHorse),
    # and when the job started waiting in our own admission queue (None: not queued)
    provider_cost: float | None = None
    seed: int | None = None
    queued_at: float | None = None
    requester_name: str | None = None  # groups name whose job it is (Telegram's first name)

    @property
    def failure(self) -> FailureReason | None:
        """Why the job failed, in the typed vocabulary (None: not failed, or not recorded)."""
        return FailureReason.parse(self.error_kind)

    @property
    def video_options(self) -> VideoOptions:
        return VideoOptions(self.model, dict(self.options))

"""The one error tree every provider adapter maps its failures onto.

    ProviderError                 (kind, provider, status, request_id, retry_after)
     ├── ProviderAuthError        AUTH                  operator: bad or missing key
     ├── InsufficientCredits      INSUFFICIENT_CREDITS  operator: provider account is empty
     ├── RateLimited              RATE_LIMITED          retry after `retry_after` seconds
     ├── ProviderValidationError  VALIDATION            the user's photo or options were refused
     ├── ContentPolicyError       CONTENT_POLICY        the user's prompt or photo was refused
     ├── ProviderConfigError      CONFIG                operator: 404 model/endpoint, bad parameter
     ├── TaskNotFound             NOT_FOUND
     ├── UpstreamError            UPSTREAM              5xx, HTML pages, malformed JSON
     └── ProviderTimeout          TIMEOUT               `outcome_unknown` once the request was sent

Only `outcome_unknown=False` failures of a create may go to the next provider: a create whose
outcome is unknown may have made a task (and a charge), so it is never retried blindly.
"""

from __future__ import annotations

from bot.models import ErrorKind


class ProviderError(Exception):
    """A provider call failed; `kind` says whose fault it is and whether to retry."""

    kind: ErrorKind = ErrorKind.UNKNOWN

    def __init__(
        self,
        message: str,
        *,
        provider: str = "",
        status: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.provider = provider
        self.status = status
        self.code = code
        self.request_id = request_id
        self.retry_after = retry_after

    def __str__(self) -> str:
        parts = [f"[{self.provider or '?'}] {self.kind.value}"]
        if self.status is not None:
            parts.append(f"HTTP {self.status}")
        if self.code:
            parts.append(f"code={self.code}")
        if self.request_id:
            parts.append(f"request_id={self.request_id}")
        return " ".join(parts) + f": {self.message}"

    @property
    def next_provider_may_try(self) -> bool:
        """A failure that is not the user's and left no task behind."""
        return self.kind in (
            ErrorKind.AUTH,
            ErrorKind.INSUFFICIENT_CREDITS,
            ErrorKind.RATE_LIMITED,
            ErrorKind.UPSTREAM,
            ErrorKind.CONFIG,
        )


class ProviderAuthError(ProviderError):
    kind = ErrorKind.AUTH


class InsufficientCredits(ProviderError):
    kind = ErrorKind.INSUFFICIENT_CREDITS


class RateLimited(ProviderError):
    kind = ErrorKind.RATE_LIMITED


class ProviderValidationError(ProviderError):
    kind = ErrorKind.VALIDATION


class ContentPolicyError(ProviderError):
    kind = ErrorKind.CONTENT_POLICY


class ProviderConfigError(ProviderError):
    """The vendor refused what the operator configured (model, endpoint, a parameter we chose)."""

    kind = ErrorKind.CONFIG


class TaskNotFound(ProviderError):
    kind = ErrorKind.NOT_FOUND


class UpstreamError(ProviderError):
    kind = ErrorKind.UPSTREAM


class ProviderTimeout(ProviderError):
    kind = ErrorKind.TIMEOUT

    def __init__(self, message: str, *, outcome_unknown: bool, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.outcome_unknown = outcome_unknown

    @property
    def next_provider_may_try(self) -> bool:
        return not self.outcome_unknown


ERROR_CLASSES: dict[ErrorKind, type[ProviderError]] = {
    ErrorKind.AUTH: ProviderAuthError,
    ErrorKind.INSUFFICIENT_CREDITS: InsufficientCredits,
    ErrorKind.RATE_LIMITED: RateLimited,
    ErrorKind.VALIDATION: ProviderValidationError,
    ErrorKind.CONTENT_POLICY: ContentPolicyError,
    ErrorKind.NOT_FOUND: TaskNotFound,
    ErrorKind.UPSTREAM: UpstreamError,
    ErrorKind.CONFIG: ProviderConfigError,
}


def error_for(kind: ErrorKind, message: str, **kwargs: object) -> ProviderError:
    """Build the tree's class for `kind` (TIMEOUT has its own constructor)."""
    cls = ERROR_CLASSES.get(kind, ProviderError)
    return cls(message, **kwargs)  # type: ignore[arg-type]


def outcome_unknown(message: str, *, provider: str, status: int | None = None) -> ProviderTimeout:
    """A create the vendor may have accepted although we cannot tell its task id."""
    return ProviderTimeout(message, outcome_unknown=True, provider=provider, status=status)

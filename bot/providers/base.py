"""The provider seam: what every image-to-video adapter offers the job service.

Vendor JSON never leaves an adapter module. The rest of the bot sees `VideoRequest`, `Submitted`,
`TaskEvent` and the `ProviderError` tree, so the job service cannot tell one vendor from another.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from bot.catalog import ModelSpec
from bot.models import TaskEvent, VideoOptions

# Called by an in-process provider when a task finished: the same wake-up as a callback.
WakeUp = Callable[[str, str], Awaitable[None]]  # (provider name, task id)


@dataclass(frozen=True)
class VideoRequest:
    """One generation request in neutral terms."""

    prompt: str
    options: VideoOptions
    image_path: Path  # the checked photo on disk (the local provider reads it directly)
    image_url: str | None  # where a remote provider fetches the same photo (our /media URL)
    callback_url: str | None  # our /callbacks/{provider}/{token} URL, when callbacks can reach us
    image_size: tuple[int, int] | None = None  # the photo's width and height (aspect choice)
    seed: int | None = None  # sent where the model documents a seed (HappyHorse)


@dataclass(frozen=True)
class Submitted:
    """The provider accepted the task."""

    task_id: str
    eta_s: int | None = None
    cost: float | None = None  # what the provider says it reserved or charged, in its own units


class InvalidCallback(Exception):
    """A callback body or signature that must be refused with a 4xx."""


@runtime_checkable
class VideoProvider(Protocol):
    """An image-to-video API (or the built-in local renderer)."""

    name: str

    @property
    def models(self) -> Mapping[str, ModelSpec]:
        """Model key -> the options this provider accepts for it (what its API allows)."""
        ...

    # True when the provider calls us back on completion (we still poll as a fallback)
    uses_callbacks: bool
    # True when the provider must fetch the photo by URL (needs PUBLIC_BASE_URL)
    needs_public_image: bool
    # How long a result URL stays valid after the video was generated, where documented
    result_retention_s: float | None
    # True when the provider documents English-only prompts
    english_only_prompts: bool
    # True for the built-in renderer: it runs in this process, its tasks die with the process
    # (re-rendered at no cost after a restart) and its result is a file on our disk
    in_process: bool

    async def submit(self, request: VideoRequest) -> Submitted:
        """Create the task; raise a `ProviderError` on refusal."""
        ...

    async def query(self, task_id: str) -> TaskEvent:
        """Ask the provider where the task stands; raise a `ProviderError` on failure."""
        ...

    def cancel(self, task_id: str) -> bool:
        """Stop the task if the provider can; True when it did (only the in-process renderer
        can: remote vendors document no cancel)."""
        ...

    def discard(self, task_id: str) -> None:
        """The task's result was delivered or given up: free what it holds (a file on disk)."""
        ...

    async def balance(self) -> float | None:
        """The account balance where the vendor documents an endpoint for it, else None."""
        ...

    def callback_task_id(self, headers: Mapping[str, str], body: bytes) -> str:
        """Extract the task id a callback speaks of; raise `InvalidCallback` when malformed."""
        ...

    def bind_wakeup(self, wake: WakeUp) -> None:
        """Register where an in-process provider reports finished tasks (remote ones ignore it)."""
        ...

    async def aclose(self) -> None:
        """Release what the provider holds (threads, temp files)."""
        ...

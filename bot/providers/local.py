"""The built-in `local` provider: a pan/zoom video rendered from the photo, no API key needed.

It looks like any remote provider to the job service: `submit` returns at once with a task id,
the render runs in a worker thread (so the event loop never blocks), a bounded number at a time,
and the end of a render wakes the service, which then calls `query` as it would after a vendor
callback. State lives in memory only: after a restart `query` raises `TaskNotFound`, and the
service resubmits or fails the job.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from bot import catalog
from bot.catalog import ModelSpec, OptionSpec
from bot.media.render import InvalidImageError, RenderCancelled, RenderResult, render_pan_zoom
from bot.models import ErrorKind, TaskEvent, TaskState
from bot.providers.base import InvalidCallback, Submitted, VideoRequest, WakeUp
from bot.providers.errors import ProviderValidationError, TaskNotFound, UpstreamError

log = logging.getLogger(__name__)

NAME = "local"
MODEL = "panzoom"
# Render cost per million output pixels: bench/bench_render.py measures ~0.02 s on 2 idle cores;
# doubled because the bot shares them with everything else.
SECONDS_PER_MEGAPIXEL = 0.04
MIN_ETA_S = 2


class RenderFn(Protocol):
    """The shape of `render_pan_zoom`; tests pass a wrapper to observe or hold a render."""

    def __call__(
        self,
        image_path: Path,
        out_path: Path,
        *,
        duration_s: int,
        fps: int = ...,
        max_side: int = ...,
        cancel: threading.Event | None = ...,
        on_progress: Callable[[int], None] | None = ...,
    ) -> RenderResult: ...


@dataclass
class _Task:
    out_path: Path
    eta_s: int
    state: TaskState = TaskState.QUEUED
    progress: int = 0
    cancel: threading.Event = field(default_factory=threading.Event)
    error_kind: ErrorKind | None = None
    error_message: str | None = None
    discarded: bool = False

    def set_progress(self, percent: int) -> None:
        # Called from the render thread; a plain int store is atomic under the GIL.
        self.progress = percent


class LocalProvider:
    """Renders in-process with PyAV; the one `VideoProvider` that can really cancel."""

    name = NAME
    in_process = True
    uses_callbacks = False
    needs_public_image = False
    result_retention_s: float | None = None  # a file on our disk: nothing expires
    english_only_prompts = False
    models: Mapping[str, ModelSpec] = {
        MODEL: ModelSpec(
            key=MODEL,
            title=catalog.LOCAL_TITLE,
            options=(OptionSpec("duration", ("5", "10"), "5"),),
            prompt_required=False,
        )
    }

    def __init__(
        self,
        work_dir: Path,
        *,
        max_concurrent: int = 1,
        fps: int = 24,
        max_side: int = 720,
        render: RenderFn = render_pan_zoom,
    ) -> None:
        self._work_dir = work_dir
        self._fps = fps
        self._max_side = max_side
        self._render = render
        self._slots = asyncio.Semaphore(max(1, max_concurrent))
        self._max_concurrent = max(1, max_concurrent)
        self._tasks: dict[str, _Task] = {}
        self._runners: set[asyncio.Task[None]] = set()  # also the discarded ones still running
        self._wake: WakeUp | None = None
        self._closed = False
        work_dir.mkdir(parents=True, exist_ok=True)
        # Files of a previous process belong to tasks nobody can query any more.
        for stale in work_dir.glob(f"{NAME}-*.mp4*"):
            stale.unlink(missing_ok=True)

    def bind_wakeup(self, wake: WakeUp) -> None:
        """Register the coroutine told about every finished render."""
        self._wake = wake

    async def submit(self, request: VideoRequest) -> Submitted:
        """Queue a render and return at once with its task id and an ETA."""
        if self._closed:
            raise UpstreamError("local provider is shut down", provider=NAME)
        duration = self._duration(request)
        task_id = f"{NAME}-{uuid.uuid4().hex}"
        eta = self._estimate_s(duration)
        task = _Task(out_path=self._work_dir / f"{task_id}.mp4", eta_s=eta)
        self._tasks[task_id] = task
        runner = asyncio.create_task(self._run(task_id, task, request.image_path, duration))
        self._runners.add(runner)
        runner.add_done_callback(self._runners.discard)
        log.info("local task %s queued: %d s, eta %d s", task_id, duration, eta)
        return Submitted(task_id=task_id, eta_s=eta)

    async def query(self, task_id: str) -> TaskEvent:
        """Report the task's in-memory state; TaskNotFound for ids this process never made."""
        task = self._tasks.get(task_id)
        if task is None or task.discarded:
            raise TaskNotFound(f"unknown local task {task_id}", provider=NAME)
        if task.state is TaskState.SUCCEEDED:
            return TaskEvent(task_id, task.state, progress=100, video_path=task.out_path)
        if task.state is TaskState.FAILED:
            return TaskEvent(
                task_id,
                task.state,
                error_kind=task.error_kind,
                error_message=task.error_message,
            )
        remaining = max(1, round(task.eta_s * (100 - task.progress) / 100))
        return TaskEvent(task_id, task.state, progress=task.progress, eta_s=remaining)

    async def balance(self) -> float | None:
        """Rendering here costs the operator nothing: there is no balance."""
        return None

    def callback_task_id(self, headers: Mapping[str, str], body: bytes) -> str:
        """The local provider never calls back, so every callback is refused."""
        raise InvalidCallback("the local provider has no callbacks")

    def cancel(self, task_id: str) -> bool:
        """Ask a queued or running render to stop at its next frame; False if already over."""
        task = self._tasks.get(task_id)
        if task is None or task.state not in (TaskState.QUEUED, TaskState.RUNNING):
            return False
        task.cancel.set()
        return True

    def discard(self, task_id: str) -> None:
        """Forget a task and delete its video (the service calls this after delivery)."""
        task = self._tasks.pop(task_id, None)
        if task is None:
            return
        task.discarded = True
        task.cancel.set()  # a render still going would only produce an orphan file
        task.out_path.unlink(missing_ok=True)

    async def aclose(self) -> None:
        """Stop every render and wait for the threads to let go (they stop at the next frame)."""
        self._closed = True
        for task in self._tasks.values():
            task.cancel.set()
        await asyncio.gather(*self._runners, return_exceptions=True)

    def _estimate_s(self, duration: int) -> int:
        # Photos are mostly 4:3; renders ahead of this one share the same slots.
        megapixels = duration * self._fps * self._max_side**2 * 0.75 / 1e6
        own = max(MIN_ETA_S, round(megapixels * SECONDS_PER_MEGAPIXEL))
        ahead = sum(t.state in (TaskState.QUEUED, TaskState.RUNNING) for t in self._tasks.values())
        return own * (1 + ahead // self._max_concurrent)

    def _duration(self, request: VideoRequest) -> int:
        spec = self.models.get(request.options.model)
        if spec is None:
            raise ProviderValidationError(
                f"unknown model {request.options.model!r}", provider=NAME
            )
        duration = request.options.get("duration", spec.defaults()["duration"])
        option = spec.option("duration")
        if option is None or duration not in option.values:
            raise ProviderValidationError(f"unsupported duration {duration!r}", provider=NAME)
        return int(duration)

    async def _run(self, task_id: str, task: _Task, image_path: Path, duration: int) -> None:
        try:
            async with self._slots:
                if task.cancel.is_set():
                    raise RenderCancelled
                task.state = TaskState.RUNNING
                await asyncio.to_thread(
                    self._render,
                    image_path,
                    task.out_path,
                    duration_s=duration,
                    fps=self._fps,
                    max_side=self._max_side,
                    cancel=task.cancel,
                    on_progress=task.set_progress,
                )
            task.progress, task.state = 100, TaskState.SUCCEEDED
            log.info("local task %s rendered", task_id)
        except asyncio.CancelledError:
            task.cancel.set()  # the thread outlives the coroutine: tell it to stop too
            raise
        except RenderCancelled:
            self._fail(task_id, task, ErrorKind.CANCELLED, "render cancelled")
        except InvalidImageError as exc:
            self._fail(task_id, task, ErrorKind.VALIDATION, str(exc))
        except Exception as exc:
            log.exception("local task %s: unexpected render error", task_id)
            self._fail(task_id, task, ErrorKind.UPSTREAM, f"render failed: {exc}")
        if task.discarded:
            task.out_path.unlink(missing_ok=True)
        elif not self._closed:
            await self._notify(task_id)

    @staticmethod
    def _fail(task_id: str, task: _Task, kind: ErrorKind, message: str) -> None:
        task.state, task.error_kind, task.error_message = TaskState.FAILED, kind, message
        log.info("local task %s failed (%s): %s", task_id, kind.value, message)

    async def _notify(self, task_id: str) -> None:
        if self._wake is None:
            return
        try:
            await self._wake(NAME, task_id)
        except Exception:
            # The service also polls; a broken wake-up only delays delivery.
            log.exception("wake-up for local task %s failed", task_id)

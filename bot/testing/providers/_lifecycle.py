"""Task lifecycle and callback delivery shared by the fake providers.

Tasks move only when a test (or the opt-in `auto_complete` mode) says so: `script`, `advance`,
`succeed`, `fail`, `cancel`. Reaching a terminal status fires the vendor's callback, delivered with
the vendor's retry schedule scaled by `time_scale`, and every attempt is recorded.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from collections.abc import Coroutine, Sequence
from typing import Any, ClassVar

import httpx

from bot.testing.providers._images import is_loopback_url
from bot.testing.providers._observe import Observations
from bot.testing.providers._records import CallbackAttempt, FakeTask, Fault, ScriptSpec
from bot.testing.sample_media import make_sample_mp4


class TaskLifecycle(Observations):
    """The task state machine and callback sender; `FakeProviderServer` builds on it."""

    vendor: ClassVar[str] = "fake"
    # initial status first, success last; `advance` walks it
    progression: ClassVar[tuple[str, ...]] = ("pending", "processing", "completed")
    failed_status: ClassVar[str] = "failed"
    cancelled_status: ClassVar[str | None] = None
    running_progress: ClassVar[int] = 50  # added on each entry into a running status
    default_failure: ClassVar[tuple[str, str]] = ("error", "Generation failed")
    cancel_error: ClassVar[tuple[str, str] | None] = None
    # delays before each retry of a failed callback; () = sent once
    callback_retry_delays: ClassVar[tuple[float, ...]] = ()

    duplicate_callbacks: int
    time_scale: float
    callback_timeout: float
    auto_complete: bool
    auto_steps: int
    auto_delay: float | None
    _scripts: deque[ScriptSpec]
    _client: httpx.AsyncClient | None

    def _take_fault(self, route: str) -> Fault | None:
        raise NotImplementedError

    def callback_request(self, task: FakeTask) -> tuple[bytes, dict[str, str]]:
        """The callback body and extra headers; vendors override."""
        return json.dumps(self.render_task(task)).encode(), {}

    def render_task(self, task: FakeTask) -> dict[str, Any]:
        """The vendor's query response body for `task`."""
        raise NotImplementedError

    # -- statuses ------------------------------------------------------------------------------
    @property
    def initial_status(self) -> str:
        """The status a new task starts in."""
        return self.progression[0]

    @property
    def success_status(self) -> str:
        """The vendor's "completed" status."""
        return self.progression[-1]

    @property
    def running_statuses(self) -> tuple[str, ...]:
        """Statuses between the initial one and success."""
        return self.progression[1:-1]

    def is_terminal(self, status: str) -> bool:
        """True for success, failure and cancellation."""
        return status in (self.success_status, self.failed_status, self.cancelled_status)

    # -- test control --------------------------------------------------------------------------
    def script(
        self,
        states: Sequence[str],
        *,
        tasks: int = 1,
        on_create: bool = False,
        error_code: str | None = None,
        error_message: str | None = None,
    ) -> None:
        """Make the next `tasks` created tasks show `states`, one per query (last one sticks).

        States are the vendor's own strings, so unknown ones can be scripted too. With
        `on_create` the first state applies before the create response is sent (a terminal one
        then delivers its callback before that response). `error_*` set a scripted failure.
        """
        for _ in range(tasks):
            self._scripts.append(ScriptSpec(list(states), on_create, error_code, error_message))

    def advance(self, task_id: str) -> str:
        """Move a task one step (its script, else the vendor's progression); return the status."""
        task = self.tasks[task_id]
        if task.script:
            self._enter(task, task.script.pop(0), error=task.script_error)
        elif task.status in self.progression[:-1]:
            self._enter(task, self.progression[self.progression.index(task.status) + 1])
        elif not self.is_terminal(task.status):  # an unknown scripted status
            self._enter(task, self.success_status)
        return task.status

    def succeed(self, task_id: str, video: bytes | None = None) -> None:
        """Complete a task with `video` (default: a tiny real MP4) and fire its callback."""
        task = self.tasks[task_id]
        if video is not None:
            task.video = video
        self._enter(task, self.success_status)

    def fail(self, task_id: str, code: str | None = None, message: str | None = None) -> None:
        """Fail a task with the vendor's error `code`/`message` and fire its callback."""
        self._enter(self.tasks[task_id], self.failed_status, error=(code, message))

    def cancel(self, task_id: str) -> None:
        """Cancel a task where the vendor has a cancelled status (evolink, foxapi)."""
        if self.cancelled_status is None:
            raise ValueError(f"{self.vendor} has no cancelled status")
        self._enter(self.tasks[task_id], self.cancelled_status, error=self.cancel_error)

    async def send_callback(self, task_id: str, *, retries: bool = True) -> list[CallbackAttempt]:
        """Deliver the task's callback now (with the retry schedule unless `retries=False`)."""
        return await self._deliver(self.tasks[task_id], retries=retries)

    # -- internals -----------------------------------------------------------------------------
    def _enter(
        self,
        task: FakeTask,
        status: str,
        *,
        error: tuple[str | None, str | None] | None = None,
        callback: bool = True,
    ) -> None:
        task.status, task.updated = status, time.time()
        task.history.append(status)
        if status == self.success_status:
            task.progress = 100
            task.video = task.video if task.video is not None else make_sample_mp4()
        elif status in self.running_statuses:
            # Each running step reports more progress, short of done.
            task.progress = min(99, task.progress + self.running_progress)
        if status in (self.failed_status, self.cancelled_status):
            code, message = error or (None, None)
            task.error_code = code or task.error_code or self.default_failure[0]
            task.error_message = message or task.error_message or self.default_failure[1]
        if self.is_terminal(status):
            task.completed = task.updated
            if callback and task.callback_url:
                self._spawn(self._deliver(task))
        self._bump()

    def _on_query(self, task: FakeTask) -> None:
        """A query arrived: walk the script, or the auto-complete schedule."""
        task.queries += 1
        if task.script:
            self._enter(task, task.script.pop(0), error=task.script_error)
        elif self.auto_complete and not self.is_terminal(task.status):
            if task.queries >= self.auto_steps:
                self._enter(task, self.success_status)
            elif self.running_statuses:
                self._enter(
                    task, self.running_statuses[min(task.queries, len(self.running_statuses)) - 1]
                )

    def _take_script(self, task: FakeTask) -> bool:
        """Attach the next script to a new task; True when its first state applies now."""
        if not self._scripts:
            return False
        spec = self._scripts.popleft()
        task.script, task.script_error = list(spec.states), (spec.error_code, spec.error_message)
        return spec.on_create and bool(task.script)

    async def _auto_run(self, task: FakeTask) -> None:
        """`auto_delay` mode: running after half the delay, completed after the whole."""
        assert self.auto_delay is not None
        for step in (self.running_statuses[:1], (self.success_status,)):
            await asyncio.sleep(self.auto_delay / 2)
            if self.is_terminal(task.status):
                return
            for status in step:
                self._enter(task, status)

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        job = asyncio.get_running_loop().create_task(coro)
        self._background.add(job)
        job.add_done_callback(self._background.discard)

    async def _post_once(self, url: str, body: bytes, headers: dict[str, str]) -> int | str:
        assert self._client is not None, "the fake is not started"
        try:
            resp = await self._client.post(
                url, content=body, headers=headers, timeout=self.callback_timeout
            )
        except httpx.HTTPError as exc:
            return type(exc).__name__
        return resp.status_code

    async def _deliver(self, task: FakeTask, *, retries: bool = True) -> list[CallbackAttempt]:
        url = task.callback_url
        if not url:
            return []
        body, extra = self.callback_request(task)
        headers = {"Content-Type": "application/json", **extra}
        fault = self._take_fault("callback")
        if fault is not None and fault.kind in ("drop", "timeout"):
            return [self._record_attempt(task, url, "dropped", body, headers)]
        if fault is not None and fault.kind == "malformed":
            body = body[: len(body) // 2]
        if not is_loopback_url(url):
            # Tests never leave 127.0.0.1: a public callback URL is recorded, not called.
            return [self._record_attempt(task, url, "not sent: non-loopback", body, headers)]
        made: list[CallbackAttempt] = []
        delays = self.callback_retry_delays if retries else ()
        for attempt in range(len(delays) + 1):
            outcome = await self._post_once(url, body, headers)
            made.append(self._record_attempt(task, url, outcome, body, headers))
            if made[-1].ok:
                for _ in range(self.duplicate_callbacks):
                    outcome = await self._post_once(url, body, headers)
                    made.append(self._record_attempt(task, url, outcome, body, headers))
                break
            if attempt < len(delays):
                await asyncio.sleep(delays[attempt] * self.time_scale)
        return made

    def _record_attempt(
        self, task: FakeTask, url: str, outcome: int | str, body: bytes, headers: dict[str, str]
    ) -> CallbackAttempt:
        attempt = CallbackAttempt(task.id, url, outcome, time.monotonic(), body, dict(headers))
        self.callback_attempts.append(attempt)
        self._bump()
        return attempt

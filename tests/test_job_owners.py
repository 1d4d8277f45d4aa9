"""The owners of the job context's mutable state (issue 12): the status board, the task group
and the chat memory, each driven through its own methods."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from types import SimpleNamespace
from typing import Any, cast

import pytest

from bot.jobs.chat_memory import ChatMemory
from bot.jobs.context import JobContext
from bot.jobs.status_board import StatusBoard
from bot.jobs.tasks import TaskGroup
from bot.metrics import Metrics
from bot.models import Job, JobStatus

RUNNING = Job(
    id=7, user_id=1, chat_id=1, thread_id=None, photo_message_id=1, status_message_id=2,
    photo_file_id="f", photo_width=640, photo_height=480, prompt="waves", model="grok",
    options={"duration": "6"}, price=1, status=JobStatus.SUBMITTED, provider="evolink",
    task_id="t", callback_secret="s", tried_providers=("evolink",), progress=40, eta_s=90,
    deadline_at=None, next_poll_at=None, poll_interval=None, error_kind=None, error_message=None,
    video_file_id=None, video_message_id=None, language="en", created_at=0.0, updated_at=0.0,
    submitted_at=0.0, retry_of=None, media_token=None, ask_message_id=None, not_found_count=0,
)  # fmt: skip
CANCELLED = dataclasses.replace(RUNNING, status=JobStatus.CANCELLED)


class _GatedStore:
    """`get` answers with the job as it was, then waits at the gate before returning: the
    moment a progress edit has read the job but not yet edited its message."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.read = asyncio.Event()

    async def get(self, job_id: int) -> Job:
        self.read.set()
        await self.gate.wait()
        return RUNNING

    async def set_fields(self, *_: Any, **__: Any) -> bool:
        return True


class _Messenger:
    def __init__(self) -> None:
        self.edits: list[tuple[str, bool]] = []  # (text, forced)

    async def edit(self, _chat: int, _message: int, text: str, **kw: Any) -> bool:
        self.edits.append((text, kw.get("force", True)))
        return True

    async def send_text(self, *_: Any, **__: Any) -> int:
        return 99

    async def delete(self, *_: Any) -> bool:
        return True

    def forget(self, *_: Any) -> None:
        return None


def _board(store: _GatedStore, messenger: _Messenger) -> StatusBoard:
    registry = SimpleNamespace(models=dict, in_process=lambda _name: False)
    deps = SimpleNamespace(
        store=store, messenger=messenger, registry=registry, metrics=Metrics(),
        media=SimpleNamespace(release_job=lambda _job_id: None), people=ChatMemory(),
        clock=lambda: 100.0,
    )  # fmt: skip
    return StatusBoard(cast(JobContext, deps))


async def test_a_progress_edit_read_before_a_cancel_never_lands_after_cancelled() -> None:
    """The per-job lock: `refresh` read the running job, then the user cancelled. The final
    "Cancelled" edit waits for the progress edit, so the message ends on "Cancelled" (with the
    lock removed, the stale progress edit lands last)."""
    store, messenger = _GatedStore(), _Messenger()
    board = _board(store, messenger)
    progress = asyncio.create_task(board.refresh(RUNNING, force=False))
    await store.read.wait()  # the progress edit has read the job as running
    # Created before the gate opens, so `finish` takes its first step (up to the lock it must
    # wait for) before the progress edit resumes: the loop runs ready tasks in order.
    ending = asyncio.create_task(board.finish(CANCELLED, refunded=1, notify=False, count=False))
    store.gate.set()
    await asyncio.gather(progress, ending)
    assert [forced for _text, forced in messenger.edits] == [False, True]
    assert "Cancelled" in messenger.edits[-1][0]


async def test_the_task_group_logs_a_failed_task_and_cancels_the_rest(
    caplog: pytest.LogCaptureFixture,
) -> None:
    group = TaskGroup()
    never = asyncio.Event()

    async def fails() -> None:
        raise RuntimeError("boom")

    failing = group.spawn(fails(), "fails")
    waiting = group.spawn(never.wait(), "waits")
    with caplog.at_level(logging.ERROR, logger="bot.jobs.tasks"):
        await asyncio.wait({failing})  # the group's done callback was registered first
    assert "background task fails failed" in caplog.text
    assert group.running() == [waiting]
    await group.cancel_all()
    assert waiting.cancelled() and group.running() == []


def test_the_chat_memory_tells_the_spicy_notice_once_per_user() -> None:
    memory = ChatMemory()
    assert memory.first_spicy_notice(1) and not memory.first_spicy_notice(1)
    assert memory.first_spicy_notice(2)
    memory.unfold(7)
    assert memory.is_unfolded(7)
    memory.forget_draft(7)
    assert not memory.is_unfolded(7)

"""The local provider: real renders in worker threads, observed through its wake-ups and query."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from PIL import Image

from bot.media.probe import probe_video
from bot.media.render import RenderResult, render_pan_zoom
from bot.models import ErrorKind, TaskState, VideoOptions
from bot.providers.base import InvalidCallback, VideoProvider, VideoRequest
from bot.providers.errors import ProviderValidationError, TaskNotFound, UpstreamError
from bot.providers.local import LocalProvider

TIMEOUT = 30  # generous: the suite may share 2 cores with other work


class Woken:
    """A wake-up target that records task ids and lets tests wait for them."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self._changed = asyncio.Condition()

    async def __call__(self, provider: str, task_id: str) -> None:
        async with self._changed:
            self.calls.append((provider, task_id))
            self._changed.notify_all()

    async def wait_for(self, task_id: str) -> None:
        async with self._changed:
            await asyncio.wait_for(
                self._changed.wait_for(lambda: ("local", task_id) in self.calls), TIMEOUT
            )


class GatedRender:
    """The real renderer, held at its first progress report until the test opens the gate.

    While held, the render is provably in the middle of its work in some thread; `log` records
    starts and ends in order, `thread_ids` where renders ran.
    """

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.started = asyncio.Event()
        self.gate = threading.Event()
        self.log: list[str] = []
        self.thread_ids: list[int] = []
        self.cancels: list[threading.Event] = []

    def __call__(
        self,
        image_path: Path,
        out_path: Path,
        *,
        duration_s: int,
        fps: int = 24,
        max_side: int = 720,
        cancel: threading.Event | None = None,
        on_progress: Callable[[int], None] | None = None,
    ) -> RenderResult:
        held = False

        def progress(percent: int) -> None:
            nonlocal held
            if on_progress is not None:
                on_progress(percent)
            if not held:
                held = True
                self.thread_ids.append(threading.get_ident())
                self.loop.call_soon_threadsafe(self.started.set)
                if not self.gate.wait(TIMEOUT):
                    raise RuntimeError("the test never opened the gate")

        self.log.append(f"start {out_path.stem}")
        if cancel is not None:
            self.cancels.append(cancel)
        try:
            return render_pan_zoom(
                image_path,
                out_path,
                duration_s=duration_s,
                fps=fps,
                max_side=max_side,
                cancel=cancel,
                on_progress=progress,
            )
        finally:
            self.log.append(f"end {out_path.stem}")


@pytest.fixture(name="photo")
def _photo(tmp_path: Path) -> Path:
    path = tmp_path / "photo.jpg"
    image = Image.linear_gradient("L").resize((160, 120)).convert("RGB")
    image.paste((255, 0, 0), (20, 20, 60, 60))
    image.save(path, "JPEG")
    return path


@pytest.fixture(name="work_dir")
def _work_dir(tmp_path: Path) -> Path:
    return tmp_path / "renders"


def files_in(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def request_for(image: Path, duration: str = "5", model: str = "panzoom") -> VideoRequest:
    return VideoRequest(
        prompt="",
        options=VideoOptions(model=model, values={"duration": duration}),
        image_path=image,
        image_url=None,
        callback_url=None,
    )


async def make_provider(work_dir: Path, **kwargs: object) -> tuple[LocalProvider, Woken]:
    provider = LocalProvider(work_dir, fps=8, max_side=64, **kwargs)  # type: ignore[arg-type]
    woken = Woken()
    provider.bind_wakeup(woken)
    return provider, woken


@pytest.fixture(name="healthz")
async def _healthz() -> AsyncIterator[str]:
    app = web.Application()

    async def handle(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    app.router.add_get("/healthz", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}/healthz"
    await runner.cleanup()


def test_is_a_video_provider(work_dir: Path) -> None:
    provider = LocalProvider(work_dir)
    assert isinstance(provider, VideoProvider)
    assert (provider.name, provider.uses_callbacks, provider.needs_public_image) == (
        "local",
        False,
        False,
    )
    spec = provider.models["panzoom"]
    assert spec.option("duration") is not None and spec.defaults() == {"duration": "5"}
    assert spec.prompt_required is False
    with pytest.raises(InvalidCallback):
        provider.callback_task_id({}, b"{}")


async def test_render_succeeds_and_wakes(work_dir: Path, photo: Path) -> None:
    provider, woken = await make_provider(work_dir)
    submitted = await provider.submit(request_for(photo, "5"))
    assert submitted.task_id.startswith("local-") and len(submitted.task_id) == 6 + 32
    assert submitted.eta_s is not None and submitted.eta_s > 0
    await woken.wait_for(submitted.task_id)

    event = await provider.query(submitted.task_id)
    assert event.state is TaskState.SUCCEEDED and event.progress == 100
    assert event.video_path == work_dir / f"{submitted.task_id}.mp4"
    info = probe_video(event.video_path)
    assert (info.codec, info.has_audio, info.width, info.height) == ("h264", True, 64, 48)
    assert info.duration_s == pytest.approx(5, abs=1 / 8)
    assert woken.calls == [("local", submitted.task_id)]

    provider.discard(submitted.task_id)
    assert not event.video_path.exists()
    with pytest.raises(TaskNotFound):
        await provider.query(submitted.task_id)
    await provider.aclose()


async def test_event_loop_serves_while_rendering(
    work_dir: Path, photo: Path, healthz: str
) -> None:
    render = GatedRender()
    provider, woken = await make_provider(work_dir, render=render)
    first = await provider.submit(request_for(photo))
    second = await provider.submit(request_for(photo))
    try:
        await asyncio.wait_for(render.started.wait(), TIMEOUT)
        # The first render is mid-way in a thread; the loop still answers HTTP and queries.
        async with aiohttp.ClientSession() as session, session.get(healthz) as response:
            assert (response.status, await response.text()) == (200, "ok")
        running = await provider.query(first.task_id)
        assert running.state is TaskState.RUNNING and running.progress is not None
        assert running.progress > 0
        assert (await provider.query(second.task_id)).state is TaskState.QUEUED
        assert woken.calls == []  # nothing finished before /healthz answered
    finally:
        render.gate.set()
    await woken.wait_for(first.task_id)
    await woken.wait_for(second.task_id)
    assert render.thread_ids and threading.get_ident() not in render.thread_ids
    # max_concurrent=1: the second render began only after the first ended.
    assert render.log == [
        f"start {first.task_id}",
        f"end {first.task_id}",
        f"start {second.task_id}",
        f"end {second.task_id}",
    ]
    await provider.aclose()


async def test_cancel_running_and_queued(work_dir: Path, photo: Path) -> None:
    render = GatedRender()
    provider, woken = await make_provider(work_dir, render=render)
    running = await provider.submit(request_for(photo))
    queued = await provider.submit(request_for(photo))
    await asyncio.wait_for(render.started.wait(), TIMEOUT)
    assert provider.cancel(running.task_id) and provider.cancel(queued.task_id)
    render.gate.set()
    await woken.wait_for(running.task_id)
    await woken.wait_for(queued.task_id)
    for task_id in (running.task_id, queued.task_id):
        event = await provider.query(task_id)
        assert (event.state, event.error_kind) == (TaskState.FAILED, ErrorKind.CANCELLED)
    assert render.log == [f"start {running.task_id}", f"end {running.task_id}"]
    assert files_in(work_dir) == []  # no partial or finished file left
    assert provider.cancel(running.task_id) is False  # already over
    await provider.aclose()


async def test_bad_image_is_the_users_fault(work_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8 definitely not a jpeg")
    provider, woken = await make_provider(work_dir)
    submitted = await provider.submit(request_for(bad))
    await woken.wait_for(submitted.task_id)
    event = await provider.query(submitted.task_id)
    assert (event.state, event.error_kind) == (TaskState.FAILED, ErrorKind.VALIDATION)
    assert event.error_message
    await provider.aclose()


async def test_other_render_failure_is_upstream(work_dir: Path, tmp_path: Path) -> None:
    provider, woken = await make_provider(work_dir)
    submitted = await provider.submit(request_for(tmp_path / "vanished.jpg"))
    await woken.wait_for(submitted.task_id)
    event = await provider.query(submitted.task_id)
    assert (event.state, event.error_kind) == (TaskState.FAILED, ErrorKind.UPSTREAM)
    await provider.aclose()


async def test_submit_validates_model_and_duration(work_dir: Path, photo: Path) -> None:
    provider, _ = await make_provider(work_dir)
    with pytest.raises(ProviderValidationError):
        await provider.submit(request_for(photo, model="grok"))
    with pytest.raises(ProviderValidationError):
        await provider.submit(request_for(photo, duration="7"))
    await provider.aclose()


async def test_unknown_task_is_not_found(work_dir: Path) -> None:
    provider, _ = await make_provider(work_dir)
    with pytest.raises(TaskNotFound):
        await provider.query("local-0123456789abcdef0123456789abcdef")
    provider.discard("local-nope")  # harmless
    await provider.aclose()


async def test_failing_wakeup_is_logged_not_fatal(
    work_dir: Path, photo: Path, caplog: pytest.LogCaptureFixture
) -> None:
    provider = LocalProvider(work_dir, fps=8, max_side=64)
    called = asyncio.Event()

    async def broken(provider_name: str, task_id: str) -> None:
        called.set()
        raise RuntimeError("service is down")

    provider.bind_wakeup(broken)
    submitted = await provider.submit(request_for(photo))
    await asyncio.wait_for(called.wait(), TIMEOUT)
    await provider.aclose()  # waits for the task, including its wake-up handling
    assert (await provider.query(submitted.task_id)).state is TaskState.SUCCEEDED
    assert any(
        "wake-up for local task" in r.getMessage() and r.levelno == logging.ERROR
        for r in caplog.records
    )


async def test_aclose_stops_running_renders(work_dir: Path, photo: Path) -> None:
    render = GatedRender()
    provider, woken = await make_provider(work_dir, render=render)
    submitted = await provider.submit(request_for(photo, "10"))
    await asyncio.wait_for(render.started.wait(), TIMEOUT)
    closing = asyncio.create_task(provider.aclose())
    # Open the gate only once aclose has asked the render to stop, or it could simply finish.
    assert await asyncio.to_thread(render.cancels[0].wait, TIMEOUT)
    render.gate.set()
    await asyncio.wait_for(closing, TIMEOUT)
    event = await provider.query(submitted.task_id)
    assert (event.state, event.error_kind) == (TaskState.FAILED, ErrorKind.CANCELLED)
    assert woken.calls == []  # shutting down: nobody to wake
    assert files_in(work_dir) == []
    with pytest.raises(UpstreamError):
        await provider.submit(request_for(photo))


def test_leftovers_of_a_previous_process_are_removed(work_dir: Path) -> None:
    work_dir.mkdir()
    (work_dir / "local-abc.mp4").write_bytes(b"old")
    (work_dir / "local-def.mp4.part").write_bytes(b"old")
    (work_dir / "keep.txt").write_text("not ours")
    LocalProvider(work_dir)
    assert files_in(work_dir) == ["keep.txt"]

"""The demo's scripted session: the fake Telegram, the real bot, and a user playing along.

`DemoSession.play()` starts both sides, sends /start and a photo, presses the length and
Generate, prints everything through a `Transcript` and saves the MP4 the bot sent; `close()`
stops whatever was started. The global time limit is the caller's (`asyncio.timeout`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from pathlib import Path

from bot.config import Settings, load_settings
from bot.demo.transcript import DemoFailed, Transcript, ends_without_video, plain
from bot.models import JobStatus, TaskState
from bot.providers.errors import ProviderError
from bot.runtime import BotRuntime
from bot.testing.bot_api import Call

log = logging.getLogger(__name__)

# Made up (the fake accepts any token); shaped like a real one so the bot's config accepts it.
TOKEN = "1234567890:offline-DEMO-token_not-a-real-one"  # noqa: S105
USER = 1001
CAPTION = "the camera glides slowly over the colourful shapes"
PHOTO_SIZE = (960, 640)
OUTPUT_NAME = "photo2video-demo.mp4"
PROGRESS_EVERY_S = 0.2  # how often the progress bar is redrawn (display only)
DONE_EDIT_WAIT_S = 10.0  # after the video, how long to wait for the "Done" edit (cosmetic)


@dataclass(frozen=True)
class Choices:
    """What the simulated user sends and picks, and where the video goes."""

    out_dir: Path
    photo: bytes | None = None  # None: the built-in sample photo
    photo_name: str | None = None
    caption: str = CAPTION
    duration: str = "5"


@dataclass(frozen=True)
class Outcome:
    """The saved video, its size, and the seconds from Generate to the video."""

    video: Path
    size: int
    seconds: float


def demo_settings(api_base_url: str, data_dir: Path) -> Settings:
    """The bot's configuration for the demo: only these values, never os.environ or `.env`."""
    return load_settings(
        {
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_API_BASE_URL": api_base_url,
            "DATABASE_PATH": str(data_dir / "demo.db"),
            "HTTP_HOST": "127.0.0.1",
            "HTTP_PORT": "0",
            # Show every step of the short local render instead of merging them.
            "STATUS_EDIT_INTERVAL_S": "0.2",
        },
        env_file=None,
    )


class DemoSession:
    """The scripted session: starts both sides, plays the user, stops everything."""

    def __init__(self, show: Transcript, choices: Choices) -> None:
        self.show = show
        self.tg = show.tg
        self.choices = choices
        self.runtime: BotRuntime | None = None
        self.ticker: asyncio.Task[None] | None = None
        self.step = "starting the fake Telegram server"

    async def play(self, data_dir: Path) -> Outcome:
        show, tg = self.show, self.tg
        await tg.start()
        self.step = "starting the bot"
        self.runtime = BotRuntime(demo_settings(tg.base_url, data_dir))
        await self.runtime.start()
        show.say(
            f"photo2video offline demo: the real bot, a fake Telegram on {tg.base_url},\n"
            f"the built-in local renderer (no token, no API key), a throw-away database.\n"
        )
        self.step = "waiting for the answer to /start"
        show.user("/start")
        tg.user_command(USER, USER, "start")
        await show.until(lambda c: c.method == "sendMessage")
        options = await self._send_photo()
        chat_message = self._options_message_id(options)
        self.step = "choosing the length"
        await self._press(chat_message, f"{self.choices.duration} s")
        self.step = "pressing Generate"
        began = time.monotonic()
        await self._press(chat_message, "Generate")
        self.ticker = asyncio.create_task(self._render_progress())
        self.step = "waiting for the video"
        video = await self.show.until(self._video_or_end)
        if video.method != "sendVideo":
            raise DemoFailed(f"the bot said: {plain(str(video.params.get('text', '')))}")
        seconds = time.monotonic() - began
        upload = video.files.get("video")
        if upload is None:
            raise DemoFailed("sendVideo carried no uploaded file")
        self.choices.out_dir.mkdir(parents=True, exist_ok=True)
        path = (self.choices.out_dir / OUTPUT_NAME).resolve()
        path.write_bytes(upload.data)
        self.step = "waiting for the final status"
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(DONE_EDIT_WAIT_S):
                await show.until(_is_done_edit)
        return Outcome(path, len(upload.data), seconds)

    async def _send_photo(self) -> Call:
        self.step = "waiting for the options"
        from bot.testing.sample_media import make_sample_photo

        photo, caption = self.choices.photo, self.choices.caption
        data = photo if photo is not None else make_sample_photo(*PHOTO_SIZE)
        name = self.choices.photo_name or f"{PHOTO_SIZE[0]}×{PHOTO_SIZE[1]}"
        self.show.user(f"[photo {name}] {caption or '(no caption)'}")
        try:
            self.tg.user_photo(USER, USER, data, caption or None)
        except ValueError as exc:
            raise DemoFailed(f"{name} is not a picture Telegram would take") from exc
        reply = await self.show.until(lambda c: c.method == "sendMessage")
        if "Generate" not in str(reply.params.get("reply_markup")):
            raise DemoFailed(f"the bot refused the photo: {plain(str(reply.params['text']))}")
        return reply

    def _options_message_id(self, options: Call) -> int:
        for message in reversed(self.tg.bot_messages(USER)):
            if message.get("reply_markup") == options.params.get("reply_markup"):
                return int(message["message_id"])
        raise DemoFailed("the options message is missing from the chat")

    async def _press(self, message_id: int, label: str) -> None:
        """Press the first button of the message whose label contains `label`."""
        message = self.tg.message(USER, message_id) or {}
        rows = message.get("reply_markup", {}).get("inline_keyboard", [])
        found = [b for row in rows for b in row if label.lower() in b["text"].lower()]
        if not found:
            raise DemoFailed(f"no button {label!r} on the options message")
        text = found[0]["text"]
        note = " (already selected: nothing changes)" if text.startswith("✅") else ""
        self.show.user(f"presses [ {text} ]{note}")
        query = self.tg.user_click(USER, USER, message_id, found[0]["callback_data"])

        def answered(call: Call) -> bool:
            return call.method == "answerCallbackQuery" and (
                call.params.get("callback_query_id") == query
            )

        await self.show.until(answered)

    def _video_or_end(self, call: Call) -> bool:
        return (call.method == "sendVideo" and call.status == 200) or ends_without_video(call)

    async def _render_progress(self) -> None:
        """Redraw the progress bar from the local renderer's own report while it renders."""
        assert self.runtime is not None and self.runtime.ctx is not None
        ctx = self.runtime.ctx
        while True:
            jobs = await ctx.store.recent_for_user(USER)
            job = jobs[0] if jobs else None
            provider = ctx.registry.get(job.provider or "") if job else None
            if job is not None and job.status not in (JobStatus.RESERVED, JobStatus.SUBMITTING):
                if job.status is not JobStatus.SUBMITTED or provider is None or not job.task_id:
                    return  # the render is over: the transcript completes the bar
                try:
                    event = await provider.query(job.task_id)
                except ProviderError:
                    return
                self.show.progress(event.progress or 0)
                if event.state in (TaskState.SUCCEEDED, TaskState.FAILED):
                    return
            await asyncio.sleep(PROGRESS_EVERY_S)

    async def close(self) -> None:
        """Stop the progress bar, the bot and the fake, whatever state they reached."""
        if self.ticker is not None:
            self.ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.ticker  # only a progress bar: its failure must not hide the result
        for stop in (self.runtime.stop if self.runtime else None, self.tg.stop):
            if stop is None:
                continue
            try:
                await stop()
            except Exception:
                log.exception("demo shutdown step failed")


def _is_done_edit(call: Call) -> bool:
    return call.method == "editMessageText" and "Done!" in str(call.params.get("text", ""))

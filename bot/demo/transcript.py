"""What the offline demo prints: the conversation between the simulated user and the bot.

The bot's side is read from the calls the fake Bot API recorded (`FakeBotApi.calls`), in order,
one printer on one event loop, so the transcript reads top to bottom as it happened.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import Any, TextIO

from bot.testing.bot_api import Call, FakeBotApi

Json = dict[str, Any]

BAR_WIDTH = 24
DAY = 86400.0  # FakeBotApi.wait_until wants a limit; the demo's own one is far shorter
_TAG = re.compile(r"<[^>]+>")
_NOTES = {
    "getFile": "(the bot downloads your photo from Telegram)",
    "sendChatAction": "(the bot shows “uploading a video…”)",
}
_ENDINGS = ("❌", "⌛", "✖️")  # a status text starting so means the job ended without a video
_AFTER_RENDER = ("📥", "📤", "✅")  # downloading, sending, done: the render is complete


class DemoFailed(Exception):
    """The demo cannot go on; the message says why, for the person running it."""


def plain(text: str) -> str:
    """Telegram HTML as a person reads it: tags dropped, entities unescaped."""
    return html.unescape(_TAG.sub("", text))


def buttons(markup: Json | None) -> list[list[Json]]:
    """The inline keyboard's rows (empty for no markup or a ForceReply)."""
    if not markup:
        return []
    return [list(row) for row in markup.get("inline_keyboard", [])]


def keyboard_line(markup: Json | None) -> str:
    """`[ ✅ 5 s ] [ 10 s ]  [ ▶️ Generate · 1 credit(s) ] [ ✖️ Cancel ]`, rows two spaces apart."""
    rows = buttons(markup)
    return "  ".join(" ".join(f"[ {b['text']} ]" for b in row) for row in rows)


def progress_bar(percent: int) -> str:
    percent = max(0, min(100, percent))
    filled = BAR_WIDTH * percent // 100
    return f"[{'█' * filled}{'░' * (BAR_WIDTH - filled)}] {percent:3d}%"


def megabytes(size: int) -> str:
    return f"{size / 1_000_000:.2f} MB"


class Transcript:
    """Prints user actions, the bot's calls and a render progress bar to `out`.

    `quiet` prints nothing here (the demo then shows only its summary). On a terminal the
    progress bar redraws one line; elsewhere (CI logs, pipes) it prints a line per quarter.
    """

    def __init__(self, tg: FakeBotApi, out: TextIO, *, quiet: bool, tty: bool) -> None:
        self.tg = tg
        self.out = out
        self.quiet = quiet
        self.tty = tty
        self._seen = 0  # calls already shown
        self._bar_open = False  # a progress line is on screen without its newline
        self._last_percent = -1

    def say(self, line: str) -> None:
        if self.quiet:
            return
        if self._bar_open:
            self.out.write("\n")
            self._bar_open = False
        self.out.write(line + "\n")
        self.out.flush()

    def user(self, action: str) -> None:
        """A user action; whatever the bot said before it is printed first."""
        self.flush()
        self.say(f"👤 you: {action}")

    def flush(self) -> None:
        """Print every recorded call not shown yet."""
        for call in self._take():
            self._show(call)

    async def until(self, match: Callable[[Call], bool]) -> Call:
        """Print calls as they arrive until one matches `match`; returns that call.

        No time limit of its own: the caller bounds it (the demo's global `asyncio.timeout`).
        """
        while True:
            for call in self._take():
                self._show(call)
                if match(call):
                    return call
            await self.tg.wait_until(lambda: len(self.tg.calls) > self._seen, timeout=DAY)

    def progress(self, percent: int) -> None:
        """Show the render's progress (ignored when it did not move)."""
        if self.quiet or percent <= self._last_percent:
            return
        line = f"   🎨 rendering {progress_bar(percent)}"
        if self.tty:
            self.out.write(("\r" if self._bar_open else "") + line)
            self._bar_open = percent < 100
            if percent >= 100:
                self.out.write("\n")
        elif percent // 25 > max(self._last_percent, 0) // 25 or self._last_percent < 0:
            self.out.write(line + "\n")
        self._last_percent = percent
        self.out.flush()

    def end_progress(self) -> None:
        """Complete a progress bar that is on screen (the render ended between two redraws)."""
        if 0 <= self._last_percent < 100:
            self.progress(100)

    def _take(self) -> list[Call]:
        calls = self.tg.calls[self._seen :]
        self._seen += len(calls)
        return calls

    def _show(self, call: Call) -> None:
        if call.status != 200:
            return  # refused calls (e.g. "message is not modified") change nothing on screen
        params = call.params
        text = plain(str(params.get("text", "")))
        if call.method == "sendVideo" or text.startswith(_AFTER_RENDER):
            self.end_progress()
        if call.method == "sendMessage":
            self._bot(text, params.get("reply_markup"))
        elif call.method == "editMessageText":
            self._bot(text, params.get("reply_markup"), edit=True)
        elif call.method == "answerCallbackQuery" and params.get("text"):
            self.say(f"🤖 bot (pop-up): {params['text']}")
        elif call.method == "sendVideo":
            upload = call.files.get("video")
            size = megabytes(len(upload.data)) if upload else "by file_id"
            shape = f"{params.get('width')}×{params.get('height')}, {params.get('duration')} s"
            caption = plain(str(params.get("caption", "")))
            self._bot(f"🎞️ [video {shape}, {size}]\n{caption}", params.get("reply_markup"))
        elif call.method in _NOTES:
            self.say(f"   {_NOTES[call.method]}")

    def _bot(self, text: str, markup: Json | None, *, edit: bool = False) -> None:
        head = "🤖 bot ✏️ edits its message:" if edit else "🤖 bot:"
        lines = text.strip().splitlines() or [""]
        self.say(f"{head} {lines[0]}")
        for line in lines[1:]:
            if line.strip():
                self.say(f"      {line}")
        keys = keyboard_line(markup)
        if keys:
            self.say(f"      {keys}")


def ends_without_video(call: Call) -> bool:
    """A status message saying the job failed, expired or was cancelled."""
    if call.method not in ("sendMessage", "editMessageText") or call.status != 200:
        return False
    return plain(str(call.params.get("text", ""))).lstrip().startswith(_ENDINGS)

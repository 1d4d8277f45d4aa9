"""`python -m bot.demo.screenshots OUT_DIR [SUFFIX]`: phone pictures of three conversations.

Runs the real bot against the fake Bot API and the fake evolink on 127.0.0.1, plays three
conversations (the options message, a content refusal, a group request), renders each chat with
`phone_view` and screenshots it with headless Chromium at a phone's size (390 x 844). Writes
`<scene><SUFFIX>.png` (and the `.html` beside it) into OUT_DIR; PNGs are reduced to a palette
so each stays well under 200 kB. `make screenshots` installs Debian's chromium when missing.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

from PIL import Image

from bot.config import load_settings
from bot.runtime import BotRuntime
from bot.testing.bot_api import FakeBotApi
from bot.testing.phone_view import render_chat
from bot.testing.providers.evolink import EvolinkFake
from bot.testing.sample_media import make_sample_photo

TOKEN = "1234567890:screenshot-token_not-a-real-one"  # noqa: S105 - the fake Telegram's token
ALICE, BOB, GROUP = 1001, 1002, -1001234567890
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=390,844",
)  # fmt: skip

Scene = Callable[[FakeBotApi, EvolinkFake], Awaitable[tuple[int, str]]]


def _has_generate(call_params: dict[str, object]) -> bool:
    return "Generate" in str(call_params.get("reply_markup")) or "Создать" in str(
        call_params.get("reply_markup")
    )


async def _options(tg: FakeBotApi, evolink: EvolinkFake) -> tuple[int, str]:
    tg.user_photo(ALICE, ALICE, make_sample_photo(960, 640), "the cat turns its head and smiles")
    await tg.wait_call("sendMessage", lambda c: _has_generate(c.params))
    return ALICE, "Photo2Video"


async def _failure(tg: FakeBotApi, evolink: EvolinkFake) -> tuple[int, str]:
    chat = ALICE + 1
    tg.user_photo(chat, chat, make_sample_photo(960, 640), "the cat turns its head and smiles")
    options = await tg.wait_call("sendMessage", lambda c: _has_generate(c.params))
    markup = options.params["reply_markup"]
    assert isinstance(markup, dict)
    generate = next(
        b for row in markup["inline_keyboard"] for b in row if b["callback_data"].startswith("g|")
    )
    message_id = next(
        m["message_id"] for m in tg.bot_messages(chat) if m.get("reply_markup") == markup
    )
    tg.user_click(chat, chat, message_id, generate["callback_data"])
    task = await evolink.wait_task()
    evolink.fail(task.id, "content_policy_violation", "Content policy violation.")
    await tg.wait_until(lambda: _settled(tg, chat, "refund"))
    return chat, "Photo2Video"


async def _group(tg: FakeBotApi, evolink: EvolinkFake) -> tuple[int, str]:
    photo = tg.user_photo(
        GROUP, BOB, make_sample_photo(960, 640), "our cat", chat_type="supergroup",
        first_name="Bob",
    )  # fmt: skip
    tg.user_text(
        GROUP, ALICE, "/video the cat waves", reply_to=photo["message_id"],
        chat_type="supergroup", first_name="Alice",
    )  # fmt: skip
    await tg.wait_call("sendMessage", lambda c: _has_generate(c.params))
    return GROUP, "Cat lovers"


def _settled(tg: FakeBotApi, chat_id: int, word: str) -> bool:
    """The chat's last bot message mentions `word` (the refund) and no edit is pending."""
    texts = [str(m.get("text", "")) for m in tg.bot_messages(chat_id)]
    return any(word in text.lower() or "возвращ" in text.lower() for text in texts)


SCENES: dict[str, Scene] = {"options": _options, "failure": _failure, "group": _group}


async def capture(out_dir: Path, suffix: str) -> list[Path]:
    """Play every scene against fresh fakes and write its HTML page; returns the pages."""
    pages: list[Path] = []
    for name, scene in SCENES.items():
        with tempfile.TemporaryDirectory() as data:
            async with FakeBotApi(TOKEN) as tg:
                evolink = EvolinkFake(time_scale=0.01, loopback_callbacks=True)
                await evolink.start()
                port = _free_port()
                settings = load_settings(
                    {
                        "TELEGRAM_BOT_TOKEN": TOKEN,
                        "TELEGRAM_API_BASE_URL": tg.base_url,
                        "DATABASE_PATH": str(Path(data) / "bot.db"),
                        "HTTP_HOST": "127.0.0.1",
                        "HTTP_PORT": str(port),
                        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
                        "CALLBACK_GRACE_S": "0.2",
                        "EVOLINK_API_KEY": evolink.api_key,
                        "EVOLINK_BASE_URL": evolink.base_url,
                        "ALLOW_PRIVATE_URLS": "true",
                        "STATUS_EDIT_INTERVAL_S": "0.05",
                        "POLL_INITIAL_S": "0.05",
                        "POLL_MAX_S": "0.2",
                    },
                    env_file=None,
                )
                runtime = BotRuntime(settings)
                try:
                    await runtime.start()
                    chat_id, title = await scene(tg, evolink)
                    await _idle(tg)
                    page = out_dir / f"{name}{suffix}.html"
                    page.write_text(render_chat(tg, chat_id, title), encoding="utf-8")
                    pages.append(page)
                finally:
                    await runtime.stop()
                    await evolink.stop()
    return pages


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _idle(tg: FakeBotApi) -> None:
    """Wait until the bot has made no call for a moment (display only: not a test)."""
    seen = -1
    while seen != len(tg.calls):
        seen = len(tg.calls)
        await asyncio.sleep(0.5)


def screenshot(page: Path) -> Path:
    """Headless Chromium at a phone's size; the PNG reduced to a palette (smaller file)."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        raise SystemExit("chromium is not installed: run `make screenshots` (it installs it)")
    png = page.with_suffix(".png")
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(  # noqa: S603 - a fixed browser binary and our own file paths
            [browser, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--screenshot={png}",
             page.resolve().as_uri()],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
    with Image.open(png) as img:
        img.convert("RGB").quantize(colors=128).save(png, optimize=True)
    return png


def main(argv: list[str]) -> int:
    out_dir = Path(argv[1]) if len(argv) > 1 else Path("docs/screenshots")
    suffix = argv[2] if len(argv) > 2 else ""
    out_dir.mkdir(parents=True, exist_ok=True)
    for page in asyncio.run(capture(out_dir, suffix)):
        print(screenshot(page))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

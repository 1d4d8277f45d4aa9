"""The offline demo: `python -m bot demo` produces a real MP4 and a readable transcript.

The main test runs the demo exactly as `make demo` and CI do (a subprocess), with a hostile
environment and `.env` that would break it if the demo read them.
"""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import av
import pytest

from bot.demo import run_demo
from bot.demo.transcript import Transcript, keyboard_line, plain, progress_bar
from bot.testing.bot_api import Call, FakeBotApi

REPO = Path(__file__).resolve().parents[1]


def test_demo_delivers_a_playable_video_and_prints_the_conversation(tmp_path: Path) -> None:
    out = tmp_path / "out"
    # Settings the demo must ignore: each one would make it fail if it were read.
    (tmp_path / ".env").write_text("TELEGRAM_BOT_TOKEN=broken\nEVOLINK_API_KEY=from-dotenv\n")
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "PYTHONIOENCODING": "utf-8",
        "TELEGRAM_BOT_TOKEN": "not a token",
        "TELEGRAM_API_BASE_URL": "http://127.0.0.1:9",
        "EVOLINK_API_KEY": "would-need-a-public-url",
        "DATABASE_PATH": str(tmp_path / "from-env.db"),
        "HTTP_PORT": "not-a-port",
    }
    done = subprocess.run(  # noqa: S603 - our own interpreter and arguments
        [sys.executable, "-m", "bot", "demo", "--out", str(out), "--timeout", "100"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=150,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    videos = list(out.glob("*.mp4"))
    assert len(videos) == 1
    with av.open(str(videos[0])) as container:
        assert container.streams.video[0].codec_context.name == "h264"
        assert len(container.streams.audio) == 1
        assert container.duration is not None
        assert 4.5 <= container.duration / 1_000_000 <= 5.5
    text = done.stdout
    assert "👤 you: /start" in text
    assert "👤 you: [photo 960×640] the camera glides" in text
    assert "🤖 bot: 🎬 Video options" in text
    assert "[ ✅ 5 s ] [ 10 s ]  [ ▶️ Generate · 1 credit ]  [ ✖️ Cancel ]" in text
    assert "👤 you: presses [ ▶️ Generate · 1 credit ]" in text
    assert "edits its message: 🎨 Generating" in text
    assert f"rendering {progress_bar(100)}" in text
    assert "🤖 bot: 🎞️ [video 720×480, 5 s," in text
    assert "Done! The video is below." in text
    assert f"✅ video received: {videos[0].resolve()}" in text
    assert "h264 + audio" in text and "wall time" in text
    assert "<b>" not in text  # HTML is shown as a person reads it
    # Neither the environment nor .env was used, and nothing was written next to them.
    assert not (tmp_path / "from-env.db").exists() and not (tmp_path / "data").exists()
    assert not (tmp_path / "demo-output").exists()


def test_a_zero_timeout_fails_with_a_clear_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    assert run_demo(["--timeout", "0", "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "demo failed: no video within 0 s" in err
    assert not (tmp_path / "out").exists()
    # The demo's quiet logging set-up is undone, so an in-process caller keeps its own.
    assert root.handlers == handlers and root.level == level


def test_a_photo_that_is_not_an_image_is_refused_before_starting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("not a picture")
    assert run_demo(["--photo", str(notes), "--out", str(tmp_path / "out")]) == 2
    assert "is not an image" in capsys.readouterr().err
    assert run_demo(["--photo", str(tmp_path / "missing.jpg")]) == 2
    assert "cannot read --photo" in capsys.readouterr().err


def _call(method: str, status: int = 200, **params: object) -> Call:
    return Call(method, dict(params), {}, time.monotonic(), status)


def test_transcript_shows_bot_messages_as_a_person_sees_them() -> None:
    tg = FakeBotApi("1:unused")  # never started: only its recorded calls are read
    out = io.StringIO()
    show = Transcript(tg, out, quiet=False, tty=False)
    markup = {
        "inline_keyboard": [
            [
                {"text": "✅ 5 s", "callback_data": "o|1|d|5"},
                {"text": "10 s", "callback_data": "x"},
            ],
            [{"text": "▶️ Generate", "callback_data": "g|1"}],
        ]
    }
    tg.calls += [
        _call("getUpdates"),
        _call("sendMessage", text="<b>Hi</b> &amp; welcome\nline two", reply_markup=markup),
        _call("editMessageText", status=400, text="not modified"),
        _call("answerCallbackQuery", text="Started!"),
        _call("answerCallbackQuery"),
    ]
    show.user("/start")
    for percent in (0, 10, 30, 60, 99):
        show.progress(percent)
    show.end_progress()
    assert out.getvalue().splitlines() == [
        "🤖 bot: Hi & welcome",
        "      line two",
        "      [ ✅ 5 s ] [ 10 s ]  [ ▶️ Generate ]",
        "🤖 bot (pop-up): Started!",
        "👤 you: /start",
        f"   🎨 rendering {progress_bar(0)}",
        f"   🎨 rendering {progress_bar(30)}",
        f"   🎨 rendering {progress_bar(60)}",
        f"   🎨 rendering {progress_bar(99)}",
        f"   🎨 rendering {progress_bar(100)}",
    ]
    assert plain("a &lt;b&gt; <i>c</i>") == "a <b> c"
    assert keyboard_line({"force_reply": True}) == ""

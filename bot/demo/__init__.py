"""The offline demo (`python -m bot demo`, `make demo`): the whole product, no token, no key.

One process runs the project's fake Telegram Bot API on 127.0.0.1 and the real bot against it,
with the built-in local renderer as the only provider and a throw-away database. A simulated user
sends a photo with a caption, picks the length and presses Generate; the conversation is printed
as it happens and the MP4 the bot sent is written to `demo-output/`. Exit status 0 means the
video arrived. Nothing is read from the environment or `.env`: the demo always runs the same.

Parts: this module (command line, logging, time limit, summary), `session.py` (the scripted
user and both servers), `transcript.py` (what gets printed).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import logging
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from bot.demo.session import CAPTION, TOKEN, Choices, DemoSession, Outcome
from bot.demo.transcript import DemoFailed, Transcript, megabytes
from bot.logs import setup_logging
from bot.media.probe import ProbeError, probe_video
from bot.testing.bot_api import FakeBotApi

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bot demo",
        description="Run the bot offline against a fake Telegram and the local renderer, "
        "play a user who sends a photo, and save the video it gets back.",
    )
    parser.add_argument("--out", type=Path, default=Path("demo-output"),
                        help="directory for the MP4 (default: ./demo-output)")  # fmt: skip
    parser.add_argument("--timeout", type=float, default=120.0,
                        help="give up after this many seconds (default: 120)")  # fmt: skip
    parser.add_argument("--photo", type=Path, help="send this image instead of the sample")
    parser.add_argument("--caption", default=CAPTION, help="the photo's caption (the prompt)")
    parser.add_argument("--duration", choices=("5", "10"), default="5",
                        help="video length in seconds (default: 5)")  # fmt: skip
    parser.add_argument("--quiet", action="store_true", help="print only the result")
    parser.add_argument("--verbose", action="store_true", help="also print the bot's own log")
    return parser.parse_args(argv)


def run_demo(argv: list[str]) -> int:
    """Run the demo; returns the process exit status (0 = the video arrived)."""
    try:
        args = parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error argparse already explained
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    if args.timeout < 0:
        print("demo: --timeout must be >= 0", file=sys.stderr)
        return EXIT_USAGE
    photo: bytes | None = None
    if args.photo is not None:
        try:
            photo = args.photo.read_bytes()
        except OSError as exc:
            print(f"demo: cannot read --photo: {exc}", file=sys.stderr)
            return EXIT_USAGE
        if not _is_image(photo):
            print(f"demo: --photo {args.photo} is not an image Pillow can read", file=sys.stderr)
            return EXIT_USAGE
    choices = Choices(
        out_dir=args.out,
        photo=photo,
        photo_name=args.photo.name if args.photo else None,
        caption=args.caption,
        duration=args.duration,
    )
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(errors="replace")  # emoji on a non-UTF-8 console: no crash
    with _bot_logging(args.verbose):
        try:
            return asyncio.run(_run(choices, args.timeout, quiet=args.quiet))
        except KeyboardInterrupt:
            print("\ndemo: interrupted", file=sys.stderr)
            return EXIT_INTERRUPTED


def _is_image(data: bytes) -> bool:
    from PIL import Image

    import bot.media.photos  # noqa: F401 - teaches Pillow HEIC when pillow-heif is installed

    try:
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return False
    return True


@contextlib.contextmanager
def _bot_logging(verbose: bool) -> Iterator[None]:
    """The bot's log at WARNING (INFO with --verbose) on stderr; the old set-up restored after."""
    root = logging.getLogger()
    names = ("httpx", "httpcore", "apscheduler")
    saved = (root.handlers[:], root.level, [logging.getLogger(n).level for n in names])
    setup_logging("INFO" if verbose else "WARNING", "text", [TOKEN])
    try:
        yield
    finally:
        root.handlers[:], level, levels = saved
        root.setLevel(level)
        for name, old in zip(names, levels, strict=True):
            logging.getLogger(name).setLevel(old)


async def _run(choices: Choices, timeout: float, *, quiet: bool) -> int:  # noqa: ASYNC109
    started = time.monotonic()
    show = Transcript(FakeBotApi(TOKEN), sys.stdout, quiet=quiet, tty=sys.stdout.isatty())
    session = DemoSession(show, choices)
    with tempfile.TemporaryDirectory(
        prefix="photo2video-demo-", ignore_cleanup_errors=True
    ) as tmp:
        try:
            async with asyncio.timeout(timeout):
                outcome = await session.play(Path(tmp))
        except TimeoutError:
            show.flush()
            return _failed(f"no video within {timeout:g} s (stuck while {session.step})")
        except DemoFailed as exc:
            show.flush()
            return _failed(str(exc))
        except Exception as exc:  # a bug somewhere: the traceback goes to the log (stderr)
            logging.getLogger(__name__).exception("the demo crashed")
            return _failed(f"unexpected error: {type(exc).__name__}: {exc}")
        finally:
            await session.close()
    await _report(outcome, time.monotonic() - started)
    return EXIT_OK


def _failed(reason: str) -> int:
    print(f"\n❌ demo failed: {reason}", file=sys.stderr)
    print("   (run with --verbose to see the bot's log)", file=sys.stderr)
    return EXIT_FAILED


async def _report(outcome: Outcome, wall: float) -> None:
    try:
        info = await asyncio.to_thread(probe_video, outcome.video)
        shape = (
            f"{info.width}×{info.height}, {info.duration_s:.1f} s, {info.codec}"
            f"{' + audio' if info.has_audio else ', no audio'}"
        )
    except ProbeError as exc:
        shape = f"unreadable ({exc})"
    print(f"\n✅ video received: {outcome.video}")
    print(f"   {megabytes(outcome.size)} ({outcome.size} bytes) · {shape}")
    print(f"   wall time {wall:.1f} s (Generate to video {outcome.seconds:.1f} s)")

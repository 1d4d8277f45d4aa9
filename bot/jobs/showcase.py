"""The /start sample clip, rendered for the handlers (which do not reach `bot.media`)."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from bot.media.sample_clip import render_sample_clip


def _render_bytes() -> bytes:
    with tempfile.TemporaryDirectory(prefix="p2v-sample-") as tmp:
        return render_sample_clip(Path(tmp)).read_bytes()


async def sample_clip() -> bytes:
    """The drawn sample picture through the local renderer, as MP4 bytes (off the event loop)."""
    return await asyncio.to_thread(_render_bytes)

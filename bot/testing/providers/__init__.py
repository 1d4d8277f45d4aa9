"""Fake image-to-video provider servers: real aiohttp apps on 127.0.0.1 (see TESTING.md §5).

Usage:
    async with EvolinkFake(time_scale=0.01) as fake:
        ...  # point EVOLINK_BASE_URL at fake.base_url
"""

from __future__ import annotations

from bot.testing.providers._base import FakeProviderServer
from bot.testing.providers._records import CallbackAttempt, FakeTask, ImageCheck, Recorded
from bot.testing.providers.evolink import EvolinkFake

__all__ = [
    "CallbackAttempt",
    "EvolinkFake",
    "FakeProviderServer",
    "FakeTask",
    "ImageCheck",
    "Recorded",
]

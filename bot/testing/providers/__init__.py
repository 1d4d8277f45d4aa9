"""Fake image-to-video provider servers: real aiohttp apps on 127.0.0.1 (see docs/testing.md).

Usage:
    async with EvolinkFake(time_scale=0.01) as fake:
        ...  # point EVOLINK_BASE_URL at fake.base_url, then drive fake.succeed(...) etc.
"""

from __future__ import annotations

from bot.testing.providers._base import FakeProviderServer
from bot.testing.providers._records import (
    CallbackAttempt,
    FakeTask,
    ImageCheck,
    Recorded,
)
from bot.testing.providers.aimlapi import AimlapiFake
from bot.testing.providers.apikley import ApikleyFake, webhook_signature
from bot.testing.providers.evolink import EvolinkFake
from bot.testing.providers.foxapi import FoxapiFake

FAKES: dict[str, type[FakeProviderServer]] = {
    "evolink": EvolinkFake,
    "apikley": ApikleyFake,
    "foxapi": FoxapiFake,
    "aimlapi": AimlapiFake,
}

__all__ = [
    "FAKES",
    "AimlapiFake",
    "ApikleyFake",
    "CallbackAttempt",
    "EvolinkFake",
    "FakeProviderServer",
    "FakeTask",
    "FoxapiFake",
    "ImageCheck",
    "Recorded",
    "webhook_signature",
]

"""Adapter tests' seam: an httpx MockTransport handler that replays scripted answers, the
documented examples in tests/data/<vendor>/, and backoff waits recorded instead of slept."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.providers import _http

DATA = Path(__file__).parent / "data"


def loader(vendor: str) -> Callable[[str], Any]:
    """`data("task_completed")` -> the parsed tests/data/<vendor>/task_completed.json."""

    def data(name: str) -> Any:
        return json.loads((DATA / vendor / f"{name}.json").read_text())

    return data


class Replay:
    """A MockTransport handler answering from a script and recording every request."""

    def __init__(self, *items: httpx.Response | Exception) -> None:
        self.items = list(items)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        item = self.items.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    def body(self, index: int = 0) -> Any:
        return json.loads(self.requests[index].content)


def record_sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Backoff waits are recorded instead of slept."""
    seen: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        seen.append(seconds)

    monkeypatch.setattr(_http, "_sleep", fake_sleep)
    return seen

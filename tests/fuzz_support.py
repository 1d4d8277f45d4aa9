"""Drawing a fixed, reproducible budget of hypothesis examples for tests that run a whole bot.

A bot cannot be started per example (hypothesis and async fixtures do not mix, and it would be
slow), so the examples are drawn first, derandomized and without the example database, and fed
to one running bot. The budget per door is fixed; together the fuzz tests stay under 2 minutes.
"""

from __future__ import annotations

from typing import Any, TypeVar

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

T = TypeVar("T")


def draw(strategy: st.SearchStrategy[T], n: int) -> list[T]:
    """`n` examples of `strategy`, the same ones on every run."""
    out: list[T] = []

    @settings(
        max_examples=n, database=None, derandomize=True, deadline=None,
        suppress_health_check=list(HealthCheck), phases=[Phase.generate],
    )  # fmt: skip
    @given(strategy)
    def collect(value: Any) -> None:
        out.append(value)

    collect()
    return out[:n]

"""Metrics: counters reach the exposition; `/metrics` with and without a bearer token."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families

from bot.metrics import CONTENT_TYPE, Metrics, Refresh, metrics_route
from bot.models import ACTIVE_STATUSES, Job
from bot.providers.errors import RateLimited
from bot.storage import Database, JobStore, Ledger
from bot.storage.stats import in_flight_counts

TOKEN = "metrics-s3cret-token"


def sample(metrics: Metrics, name: str, **labels: str) -> float | None:
    """The value of one sample, parsed back from the text exposition."""
    text = metrics.exposition().decode()
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and s.labels == labels:
                return float(s.value)
    return None


@asynccontextmanager
async def serve(
    metrics: Metrics, token: str | None, refresh: Refresh | None = None
) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    app = web.Application()
    app.router.add_get("/metrics", metrics_route(metrics, token, refresh))
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        yield client


def test_counters_appear_after_calls() -> None:
    m = Metrics()
    assert sample(m, "p2v_jobs_finished_total", model="grok", provider="evolink",
                  state="delivered") is None  # fmt: skip
    m.job_finished("grok", "evolink", "delivered")
    m.job_finished("grok", "evolink", "delivered")
    m.job_finished("grok", None, "cancelled")
    m.credits("spent", 3)
    m.credits("refunded", 1)
    m.credits("granted", 10)
    m.credits("spent", 0)  # ignored
    m.credits("bogus", 5)  # ignored, logged
    m.provider_call("evolink", "submit", 0.2)
    m.provider_call("evolink", "submit", 1.5, "rate_limited")
    m.callback("ok")
    m.callback("forged")
    m.callback("duplicate")
    m.callback("something-new")  # counted as invalid, no new series
    m.set_in_flight(4)
    m.delivered(2_000_000, 1.25)

    expected = {
        ("p2v_jobs_finished_total", (("model", "grok"), ("provider", "evolink"),
                                     ("state", "delivered"))): 2,
        ("p2v_jobs_finished_total", (("model", "grok"), ("provider", "none"),
                                     ("state", "cancelled"))): 1,
        ("p2v_credits_spent_total", ()): 3,
        ("p2v_credits_refunded_total", ()): 1,
        ("p2v_credits_granted_total", ()): 10,
        ("p2v_provider_request_seconds_count", (("operation", "submit"),
                                                ("provider", "evolink"))): 2,
        ("p2v_provider_errors_total", (("kind", "rate_limited"), ("operation", "submit"),
                                       ("provider", "evolink"))): 1,
        ("p2v_callbacks_total", (("outcome", "ok"),)): 1,
        ("p2v_callbacks_total", (("outcome", "forged"),)): 1,
        ("p2v_callbacks_total", (("outcome", "duplicate"),)): 1,
        ("p2v_callbacks_total", (("outcome", "invalid"),)): 1,
        ("p2v_jobs_in_flight", ()): 4,
        ("p2v_delivery_bytes_total", ()): 2_000_000,
        ("p2v_delivery_seconds_count", ()): 1,
        ("p2v_delivery_seconds_sum", ()): 1.25,
    }  # fmt: skip
    for (name, labels), value in expected.items():
        assert sample(m, name, **dict(labels)) == value, name
    assert sample(m, "p2v_provider_request_seconds_sum", operation="submit",
                  provider="evolink") == 1.7  # fmt: skip
    assert sample(m, "p2v_callbacks_total", outcome="something-new") is None


def test_each_bot_has_its_own_registry() -> None:
    first, second = Metrics(), Metrics()
    first.credits("spent", 5)
    assert sample(first, "p2v_credits_spent_total") == 5
    assert sample(second, "p2v_credits_spent_total") == 0
    # Every callback outcome is exported from the start, at zero.
    assert sample(second, "p2v_callbacks_total", outcome="forged") == 0


def test_active_by_state_sets_the_total() -> None:
    m = Metrics()
    m.set_active({"reserved": 1, "submitted": 3, "sending": 0})
    assert sample(m, "p2v_jobs_active", state="submitted") == 3
    assert sample(m, "p2v_jobs_in_flight") == 4
    m.set_active({"reserved": 0, "submitted": 1, "sending": 0})
    assert sample(m, "p2v_jobs_in_flight") == 1


async def test_timed_provider_calls() -> None:
    m = Metrics()
    async with m.timed("foxapi", "status"):
        pass
    with pytest.raises(RateLimited):
        async with m.timed("foxapi", "submit"):
            raise RateLimited("slow down", provider="foxapi")
    with pytest.raises(KeyError):
        async with m.timed("foxapi", "submit"):
            raise KeyError("bug")
    with pytest.raises(asyncio.CancelledError):
        async with m.timed("foxapi", "download"):
            raise asyncio.CancelledError
    count = "p2v_provider_request_seconds_count"
    assert sample(m, count, operation="status", provider="foxapi") == 1
    assert sample(m, count, operation="submit", provider="foxapi") == 2
    assert sample(m, count, operation="download", provider="foxapi") is None
    errors = "p2v_provider_errors_total"
    assert sample(m, errors, kind="rate_limited", operation="submit", provider="foxapi") == 1
    assert sample(m, errors, kind="unknown", operation="submit", provider="foxapi") == 1
    assert sample(m, errors, kind="rate_limited", operation="status", provider="foxapi") is None


async def test_route_without_token_is_open() -> None:
    m = Metrics()
    m.credits("spent", 2)
    async with serve(m, None) as client:
        resp = await client.get("/metrics")
        assert resp.status == 200
        assert resp.headers["Content-Type"] == CONTENT_TYPE
        body = await resp.text()
    assert "# TYPE p2v_credits_spent_total counter" in body
    assert "p2v_credits_spent_total 2.0" in body


async def test_route_with_token_needs_the_bearer() -> None:
    m = Metrics()
    m.callback("ok")
    async with serve(m, TOKEN) as client:
        refused = [
            await client.get("/metrics"),
            await client.get("/metrics", headers={"Authorization": "Bearer wrong"}),
            await client.get("/metrics", headers={"Authorization": TOKEN}),
            await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}x"}),
            await client.get("/metrics", headers={"Authorization": f"Basic {TOKEN}"}),
            await client.get("/metrics", params={"token": TOKEN}),
        ]
        for resp in refused:
            assert resp.status == 401
            assert resp.headers["WWW-Authenticate"].startswith("Bearer")
            body = await resp.text()
            assert "p2v_" not in body and TOKEN not in body
        ok = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert ok.status == 200
        assert 'p2v_callbacks_total{outcome="ok"} 1.0' in await ok.text()


async def test_refresh_runs_before_each_scrape_and_its_failure_is_survived() -> None:
    m = Metrics()
    calls: list[int] = []

    async def refresh() -> None:
        calls.append(1)
        m.set_in_flight(len(calls))
        if len(calls) == 2:
            raise RuntimeError("database gone")

    async with serve(m, None, refresh) as client:
        first = await (await client.get("/metrics")).text()
        second = await client.get("/metrics")
        assert second.status == 200
        assert "p2v_jobs_in_flight 2.0" in await second.text()
    assert "p2v_jobs_in_flight 1.0" in first
    assert len(calls) == 2


async def test_in_flight_gauge_from_the_database(tmp_path: Path) -> None:
    db = Database(tmp_path / "bot.db")
    await db.open()
    try:
        ledger = Ledger(db, daily_quota=5, clock=lambda: 1_700_000_000.0)
        store = JobStore(db, ledger, clock=lambda: 1_700_000_000.0)

        async def make() -> Job:
            return await store.create_draft(
                user_id=7, chat_id=7, thread_id=None, photo_message_id=1, photo_file_id="f",
                photo_width=640, photo_height=480, prompt="p", model="grok", options={},
                language="en",
            )  # fmt: skip

        await make()  # a draft is not in flight
        reserved = await make()
        outcome, _ = await store.reserve(reserved.id, user_id=7, price=1, max_active=2)
        assert outcome.value == "ok"
        counts = await in_flight_counts(db)
        assert set(counts) == {s.value for s in ACTIVE_STATUSES}
        assert counts["reserved"] == 1 and sum(counts.values()) == 1
        m = Metrics()
        m.set_active(counts)
        assert sample(m, "p2v_jobs_in_flight") == 1
        assert sample(m, "p2v_jobs_active", state="reserved") == 1
        assert sample(m, "p2v_jobs_active", state="sending") == 0
    finally:
        await db.close()

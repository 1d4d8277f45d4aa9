"""Prometheus metrics: one `Metrics` object per running bot, served at `/metrics`.

Each `Metrics` owns its own `CollectorRegistry` (never the process-global one), so several bots
in one test process do not share or collide on counters.

Metric names (label values come from fixed vocabularies: model keys, provider names, job states,
`ErrorKind` values, so the number of series stays small):

- `p2v_jobs_finished_total{model,provider,state}` (counter): jobs that reached a final state
  (delivered, failed, cancelled, expired); provider "none" when the job was never submitted.
- `p2v_credits_spent_total` (counter): credits reserved for jobs.
- `p2v_credits_refunded_total` (counter): credits given back; net spend = spent - refunded.
- `p2v_credits_granted_total` (counter): credits granted by admins (/grant).
- `p2v_provider_request_seconds{provider,operation}` (histogram): provider API call latency
  (operation: submit, status, download...).
- `p2v_provider_errors_total{provider,operation,kind}` (counter): failed provider calls by
  `ErrorKind` value.
- `p2v_callbacks_total{outcome}` (counter): provider callbacks; outcome is ok, forged (bad
  secret or unknown job), duplicate or invalid (unparseable, task mismatch).
- `p2v_jobs_in_flight` (gauge): unfinished jobs (reserved ... sending).
- `p2v_jobs_active{state}` (gauge): unfinished jobs per state.
- `p2v_delivery_bytes_total` (counter): bytes of video sent to Telegram.
- `p2v_delivery_seconds` (histogram): time to send one video to Telegram.
- `p2v_purchases_total`, `p2v_purchase_stars_total`, `p2v_purchase_credits_total` (counters):
  Telegram Stars purchases credited, the Stars they brought and the credits they bought.
- `p2v_purchase_refunds_total`, `p2v_refunded_stars_total` (counters): purchases refunded and
  the Stars given back.
- `p2v_broken_results_total{provider}` (counter): results that did not play even after a second
  download; the job failed with a refund instead of being delivered.

`metrics_route()` builds the aiohttp handler; with a token, a request needs
`Authorization: Bearer <token>` (compared in constant time) or gets 401.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from bot.models import ErrorKind
from bot.providers.errors import ProviderError

log = logging.getLogger(__name__)

# The classic Prometheus text format, which `generate_latest` writes.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
CALLBACK_OUTCOMES = frozenset({"ok", "forged", "duplicate", "invalid"})
NO_PROVIDER = "none"

# Provider calls take from tens of milliseconds (status polls) to a minute (large uploads).
_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
_DELIVERY_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Refresh = Callable[[], Awaitable[None]]


class Metrics:
    """The bot's counters; the methods are cheap and never raise on odd label values."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.jobs_finished = Counter(
            "p2v_jobs_finished", "Jobs that reached a final state.",
            ["model", "provider", "state"], registry=r,
        )  # fmt: skip
        self.credits_spent = Counter("p2v_credits_spent", "Credits reserved for jobs.", registry=r)
        self.credits_refunded = Counter(
            "p2v_credits_refunded", "Credits refunded to users.", registry=r
        )
        self.credits_granted = Counter(
            "p2v_credits_granted", "Credits granted by admins.", registry=r
        )
        self.provider_latency = Histogram(
            "p2v_provider_request_seconds", "Latency of provider API calls.",
            ["provider", "operation"], buckets=_LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.provider_errors = Counter(
            "p2v_provider_errors", "Failed provider API calls by error kind.",
            ["provider", "operation", "kind"], registry=r,
        )  # fmt: skip
        self.callbacks = Counter(
            "p2v_callbacks", "Provider callbacks by outcome.", ["outcome"], registry=r
        )
        self.in_flight = Gauge("p2v_jobs_in_flight", "Unfinished jobs.", registry=r)
        self.active = Gauge("p2v_jobs_active", "Unfinished jobs per state.", ["state"], registry=r)
        self.delivery_bytes = Counter(
            "p2v_delivery_bytes", "Bytes of video sent to Telegram.", registry=r
        )
        self.delivery_seconds = Histogram(
            "p2v_delivery_seconds", "Time to send one video to Telegram.",
            buckets=_DELIVERY_BUCKETS, registry=r,
        )  # fmt: skip
        # issue 11: what providers report charging, in each provider's own units
        self.provider_cost_total = Counter(
            "p2v_provider_cost", "Cost reported by the provider for finished tasks (its units).",
            ["provider"], registry=r,
        )  # fmt: skip
        self.provider_balance = Gauge(
            "p2v_provider_balance", "Account balance reported by the provider (its units).",
            ["provider"], registry=r,
        )  # fmt: skip
        # issue 15: Telegram Stars purchases and refunds.
        self.purchases = Counter("p2v_purchases", "Stars purchases credited.", registry=r)
        self.purchase_stars = Counter(
            "p2v_purchase_stars", "Stars received for purchases.", registry=r
        )
        self.purchase_credits = Counter(
            "p2v_purchase_credits", "Credits bought with Stars.", registry=r
        )
        self.purchase_refunds = Counter(
            "p2v_purchase_refunds", "Stars purchases refunded.", registry=r
        )
        self.refunded_stars = Counter("p2v_refunded_stars", "Stars refunded.", registry=r)
        self.broken_results = Counter(
            "p2v_broken_results", "Results that did not play (job failed and refunded).",
            ["provider"], registry=r,
        )  # fmt: skip
        # Every outcome visible from the start, at 0; children kept: a flood of callbacks
        # should not pay a labels() lookup each.
        self._callback_counts = {o: self.callbacks.labels(outcome=o) for o in CALLBACK_OUTCOMES}

    def job_finished(self, model: str, provider: str | None, state: str) -> None:
        self.jobs_finished.labels(model=model, provider=provider or NO_PROVIDER, state=state).inc()

    def provider_cost(self, provider: str, amount: float) -> None:
        """A finished task's cost as its provider reported it (never negative)."""
        if amount > 0:
            self.provider_cost_total.labels(provider=provider).inc(amount)

    def credits(self, kind: str, n: int) -> None:
        """`kind`: spent (reserved), refunded or granted; zero or negative amounts are ignored."""
        if n <= 0:
            return
        counter = {
            "spent": self.credits_spent,
            "refunded": self.credits_refunded,
            "granted": self.credits_granted,
        }.get(kind)
        if counter is None:
            log.warning("unknown credit kind %r not counted", kind)
            return
        counter.inc(n)

    def purchase(self, credits: int, stars: int) -> None:
        self.purchases.inc()
        self.purchase_stars.inc(max(stars, 0))
        self.purchase_credits.inc(max(credits, 0))

    def refund(self, stars: int) -> None:
        self.purchase_refunds.inc()
        self.refunded_stars.inc(max(stars, 0))

    def provider_call(
        self, provider: str, op: str, seconds: float, error_kind: str | None = None
    ) -> None:
        """One provider request: its latency, and its error kind when it failed."""
        self.provider_latency.labels(provider=provider, operation=op).observe(max(seconds, 0.0))
        if error_kind is not None:
            self.provider_errors.labels(provider=provider, operation=op, kind=error_kind).inc()

    @asynccontextmanager
    async def timed(self, provider: str, op: str) -> AsyncIterator[None]:
        """`async with metrics.timed("evolink", "submit"): await provider.submit(...)`.

        Records the latency; a `ProviderError` also counts as an error of its kind, any other
        exception as "unknown". A cancelled call (shutdown) records nothing.
        """
        start = time.monotonic()
        try:
            yield
        except ProviderError as exc:
            self.provider_call(provider, op, time.monotonic() - start, exc.kind.value)
            raise
        except Exception:
            self.provider_call(provider, op, time.monotonic() - start, ErrorKind.UNKNOWN.value)
            raise
        self.provider_call(provider, op, time.monotonic() - start)

    def callback(self, outcome: str) -> None:
        """ok, forged (bad secret or unknown job), duplicate, invalid (unparseable)."""
        self._callback_counts.get(outcome, self._callback_counts["invalid"]).inc()

    def set_in_flight(self, n: int) -> None:
        self.in_flight.set(n)

    def set_active(self, counts: Mapping[str, int]) -> None:
        """Per-state unfinished jobs (e.g. from `stats.in_flight_counts`); also sets the total."""
        for state, n in counts.items():
            self.active.labels(state=state).set(n)
        self.in_flight.set(sum(counts.values()))

    def broken_result(self, provider: str) -> None:
        self.broken_results.labels(provider=provider).inc()

    def delivered(self, size_bytes: int, seconds: float) -> None:
        self.delivery_bytes.inc(max(size_bytes, 0))
        self.delivery_seconds.observe(max(seconds, 0.0))

    def exposition(self) -> bytes:
        """The Prometheus text format of every metric."""
        return generate_latest(self.registry)


def metrics_route(metrics: Metrics, token: str | None, refresh: Refresh | None = None) -> Handler:
    """The `/metrics` handler: Prometheus text, behind `Authorization: Bearer <token>` if set.

    `refresh` (optional) runs before each scrape, e.g. to set the in-flight gauges from the
    database; its failure is logged and the scrape still answers.
    """
    expected = f"Bearer {token}".encode() if token else None

    async def serve_metrics(request: web.Request) -> web.StreamResponse:
        if expected is not None:
            given = request.headers.get("Authorization", "").encode("utf-8", "replace")
            if not hmac.compare_digest(given, expected):
                return web.json_response(
                    {"error": "unauthorized"},
                    status=401,
                    headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
                )
        if refresh is not None:
            try:
                await refresh()
            except Exception:
                log.exception("metrics refresh failed; serving the last values")
        return web.Response(body=metrics.exposition(), headers={"Content-Type": CONTENT_TYPE})

    return serve_metrics

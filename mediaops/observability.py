"""What ops watch: the Prometheus metrics of every process, and the probes Kubernetes asks.

Each worker and API process serves, on `MEDIAOPS_METRICS_ADDRESS` (a port of its own, never the
API's public one: the figures are the department's business):
- `/metrics`: the `mediaops_...` metrics below, Python's process metrics, and the Temporal SDK's own
  (`temporal_...`: workflow task failures, poll latencies, slots), which the SDK's Rust core
  exports on a loopback port that this endpoint reads and passes on, so each process has one;
- `/healthz`: the process answers (liveness);
- `/readyz`: its dependencies answer (readiness), as the process defines it.

The names are a contract with the alert rules in deploy/prometheus/alerts.yml and its test.
"""

import asyncio
import contextlib
import json
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx
import structlog
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Gauge, Histogram, generate_latest
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from domain.platforms import Platform
from mediaops.settings import Settings
from mediaops.temporal import client_certificate_expiry

log = structlog.get_logger(__name__)

INQUIRIES_OPEN = Gauge(
    "mediaops_inquiries_open", "Inquiries not yet answered or closed (R-INQUIRY-12H)", ["platform"]
)
INQUIRIES_AT_RISK = Gauge(
    "mediaops_inquiries_at_risk", "Open inquiries past the policy's warning, not yet due", ["platform"]
)
INQUIRIES_BREACHED = Gauge(
    "mediaops_inquiries_breached", "Open inquiries past their 12-hour deadline (R-INQUIRY-12H)", ["platform"]
)
PROJECTION_LAG = Gauge(
    "mediaops_projection_lag_events", "Events a read model has still to apply", ["projection"]
)
CERTIFICATE_EXPIRY = Gauge(
    "mediaops_temporal_client_certificate_expiry_timestamp_seconds",
    "When this process's mTLS client certificate for Temporal expires (Unix time), by its file",
    ["certificate"],
)
PUBLICATIONS = Counter(
    "mediaops_publications",
    "Publish calls by outcome (pending, published, failed, unknown)",
    ["platform", "outcome"],
)
PLATFORM_CALLS = Counter(
    "mediaops_platform_calls",
    "Platform operations (activities: a reply, a publish with its uploads, a page of comments)",
    ["platform", "call"],
)
PLATFORM_ERRORS = Counter(
    "mediaops_platform_errors",
    "Platform calls that failed, by the platform's error code",
    ["platform", "code"],
)
API_REQUESTS = Counter("mediaops_api_requests", "API requests answered", ["method", "route", "status"])
API_LATENCY = Histogram(
    "mediaops_api_request_duration_seconds", "Time to answer an API request", ["method", "route"]
)

for _platform in Platform:  # every series from 0, so an alert's increase() sees the first one too
    for _outcome in ("pending", "published", "failed", "unknown"):
        PUBLICATIONS.labels(_platform, _outcome)
    for _call in ("publish", "status", "reply", "inquiries", "metrics"):
        PLATFORM_CALLS.labels(_platform, _call)

SDK_SCRAPE_TIMEOUT_S = 2.0
READY_TIMEOUT_S = 3.0
ANSWER_TIMEOUT_S = 10.0
"""The longest one ops request may take, end to end (a client that stops reading is dropped)."""
CONNECTIONS = 16
"""Ops requests served at once; more are refused (closed) rather than queued."""
REFRESH_EVERY_S = 5.0
"""Scrapes closer together than this share one refresh of the business gauges."""
HEADERS_LIMIT = 8192
"""The longest request head the ops port reads: probes and scrapers send a few hundred bytes."""

HUNG_UP = (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError, OSError)
"""How a request that is not worth an answer ends: too slow, cut off, too long, or not HTTP."""

Ready = Callable[[], Awaitable[list[str]]]
"""A readiness check: what is down (empty: ready)."""


def _free_loopback_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def install_sdk_metrics() -> str:
    """Make this process's Temporal runtime export its metrics on a loopback port; returns its URL.

    Called once, before the first Temporal client is made: every client and worker uses the default
    runtime, so its workflow, activity and poller metrics all land there.
    """
    port = _free_loopback_port()
    runtime = Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=f"127.0.0.1:{port}")))
    Runtime.set_default(runtime, error_if_already_set=True)
    return f"http://127.0.0.1:{port}/metrics"


def install(settings: Settings) -> str | None:
    """This process's metrics, when it has an ops endpoint: the SDK's (before any Temporal client is
    made) and the client certificate's expiry. Returns where the SDK exports, for OpsServer."""
    if not settings.metrics_address:
        return None
    expiry = client_certificate_expiry(settings)
    if expiry is not None and settings.temporal_tls_cert is not None:
        CERTIFICATE_EXPIRY.labels(settings.temporal_tls_cert.name).set(expiry.timestamp())
    return install_sdk_metrics()


@dataclass
class OpsServer:
    """`/metrics`, `/healthz` and `/readyz` on a port of their own, in the process's own event loop.

    A small HTTP/1.1 responder rather than a second web server: it answers three GETs to probes and
    scrapers and closes, and it takes none of the process's signal handling (a worker's SIGTERM is
    its drain).
    """

    sdk_url: str | None
    ready: Ready
    refresh: Callable[[], Awaitable[None]] | None = None
    """Brings the business gauges up to date before a scrape (the worker's, from the read models)."""
    _slots: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(CONNECTIONS))
    _refreshing: asyncio.Lock = field(default_factory=asyncio.Lock)
    _refreshed_at: float = float("-inf")

    async def serve(self, address: str) -> asyncio.Server:
        host, _, port = address.rpartition(":")
        server = await asyncio.start_server(
            self._connection, host.strip("[]"), int(port), limit=HEADERS_LIMIT
        )
        log.info("ops endpoint serving", address=address)
        return server

    async def _refresh(self) -> None:
        """The business gauges brought up to date, once for scrapes that come together."""
        if self.refresh is None:
            return
        loop = asyncio.get_running_loop()
        async with self._refreshing:
            if loop.time() - self._refreshed_at < REFRESH_EVERY_S:
                return
            try:
                await asyncio.wait_for(self.refresh(), READY_TIMEOUT_S)
                self._refreshed_at = loop.time()
            except Exception as exc:  # stale business gauges beat a failed scrape of everything else
                log.warning("business metrics not refreshed", error=type(exc).__name__)

    async def metrics(self) -> bytes:
        await self._refresh()
        text = generate_latest(REGISTRY)
        if self.sdk_url:
            try:
                async with httpx.AsyncClient(timeout=SDK_SCRAPE_TIMEOUT_S, trust_env=False) as client:
                    sdk = await client.get(self.sdk_url)
                if sdk.is_success:
                    text += sdk.content
                else:
                    log.warning("Temporal SDK metrics unavailable", status=sdk.status_code)
            except httpx.HTTPError as exc:
                log.warning("Temporal SDK metrics unavailable", error=type(exc).__name__)
        return text

    async def _answer(self, path: str) -> tuple[int, str, bytes]:
        if path == "/metrics":
            return 200, CONTENT_TYPE_LATEST, await self.metrics()
        if path == "/healthz":
            return 200, "application/json", b'{"status":"ok"}'
        if path == "/readyz":
            try:
                down = await asyncio.wait_for(self.ready(), READY_TIMEOUT_S)
            except TimeoutError:
                down = ["readiness check: TimeoutError"]
            if down:
                return 503, "application/json", json.dumps({"status": "unavailable", "down": down}).encode()
            return 200, "application/json", b'{"status":"ready"}'
        return 404, "text/plain", b"not found: /metrics, /healthz or /readyz\n"

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._slots.locked():  # busy: a scraper or probe asks again, an attacker gets nothing
            writer.close()
            return
        async with self._slots:
            try:
                await asyncio.wait_for(self._exchange(reader, writer), ANSWER_TIMEOUT_S)
            except (
                TimeoutError,
                asyncio.IncompleteReadError,
                asyncio.LimitOverrunError,
                ValueError,
                OSError,
            ):
                pass  # a probe that hung up or sent nonsense gets nothing: it is not a client to help
            finally:
                writer.close()
                with contextlib.suppress(OSError):
                    await writer.wait_closed()

    async def _exchange(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        method, path, *_ = head.decode("latin-1").split(" ", 2)
        if method not in ("GET", "HEAD"):
            status, kind, body = 405, "text/plain", b"GET only\n"
        else:
            status, kind, body = await self._answer(path.split("?", 1)[0])
        reason = {200: "OK", 404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable"}
        writer.write(
            f"HTTP/1.1 {status} {reason[status]}\r\nContent-Type: {kind}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode("latin-1")
        )
        if method != "HEAD":
            writer.write(body)
        await writer.drain()


async def unanswered(**probes: Callable[[], Awaitable[object]]) -> list[str]:
    """The dependencies (named by keyword) whose probe fails or does not answer in time, probed
    together: what a /readyz reports as down."""
    results = await asyncio.gather(*(check(name, probe) for name, probe in probes.items()))
    return [problem for problem in results if problem is not None]


async def check(name: str, probe: Callable[[], Awaitable[object]]) -> str | None:
    """None when the dependency answers in time, else which one and the kind of failure.

    Only the exception's class: its text names hosts, ports and users, and probes are unauthenticated.
    """
    try:
        await asyncio.wait_for(probe(), READY_TIMEOUT_S)
    except Exception as exc:
        return f"{name}: {type(exc).__name__}"
    return None

"""``/metrics``: Prometheus text format, from one ``CollectorRegistry`` per app.

Counted in this process as things happen:

    foureyes_http_requests_total{method, route, status}      route is the template
    foureyes_http_request_duration_seconds{method, route}    (/humanlayer/v1/function_calls/{call_id}),
                                                             never the raw path: bounded labels
    foureyes_decisions_total{channel, outcome}               outcome: approved, rejected, answered
    foureyes_time_to_decision_seconds                        request created to decided

Read from the database or the push registry at scrape time:

    foureyes_pending_items{project}                          the PROJECT_LIMIT projects with most
    foureyes_pending_items_total                             all projects
    foureyes_outbox_deliveries{sink, status}                 pending (the depth), failed, succeeded
    foureyes_waiters{kind}                                   websocket, long-poll, event-stream

The counters are this process's since it started; the scrape-time ones are the database's. With
several server processes (PostgreSQL replicas) scrape each one: the database-side figures are
then the same on every replica and must not be summed.

Access: with ``metrics_token`` set, a request must carry ``Authorization: Bearer TOKEN``; without
it, only clients on the loopback interface are answered (403 for others).
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import re
import time
from collections.abc import Iterator

from fastapi import FastAPI, Request
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from foureyes.server.domain.errors import ForbiddenError, UnauthorizedError
from foureyes.server.domain.events import Event, ItemDecided
from foureyes.server.push import EVENT_STREAM, LONG_POLL, WEBSOCKET
from foureyes.server.service import Service
from foureyes.storage.schema import deliveries, items, projects

# Per-project series beyond this many would let project count drive label cardinality.
PROJECT_LIMIT = 100
UNMATCHED = "unmatched"
_CONVERTOR = re.compile(r":[a-z]+}")
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Decisions take seconds to days.
DECISION_BUCKETS = (1, 5, 15, 30, 60, 300, 900, 3600, 4 * 3600, 86_400, 7 * 86_400)


class Metrics:
    def __init__(self, service: Service) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "foureyes_http_requests",
            "HTTP requests answered, by route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "foureyes_http_request_duration_seconds",
            "Time from a request's arrival to the end of its answer, by route template.",
            ["method", "route"],
            registry=self.registry,
        )
        self.decisions = Counter(
            "foureyes_decisions",
            "Decisions that completed a request, by channel and outcome.",
            ["channel", "outcome"],
            registry=self.registry,
        )
        self.time_to_decision = Histogram(
            "foureyes_time_to_decision_seconds",
            "Time from a request's creation to the decision that completed it.",
            buckets=DECISION_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(_StateCollector(service))
        service.emitter.observers.append(self.observe)

    def observe(self, event: Event) -> None:
        if not isinstance(event, ItemDecided):
            return
        item = event.record
        decision = item.decisions[-1]
        self.decisions.labels(decision.channel, decision.verdict).inc()
        self.time_to_decision.observe(max(0.0, (decision.decided_at - item.requested_at).total_seconds()))

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _StateCollector(Collector):
    """What is true now, read when scraped (from a worker thread: see ``metrics``)."""

    def __init__(self, service: Service) -> None:
        self._service = service

    def collect(self) -> Iterator[Metric]:
        per_project = GaugeMetricFamily(
            "foureyes_pending_items",
            f"Requests waiting for a decision, per project (the {PROJECT_LIMIT} with most).",
            labels=["project"],
        )
        total = GaugeMetricFamily("foureyes_pending_items_total", "Requests waiting for a decision.")
        outbox = GaugeMetricFamily(
            "foureyes_outbox_deliveries",
            "Deliveries in the outbox by sink and status (pending is the depth).",
            labels=["sink", "status"],
        )
        count = func.count().label("n")
        with self._service.db.read() as conn:
            rows = conn.execute(
                select(projects.c.slug, count)
                .select_from(items.join(projects, items.c.project_id == projects.c.id))
                .where(items.c.state == "pending")
                .group_by(projects.c.slug)
                .order_by(count.desc(), projects.c.slug)
                .limit(PROJECT_LIMIT)
            ).all()
            pending = conn.execute(select(func.count()).where(items.c.state == "pending")).scalar_one()
            queued = conn.execute(
                select(deliveries.c.sink, deliveries.c.status, func.count()).group_by(
                    deliveries.c.sink, deliveries.c.status
                )
            ).all()
        for slug, n in rows:
            per_project.add_metric([slug], n)
        total.add_metric([], pending)
        for sink, status, n in queued:
            outbox.add_metric([sink, status], n)
        waiters = GaugeMetricFamily(
            "foureyes_waiters", "Live subscribers of this process, by kind.", labels=["kind"]
        )
        for kind in (WEBSOCKET, LONG_POLL, EVENT_STREAM):
            waiters.add_metric([kind], self._service.subscribers.count(kind))
        yield from (per_project, total, outbox, waiters)


class RequestMetrics:
    """Counts and times every HTTP request by the template of the route that matched."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            route = route_template(scope)
            method = scope["method"] if scope["method"] in METHODS else "other"
            self.metrics.requests.labels(method, route, str(status)).inc()
            self.metrics.latency.labels(method, route).observe(time.perf_counter() - started)


def route_template(scope: Scope) -> str:
    """``/humanlayer/v1/function_calls/{call_id}`` for any call id: the matched route's path
    under the prefix it was included with, which FastAPI's route object does not carry. The
    prefix is the shortest start of the path after which the route's pattern matches the rest,
    so it is always a fixed part of the path, never one built from a parameter."""
    route = scope.get("route")
    relative = getattr(route, "path", None)
    pattern = getattr(route, "path_regex", None)
    if not isinstance(relative, str) or pattern is None:
        return UNMATCHED
    path: str = scope["path"]
    prefix = next(
        (path[:i] for i in range(len(path)) if path[i] == "/" and pattern.match(path[i:])),
        "",
    )
    return _CONVERTOR.sub("}", prefix + relative)


def _is_loopback(host: str | None) -> bool:
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def metrics(request: Request) -> Response:
    token: str = request.app.state.settings.metrics_token
    if token:
        given = request.headers.get("authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            raise UnauthorizedError("a valid metrics token is required")
    elif not _is_loopback(request.client.host if request.client else None):
        raise ForbiddenError("metrics are served to loopback clients only unless metrics_token is set")
    found: Metrics = request.app.state.metrics
    body = await asyncio.to_thread(found.render)
    # 0.0.4: every Prometheus version reads it, and no metric name here needs more.
    return Response(body, media_type=CONTENT_TYPE_PLAIN_0_0_4)


def install(app: FastAPI, service: Service) -> None:
    found = Metrics(service)
    app.state.metrics = found
    app.add_api_route("/metrics", metrics, methods=["GET"])
    app.add_middleware(RequestMetrics, metrics=found)

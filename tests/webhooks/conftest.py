"""A service on a fresh database (each backend selected), a delivery worker on a controllable
clock, and a receiver."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from foureyes.server.channels.webhook import WebhookSink
from foureyes.server.outbox import OutboxWorker
from foureyes.server.push import InProcessNotifier
from foureyes.server.service import Service
from foureyes.server.settings import Settings
from foureyes.storage import Database

from ..clock import Clock
from ..db import ensure_project
from .receiver import Receiver, running_receiver


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@dataclass
class World:
    service: Service
    worker: OutboxWorker
    clock: Clock
    receiver: Receiver
    project_id: int

    def function_call(self, call_id: str, state: Any = None) -> None:
        body = {
            "run_id": "run-1",
            "call_id": call_id,
            "spec": {"fn": "wire", "kwargs": {"usd": 5}, "state": state},
        }
        self.service.items.create_function_call(self.project_id, body)

    def approve(self, call_id: str) -> None:
        self.service.decisions.decide_function_call(
            self.project_id, call_id, approved=True, channel="test", actor_key_id=None
        )


def webhook_worker(
    db: Database,
    settings: Settings,
    *,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    rng: Callable[[], float] = random.random,
    transport: httpx.AsyncBaseTransport | None = None,
) -> OutboxWorker:
    """The outbox worker the app runs, with the webhook sink only."""
    sink = WebhookSink(db, settings, transport=transport)
    return OutboxWorker(
        db, [sink], poll_interval_seconds=settings.webhook_poll_interval_seconds, clock=clock, rng=rng
    )


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as r:
        yield r


@pytest.fixture
async def world(database_url: str, clock: Clock, receiver: Receiver) -> AsyncIterator[World]:
    settings = Settings(database_url=database_url, webhook_allow_private=True, webhook_timeout_seconds=5)
    storage = Database.from_url(settings.database_url)
    storage.migrate()
    service = Service(storage, InProcessNotifier(), clock=clock)
    project_id = ensure_project(storage, "default", now=clock()).id
    # jitter pinned to its middle, so the schedule is exact
    worker = webhook_worker(storage, settings, clock=clock, rng=lambda: 0.5)
    try:
        yield World(service, worker, clock, receiver, project_id)
    finally:
        await worker.stop()
        service.close()

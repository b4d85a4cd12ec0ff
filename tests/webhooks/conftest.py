"""A service on a fresh database (each backend selected), a delivery worker on a controllable
clock, and a receiver."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from foureyes.server.delivery import DeliveryWorker
from foureyes.server.push import InProcessNotifier
from foureyes.server.service import Service
from foureyes.server.settings import Settings
from foureyes.storage import Storage

from .receiver import Receiver, running_receiver


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> datetime:
        self.now += timedelta(**kw)
        return self.now


@dataclass
class World:
    service: Service
    worker: DeliveryWorker
    clock: Clock
    receiver: Receiver
    project_id: int

    def function_call(self, call_id: str, state: Any = None) -> None:
        body = {
            "run_id": "run-1",
            "call_id": call_id,
            "spec": {"fn": "wire", "kwargs": {"usd": 5}, "state": state},
        }
        self.service.create_function_call(self.project_id, body)

    def approve(self, call_id: str) -> None:
        self.service.decide_function_call(
            self.project_id, call_id, approved=True, channel="test", actor_key_id=None
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
    storage = Storage.from_url(settings.database_url)
    storage.migrate()
    service = Service(storage, InProcessNotifier(), clock=clock)
    project_id = storage.ensure_project("default", now=clock()).id
    # jitter pinned to its middle, so the schedule is exact
    worker = DeliveryWorker(storage, settings, clock=clock, rng=lambda: 0.5)
    try:
        yield World(service, worker, clock, receiver, project_id)
    finally:
        await worker.stop()
        service.close()

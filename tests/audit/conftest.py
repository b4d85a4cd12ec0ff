"""A service on a fresh database (each backend selected) on a controllable clock, and a mixed
workload: every kind of change the audit log records."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest

from foureyes.server.channels.webhook import WebhookSink
from foureyes.server.outbox import OutboxWorker
from foureyes.server.push import InProcessNotifier
from foureyes.server.service import Service
from foureyes.server.settings import Settings
from foureyes.storage import Database

from ..clock import Clock
from ..fast_hashing import FAST_HASHING
from ..webhooks.receiver import Receiver, running_receiver


@dataclass
class World:
    service: Service
    settings: Settings
    clock: Clock
    project_id: int

    def call(self, call_id: str, **kwargs: object) -> None:
        body = {"run_id": "run-1", "call_id": call_id, "spec": {"fn": "wire", "kwargs": kwargs}}
        self.service.items.create_function_call(self.project_id, body)

    def decide(self, call_id: str, approved: bool) -> None:
        self.service.decisions.decide_function_call(
            self.project_id,
            call_id,
            approved=approved,
            comment=None if approved else "no",
            channel="test",
            actor_key_id=None,
        )


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as r:
        yield r


@pytest.fixture
def world(database_url: str, clock: Clock) -> Iterator[World]:
    settings = Settings(database_url=database_url, webhook_allow_private=True, **FAST_HASHING)
    storage = Database.from_url(settings.database_url)
    storage.migrate()
    service = Service(storage, InProcessNotifier(), clock=clock, settings=settings)
    key = service.keys.create_api_key("default", ["agent"], name="agent")
    project_id = service.keys.authenticate(key.plaintext).project_id
    try:
        yield World(service, settings, clock, project_id)
    finally:
        service.close()


async def mixed_workload(world: World, receiver: Receiver) -> None:
    """Creates, approvals, rejections, an answer, an escalation, an expiry, keys, people, a
    webhook endpoint and its delivery attempts (a failure and a success)."""
    service, clock = world.service, world.clock
    endpoint, _ = service.webhooks.add_webhook("default", receiver.url, allow_private=True)
    for n in range(4):
        world.call(f"call-{n}", amount=n)
    world.decide("call-0", True)
    world.decide("call-1", False)
    service.escalations.escalate_function_call(world.project_id, "call-2", {"escalation_msg": "hurry"})
    body = {"run_id": "run-1", "call_id": "late", "spec": {"fn": "wire", "kwargs": {}}}
    body["expires_at"] = (clock() + timedelta(seconds=5)).isoformat()
    service.items.create_function_call(world.project_id, body)
    contact = {"run_id": "run-1", "call_id": "q-1", "spec": {"msg": "Formal or casual?"}}
    service.items.create_human_contact(world.project_id, contact)
    service.decisions.answer_human_contact(
        world.project_id, "q-1", response="casual", channel="test", actor_key_id=None
    )
    clock.advance(seconds=10)
    late = service.items.get_function_call(world.project_id, "late")
    assert service.decisions.expire(late) is not None
    extra = service.keys.create_api_key("default", ["respond"], name="reviewer")
    service.keys.revoke_api_key(extra.id)
    service.people.add_user("ada@example.com", "default", "reviewer")
    service.people.invite("bob@example.com", "default", "viewer")
    service.webhooks.set_webhook_enabled(endpoint.id, False)
    service.webhooks.set_webhook_enabled(endpoint.id, True)
    sink = WebhookSink(service.db, world.settings)
    worker = OutboxWorker(service.db, [sink], clock=clock, rng=lambda: 0.5, audit=service.audit)
    try:
        receiver.status = 500
        assert await worker.run_once() > 0  # every first attempt fails
        receiver.status = 204
        clock.advance(hours=1)
        assert await worker.run_once() > 0  # and the retries succeed
    finally:
        await worker.stop()

"""A service on a fresh database with the email channel configured (or not), its outbox worker
on a controllable clock with the email and webhook sinks, reporting failures as the app does."""

from __future__ import annotations

import email
import email.policy
import json
import re
import threading
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from foureyes.server.channels import sinks_for
from foureyes.server.expiry import ExpiryTask
from foureyes.server.outbox import OutboxWorker
from foureyes.server.push import InProcessNotifier
from foureyes.server.service import Service
from foureyes.server.settings import Settings
from foureyes.storage import Database, DeliveryRecord
from foureyes.storage import outbox as deliveries

from ..clock import Clock
from ..db import ensure_project, events_of
from ..email_channel.smtp_server import Mailbox, start_smtp
from ..integration.conftest import free_port

LINK = re.compile(r"^(Approve|Reject|Answer): +(\S+)\r?$", re.MULTILINE)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@dataclass
class World:
    service: Service
    worker: OutboxWorker
    clock: Clock
    project_id: int

    def call(self, call_id: str, **spec: Any) -> None:
        body = {"run_id": "run-1", "call_id": call_id, "spec": {"fn": "wire", "kwargs": {"usd": 5}, **spec}}
        self.service.items.create_function_call(self.project_id, body)

    def item_id(self, call_id: str) -> int:
        return self.service.items.get_function_call(self.project_id, call_id).id

    def emails(self) -> list[DeliveryRecord]:
        with self.service.db.read() as conn:
            return list(reversed(deliveries.list_recent(conn, sink="email")))

    def event_types(self, call_id: str) -> list[str]:
        return [e.type for e in events_of(self.service.db, self.item_id(call_id))]

    def events(self, call_id: str, type_: str) -> list[dict[str, Any]]:
        return [e.data for e in events_of(self.service.db, self.item_id(call_id)) if e.type == type_]


def links_in(delivery: DeliveryRecord) -> dict[str, str]:
    message = email.message_from_string(json.loads(delivery.payload)["message"], policy=email.policy.default)
    text = message.get_body(("plain",))
    assert text is not None
    return {name.lower(): url for name, url in LINK.findall(text.get_content())}  # type: ignore[attr-defined]


async def make_world(database_url: str, clock: Clock, **settings: Any) -> World:
    config = Settings(database_url=database_url, webhook_allow_private=True, **settings)
    storage = Database.from_url(config.database_url)
    storage.migrate()
    service = Service(storage, InProcessNotifier(), clock=clock, settings=config)
    project_id = ensure_project(storage, "default", now=clock()).id
    worker = OutboxWorker(storage, sinks_for(storage, config), clock=clock, rng=lambda: 0.5)
    worker.on_failed = service.delivery_failures.report
    return World(service, worker, clock, project_id)


async def make_mail_world(database_url: str, clock: Clock, smtp_port: int) -> World:
    """A world whose email goes to the SMTP server on 127.0.0.1 at ``smtp_port``."""
    return await make_world(
        database_url,
        clock,
        smtp_url=f"smtp://127.0.0.1:{smtp_port}",
        email_from="approvals@example.com",
        public_url="http://approvals.test",
    )


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
async def world(database_url: str, clock: Clock) -> AsyncIterator[World]:
    """No SMTP server configured."""
    found = await make_world(database_url, clock)
    try:
        yield found
    finally:
        await found.worker.stop()
        found.service.close()


@pytest.fixture
def smtp() -> Iterator[tuple[int, Mailbox]]:
    """A real SMTP server (aiosmtpd) on a free port, and what it received."""
    port = free_port()
    controller, box = start_smtp(port)
    yield port, box
    controller.stop()


def task_of(service: Service, clock: Clock) -> ExpiryTask:
    """The deadline task of ``service``, firing escalation steps too."""
    return ExpiryTask(service.db, service.decisions, clock, poll_interval_seconds=1, chains=service.chains)


def run_at_once(tasks: Sequence[ExpiryTask], now: datetime) -> list[int]:
    """One step of each task (each a replica), started together from threads: how many
    escalation steps each fired."""
    barrier = threading.Barrier(len(tasks))
    fired: list[int] = []

    def run(task: ExpiryTask) -> None:
        barrier.wait()
        task.run_once(now)
        fired.append(task.escalated)

    threads = [threading.Thread(target=run, args=(t,)) for t in tasks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return fired

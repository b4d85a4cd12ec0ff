"""The Slack channel's fixtures: the stand-in of Slack's Web API, and a service with the Slack
sink on an outbox worker and a clock the test moves."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from foureyes.server.channels.slack import SlackSink
from foureyes.server.outbox import OutboxWorker
from foureyes.server.push import InProcessNotifier
from foureyes.server.service import Service
from foureyes.server.settings import Settings
from foureyes.storage import Database
from foureyes.storage import outbox as deliveries

from ..clock import Clock
from ..db import ensure_project
from .live import SlackServer
from .slack_api import SlackApi, running_slack_api


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@dataclass
class World:
    service: Service
    worker: OutboxWorker
    clock: Clock
    slack: SlackApi
    project_id: int

    def call(self, call_id: str, **slack: Any) -> None:
        channel = {"slack": {"channel_or_user_id": "C0OPS", **slack}}
        body = {
            "run_id": "r",
            "call_id": call_id,
            "spec": {"fn": "wire", "kwargs": {"usd": 5}, "channel": channel},
        }
        self.service.items.create_function_call(self.project_id, body)

    def blocks_text(self, call: Any) -> str:
        return json.dumps(call.args["blocks"], ensure_ascii=False)

    def slack_deliveries(self) -> list[Any]:
        with self.service.db.read() as conn:
            return list(reversed(deliveries.list_recent(conn, sink="slack")))


@pytest.fixture
def slack() -> Iterator[SlackApi]:
    with running_slack_api() as api:
        yield api


@pytest.fixture
def live(tmp_path: Path, slack: SlackApi) -> Iterator[SlackServer]:
    """A real server posting to the stand-in, with a reviewer ``boss@example.com``."""
    server = SlackServer(tmp_path, slack)
    yield server
    server.close()


@pytest.fixture
async def world(database_url: str, slack: SlackApi) -> AsyncIterator[World]:
    settings = Settings(
        database_url=database_url,
        slack_api_url=slack.url,
        slack_bot_token="xoxb-server",
        public_url="https://approvals.example.com",
    )
    db = Database.from_url(database_url)
    clock = Clock()
    service = Service(db, InProcessNotifier(), clock=clock, settings=settings)
    project = ensure_project(db, "default", now=clock.now)
    worker = OutboxWorker(db, [SlackSink(db, settings)], clock=clock, rng=lambda: 0.5)
    yield World(service, worker, clock, slack, project.id)
    await worker.stop()
    service.close()

"""The Slack sink on the outbox, on a controllable clock, against the stand-in of Slack's Web
API: posting, updating once decided or expired, rate limits retried after Retry-After, and
errors no retry can mend failed at once."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from foureyes.server.channels.slack import SlackSink
from foureyes.server.outbox import OutboxWorker
from foureyes.server.push import InProcessNotifier
from foureyes.server.service import Service
from foureyes.server.settings import Settings
from foureyes.server.wire import render_item
from foureyes.storage import Database
from foureyes.storage import outbox as deliveries

from ..db import attempts_of, ensure_project
from .slack_api import BAD_TOKEN, Failure, SlackApi, running_slack_api

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


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

    def slack_deliveries(self) -> list[Any]:
        with self.service.db.read() as conn:
            return list(reversed(deliveries.list_recent(conn, sink="slack")))


@pytest.fixture
def slack() -> Iterator[SlackApi]:
    with running_slack_api() as api:
        yield api


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


async def test_post_then_update_once_decided(world: World) -> None:
    world.call("c1", thread_ts="1700000000.000001")
    world.service.decisions.decide_function_call(
        world.project_id,
        "c1",
        approved=True,
        channel="inbox",
        actor_key_id=None,
        actor_email="ann@example.com",
    )
    assert await world.worker.run_once() == 1  # the update waits for the post
    assert await world.worker.run_once() == 1
    [post] = world.slack.of("chat.postMessage")
    assert post.args["thread_ts"] == "1700000000.000001"
    [update] = world.slack.of("chat.update")
    assert (update.args["channel"], update.args["ts"]) == ("C0OPS", "1760000000.000001")
    assert "*Approved* by ann@example.com via inbox" in json.dumps(update.args["blocks"])
    item = world.service.items.get_function_call(world.project_id, "c1")
    assert render_item(item)["status"]["slack_message_ts"] == "1760000000.000001"
    assert [d.status for d in world.slack_deliveries()] == ["succeeded", "succeeded"]


async def test_expiry_updates_the_message(world: World) -> None:
    world.call("c1")
    assert await world.worker.run_once() == 1
    item = world.service.items.get_function_call(world.project_id, "c1")
    assert world.service.decisions.expire(item) is not None
    assert await world.worker.run_once() == 1
    [update] = world.slack.of("chat.update")
    assert "*Expired*" in json.dumps(update.args["blocks"])
    assert '"actions"' not in json.dumps(update.args["blocks"])


async def test_rate_limit_is_retried_after_retry_after(world: World) -> None:
    world.slack.fail_next(
        "chat.postMessage", Failure(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "30"})
    )
    world.call("c1")
    assert await world.worker.run_once() == 1
    [delivery] = world.slack_deliveries()
    assert delivery.status == "pending"
    assert delivery.next_attempt_at == world.clock.now + timedelta(seconds=30)  # not the 5 s backoff
    [attempt] = attempts_of(world.service.db, delivery.id)
    assert attempt.status_code == 429
    world.clock.now += timedelta(seconds=29)
    assert await world.worker.run_once() == 0
    world.clock.now += timedelta(seconds=1)
    assert await world.worker.run_once() == 1
    assert [d.status for d in world.slack_deliveries()] == ["succeeded"]
    assert len(world.slack.of("chat.postMessage")) == 2


async def test_transient_errors_are_retried(world: World) -> None:
    world.slack.fail_next("chat.postMessage", Failure(503, {"ok": False, "error": "service_unavailable"}))
    world.call("c1")
    assert await world.worker.run_once() == 1
    [delivery] = world.slack_deliveries()
    assert delivery.status == "pending"
    world.clock.now += timedelta(seconds=10)
    assert await world.worker.run_once() == 1
    assert [d.status for d in world.slack_deliveries()] == ["succeeded"]


@pytest.mark.parametrize(
    ("channel", "error"),
    [({"bot_token": BAD_TOKEN}, "invalid_auth"), ({"channel_or_user_id": "CNOPE"}, "channel_not_found")],
)
async def test_what_no_retry_mends_fails_at_once(world: World, channel: dict[str, str], error: str) -> None:
    world.call("c1", **channel)
    assert await world.worker.run_once() == 1
    [delivery] = world.slack_deliveries()
    assert delivery.status == "failed"
    assert error in (delivery.last_error or "")
    assert delivery.attempts == 1
    world.service.decisions.decide_function_call(
        world.project_id, "c1", approved=True, channel="inbox", actor_key_id=None, actor_email="a@example.com"
    )
    assert await world.worker.run_once() == 1
    # nothing was posted, so there is nothing to update: said once, not retried for a day
    update = world.slack_deliveries()[-1]
    assert update.status == "failed"
    assert "no Slack message was posted" in (update.last_error or "")
    assert world.slack.of("chat.update") == []

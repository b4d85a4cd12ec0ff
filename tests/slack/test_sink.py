"""The Slack sink on the outbox, on a controllable clock, against the stand-in of Slack's Web
API: posting, updating once decided or expired, rate limits retried after Retry-After, and
errors no retry can mend failed at once."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from foureyes.server.wire import render_item

from ..db import attempts_of
from .conftest import World
from .slack_api import BAD_TOKEN, Failure

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


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

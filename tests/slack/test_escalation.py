"""Escalations to Slack, on the outbox with a controllable clock against the stand-in of
Slack's Web API: a chain step or an escalation through the API that names a Slack channel
posts a reply in the thread of the request's message when it is that message's channel, else a
new message there; each carries the buttons and is updated with the outcome."""

from __future__ import annotations

from datetime import timedelta

import pytest

from .conftest import World

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


def decide(world: World, call_id: str = "c1") -> None:
    world.service.decisions.decide_function_call(
        world.project_id,
        call_id,
        approved=True,
        channel="inbox",
        actor_key_id=None,
        actor_email="ann@example.com",
    )


def add_step(world: World, minutes: int, slack: dict[str, str]) -> None:
    world.service.projects.add_escalation_step("default", minutes * 60, [{"slack": slack}])


def fire_steps(world: World, minutes: int) -> int:
    world.clock.now += timedelta(minutes=minutes)
    fired, _ = world.service.chains.run_once(world.clock.now)
    return fired


async def drain(world: World) -> int:
    sent = 0
    while count := await world.worker.run_once():
        sent += count
    return sent


async def test_a_step_to_the_same_channel_replies_in_the_thread(world: World) -> None:
    add_step(world, 10, {"channel_or_user_id": "C0OPS"})
    world.call("c1")
    assert await drain(world) == 1
    [first] = world.slack.of("chat.postMessage")
    assert fire_steps(world, 9) == 0
    assert fire_steps(world, 1) == 1
    assert await drain(world) == 1
    [_, reply] = world.slack.of("chat.postMessage")
    assert reply.args["channel"] == "C0OPS"
    assert reply.args["thread_ts"] == "1760000000.000001"  # the first message's ts
    shown = world.blocks_text(reply)
    assert "*Escalated:* no decision after 10m (escalation step 1 of 1)" in shown
    assert [b["type"] for b in reply.args["blocks"]][-1] == "actions"  # it decides too
    assert reply.args["blocks"][-1] == first.args["blocks"][-1]  # the same request's buttons
    assert reply.args["text"].startswith("Escalated: Approval requested: wire")

    decide(world)
    assert await drain(world) == 2
    updates = world.slack.of("chat.update")
    assert sorted((u.args["channel"], u.args["ts"]) for u in updates) == [
        ("C0OPS", "1760000000.000001"),
        ("C0OPS", "1760000000.000002"),
    ]
    for update in updates:
        assert "*Approved* by ann@example.com via inbox" in world.blocks_text(update)
        assert all(b["type"] != "actions" for b in update.args["blocks"])
    [reply_update] = [u for u in updates if u.args["ts"] == "1760000000.000002"]
    assert "*Escalated:*" in world.blocks_text(reply_update)
    assert [d.status for d in world.slack_deliveries()] == ["succeeded"] * 4


async def test_a_thread_the_agent_named_gets_the_reply(world: World) -> None:
    add_step(world, 10, {"channel_or_user_id": "C0OPS"})
    world.call("c1", thread_ts="1700000000.000009")
    assert fire_steps(world, 10) == 1
    assert await drain(world) == 2
    [first, reply] = world.slack.of("chat.postMessage")
    assert first.args["thread_ts"] == reply.args["thread_ts"] == "1700000000.000009"


async def test_a_step_to_another_channel_posts_a_new_message(world: World) -> None:
    add_step(world, 10, {"channel_or_user_id": "C0LEADS", "context_about_channel_or_user": "the leads"})
    add_step(world, 30, {"channel_or_user_id": "U0CTO"})
    world.call("c1")
    # both steps are due before the worker ran even once: each message still goes out, in order
    assert fire_steps(world, 45) == 2
    decide(world)
    assert await drain(world) == 6
    # each channel has its own queue: the order between channels is not kept, only within one
    posts = {p.args["channel"]: p for p in world.slack.of("chat.postMessage")}
    assert sorted(posts) == ["C0LEADS", "C0OPS", "U0CTO"]
    assert not any("thread_ts" in p.args for p in posts.values())
    assert "For the leads" in world.blocks_text(posts["C0LEADS"])
    assert "For the leads" not in world.blocks_text(posts["C0OPS"])
    assert "escalation step 1 of 2" in world.blocks_text(posts["C0LEADS"])
    assert "escalation step 2 of 2" in world.blocks_text(posts["U0CTO"])
    updates = world.slack.of("chat.update")
    # a user id was answered with the direct-message channel: the update goes there
    assert sorted(u.args["channel"] for u in updates) == ["C0LEADS", "C0OPS", "D0CTO"]
    for update in updates:
        posted = posts[update.args["channel"].replace("D0", "U0")]
        assert update.args["ts"] == world.slack.ts_of(posted)
    [leads] = [u for u in updates if u.args["channel"] == "C0LEADS"]
    assert "For the leads" in world.blocks_text(leads)


async def test_an_escalation_through_the_api_names_a_slack_channel(world: World) -> None:
    world.call("c1")
    escalation = {
        "escalation_msg": "still <!channel> waiting",
        "channel": {"slack": {"channel_or_user_id": "C0LEADS"}},
    }
    world.service.escalations.escalate_function_call(world.project_id, "c1", escalation)
    # an escalation that names no Slack channel posts nothing to Slack
    world.service.escalations.escalate_function_call(world.project_id, "c1", {"escalation_msg": "email"})
    assert await drain(world) == 2
    [posted] = [p for p in world.slack.of("chat.postMessage") if p.args["channel"] != "C0OPS"]
    assert posted.args["channel"] == "C0LEADS"
    assert "thread_ts" not in posted.args
    assert "*Escalated:* still &lt;!channel&gt; waiting" in world.blocks_text(posted)


async def test_a_request_without_slack_is_escalated_to_slack(world: World) -> None:
    add_step(world, 10, {"channel_or_user_id": "C0OPS"})
    body = {"run_id": "r", "call_id": "c1", "spec": {"fn": "wire", "kwargs": {}}}
    world.service.items.create_function_call(world.project_id, body)
    assert await drain(world) == 0
    assert fire_steps(world, 10) == 1
    assert await drain(world) == 1
    [posted] = world.slack.of("chat.postMessage")
    assert posted.args["channel"] == "C0OPS"
    assert "thread_ts" not in posted.args  # there is no first message to thread under
    item = world.service.items.get_function_call(world.project_id, "c1")
    world.service.decisions.expire(item)
    assert await drain(world) == 1
    [update] = world.slack.of("chat.update")
    assert update.args["ts"] == world.slack.ts_of(posted)
    assert "*Expired*" in world.blocks_text(update)


async def test_an_escalation_message_that_failed_is_not_updated(world: World) -> None:
    add_step(world, 10, {"channel_or_user_id": "CNOPE"})
    world.call("c1")
    assert fire_steps(world, 10) == 1
    decide(world)
    assert await drain(world) == 4
    statuses = [(d.target, d.status) for d in world.slack_deliveries()]
    assert statuses == [
        ("C0OPS", "succeeded"),
        ("CNOPE", "failed"),
        ("C0OPS", "succeeded"),
        ("CNOPE", "failed"),
    ]
    assert "no Slack message was posted" in (world.slack_deliveries()[-1].last_error or "")
    assert len(world.slack.of("chat.update")) == 1


async def test_the_token_is_the_requests_then_the_projects_then_the_servers(world: World) -> None:
    world.call("c1")
    world.service.projects.set_slack_token("default", "xoxb-project")
    world.call("c2")
    world.call("c3", bot_token="xoxb-own")
    world.service.projects.set_slack_token("default", None)
    world.call("c4")
    await drain(world)
    # read when each is delivered: c1 and c2 go out after the project's token was cleared
    assert [p.token for p in world.slack.of("chat.postMessage")] == [
        "xoxb-server",
        "xoxb-server",
        "xoxb-own",
        "xoxb-server",
    ]
    world.service.projects.set_slack_token("default", "xoxb-project")
    world.call("c5")
    add_step(world, 10, {"channel_or_user_id": "C0LEADS"})
    assert fire_steps(world, 10) == 5
    await drain(world)
    tokens = sorted((p.args["channel"], p.token) for p in world.slack.of("chat.postMessage")[4:])
    assert tokens == [("C0LEADS", "xoxb-own")] + [("C0LEADS", "xoxb-project")] * 4 + [
        ("C0OPS", "xoxb-project")
    ]

"""A request that needs several approvals, in Slack: each approval short of the quorum, from any
channel, updates the request's messages (its first and its escalations') through the outbox to
show the progress and keep the buttons; the last one shows the outcome without them; and a
progress update sent late, after the request was decided, shows the outcome too."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from foureyes.server.channels.slack import SlackSink

from .conftest import World
from .slack_api import Failure

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

FIRST_TS = "1760000000.000001"


def create(world: World, call_id: str = "c1", **body: Any) -> None:
    spec = {"fn": "wire", "kwargs": {"usd": 5}, "channel": {"slack": {"channel_or_user_id": "C0OPS"}}}
    world.service.items.create_function_call(
        world.project_id, {"run_id": "r", "call_id": call_id, "spec": spec, "required_approvals": 2} | body
    )


def approve(world: World, email: str, channel: str = "inbox", call_id: str = "c1") -> str:
    done = world.service.decisions.decide_function_call(
        world.project_id, call_id, approved=True, channel=channel, actor_key_id=None, actor_email=email
    )
    return str(done.state)


async def drain(world: World) -> int:
    sent = 0
    while count := await world.worker.run_once():
        sent += count
    return sent


def has_buttons(call: Any) -> bool:
    return any(b["type"] == "actions" for b in call.args["blocks"])


async def test_each_approval_is_shown_and_the_last_removes_the_buttons(world: World) -> None:
    create(world)
    assert await drain(world) == 1
    [post] = world.slack.of("chat.postMessage")
    assert "0 of 2 approvals; 2 more needed from other people" in world.blocks_text(post)

    assert approve(world, "ann@example.com", channel="inbox") == "pending"
    assert await drain(world) == 1
    [progress] = world.slack.of("chat.update")
    assert (progress.args["channel"], progress.args["ts"]) == ("C0OPS", FIRST_TS)
    shown = world.blocks_text(progress)
    assert "1 of 2 approvals (ann@example.com); 1 more needed from other people" in shown
    assert "*Approved*" not in shown
    assert progress.args["blocks"][-1] == post.args["blocks"][-1]  # the same buttons, still there
    assert progress.args["text"] == post.args["text"]

    assert approve(world, "bob@example.com", channel="api") == "approved"
    assert await drain(world) == 1
    [_, final] = world.slack.of("chat.update")
    shown = world.blocks_text(final)
    assert "2 of 2 approvals (ann@example.com, bob@example.com)" in shown
    assert "*Approved* by bob@example.com via api" in shown
    assert not has_buttons(final)
    assert [d.status for d in world.slack_deliveries()] == ["succeeded"] * 3


async def test_a_progress_update_sent_after_the_decision_shows_the_outcome(world: World) -> None:
    create(world)
    assert await drain(world) == 1
    world.slack.fail_next(
        "chat.update", Failure(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "30"})
    )
    approve(world, "ann@example.com")
    assert await world.worker.run_once() == 1  # rate limited: retried in 30 s
    approve(world, "bob@example.com")
    # the outcome waits behind the progress update queued before it
    assert await world.worker.run_once() == 0
    world.clock.now += timedelta(seconds=30)
    assert await drain(world) == 2
    [limited, late, final] = world.slack.of("chat.update")
    assert has_buttons(limited)  # what was queued: the request as it was, still asking
    # sent once the request was decided, it shows the request as it is now
    for call in (late, final):
        assert not has_buttons(call)
        assert "*Approved* by bob@example.com via inbox" in world.blocks_text(call)
    assert late.args["blocks"] == final.args["blocks"]

    # the same progress delivery attempted again (a lost answer, another replica) changes nothing
    progress = world.slack_deliveries()[1]
    sink = SlackSink(world.service.db, world.service.settings)
    attempt = await sink.deliver(progress, world.clock.now)
    assert attempt.error is None
    again = world.slack.of("chat.update")[-1]
    assert again.args["ts"] == FIRST_TS
    assert again.args["blocks"] == final.args["blocks"]


async def test_progress_shows_what_is_counted_since_it_was_queued(world: World) -> None:
    create(world, required_approvals=3)
    assert await drain(world) == 1
    approve(world, "ann@example.com")
    approve(world, "bob@example.com")
    assert await drain(world) == 2
    updates = world.slack.of("chat.update")
    for update in updates:  # both render the request as it was when sent
        assert "2 of 3 approvals (ann@example.com, bob@example.com)" in world.blocks_text(update)
        assert has_buttons(update)


async def test_a_veto_after_an_approval_removes_the_buttons(world: World) -> None:
    create(world)
    approve(world, "ann@example.com")
    world.service.decisions.decide_function_call(
        world.project_id,
        "c1",
        approved=False,
        comment="not this week",
        channel="email",
        actor_key_id=None,
        actor_email="bob@example.com",
    )
    assert await drain(world) == 3
    [progress, final] = world.slack.of("chat.update")
    for call in (progress, final):
        shown = world.blocks_text(call)
        assert "*Rejected* by bob@example.com via email" in shown
        assert "1 of 2 approvals (ann@example.com)" in shown
        assert not has_buttons(call)


async def test_escalation_messages_show_the_progress_too(world: World) -> None:
    world.service.projects.add_escalation_step("default", 600, [{"slack": {"channel_or_user_id": "C0LEADS"}}])
    create(world)
    world.clock.now += timedelta(minutes=10)
    assert world.service.chains.run_once(world.clock.now)[0] == 1
    assert await drain(world) == 2
    approve(world, "ann@example.com")
    assert await drain(world) == 2
    updates = world.slack.of("chat.update")
    assert sorted(u.args["channel"] for u in updates) == ["C0LEADS", "C0OPS"]
    for update in updates:
        assert "1 of 2 approvals (ann@example.com)" in world.blocks_text(update)
        assert has_buttons(update)
    [leads] = [u for u in updates if u.args["channel"] == "C0LEADS"]
    assert "*Escalated:* no decision after 10m" in world.blocks_text(leads)
    assert leads.args["text"].startswith("Escalated: ")

    approve(world, "bob@example.com")
    assert await drain(world) == 2
    finals = world.slack.of("chat.update")[2:]
    assert sorted(u.args["channel"] for u in finals) == ["C0LEADS", "C0OPS"]
    assert not any(has_buttons(u) for u in finals)
    assert all(d.status == "succeeded" for d in world.slack_deliveries())


async def test_a_request_needing_one_approval_queues_no_progress(world: World) -> None:
    create(world, required_approvals=1)
    approve(world, "ann@example.com")
    assert await drain(world) == 2
    [update] = world.slack.of("chat.update")
    assert " of 1 approvals" not in world.blocks_text(update)
    assert "ballot_box" not in world.blocks_text(update)
    assert not has_buttons(update)

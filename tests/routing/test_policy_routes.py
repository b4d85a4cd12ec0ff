"""A policy's ``route:`` reaches people, on a real SMTP server (aiosmtpd) and the stand-in of
Slack's Web API; project default Slack channels post; a request a policy decides as it is
created asks no one (no email, no push, Slack shows the outcome) while webhooks hear both."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from foureyes.server.domain.errors import InvalidInputError, InvalidParameterError
from foureyes.server.wire import render_item
from foureyes.storage import DeliveryRecord
from foureyes.storage import outbox as deliveries
from foureyes.storage import push as push_rows

from ..clock import Clock
from ..email_channel.smtp_server import Mailbox, start_smtp
from ..integration.conftest import free_port
from ..server.inbox_helpers import make_person
from ..slack.slack_api import SlackApi, running_slack_api
from .conftest import World, make_world

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

BOSS = {"email": {"address": "boss@example.com"}}
LEAD = {"email": {"address": "lead@example.com"}}
DEFAULT_SLACK = {"slack": {"channel_or_user_id": "C0DEF"}}


@pytest.fixture
def mailbox() -> Iterator[tuple[int, Mailbox]]:
    port = free_port()
    controller, box = start_smtp(port)
    yield port, box
    controller.stop()


@pytest.fixture
def slack() -> Iterator[SlackApi]:
    with running_slack_api() as api:
        yield api


@pytest.fixture
async def world(
    database_url: str, clock: Clock, mailbox: tuple[int, Mailbox], slack: SlackApi
) -> AsyncIterator[World]:
    found = await make_world(
        database_url,
        clock,
        smtp_url=f"smtp://127.0.0.1:{mailbox[0]}",
        email_from="approvals@example.com",
        public_url="http://approvals.test",
        slack_api_url=slack.url,
        slack_bot_token="xoxb-server",
    )
    try:
        yield found
    finally:
        await found.worker.stop()
        found.service.close()


def rows(world: World, sink: str) -> list[DeliveryRecord]:
    with world.service.db.read() as conn:
        return list(reversed(deliveries.list_recent(conn, sink=sink)))


async def drain(world: World) -> None:
    while await world.worker.run_once():
        pass


def recipients(box: Mailbox) -> list[str]:
    return sorted(address for envelope, _ in box.messages for address in envelope)


def has_buttons(call: Any) -> bool:
    return '"actions"' in json.dumps(call.args["blocks"])


def decide(world: World, call_id: str) -> None:
    world.service.decisions.decide_function_call(
        world.project_id,
        call_id,
        approved=True,
        channel="inbox",
        actor_key_id=None,
        actor_email="ann@example.com",
    )


async def test_a_route_reaches_its_email_and_slack_targets(
    world: World, mailbox: tuple[int, Mailbox], slack: SlackApi
) -> None:
    world.service.projects.set_default_channels("default", [LEAD])
    world.service.policies.add("default", "big", "args.usd > 1", "route:email:sec@example.com,slack:C0SEC")
    world.call("own", channel=BOSS)  # the agent's own channel, and the route's targets
    world.call("none")  # no channel: the route's targets instead of the project defaults
    await drain(world)

    assert sorted((d.call_id, d.target) for d in rows(world, "email")) == [
        ("none", "sec@example.com"),
        ("own", "boss@example.com"),
        ("own", "sec@example.com"),
    ]
    assert recipients(mailbox[1]) == ["boss@example.com", "sec@example.com", "sec@example.com"]
    posts = slack.of("chat.postMessage")
    assert [p.args["channel"] for p in posts] == ["C0SEC", "C0SEC"]
    assert all(has_buttons(p) for p in posts)
    routed = {"email": {"address": "sec@example.com"}}, {"slack": {"channel_or_user_id": "C0SEC"}}
    assert world.events("none", "created")[0]["routed_to"] == list(routed)
    item = world.service.items.get_function_call(world.project_id, "own")
    assert render_item(item)["status"]["routes"] == ["email:sec@example.com", "slack:C0SEC"]

    decide(world, "own")
    await drain(world)
    [update] = slack.of("chat.update")
    assert update.args["channel"] == "C0SEC"
    assert "*Approved* by ann@example.com" in json.dumps(update.args["blocks"])


async def test_a_route_may_name_the_project_defaults(
    world: World, mailbox: tuple[int, Mailbox], slack: SlackApi
) -> None:
    world.service.projects.set_default_channels("default", [LEAD, DEFAULT_SLACK])
    world.service.policies.add("default", "to-slack", "fn == 'wire'", "route:slack")
    world.service.policies.add("default", "to-all", "fn == 'deploy'", "route:defaults,email:sec@example.com")
    world.call("slack-only")
    body = {"run_id": "run-1", "call_id": "all", "spec": {"fn": "deploy", "kwargs": {}}}
    world.service.items.create_function_call(world.project_id, body)
    await drain(world)

    assert sorted((d.call_id, d.target) for d in rows(world, "email")) == [
        ("all", "lead@example.com"),
        ("all", "sec@example.com"),
    ]
    assert [(p.args["channel"], has_buttons(p)) for p in slack.of("chat.postMessage")] == [
        ("C0DEF", True),
        ("C0DEF", True),
    ]
    assert recipients(mailbox[1]) == ["lead@example.com", "sec@example.com"]


async def test_a_slack_default_channel_posts_and_updates(world: World, slack: SlackApi) -> None:
    world.service.projects.set_default_channels("default", [DEFAULT_SLACK])
    world.call("quiet")
    await drain(world)
    [post] = slack.of("chat.postMessage")
    assert post.args["channel"] == "C0DEF"
    assert has_buttons(post)
    decide(world, "quiet")
    await drain(world)
    [update] = slack.of("chat.update")
    item = world.service.items.get_function_call(world.project_id, "quiet")
    assert (update.args["channel"], update.args["ts"]) == (
        "C0DEF",
        render_item(item)["status"]["slack_message_ts"],
    )
    assert not has_buttons(update)


async def test_a_request_a_policy_decides_at_create_asks_no_one(
    world: World, mailbox: tuple[int, Mailbox], slack: SlackApi
) -> None:
    world.service.projects.set_default_channels("default", [LEAD, DEFAULT_SLACK])
    world.service.webhooks.add_webhook("default", "http://127.0.0.1:9/hook", allow_private=True)
    user_id = make_person(world.service, "rev@example.com", "default", "reviewer")
    with world.service.db.write() as tx:
        push_rows.subscribe(
            tx.conn,
            user_id=user_id,
            project_id=world.project_id,
            endpoint="http://127.0.0.1:9/push",
            p256dh="key",
            auth="auth",
            now=world.clock.now,
        )
    world.service.policies.add("default", "small", "args.usd < 10", "approve")
    world.service.policies.add("default", "huge", "args.usd >= 1000", "reject")
    world.call("small", channel=BOSS)
    body = {"run_id": "run-1", "call_id": "huge", "spec": {"fn": "wire", "kwargs": {"usd": 5000}}}
    world.service.items.create_function_call(world.project_id, body)
    world.call("asked", kwargs={"usd": 50})  # no rule matches: people are asked as before

    assert [d.call_id for d in rows(world, "email")] == ["asked"]
    assert [d.call_id for d in rows(world, "webpush")] == ["asked"]
    hooks = sorted((d.call_id, d.event_type) for d in rows(world, "webhook"))
    assert hooks == [
        ("asked", "function_call.created"),
        ("huge", "function_call.completed"),
        ("huge", "function_call.created"),
        ("small", "function_call.completed"),
        ("small", "function_call.created"),
    ]
    assert world.events("small", "created")[0]["settled"] is True
    assert "settled" not in world.events("asked", "created")[0]

    slack_rows = rows(world, "slack")
    assert [(d.call_id, d.event_type) for d in slack_rows] == [
        ("huge", "function_call.decided"),
        ("asked", "function_call.created"),
    ]
    await drain(world)
    assert recipients(mailbox[1]) == ["lead@example.com"]
    [outcome, ask] = slack.of("chat.postMessage")
    assert outcome.args["channel"] == "C0DEF"
    assert not has_buttons(outcome)
    assert "*Rejected*" in json.dumps(outcome.args["blocks"])
    assert has_buttons(ask)
    assert slack.of("chat.update") == []
    huge = world.service.items.get_function_call(world.project_id, "huge")
    assert render_item(huge)["status"]["slack_message_ts"]  # posted: an interaction finds it


@pytest.mark.parametrize(
    ("then", "said"),
    [
        ("route:pager", "unknown route target 'pager'"),
        ("route:email:nobody", "'nobody' is not an email address"),
        ("route:slack:#bad channel", "is not a Slack channel or user id"),
        ("route:slack:C1,slack:C2", "at most one slack:ID"),
    ],
)
async def test_route_targets_are_checked_when_the_policy_is_added(world: World, then: str, said: str) -> None:
    with pytest.raises(InvalidParameterError) as raised:
        world.service.policies.add("default", "r", "true", then)
    assert said in raised.value.message
    assert "policy 'r'" in raised.value.message
    assert world.service.policies.list_policies("default") == []


async def test_at_most_one_default_slack_channel(world: World) -> None:
    with pytest.raises(InvalidInputError, match="at most one default Slack channel"):
        world.service.projects.set_default_channels(
            "default", [DEFAULT_SLACK, {"slack": {"channel_or_user_id": "C0TWO"}}]
        )


async def test_an_escalation_reaches_the_emails_a_request_was_routed_to(
    world: World, mailbox: tuple[int, Mailbox]
) -> None:
    world.service.projects.set_default_channels("default", [LEAD])
    world.service.policies.add("default", "to-sec", "fn == 'deploy'", "route:email:sec@example.com")
    world.call("by-default")
    body = {"run_id": "run-1", "call_id": "by-route", "spec": {"fn": "deploy", "kwargs": {}}}
    world.service.items.create_function_call(world.project_id, body)
    extra = {"escalation_msg": "still waiting", "additional_recipients": [{"address": "cto@example.com"}]}
    world.service.escalations.escalate_function_call(world.project_id, "by-default", extra)
    world.service.escalations.escalate_function_call(
        world.project_id, "by-route", {"escalation_msg": "hurry"}
    )
    await drain(world)

    escalated = [(d.call_id, d.target) for d in rows(world, "email") if d.event_type.endswith("escalated")]
    assert sorted(escalated) == [
        ("by-default", "cto@example.com"),
        ("by-default", "lead@example.com"),
        ("by-route", "sec@example.com"),
    ]
    assert recipients(mailbox[1]).count("sec@example.com") == 2

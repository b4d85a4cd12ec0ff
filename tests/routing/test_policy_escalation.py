"""A policy's ``escalate:`` gives the requests it matches their own escalation steps, instead of
the project's chain: they fire once each after their delays, in order, on the service's clock,
through the outbox (to a real SMTP server, aiosmtpd), never after a decision; a request no rule
escalates keeps the chain; a shadow rule only records; a bad action is refused saying why."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from foureyes.server.domain.chains import steps_of
from foureyes.server.domain.errors import InvalidParameterError
from foureyes.server.push import InProcessNotifier
from foureyes.server.service import Service
from foureyes.storage import Database
from foureyes.storage import escalations as chain_rows
from foureyes.storage import outbox as deliveries

from ..clock import Clock
from ..db import events_of
from ..email_channel.smtp_server import Mailbox, parts
from ..integration.conftest import free_port
from .conftest import World, make_mail_world, run_at_once, task_of

pytestmark = pytest.mark.anyio

BOSS = "boss@example.com"
CFO = "cfo@example.com"
ONCALL = "oncall@example.com"
LEAD = "lead@example.com"
RULE = f"escalate:30m>email:{BOSS};2h>email:{CFO},slack:C0FIN"


@pytest.fixture
async def escalating(database_url: str, clock: Clock) -> AsyncIterator[World]:
    """A project with a chain (10m: oncall) and a rule escalating big wires (30m: boss; 2h: cfo
    and a Slack channel); email goes to a port nobody listens on (the worker is not run)."""
    found = await make_mail_world(database_url, clock, free_port())
    projects = found.service.projects
    projects.add_escalation_step("default", 600, [{"email": {"address": ONCALL}}])
    found.service.policies.add("default", "big-wires", "args.usd >= 1000", RULE)
    try:
        yield found
    finally:
        await found.worker.stop()
        found.service.close()


def big(world: World, call_id: str, usd: int = 5000) -> None:
    world.call(call_id, kwargs={"usd": usd})


def escalated(world: World, call_id: str) -> list[dict[str, Any]]:
    return world.events(call_id, "escalated")


def email_targets(world: World, call_id: str) -> list[str]:
    return [d.target for d in world.emails() if d.call_id == call_id and d.event_type.endswith("escalated")]


async def test_a_matching_rule_gives_the_request_its_own_steps(escalating: World) -> None:
    world = escalating
    [rule] = world.service.policies.list_policies("default")
    assert rule.action == RULE  # stored as written (it is already in the canonical shape)
    big(world, "wire-1")
    item = world.service.items.get_function_call(world.project_id, "wire-1")
    assert item.escalation_steps == (
        {"after_seconds": 1800, "channels": [{"email": {"address": BOSS}}], "policy": "big-wires"},
        {
            "after_seconds": 7200,
            "channels": [{"email": {"address": CFO}}, {"slack": {"channel_or_user_id": "C0FIN"}}],
            "policy": "big-wires",
        },
    )
    assert item.next_escalation_at == item.requested_at + timedelta(minutes=30)
    [matched] = world.events("wire-1", "policy")
    assert (matched["policy"], matched["action"], matched["shadow"]) == ("big-wires", RULE, False)
    assert item.state == "pending"


async def test_the_deadline_task_is_told_when_the_first_step_is_due(escalating: World) -> None:
    world = escalating
    told: list[datetime] = []
    world.service.items.on_deadline = told.append
    big(world, "wake")
    requested = world.service.items.get_function_call(world.project_id, "wake").requested_at
    assert requested + timedelta(minutes=30) in told


async def test_a_step_whose_targets_name_no_channel_still_fires_to_no_one(escalating: World) -> None:
    world = escalating  # the project has no default channels
    world.service.policies.add("default", "nobody", "args.usd == 3", "escalate:1m>slack", position=1)
    big(world, "lonely", usd=3)
    task = task_of(world.service, world.clock)
    task.run_once(world.clock.advance(minutes=1))
    assert task.escalated == 1
    [step] = escalated(world, "lonely")
    assert (step["policy"], step["channels"]) == ("nobody", [])
    assert email_targets(world, "lonely") == []


async def test_the_steps_fire_in_order_after_their_delays_and_once_each(escalating: World) -> None:
    world = escalating
    big(world, "wire-1")
    task = task_of(world.service, world.clock)
    start = world.clock.now

    # the project's chain (10m) is not this request's: nothing at 10 minutes
    task.run_once(world.clock.advance(minutes=10))
    assert task.escalated == 0
    assert task._next == start + timedelta(minutes=30)
    task.run_once(world.clock.advance(minutes=19, seconds=59))
    assert task.escalated == 0

    task.run_once(world.clock.advance(seconds=1))
    assert task.escalated == 1
    assert task._next == start + timedelta(hours=2)
    task.run_once(world.clock.advance(minutes=5))
    assert task.escalated == 0  # the first step does not fire again
    [first] = escalated(world, "wire-1")
    assert (first["step"], first["after_seconds"], first["policy"]) == (1, 1800, "big-wires")
    assert first["channels"] == [{"email": {"address": BOSS}}]
    assert "escalation step 1 of 2, policy big-wires" in first["escalation_msg"]
    assert email_targets(world, "wire-1") == [BOSS]

    task.run_once(world.clock.advance(hours=2))
    assert task.escalated == 1
    task.run_once(world.clock.advance(hours=5))
    assert task.escalated == 0
    assert [(e["step"], e["after_seconds"]) for e in escalated(world, "wire-1")] == [(1, 1800), (2, 7200)]
    assert email_targets(world, "wire-1") == [BOSS, CFO]
    with world.service.db.read() as conn:
        posts = [(d.call_id, d.target) for d in deliveries.list_recent(conn, sink="slack")]
    assert posts == [("wire-1", "C0FIN")]  # the second step's Slack channel, through the outbox
    item = world.service.items.get_function_call(world.project_id, "wire-1")
    assert (item.escalation_steps_done, item.next_escalation_at) == (2, None)
    # attributed to the rule, like its other doings
    fired = [e for e in events_of(world.service.db, item.id) if e.type == "escalated"]
    assert {e.channel for e in fired} == {"policy"}


async def test_a_request_that_waited_past_both_delays_gets_both_in_order(escalating: World) -> None:
    world = escalating
    big(world, "late")
    task = task_of(world.service, world.clock)
    task.run_once(world.clock.advance(hours=3))
    assert task.escalated == 2
    assert [e["step"] for e in escalated(world, "late")] == [1, 2]


async def test_a_decided_request_gets_no_further_steps(escalating: World) -> None:
    world = escalating
    big(world, "decided")
    task = task_of(world.service, world.clock)
    task.run_once(world.clock.advance(minutes=31))
    assert task.escalated == 1
    world.service.decisions.decide_function_call(
        world.project_id, "decided", approved=True, channel="api", actor_key_id=None
    )
    task.run_once(world.clock.advance(hours=3))
    assert task.escalated == 0
    assert [e["step"] for e in escalated(world, "decided")] == [1]
    with world.service.db.read() as conn:
        assert chain_rows.steps_done(conn, world.item_id("decided")) == 1
    assert email_targets(world, "decided") == [BOSS]


async def test_a_request_no_rule_escalates_keeps_the_project_chain(escalating: World) -> None:
    world = escalating
    big(world, "small", usd=5)
    big(world, "large")
    task = task_of(world.service, world.clock)
    task.run_once(world.clock.advance(minutes=10))
    assert task.escalated == 1
    [step] = escalated(world, "small")
    assert (step["step"], step["channels"], "policy" in step) == (1, [{"email": {"address": ONCALL}}], False)
    item = world.service.items.get_function_call(world.project_id, "small")
    assert (item.escalation_steps, item.next_escalation_at) == ((), None)
    assert [e.channel for e in events_of(world.service.db, item.id) if e.type == "escalated"] == ["chain"]
    assert escalated(world, "large") == []
    task.run_once(world.clock.advance(hours=3))
    assert [e["step"] for e in escalated(world, "small")] == [1]
    assert [e["step"] for e in escalated(world, "large")] == [1, 2]
    assert email_targets(world, "small") == [ONCALL]
    assert ONCALL not in email_targets(world, "large")


async def test_a_question_may_be_escalated_and_targets_may_be_the_project_defaults(
    escalating: World,
) -> None:
    world = escalating
    world.service.projects.set_default_channels("default", [{"email": {"address": LEAD}}])
    world.service.policies.add("default", "questions", 'kind == "human_contact"', "escalate:1m>email")
    body = {"run_id": "run-1", "call_id": "q-1", "spec": {"msg": "which account?"}}
    world.service.items.create_human_contact(world.project_id, body)
    task = task_of(world.service, world.clock)
    task.run_once(world.clock.advance(minutes=1))
    assert task.escalated == 1
    item = world.service.items.get_human_contact(world.project_id, "q-1")
    [step] = [e.data for e in events_of(world.service.db, item.id) if e.type == "escalated"]
    assert (step["policy"], step["channels"]) == ("questions", [{"email": {"address": LEAD}}])


async def test_a_shadow_rule_only_records_what_it_would_have_done(escalating: World) -> None:
    world = escalating
    world.service.policies.add(
        "default", "try", "args.usd == 7", "escalate:5m>email:try@example.com", shadow=True, position=1
    )
    big(world, "tried", usd=7)
    item = world.service.items.get_function_call(world.project_id, "tried")
    assert (item.escalation_steps, item.next_escalation_at) == ((), None)
    [matched] = world.events("tried", "policy")
    assert matched == {"policy": "try", "action": "escalate:5m>email:try@example.com", "shadow": True}
    task = task_of(world.service, world.clock)
    task.run_once(world.clock.advance(minutes=10))
    # the project chain's step, not the shadow rule's
    assert [e["channels"] for e in escalated(world, "tried")] == [[{"email": {"address": ONCALL}}]]


async def test_the_steps_are_shown_ahead_and_once_fired(escalating: World) -> None:
    world = escalating
    big(world, "shown")
    item = world.service.items.get_function_call(world.project_id, "shown")
    ahead = steps_of(world.service.db, item)
    assert [(s.number, s.after, s.fired, s.policy) for s in ahead] == [
        (1, "30m", False, "big-wires"),
        (2, "2h", False, "big-wires"),
    ]
    assert ahead[0].at == item.requested_at + timedelta(minutes=30)
    task_of(world.service, world.clock).run_once(world.clock.advance(minutes=45))
    shown = steps_of(world.service.db, item)
    assert [(s.number, s.fired, s.at) for s in shown] == [
        (1, True, world.clock.now),
        (2, False, item.requested_at + timedelta(hours=2)),
    ]


@pytest.mark.parametrize(
    ("then", "said"),
    [
        ("escalate", "escalate needs at least one step"),
        ("escalate:30m", "escalate step 1 ('30m'): write DELAY>TARGET"),
        ("escalate:soon>email", "escalate step 1 ('soon>email'): 'soon' is not a duration"),
        ("escalate:0s>email", "the delay must be from 1s to 366d"),
        ("escalate:400d>email", "the delay must be from 1s to 366d"),
        ("escalate:30m>pager", "escalate step 1 ('30m>pager'): unknown route target 'pager'"),
        ("escalate:30m>email:nobody", "'nobody' is not an email address"),
        ("escalate:1m>email;2m>", "escalate step 2 ('2m>'): a route needs at least one target"),
        ("escalate:1m>slack:C1,slack:C2", "at most one slack:ID"),
        (";".join(["escalate:1m>email"] + [f"{n}m>email" for n in range(2, 12)]), "at most 10"),
        ("escalte:1m>email", "or escalate:DELAY>TARGET"),
    ],
)
async def test_a_bad_escalate_action_is_refused_saying_what_is_wrong(
    escalating: World, then: str, said: str
) -> None:
    with pytest.raises(InvalidParameterError) as raised:
        escalating.service.policies.add("default", "bad", "true", then)
    assert said in raised.value.message
    assert "policy 'bad'" in raised.value.message
    with pytest.raises(InvalidParameterError) as raised:
        escalating.service.policies.apply("default", [{"name": "bad", "when": "true", "then": then}])
    assert said in raised.value.message
    assert [p.name for p in escalating.service.policies.list_policies("default")] == ["big-wires"]


async def test_steps_are_kept_in_order_of_their_delays(escalating: World) -> None:
    rule = escalating.service.policies.add(
        "default", "unordered", "true", "escalate: 2h > slack:C1 ; 90>email:a@example.com ;1h30m>email"
    )
    assert rule.action == "escalate:1m30s>email:a@example.com;1h30m>email;2h>slack:C1"


async def test_ten_steps_to_several_people_each_are_stored_whole(escalating: World) -> None:
    # Longer than the other actions' 200 characters: the column holds it on both backends.
    def steps(people: int) -> str:
        to = ",".join(f"email:lead-{n}@finance.example.com" for n in range(people))
        return "escalate:" + ";".join(f"{n + 1}h>{to}" for n in range(10))

    then = steps(2)
    assert len(then) > 600
    escalating.service.policies.add("default", "everyone", "true", then, position=1)
    [stored] = [p for p in escalating.service.policies.list_policies("default") if p.name == "everyone"]
    assert stored.action == then
    with pytest.raises(InvalidParameterError, match="longer than 1000"):
        escalating.service.policies.add("default", "too-long", "true", steps(4))


# ---------------------------------------------------------------------- to a real SMTP server


@pytest.mark.slow
async def test_the_steps_reach_smtp_once_each_with_two_replicas(
    database_url: str, clock: Clock, smtp: tuple[int, Mailbox]
) -> None:
    world = await make_mail_world(database_url, clock, smtp[0])
    other = Service(
        Database.from_url(database_url), InProcessNotifier(), clock=clock, settings=world.service.settings
    )
    try:
        world.service.policies.add(
            "default", "big-wires", "args.usd >= 1000", f"escalate:30m>email:{BOSS};2h>email:{CFO}"
        )
        for n in range(3):
            big(world, f"r-{n}")
        replicas = [task_of(world.service, clock), task_of(other, clock)]
        fired = run_at_once(replicas, clock.advance(minutes=31))
        fired += run_at_once(replicas, clock.advance(hours=2))
        assert sum(fired) == 6
        for n in range(3):
            assert [e["step"] for e in escalated(world, f"r-{n}")] == [1, 2]
        while await world.worker.run_once(clock.now):
            pass
        arrived = smtp[1].wait(6)
        assert sorted(envelope[0] for envelope, _ in arrived) == [BOSS] * 3 + [CFO] * 3
        message = arrived[0][1]
        assert message["Subject"].startswith("[Escalated]")
        text, _ = parts(message)
        assert "policy big-wires" in text
    finally:
        other.close()
        await world.worker.stop()
        world.service.close()

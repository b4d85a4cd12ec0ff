"""Escalation chains: a project's steps fire once each after their delay, on the service's
clock, through the email sink and the outbox to a real SMTP server (aiosmtpd); on one replica
of two; and never for a request already decided."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from foureyes.server.channels.email.sink import recipients_allowed
from foureyes.server.domain.errors import InvalidInputError
from foureyes.server.push import InProcessNotifier
from foureyes.server.service import Service
from foureyes.storage import Database
from foureyes.storage import escalations as chain_rows

from ..clock import Clock
from ..db import events_of
from ..email_channel.smtp_server import Mailbox, parts
from ..webhooks.receiver import running_receiver
from .conftest import World, make_mail_world, run_at_once, task_of

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

ONCALL = "oncall@example.com"
LEAD = "lead@example.com"
CHAIN = (("10m", 600, ONCALL), ("1h", 3600, LEAD))


@pytest.fixture
async def mail_world(database_url: str, clock: Clock, smtp: tuple[int, Mailbox]) -> AsyncIterator[World]:
    found = await make_mail_world(database_url, clock, smtp[0])
    for _, seconds, address in CHAIN:
        found.service.projects.add_escalation_step("default", seconds, [{"email": {"address": address}}])
    try:
        yield found
    finally:
        await found.worker.stop()
        found.service.close()


def steps_done(world: World, call_id: str) -> int:
    with world.service.db.read() as conn:
        return chain_rows.steps_done(conn, world.item_id(call_id))


async def test_each_step_fires_once_after_its_delay_and_reaches_smtp(
    mail_world: World, smtp: tuple[int, Mailbox]
) -> None:
    world, box = mail_world, smtp[1]
    world.call("wire-1")
    task = task_of(world.service, world.clock)
    start = world.clock.now

    task.run_once(world.clock.advance(minutes=9, seconds=59))
    assert task.escalated == 0
    # the task sleeps no longer than until the first step is due
    assert task._next == start + timedelta(minutes=10)

    task.run_once(world.clock.advance(seconds=1))
    assert task.escalated == 1
    task.run_once(world.clock.advance(minutes=5))
    assert task.escalated == 0  # the first step does not fire again
    assert await world.worker.run_once(world.clock.now) == 1
    [(envelope, message)] = box.wait(1)
    assert envelope == [ONCALL]
    assert message["Subject"].startswith("[Escalated]")
    text, html = parts(message)
    assert "escalation step 1 of 2" in text
    assert "escalation step 1 of 2" in html
    assert "after 10m" in text

    task.run_once(world.clock.advance(minutes=45))
    assert task.escalated == 1
    assert await world.worker.run_once(world.clock.now) == 1
    second = box.wait(2)[1]
    assert second[0] == [LEAD]
    assert "escalation step 2 of 2" in parts(second[1])[0]

    task.run_once(world.clock.advance(hours=5))
    assert task.escalated == 0
    escalated = world.events("wire-1", "escalated")
    assert [(e["step"], e["after_seconds"]) for e in escalated] == [(1, 600), (2, 3600)]
    assert escalated[0]["channels"] == [{"email": {"address": ONCALL}}]
    assert steps_done(world, "wire-1") == 2
    assert [d.target for d in world.emails()] == [ONCALL, LEAD]
    # every recipient of a step may decide through its link
    item = world.service.items.get_function_call(world.project_id, "wire-1")
    assert recipients_allowed(item, events_of(world.service.db, item.id)) == {ONCALL, LEAD}


async def test_a_request_that_waited_past_both_delays_gets_both_steps_in_order(mail_world: World) -> None:
    world = mail_world
    world.call("late")
    task = task_of(world.service, world.clock)
    task.run_once(world.clock.advance(hours=2))
    assert task.escalated == 2
    assert [e["step"] for e in world.events("late", "escalated")] == [1, 2]


async def test_two_replicas_fire_each_step_exactly_once(
    mail_world: World, smtp: tuple[int, Mailbox], database_url: str
) -> None:
    world, box = mail_world, smtp[1]
    other_db = Database.from_url(database_url)
    other = Service(other_db, InProcessNotifier(), clock=world.clock, settings=world.service.settings)
    try:
        for n in range(5):
            world.call(f"r-{n}")
        replicas = [task_of(world.service, world.clock), task_of(other, world.clock)]
        fired: list[int] = []
        for advance in ({"minutes": 11}, {"hours": 1}):
            now = world.clock.advance(**advance)
            fired += run_at_once(replicas, now)
            for task in replicas:  # and once more each: nothing left to fire
                task.run_once(now)
                assert task.escalated == 0
        assert sum(fired) == 10
        for n in range(5):
            assert [e["step"] for e in world.events(f"r-{n}", "escalated")] == [1, 2]
        while await world.worker.run_once(world.clock.now):
            pass
        arrived = box.wait(10)
        assert len(arrived) == 10
        assert sorted(envelope[0] for envelope, _ in arrived) == [LEAD] * 5 + [ONCALL] * 5
    finally:
        other.close()


async def test_a_decided_request_gets_no_further_steps(mail_world: World) -> None:
    world = mail_world
    world.call("decided")
    task = task_of(world.service, world.clock)
    task.run_once(world.clock.advance(minutes=11))
    assert task.escalated == 1
    world.service.decisions.decide_function_call(
        world.project_id, "decided", approved=True, channel="api", actor_key_id=None
    )
    task.run_once(world.clock.advance(hours=2))
    assert task.escalated == 0
    assert [e["step"] for e in world.events("decided", "escalated")] == [1]
    assert steps_done(world, "decided") == 1


async def test_steps_are_kept_in_order_and_checked(mail_world: World) -> None:
    projects = mail_world.service.projects
    project = projects.add_escalation_step("default", 60, [{"email": {"address": "first@example.com"}}])
    assert [s["after_seconds"] for s in project.escalation_steps] == [60, 600, 3600]
    with pytest.raises(InvalidInputError):
        projects.add_escalation_step("default", 0, [{"email": {"address": ONCALL}}])
    with pytest.raises(InvalidInputError):
        projects.add_escalation_step("default", 60, [])
    with pytest.raises(InvalidInputError):
        projects.add_escalation_step("default", 60, [{"email": {"address": "not an address"}}])
    assert projects.clear_escalation_steps("default").escalation_steps == ()


async def test_a_step_reaches_a_webhook_as_escalated(mail_world: World) -> None:
    world = mail_world
    with running_receiver() as receiver:
        world.service.webhooks.add_webhook("default", receiver.url, allow_private=True)
        world.call("hooked")
        task_of(world.service, world.clock).run_once(world.clock.advance(minutes=10))
        while await world.worker.run_once(world.clock.now):
            pass
        bodies = [json.loads(r.body) for r in receiver.snapshot()]
    assert [b["type"] for b in bodies] == ["function_call.created", "function_call.escalated"]
    assert bodies[1]["event"]["call_id"] == "hooked"
    assert bodies[1]["escalation"]["step"] == 1
    assert bodies[1]["escalation"]["channels"] == [{"email": {"address": ONCALL}}]

"""With SMTP configured: links stop at the request's deadline, a refused address fails the
delivery at once, and a delivery_failed event reaches a webhook."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from foureyes.server.channels.email.links import PURPOSE, LinkSigner

from ..clock import Clock
from ..email_channel.smtp_server import Mailbox
from ..integration.conftest import free_port
from ..webhooks.receiver import Receiver, running_receiver
from .conftest import World, links_in, make_mail_world

pytestmark = pytest.mark.anyio

REFUSED = "refused@example.com"


class Picky(Mailbox):
    async def handle_RCPT(  # noqa: N802 (aiosmtpd's name)
        self, _server: Any, session: Any, envelope: Any, address: str, _options: Any
    ) -> str:
        if address == REFUSED:
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[int, Picky]]:
    port = free_port()
    box = Picky()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield port, box
    controller.stop()


@pytest.fixture
async def mail_world(database_url: str, clock: Clock, smtp: tuple[int, Picky]) -> AsyncIterator[World]:
    found = await make_mail_world(database_url, clock, smtp[0])
    try:
        yield found
    finally:
        await found.worker.stop()
        found.service.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as r:
        yield r


def claim_of(world: World, link: str) -> Any:
    token = link.rsplit("/", 1)[1].split("?")[0]
    return LinkSigner(world.service.db.box.derive(PURPOSE)).verify(token, world.clock.now)


async def test_links_stop_at_the_requests_deadline(mail_world: World) -> None:
    soon = (mail_world.clock.now + timedelta(minutes=10)).isoformat()
    mail_world.service.items.create_function_call(
        mail_world.project_id,
        {
            "run_id": "r",
            "call_id": "soon",
            "spec": {"fn": "f", "kwargs": {}, "channel": {"email": {"address": "a@example.com"}}},
            "expires_at": soon,
        },
    )
    mail_world.call("later", channel={"email": {"address": "a@example.com"}})
    by_call = {d.call_id: d for d in mail_world.emails()}
    soon_claim = claim_of(mail_world, links_in(by_call["soon"])["approve"])
    later_claim = claim_of(mail_world, links_in(by_call["later"])["approve"])
    assert soon_claim.expires_at == int((mail_world.clock.now + timedelta(minutes=10)).timestamp())
    # without a deadline: the configured maximum (7 days)
    assert later_claim.expires_at == int((mail_world.clock.now + timedelta(days=7)).timestamp())


async def test_a_refused_address_fails_at_once_and_is_flagged(
    mail_world: World, smtp: tuple[int, Picky]
) -> None:
    channel = {"email": {"address": "boss@example.com", "additional_recipients": [{"address": REFUSED}]}}
    mail_world.call("pay", channel=channel)
    assert await mail_world.worker.run_once() == 2
    by_target = {d.target: d for d in mail_world.emails()}
    assert by_target["boss@example.com"].status == "succeeded"
    refused = by_target[REFUSED]
    assert refused.status == "failed"
    assert refused.attempts == 1  # a 5xx is final: not retried for days
    assert "550" in (refused.last_error or "")
    assert [e["target"] for e in mail_world.events("pay", "delivery_failed")] == [REFUSED]
    assert [rcpts for rcpts, _ in smtp[1].messages] == [["boss@example.com"]]


async def test_delivery_failed_reaches_a_webhook(world: World, receiver: Receiver) -> None:
    endpoint, _ = world.service.webhooks.add_webhook("default", receiver.url, allow_private=True)
    assert "function_call.delivery_failed" in endpoint.events
    world.call("no-smtp", channel={"email": {"address": "boss@example.com"}})
    while await world.worker.run_once():
        pass
    bodies = [json.loads(r.body) for r in receiver.snapshot()]
    assert [b["type"] for b in bodies] == ["function_call.created", "function_call.delivery_failed"]
    failed = bodies[1]
    assert failed["event"]["call_id"] == "no-smtp"
    assert failed["delivery"]["sink"] == "email"
    assert failed["delivery"]["target"] == "boss@example.com"
    assert "email is not configured" in failed["delivery"]["error"]


async def test_a_webhook_subscribed_to_delivery_failed_only(world: World, receiver: Receiver) -> None:
    world.service.webhooks.add_webhook(
        "default", receiver.url, ["human_contact.delivery_failed"], allow_private=True
    )
    world.service.items.create_human_contact(
        world.project_id,
        {
            "run_id": "r",
            "call_id": "q",
            "spec": {"msg": "ok?", "channel": {"email": {"address": "x@example.com"}}},
        },
    )
    while await world.worker.run_once():
        pass
    assert [json.loads(r.body)["type"] for r in receiver.snapshot()] == ["human_contact.delivery_failed"]

"""The outbox and the delivery worker, against a real HTTP receiver, on a controllable clock."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import pytest

from foureyes.server.channels.webhook import WEBHOOK_EVENTS
from foureyes.server.outbox import retry_delay
from foureyes.server.settings import Settings
from foureyes.server.ssrf import UnsafeURLError
from foureyes.server.wire import render_item
from foureyes.webhooks import verify

from ..db import attempts_of, claim, delivery_of
from .conftest import World, webhook_worker

pytestmark = pytest.mark.anyio


def independent_signatures(secret: str, headers: dict[str, str], body: bytes) -> str:
    key = base64.b64decode(secret.split("_", 1)[1])
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


async def test_created_then_completed_signed_and_rendered_as_the_api_does(world: World) -> None:
    endpoint, secret = world.service.webhooks.add_webhook("default", world.receiver.url, allow_private=True)
    world.function_call("call-1", state={"thread": "t-42"})
    world.clock.advance(seconds=1)
    world.approve("call-1")

    assert await world.worker.run_once() == 1  # completed waits for created
    assert await world.worker.run_once() == 1
    assert await world.worker.run_once() == 0
    got = world.receiver.snapshot()
    assert [json.loads(r.body)["type"] for r in got] == ["function_call.created", "function_call.completed"]

    item = world.service.items.get_function_call(world.project_id, "call-1")
    for received in got:
        headers = received.headers
        assert headers["content-type"] == "application/json"
        assert headers["webhook-timestamp"] == str(int(world.clock.now.timestamp()))
        assert headers["webhook-signature"] == independent_signatures(secret, headers, received.body)
        envelope = verify(received.body, headers, secret, now=world.clock.now.timestamp())
        assert envelope["is_test"] is False
        assert envelope["event"]["spec"]["state"] == {"thread": "t-42"}
    completed = json.loads(got[1].body)["event"]
    assert completed == render_item(item)
    assert completed["status"]["approved"] is True
    created = json.loads(got[0].body)["event"]
    assert created["status"]["approved"] is None
    assert created["status"]["responded_at"] is None
    deliveries = world.service.webhooks.list_deliveries(endpoint_id=endpoint.id)
    assert {d.status for d in deliveries} == {"succeeded"}
    assert all(len(attempts_of(world.service.db, d.id)) == 1 for d in deliveries)


async def test_human_contact_events_and_subscriptions(world: World) -> None:
    world.service.webhooks.add_webhook(
        "default", world.receiver.url, ["human_contact.completed"], allow_private=True
    )
    world.function_call("call-1")
    body = {"run_id": "r", "call_id": "hc-1", "spec": {"msg": "Which tone?", "state": {"s": 1}}}
    world.service.items.create_human_contact(world.project_id, body)
    world.service.decisions.answer_human_contact(
        world.project_id, "hc-1", response="formal", channel="t", actor_key_id=None
    )
    while await world.worker.run_once():
        pass
    (only,) = world.receiver.snapshot()
    envelope = json.loads(only.body)
    assert envelope["type"] == "human_contact.completed"
    assert envelope["event"]["status"]["response"] == "formal"
    assert envelope["event"]["spec"]["state"] == {"s": 1}


async def test_retry_schedule_follows_the_clock_and_keeps_the_webhook_id(world: World) -> None:
    endpoint, _ = world.service.webhooks.add_webhook("default", world.receiver.url, allow_private=True)
    world.receiver.status = 503
    world.function_call("call-1")
    start = world.clock.now
    expected_delays = [5, 10, 20, 40]
    at = start
    for delay in expected_delays:
        assert await world.worker.run_once(at) == 1
        (delivery,) = world.service.webhooks.list_deliveries(endpoint_id=endpoint.id)
        assert delivery.status == "pending"
        assert delivery.next_attempt_at == at + timedelta(seconds=delay)
        # not a moment early
        assert await world.worker.run_once(delivery.next_attempt_at - timedelta(milliseconds=1)) == 0
        at = delivery.next_attempt_at
    world.receiver.status = 200
    assert await world.worker.run_once(at) == 1
    (delivery,) = world.service.webhooks.list_deliveries(endpoint_id=endpoint.id)
    assert delivery.status == "succeeded"
    attempts = attempts_of(world.service.db, delivery.id)
    assert [a.status_code for a in attempts] == [503, 503, 503, 503, 200]
    assert all(a.latency_ms >= 0 for a in attempts)
    assert attempts[0].error is not None
    assert attempts[0].error.startswith("HTTP 503")
    ids = {r.headers["webhook-id"] for r in world.receiver.snapshot()}
    assert ids == {delivery.message_id}


def test_backoff_grows_with_jitter_and_is_capped() -> None:
    assert retry_delay(1, lambda: 0.5) == timedelta(seconds=5)
    assert retry_delay(3, lambda: 0.5) == timedelta(seconds=20)
    assert retry_delay(1, lambda: 0.0) == timedelta(seconds=4)
    assert retry_delay(1, lambda: 0.999) < timedelta(seconds=6)
    assert retry_delay(40, lambda: 0.5) == timedelta(hours=6)


async def test_gives_up_after_three_days(world: World) -> None:
    endpoint, _ = world.service.webhooks.add_webhook("default", world.receiver.url, allow_private=True)
    world.receiver.status = 500
    world.function_call("call-1")
    start = world.clock.now
    attempts = 0
    while True:
        (delivery,) = world.service.webhooks.list_deliveries(endpoint_id=endpoint.id)
        if delivery.status != "pending":
            break
        assert await world.worker.run_once(delivery.next_attempt_at) == 1
        attempts += 1
    assert delivery.status == "failed"
    assert delivery.completed_at == start + timedelta(days=3)
    assert 15 <= attempts <= 30
    assert [d.id for d in world.service.webhooks.list_deliveries(failed_only=True)] == [delivery.id]

    world.receiver.status = 200
    world.service.webhooks.redeliver(delivery.id)
    assert await world.worker.run_once() == 1
    again = delivery_of(world.service.db, delivery.id)
    assert again is not None
    assert again.status == "succeeded"
    assert world.receiver.snapshot()[-1].headers["webhook-id"] == delivery.message_id


async def test_order_per_item_but_not_across_items(world: World) -> None:
    world.service.webhooks.add_webhook("default", world.receiver.url, allow_private=True)
    world.receiver.status = 500
    world.function_call("call-1")
    world.approve("call-1")
    assert await world.worker.run_once() == 1  # only call-1's created
    world.receiver.status = 200
    world.function_call("call-2")
    assert await world.worker.run_once() == 1  # call-2's created; call-1 waits for its retry
    assert await world.worker.run_once(world.clock.advance(seconds=5)) == 1
    assert await world.worker.run_once() == 1
    order = [
        (json.loads(r.body)["event"]["call_id"], json.loads(r.body)["type"])
        for r in world.receiver.snapshot()
    ]
    assert order == [
        ("call-1", "function_call.created"),
        ("call-2", "function_call.created"),
        ("call-1", "function_call.created"),
        ("call-1", "function_call.completed"),
    ]


async def test_a_lease_keeps_other_workers_off(world: World) -> None:
    world.service.webhooks.add_webhook("default", world.receiver.url, allow_private=True)
    world.function_call("call-1")
    db, now = world.service.db, world.clock.now
    lease = now + timedelta(seconds=30)
    assert len(claim(db, now=now, lease_until=lease, limit=10)) == 1
    assert claim(db, now=now, lease_until=lease, limit=10) == []
    # a worker that died holding the lease: the row is free again once it runs out
    assert len(claim(db, now=lease, lease_until=lease + timedelta(seconds=30), limit=10)) == 1


async def test_private_addresses_are_refused_unless_allowed(world: World) -> None:
    with pytest.raises(UnsafeURLError, match="loopback"):
        world.service.webhooks.add_webhook("default", world.receiver.url)
    with pytest.raises(UnsafeURLError, match="link-local"):
        world.service.webhooks.add_webhook("default", "http://169.254.169.254/latest/meta-data")
    with pytest.raises(ValueError, match="http or https"):
        world.service.webhooks.add_webhook("default", "file:///etc/passwd", allow_private=True)
    with pytest.raises(ValueError, match="unknown event types"):
        world.service.webhooks.add_webhook("default", world.receiver.url, ["nope"], allow_private=True)

    # added while allowed, then the server runs with the setting off: every attempt is refused
    endpoint, _ = world.service.webhooks.add_webhook("default", world.receiver.url, allow_private=True)
    strict = webhook_worker(world.service.db, Settings(database_url="sqlite:///unused.db"), clock=world.clock)
    try:
        world.function_call("call-1")
        assert await strict.run_once() == 1
    finally:
        await strict.stop()
    assert world.receiver.snapshot() == []
    (delivery,) = world.service.webhooks.list_deliveries(endpoint_id=endpoint.id)
    (attempt,) = attempts_of(world.service.db, delivery.id)
    assert attempt.status_code is None
    assert attempt.error is not None
    assert "refused" in attempt.error
    assert "127.0.0.1 is a loopback" in attempt.error


async def test_rotation_signs_with_both_secrets_during_the_overlap(world: World) -> None:
    endpoint, old = world.service.webhooks.add_webhook("default", world.receiver.url, allow_private=True)
    new, until = world.service.webhooks.rotate_webhook_secret(endpoint.id, overlap_seconds=60)
    assert until == world.clock.now + timedelta(seconds=60)
    world.function_call("call-1")
    assert await world.worker.run_once() == 1
    first = world.receiver.snapshot()[-1]
    assert len(first.headers["webhook-signature"].split()) == 2
    for secret in (old, new):
        verify(first.body, first.headers, secret, now=world.clock.now.timestamp())

    world.clock.advance(seconds=61)
    world.approve("call-1")
    assert await world.worker.run_once() == 1
    later = world.receiver.snapshot()[-1]
    assert len(later.headers["webhook-signature"].split()) == 1
    verify(later.body, later.headers, new, now=world.clock.now.timestamp())
    with pytest.raises(ValueError, match="no webhook signature matches"):
        verify(later.body, later.headers, old, now=world.clock.now.timestamp())


async def test_disabled_endpoints_hold_and_test_events(world: World) -> None:
    endpoint, secret = world.service.webhooks.add_webhook(
        "default", world.receiver.url, ["human_contact.created"], allow_private=True
    )
    world.service.webhooks.set_webhook_enabled(endpoint.id, False)
    world.service.items.create_human_contact(
        world.project_id, {"run_id": "r", "call_id": "hc-1", "spec": {"msg": "?"}}
    )
    assert world.service.webhooks.list_deliveries() == []  # not queued for a disabled endpoint

    test = world.service.webhooks.send_test_webhook(endpoint.id)
    assert await world.worker.run_once() == 0  # held while disabled
    world.service.webhooks.set_webhook_enabled(endpoint.id, True)
    assert await world.worker.run_once() == 1
    (received,) = world.receiver.snapshot()
    envelope = verify(received.body, received.headers, secret, now=world.clock.now.timestamp())
    assert envelope["is_test"] is True
    assert envelope["type"] == "human_contact.created"
    assert received.headers["webhook-id"] == test.message_id
    assert set(WEBHOOK_EVENTS) == {
        "function_call.created",
        "function_call.completed",
        "human_contact.created",
        "human_contact.completed",
        "function_call.delivery_failed",
        "human_contact.delivery_failed",
        "function_call.escalated",
        "human_contact.escalated",
    }


async def test_the_example_receiver_verifies_and_resumes(
    world: World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import httpx
    from examples import webhook_receiver

    endpoint, secret = world.service.webhooks.add_webhook(
        "default", "http://receiver.test/webhooks", allow_private=True
    )
    monkeypatch.setenv("WEBHOOK_SECRET", secret)
    worker = webhook_worker(
        world.service.db,
        Settings(database_url="sqlite:///unused.db", webhook_allow_private=True),
        clock=lambda: datetime.now(UTC),
        transport=httpx.ASGITransport(app=webhook_receiver.app),
    )
    world.clock.now = datetime.now(UTC)
    try:
        world.function_call("call-1", state={"task": "t-1"})
        world.approve("call-1")
        while await worker.run_once():
            pass
    finally:
        await worker.stop()
    assert "task t-1: approved, carrying on" in capsys.readouterr().out
    assert {d.status for d in world.service.webhooks.list_deliveries(endpoint_id=endpoint.id)} == {
        "succeeded"
    }

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=webhook_receiver.app)) as client:
        forged = await client.post(
            "http://receiver.test/webhooks",
            content=b"{}",
            headers={"webhook-id": "x", "webhook-timestamp": "1", "webhook-signature": "v1,AAAA"},
        )
    assert forged.status_code == 401

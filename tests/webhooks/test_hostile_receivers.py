"""Receivers that trickle or flood their answers cost a bounded attempt, and only their own."""

from __future__ import annotations

import tracemalloc
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest

from foureyes.server.channels.webhook.sink import read_capped
from foureyes.server.outbox import OutboxWorker
from foureyes.server.settings import Settings

from ..db import attempts_of, delivery_of
from .conftest import World, webhook_worker
from .hostile import FloodingReceiver, TricklingReceiver, running, wait_until

pytestmark = pytest.mark.anyio

KIB = 1024
MIB = 1024 * KIB


def worker_for(world: World, **settings: object) -> OutboxWorker:
    return webhook_worker(
        world.service.db,
        Settings(database_url="sqlite:///unused.db", webhook_allow_private=True, **settings),  # type: ignore[arg-type]
        clock=world.clock,
        rng=lambda: 0.5,
    )


def human_contact(world: World, call_id: str) -> None:
    world.service.items.create_human_contact(
        world.project_id, {"run_id": "r", "call_id": call_id, "spec": {"msg": "?"}}
    )


async def test_a_trickling_receiver_is_cut_at_the_deadline_while_another_endpoint_is_served(
    world: World,
) -> None:
    with running(TricklingReceiver(interval=0.5)) as slow:
        slow_endpoint, _ = world.service.webhooks.add_webhook(
            "default", slow.url, ["human_contact.created"], allow_private=True
        )
        # one slot for the slow endpoint: its second delivery waits for the first attempt
        worker = worker_for(
            world,
            webhook_timeout_seconds=4,
            webhook_endpoint_concurrency=1,
            webhook_poll_interval_seconds=0.05,
        )
        human_contact(world, "hc-1")
        human_contact(world, "hc-2")
        worker.start()
        try:
            assert await wait_until(lambda: slow.count("request") == 1)

            fast_endpoint, _ = world.service.webhooks.add_webhook(
                "default", world.receiver.url, ["function_call.created"], allow_private=True
            )
            world.function_call("call-1")
            worker.wake()

            def fast_done() -> bool:
                return [
                    d.status for d in world.service.webhooks.list_deliveries(endpoint_id=fast_endpoint.id)
                ] == ["succeeded"]

            assert await wait_until(fast_done)
            # Meanwhile the slow receiver is still answering its first request, byte by byte:
            # nothing has cut it, no attempt of it is recorded, its second delivery waits.
            assert [kind for kind, _ in slow.snapshot()] == ["request"]
            slow_deliveries = sorted(
                world.service.webhooks.list_deliveries(endpoint_id=slow_endpoint.id), key=lambda d: d.id
            )
            assert [d.attempts for d in slow_deliveries] == [0, 0]
            assert len(world.receiver.snapshot()) == 1

            first = slow_deliveries[0]
            assert await wait_until(lambda: bool(attempts_of(world.service.db, first.id)))
            (attempt,) = attempts_of(world.service.db, first.id)
            assert attempt.status_code is None
            assert attempt.error == "timed out after 4 s"
            # cut by the deadline, long before the answer's last byte
            assert await wait_until(lambda: slow.count("cut") == 1)
            (cut_at,) = [n for kind, n in slow.snapshot() if kind == "cut"]
            assert 0 < cut_at < len(slow.answer_bytes) // 2
            # the slot it held goes to the endpoint's next delivery
            assert await wait_until(lambda: slow.count("request") == 2)
            again = delivery_of(world.service.db, first.id)
            assert again is not None
            assert again.status == "pending"
            # retried on the usual schedule, not dropped
            assert again.next_attempt_at == world.clock.now + timedelta(seconds=5)
        finally:
            await worker.stop()


@pytest.mark.parametrize("status", [200, 503])
async def test_a_flooding_receiver_costs_at_most_the_read_cap(world: World, status: int) -> None:
    cap = 64 * KIB
    worker = worker_for(world, webhook_max_response_bytes=cap)
    with running(FloodingReceiver(size=200 * MIB, status=status)) as flood:
        endpoint, _ = world.service.webhooks.add_webhook("default", flood.url, allow_private=True)
        # warm up: the first delivery compiles and caches the statements the measured one reuses
        world.function_call("warm-up")
        try:
            assert await worker.run_once() == 1
            world.function_call("flood")
            tracemalloc.start()
            try:
                assert await worker.run_once() == 1
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
        finally:
            await worker.stop()
        assert await wait_until(lambda: flood.count("sent") == 2)
    # What the worker held at its peak is bounded by the cap (plus one network read and the
    # attempt's own bookkeeping), not by the 200 MiB answer. Reading it all cost 4x its size.
    assert peak < 32 * cap
    # It stopped reading at the cap: what was sent at all is what the sockets' buffers took.
    assert flood.body_bytes_sent() < 32 * MIB
    deliveries = world.service.webhooks.list_deliveries(endpoint_id=endpoint.id)
    if status == 200:
        assert {d.status for d in deliveries} == {"succeeded"}
    else:
        (attempt, *_) = attempts_of(world.service.db, deliveries[0].id)
        assert attempt.error == "HTTP 503: " + "A" * 200


async def test_read_capped_reads_no_more_than_the_cap() -> None:
    served: list[int] = []

    async def body() -> AsyncIterator[bytes]:
        for _ in range(1000):
            served.append(4096)
            yield b"B" * 4096

    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=body()))
    async with (
        httpx.AsyncClient(transport=transport) as client,
        client.stream("POST", "http://receiver.test/") as response,
    ):
        got = await read_capped(response, 10_000)
    assert got == b"B" * 10_000
    # three chunks of 4 KiB were pulled for 10,000 bytes; the other 997 never were
    assert len(served) == 3

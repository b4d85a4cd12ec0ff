"""The push registry on its own: who is live, what a key may hold, and how a revocation ends a
subscriber (end-to-end through the app in test_revocations*.py and test_websocket_limits.py)."""

from __future__ import annotations

import asyncio

import pytest

from foureyes.server.push import (
    EVENT_STREAM,
    LONG_POLL,
    WEBSOCKET,
    InProcessNotifier,
    KeyGrant,
    Limits,
    Registry,
    SessionGrant,
    Subscriber,
)

LIMITS = Limits(per_connection=3, per_key=4, connections=2)


def websocket(key_id: int, watches: int = 0) -> Subscriber:
    return Subscriber(WEBSOCKET, KeyGrant(key_id), watches=lambda: watches)


@pytest.mark.anyio
async def test_a_key_holds_at_most_its_connections_and_a_closed_one_frees_its_place() -> None:
    registry = Registry(LIMITS)
    first, second, third = websocket(1), websocket(1), websocket(1)
    assert registry.add(first) is None
    assert registry.add(second) is None
    refusal = registry.add(third)
    assert refusal is not None
    assert (refusal.limit, refusal.maximum) == ("connections_per_key", 2)
    assert registry.add(websocket(2)) is None  # another key's connections are its own
    assert (registry.accepted, registry.count(WEBSOCKET)) == (3, 3)

    registry.discard(first)
    assert registry.add(third) is None
    assert registry.count(WEBSOCKET) == 3


@pytest.mark.anyio
async def test_subscriptions_count_per_connection_and_over_all_of_a_keys_connections() -> None:
    registry = Registry(LIMITS)
    busy, idle = websocket(1, watches=3), websocket(1, watches=0)
    registry.add(busy)
    registry.add(idle)
    over_connection = registry.check_subscribe(busy, 1)
    assert over_connection is not None
    assert over_connection.limit == "subscriptions_per_connection"
    assert registry.check_subscribe(idle, 1) is None
    over_key = registry.check_subscribe(idle, 2)
    assert over_key is not None
    assert over_key.limit == "subscriptions_per_key"
    assert registry.watching(1) == 3
    assert registry.watch_count() == 3


@pytest.mark.anyio
async def test_end_revokes_each_subscriber_once_and_a_websocket_keeps_its_threads_until_closed() -> None:
    registry = Registry(LIMITS)
    closed: list[str] = []

    async def close() -> None:
        closed.append("closed")

    session = Subscriber(WEBSOCKET, KeyGrant(1), on_revoked=close)
    stream = Subscriber(EVENT_STREAM, SessionGrant("hash", 1))
    registry.add(session)
    registry.add(stream)
    assert await registry.end([session, stream]) == 2
    assert await registry.end([session, stream]) == 0  # already ended: not revoked twice
    assert closed == ["closed"]
    assert session.revoked.is_set()
    assert stream.revoked.is_set()
    assert registry.open_count == 0
    # A watcher still finishing its read when the revocation came gets its share of threads.
    async with registry.reads(1):
        pass
    registry.discard(session)
    with pytest.raises(KeyError):
        registry.reads(1)


@pytest.mark.anyio
async def test_a_wait_ends_as_soon_as_its_subscriber_is_revoked() -> None:
    registry = Registry(LIMITS)
    notifier = InProcessNotifier()
    topic = (1, "function_call", "c")
    with registry.holding(Subscriber(LONG_POLL, KeyGrant(1))) as subscriber:
        assert registry.count(LONG_POLL) == 1
        async with notifier.subscribe(topic) as subscription:
            notifier.publish(topic)
            assert await subscriber.wait(subscription, 5) is True
            assert await subscriber.wait(subscription, 0.01) is False
            waiting = asyncio.ensure_future(subscriber.wait(subscription, 30))
            await asyncio.sleep(0)
            await registry.end([subscriber])
            assert await asyncio.wait_for(waiting, 5) is None
            assert await subscriber.wait(subscription, 30) is None  # and at once from then on
    assert registry.open_count == 0
    assert notifier.subscriber_count() == 0


def test_a_websocket_cannot_bypass_its_limit() -> None:
    with pytest.raises(ValueError, match="refused"), Registry(LIMITS).holding(websocket(1)):
        pass

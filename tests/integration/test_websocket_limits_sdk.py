"""The SDK against a server with small WebSocket limits: it stays within what the ``ready`` frame
announces, and whatever the server refuses (a subscribe over the key's allowance, a connection
over the key's count) ends as a logged warning and a wait that goes on by long-poll, never as a
lost decision."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

import foureyes
from foureyes.server.push import WEBSOCKET

from .test_websocket_wait import HANG_GUARD, ThreadedServer, _watched, spec

pytestmark = pytest.mark.slow


@pytest.fixture
def limited(tmp_path: Path) -> Iterator[ThreadedServer]:
    server = ThreadedServer(
        tmp_path,
        ws_max_subscriptions_per_connection=3,
        ws_max_subscriptions_per_key=4,
        ws_max_connections_per_key=2,
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


def subscribers(server: ThreadedServer) -> int:
    """Every wait the server holds: WebSocket watches and long-polls alike (less the revocation
    check's standing subscription, held for the server's lifetime)."""
    return server.service.notifier.subscriber_count() - 1  # type: ignore[attr-defined, no-any-return]


def connections(server: ThreadedServer) -> int:
    """The WebSocket connections the server holds open."""
    return server.subscribers.count(WEBSOCKET)


async def decide_all_and_collect(
    server: ThreadedServer, waits: list[asyncio.Task[foureyes.FunctionCall]]
) -> None:
    for item in await asyncio.to_thread(server.pending, len(waits)):
        await asyncio.to_thread(server.decide, item)
    done = await asyncio.wait_for(asyncio.gather(*waits), HANG_GUARD)
    assert all(call.as_completed().approved for call in done)


@pytest.mark.anyio
async def test_waits_beyond_the_connection_limit_go_by_long_poll(
    limited: ThreadedServer, caplog: pytest.LogCaptureFixture
) -> None:
    ahl = foureyes.AsyncHumanLayer(api_key=limited.key(), api_base_url=limited.api_base)
    caplog.set_level(logging.INFO, logger="foureyes")
    waits = [asyncio.create_task(ahl.fetch_approval(spec(n))) for n in range(5)]
    await asyncio.to_thread(limited.pending, 5)
    await asyncio.to_thread(limited.wait_for, lambda: subscribers(limited) == 5, "all 5 wait")
    assert _watched(limited) == 3  # the channel asked for no more than the server allows
    await decide_all_and_collect(limited, waits)
    assert "at most 3 items at once" in caplog.text
    assert "refused" not in caplog.text  # the server never had to refuse a frame
    await ahl.aclose()


@pytest.mark.anyio
async def test_a_subscribe_over_the_key_limit_is_a_warning_and_a_long_poll(
    limited: ThreadedServer, caplog: pytest.LogCaptureFixture
) -> None:
    key = limited.key()
    first = foureyes.AsyncHumanLayer(api_key=key, api_base_url=limited.api_base, run_id="first")
    second = foureyes.AsyncHumanLayer(api_key=key, api_base_url=limited.api_base, run_id="second")
    caplog.set_level(logging.INFO, logger="foureyes")
    waits = [asyncio.create_task(first.fetch_approval(spec(n))) for n in range(3)]
    await asyncio.to_thread(
        limited.wait_for, lambda: _watched(limited) == 3, "the first client's 3 are watched"
    )
    waits += [asyncio.create_task(second.fetch_approval(spec(n))) for n in range(3, 5)]
    # The key may watch 4: what the second client asks beyond that is refused and goes by
    # long-poll (its two waits may reach the server in one frame or in two).
    await asyncio.to_thread(limited.wait_for, lambda: subscribers(limited) == 5, "all 5 wait")
    assert _watched(limited) in (3, 4)
    assert "the server refused the subscription: an API key may watch at most 4" in caplog.text
    await decide_all_and_collect(limited, waits)
    await first.aclose()
    await second.aclose()


@pytest.mark.anyio
async def test_a_connection_over_the_key_limit_is_refused_with_4429_and_waits_go_by_long_poll(
    limited: ThreadedServer, caplog: pytest.LogCaptureFixture
) -> None:
    key = limited.key()
    clients = [foureyes.AsyncHumanLayer(api_key=key, api_base_url=limited.api_base) for _ in range(3)]
    caplog.set_level(logging.INFO, logger="foureyes")
    waits = [asyncio.create_task(clients[n].fetch_approval(spec(n))) for n in range(2)]
    await asyncio.to_thread(limited.wait_for, lambda: connections(limited) == 2, "two connections")
    waits.append(asyncio.create_task(clients[2].fetch_approval(spec(2))))
    await asyncio.to_thread(limited.wait_for, lambda: subscribers(limited) == 3, "all 3 wait")
    assert connections(limited) == 2
    assert "4429" in caplog.text
    assert "too_many_connections: this API key already holds 2 WebSocket connections" in caplog.text
    await decide_all_and_collect(limited, waits)
    for client in clients:
        await client.aclose()

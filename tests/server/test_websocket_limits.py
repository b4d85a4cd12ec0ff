"""/humanlayer/v1/ws: what one connection and one key may hold, and the error frames and close
code that say so (small limits here, set through the settings)."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient, WebSocketTestSession
from starlette.websockets import WebSocketDisconnect

from foureyes.server.service import Service
from foureyes.server.settings import Settings

from .test_websocket import connect, decide, items_until_subscribed, ready

PER_CONNECTION = 3
PER_KEY = 4
CONNECTIONS = 2


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        ws_max_subscriptions_per_connection=PER_CONNECTION,
        ws_max_subscriptions_per_key=PER_KEY,
        ws_max_connections_per_key=CONNECTIONS,
    )


def subscribe(ws: WebSocketTestSession, frame_id: Any, **lists: list[str]) -> dict[str, Any] | None:
    """Subscribe; the error frame when refused, else None (after the acknowledgement)."""
    ws.send_json({"type": "subscribe", "id": frame_id, **lists})
    frame = ws.receive_json()
    if frame["type"] == "error":
        return dict(frame)
    if frame["type"] != "subscribed":
        items_until_subscribed(ws, frame_id)
    return None


def still_open(ws: WebSocketTestSession) -> None:
    ws.send_json({"type": "ping"})
    assert ws.receive_json() == {"type": "pong"}


def test_ready_announces_the_limits(client: TestClient, agent: Any) -> None:
    with connect(client, agent.key) as ws:
        assert ready(ws)["limits"] == {
            "subscriptions_per_connection": PER_CONNECTION,
            "subscriptions_per_key": PER_KEY,
            "connections_per_key": CONNECTIONS,
            "ids_per_frame": 20_000,
        }


def test_a_subscribe_over_the_connection_limit_is_refused_whole(client: TestClient, agent: Any) -> None:
    with connect(client, agent.key) as ws:
        ready(ws)
        assert subscribe(ws, 1, runs=["r1", "r2"]) is None
        error = subscribe(ws, 2, runs=["r3", "r4"])
        assert error == {
            "type": "error",
            "code": "too_many_subscriptions",
            "limit": "subscriptions_per_connection",
            "max": PER_CONNECTION,
            "id": 2,
            "message": "a connection may watch at most 3 items and runs; it watches 2 and this "
            "frame adds 2: nothing of it was subscribed",
        }
        still_open(ws)
        # Nothing of the refused frame was kept: one more still fits, and ids already watched
        # are not counted twice.
        assert subscribe(ws, 3, runs=["r1", "r2", "r3"]) is None
        assert subscribe(ws, 4, human_contacts=["hc-x"])["limit"] == "subscriptions_per_connection"  # type: ignore[index]
        # Unsubscribing frees the room.
        ws.send_json({"type": "unsubscribe", "runs": ["r1"]})
        assert subscribe(ws, 5, runs=["r4"]) is None


def test_a_completed_item_frees_its_subscription(
    client: TestClient, agent: Any, service: Service, make_function_call: Any
) -> None:
    for n in range(3):
        agent.post("/function_calls", make_function_call(f"call-{n}"))
    with connect(client, agent.key) as ws:
        ready(ws)
        assert subscribe(ws, 1, function_calls=["call-0", "call-1", "call-2"]) is None
        assert subscribe(ws, 2, runs=["r1"]) is not None
        decide(service, agent, "call-0")
        assert ws.receive_json()["item"]["call_id"] == "call-0"
        assert subscribe(ws, 3, runs=["r1"]) is None
        # An unknown item is answered with not_found and holds no subscription either.
        ws.send_json({"type": "unsubscribe", "runs": ["r1"]})
        ws.send_json({"type": "subscribe", "id": 4, "function_calls": ["nope"]})
        assert ws.receive_json()["code"] == "not_found"
        assert ws.receive_json() == {"type": "subscribed", "id": 4}
        assert subscribe(ws, 5, runs=["r1"]) is None


def test_the_key_limit_counts_every_connection_of_the_key(
    client: TestClient, agent: Any, outsider: Any
) -> None:
    with connect(client, agent.key) as first:
        ready(first)
        assert subscribe(first, 1, runs=["a1", "a2", "a3"]) is None
        with connect(client, agent.key) as second:
            ready(second)
            error = subscribe(second, "x", runs=["b1", "b2"])
            assert error is not None
            assert (error["code"], error["limit"], error["max"], error["id"]) == (
                "too_many_subscriptions",
                "subscriptions_per_key",
                PER_KEY,
                "x",
            )
            assert "watches 3 and this frame adds 2" in error["message"]
            still_open(second)
            assert subscribe(second, 2, runs=["b1"]) is None
            assert subscribe(second, 3, runs=["b2"]) is not None
            # Another key is not affected.
            with connect(client, outsider.key) as third:
                ready(third)
                assert subscribe(third, 1, runs=["c1", "c2", "c3"]) is None
        # The second connection's subscription left with it.
        with connect(client, agent.key) as again:
            ready(again)
            assert subscribe(again, 1, runs=["b1"]) is None


def test_a_connection_over_the_key_limit_gets_an_error_frame_and_4429(
    client: TestClient, agent: Any, outsider: Any
) -> None:
    with connect(client, agent.key) as first, connect(client, agent.key) as second:
        ready(first)
        ready(second)
        with connect(client, agent.key) as third:
            assert third.receive_json() == {
                "type": "error",
                "code": "too_many_connections",
                "limit": "connections_per_key",
                "max": CONNECTIONS,
                "message": "this API key already holds 2 WebSocket connections to this server, the "
                "most it may; close one first",
            }
            with pytest.raises(WebSocketDisconnect) as closed:
                third.receive_json()
            assert closed.value.code == 4429
        with connect(client, outsider.key) as other_key:
            ready(other_key)
        still_open(first)
    # Closed connections no longer count.
    with connect(client, agent.key) as first, connect(client, agent.key) as second:
        ready(first)
        ready(second)


LIMITS = ["ws_max_subscriptions_per_connection", "ws_max_subscriptions_per_key", "ws_max_connections_per_key"]


@pytest.mark.parametrize("name", LIMITS)
def test_limits_come_from_the_environment_and_must_be_positive(name: str) -> None:
    env = f"FOUREYES_{name.upper()}"
    assert getattr(Settings.from_env({env: "7"}), name) == 7
    with pytest.raises(ValueError, match=name):
        Settings.from_env({env: "0"})


def test_the_sdk_defaults_are_the_servers() -> None:
    """A client talking to a server that announces nothing stays within the server's defaults."""
    from foureyes import _push
    from foureyes.server.api import ws

    assert _push.MAX_IDS_PER_FRAME == ws.MAX_IDS_PER_FRAME
    assert Settings().ws_max_subscriptions_per_connection == _push.MAX_SUBSCRIPTIONS_PER_CONNECTION

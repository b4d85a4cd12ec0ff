"""/humanlayer/v1/ws: authentication, subscriptions, current state first, error frames, isolation,
heartbeats and close codes, in process with Starlette's TestClient."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient, WebSocketTestSession
from starlette.websockets import WebSocketDisconnect

from foureyes.server.app import create_app
from foureyes.server.push import WEBSOCKET
from foureyes.server.service import Service
from foureyes.server.settings import Settings

WS = "/humanlayer/v1/ws"


def connect(client: TestClient, key: str | None) -> Any:
    headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
    return client.websocket_connect(WS, headers=headers)


def ready(ws: WebSocketTestSession) -> dict[str, Any]:
    frame = ws.receive_json()
    assert frame["type"] == "ready", frame
    return dict(frame)


def items_until_subscribed(ws: WebSocketTestSession, frame_id: Any = None) -> list[dict[str, Any]]:
    """The frames a subscribe produced, up to its acknowledgement."""
    frames = []
    while True:
        frame = ws.receive_json()
        if frame["type"] == "subscribed":
            assert frame["id"] == frame_id
            return frames
        frames.append(frame)


def decide(service: Service, caller: Any, call_id: str, approved: bool = True) -> None:
    comment = None if approved else "no"
    service.decisions.decide_function_call(
        caller.project_id, call_id, approved=approved, comment=comment, channel="cli", actor_key_id=None
    )


# ---------------------------------------------------------------- authentication


def test_header_key_is_accepted_and_ready_names_the_heartbeat(client: TestClient, agent: Any) -> None:
    with connect(client, agent.key) as ws:
        assert ready(ws) == {
            "type": "ready",
            "heartbeat_seconds": 20.0,
            "limits": {
                "subscriptions_per_connection": 10_000,
                "subscriptions_per_key": 20_000,
                "connections_per_key": 100,
                "ids_per_frame": 20_000,
            },
        }


def test_auth_frame_is_the_fallback_for_clients_that_cannot_set_headers(
    client: TestClient, agent: Any
) -> None:
    with connect(client, None) as ws:
        ws.send_json({"type": "auth", "api_key": agent.key})
        ready(ws)


@pytest.mark.parametrize(
    ("key", "first_frame"),
    [
        ("fe_not_a_real_key", None),
        (None, {"type": "auth", "api_key": "fe_wrong"}),
        (None, {"type": "subscribe", "function_calls": ["x"]}),
        (None, "not json"),
    ],
)
def test_a_bad_or_missing_key_closes_with_4401(client: TestClient, key: str | None, first_frame: Any) -> None:
    with connect(client, key) as ws:
        if isinstance(first_frame, dict):
            ws.send_json(first_frame)
        elif first_frame is not None:
            ws.send_text(first_frame)
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
    assert closed.value.code == 4401
    assert closed.value.reason


def test_a_malformed_authorization_header_closes_with_4401(client: TestClient) -> None:
    with (
        client.websocket_connect(WS, headers={"Authorization": "Basic abc"}) as ws,
        pytest.raises(WebSocketDisconnect) as closed,
    ):
        ws.receive_json()
    assert closed.value.code == 4401


def test_a_revoked_key_closes_with_4401(client: TestClient, agent: Any, service: Service) -> None:
    service.keys.revoke_api_key(agent.key_id)
    with connect(client, agent.key) as ws, pytest.raises(WebSocketDisconnect) as closed:
        ws.receive_json()
    assert closed.value.code == 4401
    assert "revoked" in closed.value.reason


def test_a_key_without_the_agent_scope_closes_with_4403(client: TestClient, reviewer: Any) -> None:
    with connect(client, reviewer.key) as ws, pytest.raises(WebSocketDisconnect) as closed:
        ws.receive_json()
    assert closed.value.code == 4403


# ---------------------------------------------------------------- subscriptions


def test_subscribe_sends_the_current_state_then_the_completed_item(
    client: TestClient, agent: Any, service: Service, make_function_call: Any
) -> None:
    agent.post("/function_calls", make_function_call("call-1"))
    with connect(client, agent.key) as ws:
        ready(ws)
        ws.send_json({"type": "subscribe", "id": 7, "function_calls": ["call-1"]})
        [current] = items_until_subscribed(ws, 7)
        assert current["type"] == "item"
        assert current["kind"] == "function_call"
        assert current["item"]["status"]["approved"] is None

        decide(service, agent, "call-1")
        pushed = ws.receive_json()
    assert pushed["type"] == "item"
    # Exactly what the REST API renders for the same item.
    assert pushed["item"] == agent.get("/function_calls/call-1").json()
    assert pushed["item"]["status"]["approved"] is True


def test_a_decision_made_while_disconnected_arrives_on_resubscribe(
    client: TestClient, agent: Any, service: Service, make_function_call: Any
) -> None:
    agent.post("/function_calls", make_function_call("call-1"))
    with connect(client, agent.key) as ws:
        ready(ws)
        ws.send_json({"type": "subscribe", "function_calls": ["call-1"]})
        [pending] = items_until_subscribed(ws)
        assert pending["item"]["status"]["approved"] is None
    decide(service, agent, "call-1", approved=False)  # nobody is connected now
    with connect(client, agent.key) as ws:
        ready(ws)
        ws.send_json({"type": "subscribe", "function_calls": ["call-1"]})
        [current] = items_until_subscribed(ws)
    assert current["item"]["status"]["approved"] is False
    assert current["item"]["status"]["comment"] == "no"


def test_human_contacts_are_pushed_when_answered(
    client: TestClient, agent: Any, service: Service, make_human_contact: Any
) -> None:
    agent.post("/contact_requests", make_human_contact("hc-1"))
    with connect(client, agent.key) as ws:
        ready(ws)
        ws.send_json({"type": "subscribe", "human_contacts": ["hc-1"]})
        items_until_subscribed(ws)
        service.decisions.answer_human_contact(
            agent.project_id, "hc-1", response="casual", channel="cli", actor_key_id=None
        )
        pushed = ws.receive_json()
    assert pushed["kind"] == "human_contact"
    assert pushed["item"] == agent.get("/contact_requests/hc-1").json()
    assert pushed["item"]["status"]["response"] == "casual"


def test_a_run_subscription_sends_its_items_and_every_change(
    client: TestClient,
    agent: Any,
    service: Service,
    make_function_call: Any,
    make_human_contact: Any,
) -> None:
    agent.post("/function_calls", make_function_call("call-1"))
    other_run = make_function_call("call-2") | {"run_id": "run-2"}
    agent.post("/function_calls", other_run)
    with connect(client, agent.key) as ws:
        ready(ws)
        ws.send_json({"type": "subscribe", "runs": ["run-1"]})
        [existing] = items_until_subscribed(ws)
        assert existing["item"]["call_id"] == "call-1"

        agent.post("/contact_requests", make_human_contact("hc-1"))
        created = ws.receive_json()
        assert (created["kind"], created["item"]["call_id"]) == ("human_contact", "hc-1")
        assert created["item"]["status"]["response"] is None

        decide(service, agent, "call-2")  # another run: not sent
        decide(service, agent, "call-1")
        completed = ws.receive_json()
    assert completed["item"]["call_id"] == "call-1"
    assert completed["item"]["status"]["approved"] is True


def test_many_ids_in_one_frame_each_get_their_current_state(
    client: TestClient, agent: Any, service: Service, make_function_call: Any
) -> None:
    ids = [f"call-{n}" for n in range(50)]
    for call_id in ids:
        agent.post("/function_calls", make_function_call(call_id))
    decide(service, agent, "call-3")
    with connect(client, agent.key) as ws:
        ready(ws)
        ws.send_json({"type": "subscribe", "function_calls": ids})
        frames = items_until_subscribed(ws)
        assert sorted(f["item"]["call_id"] for f in frames) == sorted(ids)
        assert [f["item"]["call_id"] for f in frames if f["item"]["status"]["approved"]] == ["call-3"]
        for call_id in ids[10:13]:
            decide(service, agent, call_id)
        pushed = {ws.receive_json()["item"]["call_id"] for _ in range(3)}
    assert pushed == set(ids[10:13])


def test_unsubscribed_items_are_not_pushed(
    client: TestClient, agent: Any, service: Service, make_function_call: Any
) -> None:
    agent.post("/function_calls", make_function_call("call-1"))
    agent.post("/function_calls", make_function_call("call-2"))
    with connect(client, agent.key) as ws:
        ready(ws)
        ws.send_json({"type": "subscribe", "function_calls": ["call-1", "call-2"]})
        items_until_subscribed(ws)
        ws.send_json({"type": "unsubscribe", "function_calls": ["call-1"]})
        ws.send_json({"type": "ping"})
        assert ws.receive_json() == {"type": "pong"}  # the unsubscribe has been handled
        decide(service, agent, "call-1")
        decide(service, agent, "call-2")
        pushed = ws.receive_json()
    assert pushed["item"]["call_id"] == "call-2"


# ---------------------------------------------------------------- isolation and errors


def test_another_projects_item_is_not_found_like_a_missing_one(
    client: TestClient, agent: Any, outsider: Any, service: Service, make_function_call: Any
) -> None:
    outsider.post("/function_calls", make_function_call("theirs"))
    agent.post("/function_calls", make_function_call("mine"))
    with connect(client, agent.key) as ws:
        ready(ws)
        ws.send_json({"type": "subscribe", "function_calls": ["theirs", "missing", "mine"]})
        frames = items_until_subscribed(ws)
        errors = {f["call_id"]: f for f in frames if f["type"] == "error"}
        assert set(errors) == {"theirs", "missing"}
        assert {e["code"] for e in errors.values()} == {"not_found"}
        assert errors["theirs"]["message"].replace("theirs", "X") == errors["missing"]["message"].replace(
            "missing", "X"
        )
        # Their run is invisible too: subscribing to it shows nothing, and their decision is not pushed.
        ws.send_json({"type": "subscribe", "runs": ["run-1"]})
        [mine] = items_until_subscribed(ws)
        assert mine["item"]["call_id"] == "mine"
        decide(service, outsider, "theirs")
        decide(service, agent, "mine")
        pushed = ws.receive_json()
        assert pushed["item"]["call_id"] == "mine"
        assert ws.receive_json()["item"]["call_id"] == "mine"  # once for the id, once for the run


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("{not json", "invalid_json"),
        ("[1, 2]", "invalid_frame"),
        ('{"type": "launch"}', "unknown_type"),
        ('{"no": "type"}', "unknown_type"),
        ('{"type": "subscribe", "id": "s1", "function_calls": "call-1"}', "invalid_frame"),
        ('{"type": "subscribe", "function_calls": [""]}', "invalid_frame"),
        ('{"type": "subscribe", "function_calls": [42]}', "invalid_frame"),
        ('{"type": "subscribe", "runs": ["' + "x" * 300 + '"]}', "invalid_frame"),
        ('{"type": "auth", "api_key": "again"}', "invalid_frame"),
    ],
)
def test_bad_frames_get_an_error_frame_and_the_connection_stays_up(
    client: TestClient, agent: Any, frame: str, code: str
) -> None:
    with connect(client, agent.key) as ws:
        ready(ws)
        ws.send_text(frame)
        error = ws.receive_json()
        assert error["type"] == "error"
        assert error["code"] == code
        assert error["message"]
        if '"id": "s1"' in frame:
            assert error["id"] == "s1"
        ws.send_json({"type": "ping"})
        assert ws.receive_json() == {"type": "pong"}


@pytest.mark.parametrize(
    "frame",
    [
        '{"type": "subscribe", "function_calls": ["a"], "x": ' + "[" * 100 + "]" * 100 + "}",
        "[" * 100_000 + "]" * 100_000,  # deeper than the parser itself goes
        '{"type": "subscribe", "function_calls": ["a\\u0000b"]}',
        '{"type": "subscribe", "function_calls": ["\\ud800"]}',
    ],
)
def test_frames_follow_the_input_policy(client: TestClient, agent: Any, frame: str) -> None:
    with connect(client, agent.key) as ws:
        ready(ws)
        ws.send_text(frame)
        error = ws.receive_json()
        assert (error["type"], error["code"]) == ("error", "invalid_frame")
        assert (
            "max_json_depth" in error["message"]
            or "U+0000" in error["message"]
            or "surrogate" in error["message"]
        )
        ws.send_json({"type": "ping"})
        assert ws.receive_json() == {"type": "pong"}


def test_binary_frames_are_read_as_utf8_json(client: TestClient, agent: Any) -> None:
    with connect(client, agent.key) as ws:
        ready(ws)
        ws.send_bytes(b'{"type": "ping"}')
        assert ws.receive_json() == {"type": "pong"}
        ws.send_bytes(b"\xff\xfe")
        assert ws.receive_json()["code"] == "invalid_json"


# ---------------------------------------------------------------- heartbeats and shutdown


@pytest.fixture
def fast_heartbeat_client(tmp_path: Path) -> Iterator[tuple[TestClient, FastAPI]]:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'hb.db'}", ws_heartbeat_seconds=0.2)
    app = create_app(settings)
    with TestClient(app) as test_client:
        yield test_client, app


def test_heartbeat_pings_and_a_silent_client_is_closed_with_4408(
    fast_heartbeat_client: tuple[TestClient, FastAPI],
) -> None:
    client, app = fast_heartbeat_client
    key = app.state.service.keys.create_api_key(scopes=("agent",)).plaintext
    with connect(client, key) as ws:
        assert ready(ws)["heartbeat_seconds"] == 0.2
        for _ in range(3):  # a client that answers stays connected
            assert ws.receive_json() == {"type": "ping"}
            ws.send_json({"type": "pong"})
        # One that stops answering is closed after two silent intervals (pings may come first).
        with pytest.raises(WebSocketDisconnect) as closed:
            _read_pings_until_closed(ws)
    assert closed.value.code == 4408


def _read_pings_until_closed(ws: WebSocketTestSession) -> None:
    while True:
        assert ws.receive_json() == {"type": "ping"}


def test_shutdown_closes_sessions_with_1001(client: TestClient, app: FastAPI, agent: Any) -> None:
    with connect(client, agent.key) as ws:
        ready(ws)
        subscribers = app.state.service.subscribers
        assert subscribers.count(WEBSOCKET) == 1
        # What the app's shutdown (and `foureyes serve` on SIGTERM) does before the server stops.
        assert client.portal is not None
        client.portal.call(subscribers.close_all)
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
    assert closed.value.code == 1001
    assert closed.value.reason == "server shutting down"
    assert subscribers.count(WEBSOCKET) == 0

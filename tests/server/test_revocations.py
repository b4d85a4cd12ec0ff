"""Revocation reaches what is already open: a revoked key's WebSocket is closed and can subscribe
to nothing more, and its long-poll ends with 401; a removed person's token reads nothing; a
batch re-check costs the same few queries however many streams are open. (The inbox's event
stream, which needs a real socket, is tested in test_revocations_sse.py; across replicas in
tests/integration/test_revocation_replicas.py.)

Where a test relies on the revocation notice, the periodic re-check is set to an hour, so only
the notice can have closed the stream.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import delete, event
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from foureyes.server.api.ws import REVOKED_REASON
from foureyes.server.app import create_app
from foureyes.server.people import hash_secret
from foureyes.server.push import LONG_POLL, KeyGrant, SessionGrant
from foureyes.server.service import Service
from foureyes.server.settings import Settings
from foureyes.storage.schema import memberships

from ..db import revoke_key
from .conftest import API, Caller, function_call, human_contact
from .inbox_helpers import make_person
from .test_websocket import connect, decide, items_until_subscribed, ready

HANG_GUARD = 30.0


def _client(database_url: str, recheck: float) -> Iterator[TestClient]:
    settings = Settings(database_url=database_url, revocation_recheck_seconds=recheck)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def notice_only(database_url: str) -> Iterator[TestClient]:
    """An app whose periodic re-check never comes during a test."""
    yield from _client(database_url, 3600.0)


@pytest.fixture
def rechecking(database_url: str) -> Iterator[TestClient]:
    """An app that re-checks its open streams five times a second."""
    yield from _client(database_url, 0.2)


def service_of(client: TestClient) -> Service:
    app: FastAPI = client.app  # type: ignore[assignment]
    service: Service = app.state.service
    return service


def agent_of(client: TestClient) -> Caller:
    service = service_of(client)
    created = service.keys.create_api_key(scopes=("agent",))
    return Caller(
        client, created.plaintext, created.id, service.keys.authenticate(created.plaintext).project_id
    )


def closed_frame(ws: Any) -> WebSocketDisconnect:
    """Read up to the close; any frame before it (a ping) fails the test: nothing may follow a
    revocation."""
    try:
        frame = ws.receive_json()
    except WebSocketDisconnect as closed:
        return closed
    pytest.fail(f"a frame arrived after the revocation: {frame}")


# ---------------------------------------------------------------- the agent's WebSocket


def test_a_revoked_keys_open_websocket_is_closed_at_once_and_gets_no_decision(
    notice_only: TestClient,
) -> None:
    service = service_of(notice_only)
    agent = agent_of(notice_only)
    service.items.create_function_call(agent.project_id, function_call("fc-1"))
    with connect(notice_only, agent.key) as ws:
        ready(ws)
        ws.send_json({"type": "subscribe", "id": 1, "function_calls": ["fc-1"], "runs": ["run-1"]})
        assert [f["item"]["call_id"] for f in items_until_subscribed(ws, 1)] == ["fc-1", "fc-1"]
        assert service.subscribers.open_count == 1

        assert service.keys.revoke_api_key(agent.key_id)
        closed = closed_frame(ws)
        assert (closed.code, closed.reason) == (4401, REVOKED_REASON)
    # The session is gone from the server, so the decision (with its comment) has nobody to go to.
    assert service.subscribers.open_count == 0
    assert service.revocations.closed == 1
    decide(service, agent, "fc-1", approved=False)
    assert notice_only.get(f"{API}/function_calls/fc-1", headers=agent.headers).status_code == 401


def test_a_revocation_no_notice_announced_still_stops_new_subscriptions(notice_only: TestClient) -> None:
    """As when the CLI revokes on SQLite: no notice reaches the server, yet the next subscribe
    frame finds the key revoked and closes the connection instead of sending anything."""
    service = service_of(notice_only)
    agent = agent_of(notice_only)
    service.items.create_function_call(agent.project_id, function_call("fc-1"))
    with connect(notice_only, agent.key) as ws:
        ready(ws)
        assert revoke_key(service.db, agent.key_id, now=service.now())  # no announcement
        ws.send_json({"type": "subscribe", "id": 1, "function_calls": ["fc-1"]})
        closed = closed_frame(ws)
        assert (closed.code, closed.reason) == (4401, REVOKED_REASON)
    assert service.revocations.sweeps == 0  # it was the subscribe frame's own check


def test_the_periodic_recheck_closes_what_no_notice_announced(rechecking: TestClient) -> None:
    service = service_of(rechecking)
    agent = agent_of(rechecking)
    service.items.create_function_call(agent.project_id, function_call("fc-1"))
    with connect(rechecking, agent.key) as ws:
        ready(ws)
        ws.send_json({"type": "subscribe", "id": 1, "function_calls": ["fc-1"]})
        items_until_subscribed(ws, 1)
        assert revoke_key(service.db, agent.key_id, now=service.now())  # no announcement
        closed = closed_frame(ws)
        assert (closed.code, closed.reason) == (4401, REVOKED_REASON)


def test_revoking_one_key_leaves_the_other_keys_sessions_open(notice_only: TestClient) -> None:
    service = service_of(notice_only)
    revoked, kept = agent_of(notice_only), agent_of(notice_only)
    service.items.create_function_call(kept.project_id, function_call("fc-1"))
    with connect(notice_only, revoked.key) as gone, connect(notice_only, kept.key) as ws:
        ready(gone)
        ready(ws)
        ws.send_json({"type": "subscribe", "id": 1, "function_calls": ["fc-1"]})
        items_until_subscribed(ws, 1)
        service.keys.revoke_api_key(revoked.key_id)
        assert closed_frame(gone).code == 4401
        decide(service, kept, "fc-1")
        frame = ws.receive_json()
        assert (frame["type"], frame["item"]["status"]["approved"]) == ("item", True)


# ---------------------------------------------------------------- a removed person's token


READS = [
    ("GET", "/agent/function_calls/pending"),
    ("GET", "/agent/human_contacts/pending"),
    ("GET", "/project"),
    ("GET", "/function_calls/fc-1"),
    ("GET", "/contact_requests/hc-1"),
]


def _personal_token(service: Service, project_id: int) -> str:
    user_id = make_person(service, "ray@example.com", "default", "reviewer")
    service.items.create_function_call(project_id, function_call("fc-1"))
    service.items.create_human_contact(project_id, human_contact("hc-1"))
    return service.keys.create_personal_token(user_id, "default").plaintext


def _statuses(client: TestClient, token: str) -> list[int]:
    headers = {"Authorization": f"Bearer {token}"}
    return [client.request(method, API + path, headers=headers).status_code for method, path in READS]


def test_a_removed_persons_token_reads_nothing_and_stays_revoked(client: TestClient, agent: Caller) -> None:
    service = service_of(client)
    token = _personal_token(service, agent.project_id)
    # A personal token is respond-scoped: it reads the pending lists and the project, not items.
    assert _statuses(client, token) == [200, 200, 200, 403, 403]
    listed = client.get(f"{API}/agent/function_calls/pending", headers={"Authorization": f"Bearer {token}"})
    assert [item["call_id"] for item in listed.json()["items"]] == ["fc-1"]

    assert service.people.remove_user("ray@example.com", "default")
    assert _statuses(client, token) == [401] * len(READS)
    # Taking the person back gives them their role, not their old token.
    service.people.add_user("ray@example.com", "default", "reviewer")
    assert _statuses(client, token) == [401] * len(READS)


def test_a_token_is_refused_once_its_owner_has_no_role_however_the_role_went(
    client: TestClient, agent: Caller
) -> None:
    """The token itself not revoked (the role deleted by other means): the person's role is
    checked on every request, not only the token's scope."""
    service = service_of(client)
    token = _personal_token(service, agent.project_id)
    with service.db.write() as conn:
        conn.execute(delete(memberships))
    response = client.get(f"{API}/project", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert "no longer has a role" in response.json()["error"]["message"]
    assert _statuses(client, token) == [401] * len(READS)


def test_a_long_poll_whose_key_is_revoked_during_the_wait_gets_401_not_the_decision(
    notice_only: TestClient,
) -> None:
    service = service_of(notice_only)
    agent = agent_of(notice_only)
    service.items.create_function_call(agent.project_id, function_call("fc-1"))

    def revoke_then_decide_once_waiting() -> None:
        deadline = time.monotonic() + HANG_GUARD
        while service.notifier.subscriber_count() < 2:  # the revocation task and the long-poll
            assert time.monotonic() < deadline
            time.sleep(0.01)
        service.keys.revoke_api_key(agent.key_id)
        decide(service, agent, "fc-1", approved=False)

    helper = threading.Thread(target=revoke_then_decide_once_waiting)
    helper.start()
    response = notice_only.get(f"{API}/function_calls/fc-1", params={"wait": 20}, headers=agent.headers)
    helper.join(HANG_GUARD)
    assert response.status_code == 401
    assert "comment" not in response.text


def test_a_long_poll_ends_as_soon_as_its_key_is_revoked_without_any_decision(
    notice_only: TestClient,
) -> None:
    """The wait asks for far longer than the hang-guard allows: an answer within the guard was the
    revocation's doing, not the end of the wait."""
    service = service_of(notice_only)
    agent = agent_of(notice_only)
    service.items.create_function_call(agent.project_id, function_call("fc-1"))
    with ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(
            notice_only.get, f"{API}/function_calls/fc-1", params={"wait": 55}, headers=agent.headers
        )
        deadline = time.monotonic() + HANG_GUARD
        while service.subscribers.count(LONG_POLL) < 1:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert service.keys.revoke_api_key(agent.key_id)
        response = waiting.result(timeout=HANG_GUARD)
    assert response.status_code == 401
    # The answer can leave before the sweep that ended the wait has counted it.
    deadline = time.monotonic() + HANG_GUARD
    while service.revocations.closed < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert service.revocations.closed == 1
    assert service.subscribers.open_count == 0


# ---------------------------------------------------------------- the cost of a re-check


def test_a_recheck_costs_the_same_queries_for_one_stream_or_a_thousand(
    service: Service, agent: Caller
) -> None:
    revocations = service.revocations
    user_id = make_person(service, "sam@example.com", "default", "viewer")
    session = service.people.start_session(service.people.get_user(user_id))  # type: ignore[arg-type]
    good_key = KeyGrant(agent.key_id)
    good_session = SessionGrant(hash_secret(session.token), agent.project_id)
    statements: list[str] = []

    def count(*args: Any) -> None:
        if str(args[2]).lstrip().upper().startswith("SELECT"):  # not SQLite's BEGIN and the like
            statements.append(str(args[2]))

    def queries_for(grants: list[Any]) -> int:
        statements.clear()
        event.listen(service.db.engine, "before_cursor_execute", count)
        try:
            allowed = revocations.allowed(grants)
        finally:
            event.remove(service.db.engine, "before_cursor_execute", count)
        assert allowed == {good_key, good_session}
        return len(statements)

    one = queries_for([good_key, good_session])
    # 499 more made-up keys and sessions (one chunk each), then 999 (two chunks each).
    many = queries_for(
        [good_key, good_session, *(KeyGrant(10_000 + n) for n in range(499))]
        + [SessionGrant(f"unknown-{n}", agent.project_id) for n in range(499)]
    )
    more = queries_for(
        [good_key, good_session, *(KeyGrant(10_000 + n) for n in range(999))]
        + [SessionGrant(f"unknown-{n}", agent.project_id) for n in range(999)]
    )
    assert (one, many, more) == (2, 2, 4)

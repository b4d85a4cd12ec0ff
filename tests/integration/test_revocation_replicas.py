"""Revocation across replicas: two real `foureyes serve` processes on one PostgreSQL database. A
key revoked or a person removed by the CLI (a process of its own), or a sign-out through replica
A, closes the streams held open on replica B at once.

Both replicas re-check their streams periodically only once an hour, so a stream that ends
within the hang-guard was ended by the revocation notice over LISTEN/NOTIFY.
"""

from __future__ import annotations

import json

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from foureyes.server.service import Service

from ..server.inbox_helpers import make_person
from ..server.test_revocations_sse import stream
from .conftest import LiveServer

pytestmark = pytest.mark.slow

GUARD = 30.0
EMAIL = "kit@example.com"


@pytest.fixture
def replica_env() -> dict[str, str]:
    return {"FOUREYES_REVOCATION_RECHECK_SECONDS": "3600"}


def close_of(ws: ClientConnection) -> ConnectionClosed:
    """The close; any frame before it fails the test (the heartbeat's first ping would come only
    after 20 s, within the guard)."""
    try:
        frame = ws.recv(timeout=GUARD)
    except ConnectionClosed as closed:
        return closed
    pytest.fail(f"a frame arrived after the revocation: {frame!r}")


def test_a_key_revoked_by_the_cli_closes_its_websocket_on_another_replica(
    replicas: tuple[LiveServer, LiveServer], replica_service: Service
) -> None:
    a, b = replicas
    key = a.create_key("agent")
    [record] = [k for k in replica_service.keys.list_api_keys() if key.startswith(k.prefix)]
    url = b.api_base.replace("http://", "ws://") + "/ws"
    with connect(url, additional_headers={"Authorization": f"Bearer {key}"}, open_timeout=GUARD) as ws:
        assert json.loads(ws.recv(timeout=GUARD))["type"] == "ready"
        ws.send(json.dumps({"type": "subscribe", "id": 1, "runs": ["run-1"]}))
        assert json.loads(ws.recv(timeout=GUARD)) == {"type": "subscribed", "id": 1}

        done = a.foureyes("keys", "revoke", str(record.id))
        assert done.returncode == 0, done.stderr
        closed = close_of(ws)
    assert closed.rcvd is not None
    assert (closed.rcvd.code, closed.rcvd.reason) == (4401, "this API key has been revoked")


def test_a_sign_out_on_one_replica_and_a_removal_by_the_cli_end_streams_on_the_other(
    replicas: tuple[LiveServer, LiveServer], replica_service: Service
) -> None:
    a, b = replicas
    user_id = make_person(replica_service, EMAIL, "default", "reviewer")
    user = replica_service.people.get_user(user_id)
    assert user is not None
    signed_out = replica_service.people.start_session(user)
    removed = replica_service.people.start_session(user)
    token = replica_service.keys.create_personal_token(user_id, "default").plaintext

    # Signed out through replica A: the stream of that session on B ends, the other goes on.
    with stream(b.url, signed_out.token, "default") as events:
        response = httpx.post(
            f"{a.url}/inbox/logout",
            data={"csrf": signed_out.csrf_token},
            cookies={"foureyes_session": signed_out.token},
            timeout=GUARD,
        )
        assert response.status_code == 303, response.text
        assert next(events) == ["event: revoked", "data: {}"]
        assert list(events) == []

    # Removed by the CLI: the person's stream on B ends, and their token is refused on A.
    headers = {"Authorization": f"Bearer {token}"}
    assert httpx.get(f"{a.api_base}/project", headers=headers, timeout=GUARD).status_code == 200
    with stream(b.url, removed.token, "default") as events:
        done = a.foureyes("users", "remove", EMAIL, "--project", "default")
        assert done.returncode == 0, done.stderr
        assert next(events) == ["event: revoked", "data: {}"]
        assert list(events) == []
    for path in ("/project", "/agent/function_calls/pending"):
        assert httpx.get(f"{a.api_base}{path}", headers=headers, timeout=GUARD).status_code == 401

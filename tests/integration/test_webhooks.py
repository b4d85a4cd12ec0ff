"""Webhooks from a real server process to a real receiver, across a receiver outage and a
SIGKILL of the server, and the `foureyes webhooks` commands."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

import foureyes
from foureyes.cli import app
from foureyes.server.service import open_service
from foureyes.server.settings import Settings
from foureyes.storage import DeliveryRecord
from foureyes.webhooks import verify

from ..webhooks.receiver import Receiver, running_receiver
from .conftest import LiveServer

pytestmark = pytest.mark.slow


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    live = LiveServer(tmp_path)
    live.env |= {
        "FOUREYES_WEBHOOK_ALLOW_PRIVATE": "true",
        "FOUREYES_WEBHOOK_POLL_INTERVAL_SECONDS": "0.1",
        "FOUREYES_WEBHOOK_TIMEOUT_SECONDS": "2",
    }
    live.start()
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as r:
        yield r


def wait_for(condition: Callable[[], bool], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


class Result:
    def __init__(self, returncode: int, stdout: str, stderr: str) -> None:
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def cli(server: LiveServer, *args: str, allow_private: bool = True) -> Result:
    """The `foureyes webhooks` commands, run in-process on the server's database (they work on
    the database, not over HTTP; a subprocess per command would cost seconds of imports)."""
    env = {
        "FOUREYES_DATABASE_URL": server.database_url,
        "FOUREYES_WEBHOOK_ALLOW_PRIVATE": str(allow_private).lower(),
        "COLUMNS": "250",
    }
    done = CliRunner().invoke(app, list(args), env=env)
    if done.exception is not None and not isinstance(done.exception, SystemExit):
        raise done.exception
    return Result(done.exit_code, done.stdout, done.stderr)


def add_endpoint(server: LiveServer, url: str, *args: str) -> str:
    done = cli(server, "webhooks", "add", url, *args)
    assert done.returncode == 0, done.stderr
    secret = done.stdout.strip().splitlines()[-1]
    assert secret.startswith("whsec_")
    return secret


def create_key(server: LiveServer, scopes: str) -> str:
    service = open_service(Settings(database_url=server.database_url))
    try:
        return service.keys.create_api_key(scopes=scopes.split(",")).plaintext
    finally:
        service.close()


def deliveries(server: LiveServer) -> list[DeliveryRecord]:
    service = open_service(Settings(database_url=server.database_url))
    try:
        return service.webhooks.list_deliveries()
    finally:
        service.close()


def respond(server: LiveServer, key: str, call_id: str, body: dict[str, object]) -> None:
    response = httpx.post(
        f"{server.api_base}/agent/function_calls/{call_id}/respond",
        json=body,
        headers={"Authorization": f"Bearer {key}"},
    )
    assert response.status_code == 200, response.text


def test_every_event_arrives_across_an_outage_and_a_server_kill(
    server: LiveServer, receiver: Receiver
) -> None:
    secret = add_endpoint(server, receiver.url)
    hl = foureyes.HumanLayer(api_key=create_key(server, "agent"), api_base_url=server.api_base)
    reviewer = create_key(server, "respond")

    spec = foureyes.FunctionCallSpec(fn="wire", kwargs={"usd": 5}, state={"task": "t-1"})
    hl.create_function_call(spec, call_id="call-1")
    wait_for(lambda: len(receiver.snapshot()) == 1)  # pushed promptly, not at some later poll

    receiver.stop()  # the receiver goes down ...
    hl.create_function_call(foureyes.FunctionCallSpec(fn="wire", kwargs={"usd": 7}), call_id="call-2")
    respond(server, reviewer, "call-1", {"approved": True, "comment": "fine"})

    wait_for(lambda: sum(d.attempts > 0 and d.status == "pending" for d in deliveries(server)) == 2)
    server.kill()  # ... the server is killed while deliveries are owed ...
    receiver.start()  # ... the receiver comes back on the same port, then the server
    server.start()

    wait_for(lambda: len({r.headers["webhook-id"] for r in receiver.snapshot()}) == 3, timeout=30)
    by_id = {}
    for received in receiver.snapshot():
        envelope = verify(received.body, received.headers, secret)
        by_id[received.headers["webhook-id"]] = envelope
    events = sorted((e["event"]["call_id"], e["type"]) for e in by_id.values())
    assert events == [
        ("call-1", "function_call.completed"),
        ("call-1", "function_call.created"),
        ("call-2", "function_call.created"),
    ]
    call_1 = [e for e in by_id.values() if e["event"]["call_id"] == "call-1"]
    assert all(e["event"]["spec"]["state"] == {"task": "t-1"} for e in call_1)
    completed = next(e for e in call_1 if e["type"] == "function_call.completed")
    assert completed["event"]["status"]["approved"] is True
    assert completed["event"]["status"]["comment"] == "fine"
    # order per item: call-1's completed came after its created
    order = [json.loads(r.body)["type"] for r in receiver.snapshot() if b'"call-1"' in r.body]
    assert order.index("function_call.created") < order.index("function_call.completed")
    # The receiver has the request a moment before the worker records the answer.
    wait_for(lambda: [d.status for d in deliveries(server)] == ["succeeded"] * 3, timeout=30)
    found = deliveries(server)
    # the two owed while the receiver was down took a retry, after the restart
    assert all(attempts >= 2 for attempts in sorted(d.attempts for d in found)[1:])
    listing = cli(server, "webhooks", "deliveries")
    assert listing.returncode == 0
    assert listing.stdout.count("succeeded") == 3
    retried = max(found, key=lambda d: d.attempts)
    attempts = cli(server, "webhooks", "attempts", str(retried.id))
    assert attempts.returncode == 0, attempts.stderr
    assert "ConnectError" in attempts.stdout  # made while the receiver was down
    assert "204" in attempts.stdout


def test_webhooks_commands(server: LiveServer, receiver: Receiver) -> None:
    refused = cli(server, "webhooks", "add", receiver.url, allow_private=False)
    assert refused.returncode == 1
    assert "loopback" in refused.stderr

    bad = cli(server, "webhooks", "add", receiver.url, "--events", "function_call.created,oops")
    assert bad.returncode == 1
    assert "unknown event types oops" in bad.stderr

    secret = add_endpoint(server, receiver.url, "--project", "ops", "--events", "human_contact.completed")
    listing = cli(server, "webhooks", "list")
    assert listing.returncode == 0
    assert "ops" in listing.stdout
    assert "human_contact.completed" in listing.stdout
    assert secret not in listing.stdout  # shown once only

    assert cli(server, "webhooks", "disable", "1").returncode == 0
    assert "no" in cli(server, "webhooks", "list").stdout
    queued = cli(server, "webhooks", "test", "1")
    assert queued.returncode == 0, queued.stderr
    time.sleep(0.5)
    assert receiver.snapshot() == []  # held while disabled
    assert cli(server, "webhooks", "enable", "1").returncode == 0
    wait_for(lambda: len(receiver.snapshot()) == 1)
    first = receiver.snapshot()[0]
    envelope = verify(first.body, first.headers, secret)
    assert envelope["is_test"] is True
    assert envelope["type"] == "human_contact.completed"

    rotated = cli(server, "webhooks", "rotate-secret", "1", "--overlap", "600")
    assert rotated.returncode == 0, rotated.stderr
    new_secret = rotated.stdout.strip().splitlines()[-1]
    assert new_secret.startswith("whsec_")
    assert new_secret != secret
    again = cli(server, "webhooks", "redeliver", "1")
    assert again.returncode == 0, again.stderr
    wait_for(lambda: len(receiver.snapshot()) == 2)
    second = receiver.snapshot()[1]
    assert second.headers["webhook-id"] == first.headers["webhook-id"]
    assert len(second.headers["webhook-signature"].split()) == 2
    verify(second.body, second.headers, secret)
    verify(second.body, second.headers, new_secret)

    missing = cli(server, "webhooks", "redeliver", "99")
    assert missing.returncode == 1
    assert "not found" in missing.stderr
    assert "No failed deliveries" in cli(server, "webhooks", "deliveries", "--failed").stdout

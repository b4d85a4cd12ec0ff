"""The module-level API the docs use: default clients made on first use, from the environment."""

from __future__ import annotations

import json

import httpx
import pytest

import foureyes
from foureyes import FunctionCallSpec, HumanContactSpec
from foureyes._default import default_async_client, default_client

from .conftest import BASE, KEY, FakeServer


@pytest.fixture
def routed(monkeypatch: pytest.MonkeyPatch, server: FakeServer) -> FakeServer:
    """Environment for the default clients, and their HTTP routed to the fake server."""
    monkeypatch.setenv("FOUREYES_API_KEY", KEY)
    monkeypatch.setenv("FOUREYES_API_BASE", BASE)
    real_client, real_async = httpx.Client, httpx.AsyncClient
    transport = httpx.MockTransport(server.handler)
    monkeypatch.setattr(httpx, "Client", lambda **kw: real_client(**{**kw, "transport": transport}))
    monkeypatch.setattr(httpx, "AsyncClient", lambda **kw: real_async(**{**kw, "transport": transport}))
    server.ignore_wait = True

    def settle(call_id: str) -> None:
        for collection, key in list(server.items):
            if key == call_id and collection == "function_calls":
                server.decide(call_id, approved=False, comment="no thanks")
            elif key == call_id:
                server.answer(call_id, "42")

    server.on_get = settle
    return server


def test_decorating_does_not_make_a_client(monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[int] = []
    monkeypatch.setattr(foureyes._default, "HumanLayer", lambda: made.append(1))

    @foureyes.require_approval
    def f() -> None: ...

    @foureyes.require_approval(reject_options=None)
    def g() -> None: ...

    foureyes.human_as_tool()
    assert made == []


def test_docs_snippets(routed: FakeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("time.sleep", lambda s: None)

    @foureyes.require_approval
    def send_email(to: str, subject: str, body: str) -> str:
        """Send an email to the customer"""
        return "sent"

    assert send_email("a@b.c", "Hi", "Body") == "User denied send_email with message: no thanks"
    approval = foureyes.fetch_approval(
        FunctionCallSpec(fn="send_email", kwargs={"to": "customer@example.com", "subject": "Welcome!"})
    )
    completed = approval.as_completed()
    assert (completed.approved, completed.comment) == (False, "no thanks")
    assert foureyes.fetch_human_response(HumanContactSpec(msg="?")).as_completed() == "42"
    assert foureyes.human_as_tool()("life?") == "42"
    assert json.loads(routed.sent("POST")[0].content)["spec"]["kwargs"] == {
        "to": "a@b.c",
        "subject": "Hi",
        "body": "Body",
    }
    assert default_client() is default_client()


@pytest.mark.anyio
async def test_module_level_decorator_on_async_function(
    routed: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def no_sleep(seconds: float) -> None:
        return None

    monkeypatch.setattr(default_async_client(), "sleep", no_sleep)

    @foureyes.require_approval
    async def launch(target: str) -> str:
        return "launched"

    assert await launch("moon") == "User denied launch with message: no thanks"

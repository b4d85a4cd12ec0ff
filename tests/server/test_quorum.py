"""Quorum and separation of duties: several distinct people approve, one rejection vetoes, and
nobody approves a request made with their own key. The official SDK keeps waiting (approved
null) until the last approval."""

from __future__ import annotations

import threading
import time
from typing import Any

import humanlayer
import pytest
from fastapi import FastAPI

from foureyes.cli.review import approval_progress
from foureyes.server.channels.email.links import PURPOSE, LinkClaim, LinkSigner
from foureyes.server.service import Service

from ..db import decisions_of, events_of, get_item
from .conftest import Caller
from .inbox_helpers import Browser, make_person
from .test_long_poll import served


def _person(client: Any, service: Service, email: str, role: str = "reviewer") -> Caller:
    user, _ = service.people.add_user(email, "default", role)
    token = service.keys.create_personal_token(user.id, "default")
    principal = service.keys.authenticate(token.plaintext)
    return Caller(client, token.plaintext, token.id, principal.project_id)


@pytest.fixture
def alice(client: Any, service: Service) -> Caller:
    return _person(client, service, "alice@example.com")


@pytest.fixture
def bob(client: Any, service: Service) -> Caller:
    return _person(client, service, "bob@example.com")


def _approve(caller: Caller, call_id: str = "call-1") -> Any:
    return caller.post(f"/agent/function_calls/{call_id}/respond", {"approved": True})


def test_two_approvals_by_two_people_complete_it_and_the_official_sdk_waits_until_then(
    app: FastAPI, service: Service, agent: Caller, alice: Caller, bob: Caller, make_function_call: Any
) -> None:
    body = make_function_call() | {"required_approvals": 2}
    created = agent.post("/function_calls", body).json()
    assert created["status"]["approved"] is None
    assert created["status"]["required_approvals"] == 2
    assert created["status"]["approvals"] == []

    with served(app) as port:
        hl = humanlayer.HumanLayer(api_key=agent.key, api_base_url=f"http://127.0.0.1:{port}/humanlayer/v1")

        first = _approve(alice)
        assert first.status_code == 200, first.text
        assert first.json()["status"]["approved"] is None
        seen = hl.get_function_call("call-1")
        assert seen.status is not None
        assert seen.status.approved is None

        again = _approve(alice)
        assert again.status_code == 409, again.text
        assert "already approved" in again.json()["error"]["message"]

        second = _approve(bob)
        assert second.status_code == 200, second.text
        seen = hl.get_function_call("call-1")
        assert seen.status is not None
        assert seen.status.approved is True

    status = second.json()["status"]
    assert [a["email"] for a in status["approvals"]] == ["alice@example.com", "bob@example.com"]
    assert all(a["at"] for a in status["approvals"])
    item = get_item(service.db, agent.project_id, "function_call", "call-1")
    assert item is not None
    assert item.state == "approved"
    assert [d.verdict for d in decisions_of(service.db, item.id)] == ["approved", "approved"]
    # The second try by alice changed nothing; each approval is one event.
    assert [e.type for e in events_of(service.db, item.id)] == ["created", "approval", "decided"]


def test_the_official_sdk_decorator_runs_the_function_only_after_the_quorum(
    app: FastAPI, service: Service, agent: Caller, alice: Caller, bob: Caller
) -> None:
    service.policies.add("default", "two-for-payments", 'fn == "pay"', "require:2")
    ran: list[int] = []
    results: list[Any] = []

    def pay(amount: int) -> str:
        ran.append(amount)
        return f"paid {amount}"

    with served(app) as port:
        hl = humanlayer.HumanLayer(
            api_key=agent.key,
            api_base_url=f"http://127.0.0.1:{port}/humanlayer/v1",
            sleep=lambda _s: time.sleep(0.02),
        )
        thread = threading.Thread(target=lambda: results.append(hl.require_approval()(pay)(amount=5)))
        thread.start()
        call_id = _wait_pending(agent)
        assert _approve(alice, call_id).status_code == 200
        time.sleep(0.2)  # the SDK polls a few times meanwhile: still pending, nothing runs
        assert ran == []
        assert _approve(bob, call_id).status_code == 200
        thread.join(timeout=10)
    assert ran == [5]
    assert results == ["paid 5"]


def _wait_pending(agent: Caller) -> str:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        items = agent.get("/agent/function_calls/pending").json()["items"]
        if items:
            return str(items[0]["call_id"])
        time.sleep(0.02)
    raise AssertionError("no pending function call appeared")


def test_one_rejection_vetoes_after_an_approval(
    service: Service, agent: Caller, alice: Caller, bob: Caller, make_function_call: Any
) -> None:
    agent.post("/function_calls", make_function_call() | {"required_approvals": 3})
    assert _approve(alice).status_code == 200
    vetoed = bob.post("/agent/function_calls/call-1/respond", {"approved": False, "comment": "no way"})
    assert vetoed.status_code == 200, vetoed.text
    status = vetoed.json()["status"]
    assert status["approved"] is False
    assert status["comment"] == "no way"
    assert status["responded_by"]["email"] == "bob@example.com"
    late = _approve(alice)
    assert late.status_code == 409


def test_the_creator_cannot_approve_their_own_request(
    service: Service, client: Any, alice: Caller, bob: Caller, make_function_call: Any, expect_error: Any
) -> None:
    # An agent key that acts for alice: what it creates, alice may not approve.
    created = service.keys.create_api_key("default", ("agent",), name="alice-bot", owner="alice@example.com")
    bot = Caller(client, created.plaintext, created.id, alice.project_id)
    assert bot.post("/function_calls", make_function_call()).status_code == 200
    refused = _approve(alice)
    error = expect_error(refused, 403, "forbidden")
    assert "someone else must approve" in error["message"]
    item = get_item(service.db, alice.project_id, "function_call", "call-1")
    assert item is not None
    assert item.state == "pending"
    assert decisions_of(service.db, item.id) == []
    # Another person may; the creator may still withdraw their own request by rejecting it.
    assert _approve(bob).status_code == 200
    bot.post("/function_calls", make_function_call("call-2"))
    withdrawn = alice.post("/agent/function_calls/call-2/respond", {"approved": False, "comment": "oops"})
    assert withdrawn.status_code == 200


def test_a_project_key_cannot_count_towards_a_quorum_but_can_veto(
    agent: Caller, reviewer: Caller, make_function_call: Any, expect_error: Any
) -> None:
    agent.post("/function_calls", make_function_call() | {"required_approvals": 2})
    expect_error(_approve(reviewer), 403, "forbidden")
    assert (
        reviewer.post("/agent/function_calls/call-1/respond", {"approved": False, "comment": "no"}).json()[
            "status"
        ]["approved"]
        is False
    )


@pytest.mark.parametrize("bad", [0, 21, "2", True, 1.5])
def test_required_approvals_is_checked(
    agent: Caller, make_function_call: Any, expect_error: Any, bad: Any
) -> None:
    expect_error(
        agent.post("/function_calls", make_function_call() | {"required_approvals": bad}),
        422,
        "validation_error",
    )


def test_bulk_approval_counts_as_one_approval_each(
    service: Service, agent: Caller, alice: Caller, make_function_call: Any
) -> None:
    agent.post("/function_calls", make_function_call("q-1") | {"required_approvals": 2})
    agent.post("/function_calls", make_function_call("s-1"))
    user = service.people.find_user("alice@example.com")
    outcome = service.bulk.decide_function_calls(
        alice.project_id,
        ["q-1", "s-1"],
        approved=True,
        channel="inbox",
        actor_key_id=None,
        actor_user_id=user.id,
    )
    states = {item.call_id: item.state for item in outcome.decided}
    assert states == {"q-1": "pending", "s-1": "approved"}
    again = service.bulk.decide_function_calls(
        alice.project_id, ["q-1"], approved=True, channel="inbox", actor_key_id=None, actor_user_id=user.id
    )
    assert again.decided == ()
    assert [s.call_id for s in again.skipped] == ["q-1"]
    assert "already approved" in again.skipped[0].reason


def test_the_inbox_shows_how_many_approvals_and_who_is_still_needed(
    app: FastAPI, service: Service, agent: Caller, alice: Caller, make_function_call: Any
) -> None:
    make_person(service, "gil@example.com", "default", "admin", "Gil")
    browser = Browser(app)
    browser.sign_in("gil@example.com")
    agent.post("/function_calls", make_function_call() | {"required_approvals": 2})
    assert _approve(alice).status_code == 200
    page = browser.client.get("/inbox/p/default/function_calls/call-1")
    assert "1 of 2 approvals (alice@example.com); 1 more needed from other people" in page.text
    done = browser.post("/inbox/p/default/function_calls/call-1", {"action": "approve", "comment": ""})
    assert done.status_code == 303
    assert agent.get("/function_calls/call-1").json()["status"]["approved"] is True

    service.policies.add("default", "no-bold", 'fn == "<b>"', "reject", comment="<i>never</i>")
    admin_page = browser.client.get("/inbox/p/default/people").text
    assert "no-bold" in admin_page
    assert "fn == &#34;&lt;b&gt;&#34;" in admin_page
    assert "&lt;i&gt;never&lt;/i&gt;" in admin_page


def test_the_cli_tells_how_many_approvals_a_request_has() -> None:
    status = {"approved": None, "required_approvals": 3, "approvals": [{"email": "a@example.com"}]}
    assert approval_progress(status) == "1 of 3 approvals (a@example.com); 2 more needed from other people"
    assert approval_progress({"approved": True, "required_approvals": 1}) is None


def test_an_email_link_counts_as_its_recipients_approval_and_shows_the_progress(
    service: Service, client: Any, agent: Caller, alice: Caller, make_function_call: Any
) -> None:
    channel = {"email": {"address": "carol@example.com"}}
    agent.post("/function_calls", make_function_call(channel=channel) | {"required_approvals": 3})
    assert _approve(alice).status_code == 200
    claim = LinkClaim(
        agent.project_id, "function_call", "call-1", "carol@example.com", int(time.time()) + 600
    )
    token = LinkSigner(service.db.box.derive(PURPOSE)).sign(claim)
    shown = client.get(f"/email/{token}")
    assert "1 of 3 approvals (alice@example.com); 2 more needed from other people" in shown.text
    done = client.post(f"/email/{token}", data={"decision": "approve"})
    assert done.status_code == 200, done.text
    assert "Recorded: <strong>your approval</strong>" in done.text
    assert "2 of 3 approvals (alice@example.com, carol@example.com); 1 more needed" in done.text
    assert client.post(f"/email/{token}", data={"decision": "approve"}).status_code == 409

"""Passkeys and step-up through the in-process app, with a software authenticator: adding a
passkey, signing in with it, and a step-up request that every channel but a passkey-confirmed
inbox decision is refused, with assertions bound to one decision and used once."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI

from foureyes.server.domain.passkeys import RelyingParty, step_up_challenge
from foureyes.server.service import Service

from .conftest import Caller, function_call
from .inbox_helpers import Browser, csrf_of, make_person
from .soft_authenticator import SoftAuthenticator, b64url
from .test_email_deciders import create, link_for

CALLS = "/inbox/p/default/function_calls"
# The test client's pages come from http://testserver: the relying party when no public URL is set.
ORIGIN = "http://testserver"


@pytest.fixture
def rae(app: FastAPI, client: Any, service: Service) -> Browser:
    make_person(service, "rae@example.com", "default", "reviewer", "Rae")
    browser = Browser(app)
    assert browser.sign_in("rae@example.com").status_code == 303
    return browser


def add_passkey(browser: Browser, name: str = "laptop") -> SoftAuthenticator:
    authenticator = SoftAuthenticator(ORIGIN, "testserver")
    started = browser.post("/inbox/account/passkeys/options", {})
    assert started.status_code == 200, started.text
    ceremony = started.json()
    assert ceremony["options"]["rp"]["id"] == "testserver"
    assert ceremony["options"]["authenticatorSelection"]["residentKey"] == "required"
    credential = authenticator.register(ceremony["options"])
    added = browser.post(
        "/inbox/account/passkeys", {"nonce": ceremony["nonce"], "credential": credential, "name": name}
    )
    assert added.status_code == 201, added.text
    return authenticator


def confirm(
    browser: Browser, authenticator: SoftAuthenticator, call_id: str, action: str, edited: str = ""
) -> dict[str, str]:
    """The fields passkeys.js adds to a decision form: a fresh assertion for ``action``."""
    asked = {"action": action, "edited_kwargs": edited}
    started = browser.post(f"/inbox/p/default/step-up/function_calls/{call_id}", asked)
    assert started.status_code == 200, started.text
    ceremony = started.json()
    return {
        "step_up_nonce": ceremony["nonce"],
        "step_up_credential": authenticator.assertion(ceremony["options"]),
    }


def test_a_passkey_is_added_listed_signs_in_and_is_removed(
    app: FastAPI, rae: Browser, service: Service
) -> None:
    authenticator = add_passkey(rae, "work laptop")
    page = rae.get("/inbox/account").text
    assert "work laptop" in page
    assert 'aria-label="Remove passkey work laptop"' in page

    # A new browser signs in with the passkey alone.
    fresh = Browser(app)
    csrf = csrf_of(fresh.get("/inbox/login").text)
    ceremony = fresh.client.post("/inbox/login/passkey/options", data={"csrf": csrf}).json()
    assert ceremony["options"]["allowCredentials"] == []  # discoverable: no address asked first
    answer = authenticator.assertion(ceremony["options"])
    signed_in = fresh.client.post(
        "/inbox/login/passkey",
        data={"csrf": csrf, "nonce": ceremony["nonce"], "credential": answer, "next": "/inbox/account"},
    )
    assert signed_in.status_code == 200, signed_in.text
    assert signed_in.json() == {"next": "/inbox/account"}
    assert "rae@example.com" in fresh.get("/inbox/account").text
    # The same answer again signs nobody in.
    again = Browser(app)
    csrf = csrf_of(again.get("/inbox/login").text)
    replayed = again.client.post(
        "/inbox/login/passkey", data={"csrf": csrf, "nonce": ceremony["nonce"], "credential": answer}
    )
    assert replayed.status_code == 401
    assert "already used" in replayed.json()["error"]["message"]

    (passkey,) = service.passkeys.list_for(service.people.find_user("rae@example.com").id)
    assert passkey.last_used_at is not None
    removed = rae.post(f"/inbox/account/passkeys/{passkey.id}/remove", {})
    assert removed.status_code == 303
    assert service.passkeys.list_for(passkey.user_id) == []
    assert rae.post(f"/inbox/account/passkeys/{passkey.id}/remove", {}).status_code == 404


def test_registration_needs_its_own_challenge_and_a_name(rae: Browser) -> None:
    authenticator = SoftAuthenticator(ORIGIN, "testserver")
    ceremony = rae.post("/inbox/account/passkeys/options", {}).json()
    credential = authenticator.register(ceremony["options"])
    nameless = rae.post("/inbox/account/passkeys", {"nonce": ceremony["nonce"], "credential": credential})
    assert nameless.status_code == 422
    # From another origin (a phishing copy of the page), the authenticator's answer is refused.
    elsewhere = SoftAuthenticator("http://evil.example", "testserver")
    ceremony = rae.post("/inbox/account/passkeys/options", {}).json()
    phished = rae.post(
        "/inbox/account/passkeys",
        {"nonce": ceremony["nonce"], "credential": elsewhere.register(ceremony["options"]), "name": "x"},
    )
    assert phished.status_code == 422
    assert "could not be registered" in phished.json()["error"]["message"]


def test_a_step_up_request_is_decided_only_with_an_assertion_bound_to_the_decision(
    client: Any, rae: Browser, service: Service, agent: Caller, reviewer: Caller
) -> None:
    service.projects.set_step_up("default", True)
    create(agent, "pay", "boss@example.com")
    assert agent.post("/function_calls", function_call("other")).status_code == 200
    assert service.items.get_function_call(agent.project_id, "pay").step_up is True

    # No passkey yet: the page and the refusal say how to add one.
    assert "You have no passkey yet" in rae.get(f"{CALLS}/pay").text
    refused = rae.post(f"{CALLS}/pay", {"action": "approve"})
    assert refused.status_code == 403
    assert "needs step-up" in refused.text
    assert rae.post("/inbox/p/default/step-up/function_calls/pay", {"action": "approve"}).status_code == 403

    # Every other channel is refused the same way: REST, bulk, an email link.
    by_key = reviewer.post("/agent/function_calls/pay/respond", {"approved": True})
    assert by_key.status_code == 403
    assert "add a passkey on your account page" in by_key.json()["error"]["message"]
    bulk = rae.post("/inbox/p/default/bulk/decide", {"call_id": ["pay"], "action": "approve"})
    assert bulk.status_code == 200
    assert "needs step-up: decide it on its own page" in bulk.text
    link = link_for(service, agent.project_id, "pay", "boss@example.com")
    shown = client.get(link)  # the link's page says so and offers no form
    assert shown.status_code == 403
    assert "needs step-up" in shown.text
    assert "<form" not in shown.text
    emailed = client.post(link, data={"decision": "approve"})
    assert emailed.status_code == 403
    assert "needs step-up" in emailed.text

    authenticator = add_passkey(rae)
    # An assertion for approving is not one for rejecting, nor for another request.
    for_approval = confirm(rae, authenticator, "pay", "approve")
    assert rae.post(f"{CALLS}/pay", {"action": "reject", "comment": "no", **for_approval}).status_code == 403
    for_approval = confirm(rae, authenticator, "pay", "approve")
    moved = rae.post(f"{CALLS}/other", {"action": "approve", **for_approval})
    assert moved.status_code == 403
    assert "made for another decision" in moved.text
    assert service.items.get_function_call(agent.project_id, "pay").state == "pending"

    good = confirm(rae, authenticator, "pay", "approve")
    assert rae.post(f"{CALLS}/pay", {"action": "approve", **good}).status_code == 303
    item = service.items.get_function_call(agent.project_id, "pay")
    assert item.state == "approved"
    assert item.decisions[-1].step_up_credential == b64url(authenticator.credential_id)
    assert "Confirmed with a passkey" in rae.get(f"{CALLS}/pay").text
    # The same assertion once more: its challenge is gone.
    replayed = rae.post(f"{CALLS}/other", {"action": "approve", **good})
    assert replayed.status_code == 403
    assert "already used" in replayed.text


def test_an_assertion_vouches_for_the_edited_arguments(rae: Browser, service: Service, agent: Caller) -> None:
    service.projects.set_step_up("default", True)
    body = {**function_call("edit", kwargs={"usd": 400}), "allow_edit": True}
    assert agent.post("/function_calls", body).status_code == 200
    authenticator = add_passkey(rae)
    # Confirmed for 40 dollars, sent with 4000: refused.
    for_forty = confirm(rae, authenticator, "edit", "approve", '{"usd": 40}')
    swapped = rae.post(f"{CALLS}/edit", {"action": "approve", "edited_kwargs": '{"usd": 4000}', **for_forty})
    assert swapped.status_code == 403
    assert service.items.get_function_call(agent.project_id, "edit").state == "pending"
    for_forty = confirm(rae, authenticator, "edit", "approve", '{"usd": 40}')
    kept = rae.post(f"{CALLS}/edit", {"action": "approve", "edited_kwargs": '{ "usd":40 }', **for_forty})
    assert kept.status_code == 303
    assert service.items.get_function_call(agent.project_id, "edit").decisions[-1].edited_kwargs == {
        "usd": 40
    }


def test_step_up_is_kept_on_each_request(rae: Browser, service: Service, agent: Caller) -> None:
    assert agent.post("/function_calls", function_call("before")).status_code == 200
    service.projects.set_step_up("default", True)
    assert agent.post("/function_calls", function_call("during")).status_code == 200
    service.projects.set_step_up("default", False)
    assert agent.post("/function_calls", function_call("after")).status_code == 200
    flags = {
        c: service.items.get_function_call(agent.project_id, c).step_up for c in ("before", "during", "after")
    }
    assert flags == {"before": False, "during": True, "after": False}
    # The pending list offers quick buttons only where they can decide.
    listed = rae.get("/inbox/p/default").text
    assert 'aria-label="Approve before"' in listed
    assert 'aria-label="Approve during"' not in listed
    assert f'<a href="{CALLS}/during">Needs a passkey: decide it on its page</a>' in listed
    assert rae.post(f"{CALLS}/before", {"action": "approve"}).status_code == 303
    assert rae.post(f"{CALLS}/during", {"action": "approve"}).status_code == 403


def test_the_settings_page_switches_step_up(app: FastAPI, service: Service) -> None:
    make_person(service, "ada@example.com", "default", "admin")
    admin = Browser(app)
    admin.sign_in("ada@example.com")
    assert admin.post("/inbox/p/default/settings", {"step_up": "on"}).status_code == 303
    assert service.projects.get("default").step_up is True
    assert 'id="step-up" name="step_up" checked' in admin.get("/inbox/p/default/settings").text
    assert admin.post("/inbox/p/default/settings", {}).status_code == 303
    assert service.projects.get("default").step_up is False


def test_the_challenge_binds_the_call_its_digest_the_verdict_and_the_nonce() -> None:
    base = step_up_challenge("pay", "d" * 64, "approve", "n1")
    assert len(base) == 32
    others = {
        step_up_challenge("pay2", "d" * 64, "approve", "n1"),
        step_up_challenge("pay", "e" * 64, "approve", "n1"),
        step_up_challenge("pay", "d" * 64, "reject", "n1"),
        step_up_challenge("pay", "d" * 64, "approve", "n2"),
    }
    assert base not in others
    assert len(others) == 4


def test_passkeys_need_a_host_name(app: FastAPI, service: Service) -> None:
    with pytest.raises(ValueError, match="need the inbox at a host name"):
        RelyingParty("127.0.0.1", "http://127.0.0.1:8080").check()
    RelyingParty("localhost", "http://localhost:8080").check()
    make_person(service, "ivo@example.com", "default", "reviewer")
    by_address = Browser(app)
    by_address.client.base_url = "http://127.0.0.1"  # type: ignore[assignment]
    assert by_address.sign_in("ivo@example.com").status_code == 303
    refused = by_address.post("/inbox/account/passkeys/options", {})
    assert refused.status_code == 422
    assert "http://localhost:<port>" in refused.json()["error"]["message"]

"""Passkeys in Debian's Chromium, with the DevTools Protocol's virtual authenticator standing in
for a phone or a security key: adding one, signing in with it, and step-up decisions (one
reaching a waiting SDK call, one refused without the assertion, over REST too, and replayed or
misdirected assertions refused).

Passkeys are scoped to a host name, never an IP address, so these pages are opened at
``localhost`` (the same server the other browser tests reach at 127.0.0.1).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

import foureyes

from .inbox_browser import HANG_GUARD_MS, Site, expect, function_call, in_thread, sign_in

pytestmark = pytest.mark.slow


def base(site: Site) -> str:
    return f"http://localhost:{site.server.port}"


@pytest.fixture
def page(chromium: Any) -> Iterator[Any]:
    # No service worker: page.route must see the decision forms' posts (a worker's fetches
    # pass it by), to hold an assertion back and replay it.
    context = chromium.new_context(service_workers="block")
    context.set_default_timeout(HANG_GUARD_MS)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def authenticator(page: Any) -> dict[str, Any]:
    """A platform authenticator that keeps discoverable credentials and verifies its user at
    once (as a fingerprint reader would), attached to this page; its id and the CDP session."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    added = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )
    return {"cdp": cdp, "id": added["authenticatorId"]}


def credentials_of(authenticator: dict[str, Any]) -> list[dict[str, Any]]:
    found = authenticator["cdp"].send("WebAuthn.getCredentials", {"authenticatorId": authenticator["id"]})
    return list(found["credentials"])


def add_passkey(page: Any, site: Site, name: str) -> None:
    page.goto(f"{base(site)}/inbox/account")
    page.get_by_label("Name of the new passkey").fill(name)
    page.get_by_role("button", name="Add a passkey").click()
    expect(page.locator("#passkey-added")).to_be_visible()


def test_add_a_passkey_sign_in_with_it_and_remove_it(site: Site, page: Any, authenticator: Any) -> None:
    site.person("pia@example.com", "keys", "reviewer", "Pia")
    sign_in(page, site, "pia@example.com", base(site))
    add_passkey(page, site, "work laptop")
    expect(page.locator(".passkey .passkey-name")).to_have_text(["work laptop"])
    # The authenticator holds a discoverable credential for this person, under our host name.
    (held,) = credentials_of(authenticator)
    assert (held["isResidentCredential"], held["rpId"]) == (True, "localhost")
    (stored,) = site.service.passkeys.list_for(site.service.people.find_user("pia@example.com").id)
    assert stored.name == "work laptop"

    # Signed out, the passkey alone signs in: no address typed, no password.
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r".*/inbox/login"))
    page.get_by_role("button", name="Sign in with a passkey").click()
    page.wait_for_url(re.compile(r".*/inbox/p/keys$"))
    expect(page.locator(".account .me")).to_have_text("Pia")
    page.goto(f"{base(site)}/inbox/account")
    expect(page.locator(".passkey")).to_contain_text("last used")

    # Removed, it no longer signs anyone in, and the page says why.
    page.get_by_role("button", name="Remove passkey work laptop").click()
    expect(page.locator("#no-passkeys")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("button", name="Sign in with a passkey").click()
    expect(page.locator("#passkey-status")).to_contain_text("not one of yours registered here")
    assert "/inbox/login" in page.url


def test_a_step_up_decision_reaches_the_waiting_sdk_call(site: Site, page: Any, authenticator: Any) -> None:
    site.person("sol@example.com", "stepup", "reviewer", "Sol")
    done = site.server.foureyes("projects", "step-up", "stepup", "on")
    assert done.returncode == 0, done.stderr
    assert "step-up: on" in done.stdout
    sign_in(page, site, "sol@example.com", base(site))
    add_passkey(page, site, "phone")
    (held,) = credentials_of(authenticator)

    sdk = foureyes.HumanLayer(api_key=site.key("stepup"), api_base_url=site.server.api_base, run_id="r1")
    ran: list[dict[str, Any]] = []

    @sdk.require_approval
    def pay(to: str, amount: int) -> str:
        ran.append({"to": to, "amount": amount})
        return "paid"

    waiting = in_thread(lambda: pay(to="bob", amount=70))
    page.goto(f"{base(site)}/inbox/p/stepup")
    page.get_by_role("link", name=re.compile("pay")).click()
    expect(page.locator("#step-up-notice")).to_contain_text("needs step-up")
    page.get_by_role("button", name="Approve").click()
    page.wait_for_url(re.compile(r".*done=.*"))

    assert waiting.result(timeout=60) == "paid"
    assert ran == [{"to": "bob", "amount": 70}]
    (item,) = site.service.items.list_run_items(site.service.projects.get("stepup").id, "r1")
    (decision,) = item.decisions
    # The decision records which passkey confirmed it: the authenticator's own credential.
    assert item.step_up is True
    assert decision.step_up_credential == held["credentialId"].rstrip("=").replace("+", "-").replace("/", "_")
    sdk.close()


def test_a_step_up_request_is_refused_without_the_assertion_and_over_rest(site: Site, chromium: Any) -> None:
    site.person("tom@example.com", "strict", "reviewer", "Tom")
    site.service.projects.set_step_up("strict", True)
    agent = site.agent(site.key("strict"))
    reviewer = site.agent(site.key("strict", ("respond",)))
    agent.post("/function_calls", json=function_call("s1", kwargs={"amount": 900}))

    # Over REST with a reviewer key: refused, saying why and what to do.
    refused = reviewer.post("/agent/function_calls/s1/respond", json={"approved": True})
    assert refused.status_code == 403
    message = refused.json()["error"]["message"]
    assert "needs step-up" in message
    assert "add a passkey on your account page" in message

    # In a browser without JavaScript the form still posts, and is refused the same way.
    context = chromium.new_context(java_script_enabled=False)
    context.set_default_timeout(HANG_GUARD_MS)
    page = context.new_page()
    try:
        sign_in(page, site, "tom@example.com", base(site))
        page.goto(f"{base(site)}/inbox/p/strict/function_calls/s1")
        expect(page.locator("#step-up-notice")).to_contain_text("You have no passkey yet")
        with page.expect_response(lambda r: r.request.method == "POST") as answer:
            page.get_by_role("button", name="Approve").click()
        assert answer.value.status == 403
        expect(page.locator("#message")).to_contain_text("needs step-up")
    finally:
        context.close()
    assert agent.get("/function_calls/s1").json()["status"]["approved"] is None


def _captured_decision(page: Any, url: str) -> str:
    """Approve on the page at ``url`` and keep the form it sends (with its fresh assertion),
    stopping it before it reaches the server."""
    page.goto(url)

    def hold(route: Any) -> None:
        if route.request.method == "POST" and route.request.url == url:
            route.abort()
        else:
            route.continue_()

    page.route("**/*", hold)
    # Waits until the post has failed, i.e. until hold() has run: unrouted before, it would go on.
    with page.expect_event("requestfailed", lambda r: r.method == "POST" and r.url == url) as posted:
        page.get_by_role("button", name="Approve").click()
    page.unroute("**/*", hold)
    body = posted.value.post_data
    assert "step_up_credential=" in body
    return str(body)


def test_a_replayed_or_misdirected_assertion_is_refused(site: Site, page: Any, authenticator: Any) -> None:
    site.person("uma@example.com", "replay", "reviewer", "Uma")
    site.service.projects.set_step_up("replay", True)
    agent = site.agent(site.key("replay"))
    for call_id in ("a1", "b1", "c1"):
        agent.post("/function_calls", json=function_call(call_id))
    sign_in(page, site, "uma@example.com", base(site))
    add_passkey(page, site, "key")
    calls = f"{base(site)}/inbox/p/replay/function_calls"
    form = {"Content-Type": "application/x-www-form-urlencoded"}

    # An assertion made to approve a1, sent to decide b1: bound to another decision.
    for_a1 = _captured_decision(page, f"{calls}/a1")
    moved = page.request.post(f"{calls}/b1", data=for_a1, headers=form, max_redirects=0)
    assert moved.status == 403
    assert "made for another decision" in moved.text()
    assert agent.get("/function_calls/b1").json()["status"]["approved"] is None

    # Sent twice where it belongs: the first decides, the second finds its challenge used.
    for_c1 = _captured_decision(page, f"{calls}/c1")
    first = page.request.post(f"{calls}/c1", data=for_c1, headers=form, max_redirects=0)
    assert first.status == 303
    again = page.request.post(f"{calls}/c1", data=for_c1, headers=form, max_redirects=0)
    assert again.status == 403
    assert "already used" in again.text()
    assert agent.get("/function_calls/c1").json()["status"]["approved"] is True
    assert agent.get("/function_calls/a1").json()["status"]["approved"] is None

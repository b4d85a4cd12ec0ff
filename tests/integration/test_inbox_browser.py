"""The real inbox in Debian's Chromium: sign in, decide every way, live updates, keyboard and
phone use, a forged cross-site POST, and attribution seen by both SDKs."""

from __future__ import annotations

import re
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import humanlayer
import pytest

import foureyes

from .inbox_browser import (
    HANG_GUARD_MS,
    Site,
    function_call,
    human_contact,
    sign_in,
)

pytestmark = pytest.mark.slow


def expect(locator: Any) -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


def in_thread(fn: Any) -> Future[Any]:
    pool = ThreadPoolExecutor(max_workers=1)
    future = pool.submit(fn)
    pool.shutdown(wait=False)
    return future


def test_sign_in_and_decide_every_way(site: Site, page: Any) -> None:
    site.person("rae@example.com", "decide", "reviewer", "Rae")
    agent = site.agent(site.key("decide", name="billing-bot"))
    options = [{"name": "too_big", "title": "Too big", "description": "the amount is over the limit"}]
    agent.post("/function_calls", json=function_call("approve-me", kwargs={"amount": 10}))
    agent.post("/function_calls", json=function_call("reject-me", kwargs={"amount": 20}))
    agent.post("/function_calls", json=function_call("option-me", reject_options=options))
    answer_options = [{"name": "formal", "title": "Formal", "description": "Dear Sir or Madam"}]
    agent.post(
        "/human_contacts", json=human_contact("pick-me", "Formal or casual?", response_options=answer_options)
    )
    agent.post("/human_contacts", json=human_contact("type-me", "When shall I send it?"))

    sign_in(page, site, "rae@example.com")
    base = f"{site.server.url}/inbox/p/decide"

    page.goto(f"{base}/function_calls/approve-me")
    expect(page.locator("code.fn")).to_have_text("send_email")
    expect(page.locator(".agent")).to_have_text("billing-bot")
    page.get_by_role("button", name="Approve").click()
    expect(page.locator(".verdict")).to_contain_text("Approved by Rae <rae@example.com> via inbox")

    page.goto(f"{base}/function_calls/reject-me")
    page.get_by_label("Why reject?").fill("twenty is too much")
    page.get_by_role("button", name="Reject", exact=True).click()
    expect(page.locator(".verdict")).to_contain_text("Rejected by Rae")
    expect(page.locator(".verdict .comment")).to_contain_text("twenty is too much")

    page.goto(f"{base}/function_calls/option-me")
    expect(page.locator(".option .description")).to_have_text("the amount is over the limit")
    page.get_by_role("button", name="Reject: Too big").click()
    expect(page.locator(".verdict")).to_contain_text("Rejected (too_big) by Rae")

    page.goto(f"{base}/human_contacts/pick-me")
    expect(page.locator(".message-text")).to_have_text("Formal or casual?")
    page.get_by_role("button", name="Formal").click()
    expect(page.locator(".verdict")).to_contain_text("Answered (formal) by Rae")

    page.goto(f"{base}/human_contacts/type-me")
    page.get_by_label("Your answer").fill("tomorrow at nine")
    page.get_by_role("button", name="Send answer").click()
    expect(page.locator(".verdict .comment")).to_contain_text("tomorrow at nine")

    statuses = {
        c: agent.get(f"/function_calls/{c}").json()["status"]
        for c in ("approve-me", "reject-me", "option-me")
    }
    assert statuses["approve-me"]["approved"] is True
    assert (statuses["reject-me"]["approved"], statuses["reject-me"]["comment"]) == (
        False,
        "twenty is too much",
    )
    assert statuses["option-me"]["reject_option_name"] == "too_big"
    by = {"email": "rae@example.com", "name": "Rae", "channel": "inbox"}
    assert all(s["responded_by"] == by for s in statuses.values())
    picked = agent.get("/contact_requests/pick-me").json()["status"]
    assert (picked["response"], picked["response_option_name"]) == ("Formal", "formal")
    assert agent.get("/contact_requests/type-me").json()["status"]["response"] == "tomorrow at nine"

    page.goto(f"{base}/history")
    expect(page.locator("#items .item")).to_have_count(5)
    expect(page.locator("#items")).to_contain_text("twenty is too much")


def test_without_javascript_forms_work_and_deciding_twice_is_a_clear_409(site: Site, chromium: Any) -> None:
    site.person("sam@example.com", "twice", "reviewer", "Sam")
    agent = site.agent(site.key("twice"))
    reviewer = site.agent(site.key("twice", ("respond",)))
    agent.post("/function_calls", json=function_call("c1"))
    agent.post("/function_calls", json=function_call("c2"))
    # No JavaScript: plain forms do everything, and no live update hides the stale form.
    context = chromium.new_context(java_script_enabled=False)
    context.set_default_timeout(HANG_GUARD_MS)
    page = context.new_page()
    try:
        sign_in(page, site, "sam@example.com")
        page.goto(f"{site.server.url}/inbox/p/twice/function_calls/c2")
        page.get_by_role("button", name="Approve").click()
        expect(page.locator(".verdict")).to_contain_text("Approved by Sam")

        page.goto(f"{site.server.url}/inbox/p/twice/function_calls/c1")
        # Someone else decides while the page is open; its form still posts.
        assert reviewer.post("/agent/function_calls/c1/respond", json={"approved": True}).status_code == 200
        page.get_by_label("Why reject?").fill("no")
        with page.expect_response(lambda r: r.request.method == "POST") as answer:
            page.get_by_role("button", name="Reject", exact=True).click()
        assert answer.value.status == 409
        expect(page.locator("#message")).to_contain_text("already decided")
        expect(page.locator(".verdict")).to_contain_text("Approved by API key")
        assert agent.get("/function_calls/c1").json()["status"]["approved"] is True
    finally:
        context.close()


def test_keyboard_only_and_phone_sized(site: Site, chromium: Any) -> None:
    site.person("kai@example.com", "phone", "reviewer", "Kai")
    agent = site.agent(site.key("phone"))
    agent.post("/function_calls", json=function_call("k1", kwargs={"body": "word " * 400}))
    context = chromium.new_context(viewport={"width": 375, "height": 740}, is_mobile=True, has_touch=True)
    context.set_default_timeout(HANG_GUARD_MS)
    page = context.new_page()
    try:
        sign_in(page, site, "kai@example.com")
        for path in ("", "/function_calls/k1", "/history"):
            page.goto(f"{site.server.url}/inbox/p/phone{path}")
            # Nothing wider than the screen: no sideways scrolling on a phone.
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        page.goto(f"{site.server.url}/inbox/p/phone")
        # Keyboard only: Tab to the item's link, Enter, Tab to Approve, Enter.
        for _ in range(60):
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement.matches('a.title')"):
                break
        page.keyboard.press("Enter")
        page.wait_for_url(re.compile(r".*/function_calls/k1$"))
        expect(page.locator("details")).to_have_count(1)  # the long argument is folded
        for _ in range(60):
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement.textContent.trim() === 'Approve'"):
                break
        # The focused control shows a visible focus ring.
        outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
        assert outline not in ("none", "")
        page.keyboard.press("Enter")
        expect(page.locator(".verdict")).to_contain_text("Approved by Kai")
    finally:
        context.close()


def test_requests_arrive_and_leave_live(site: Site, page: Any) -> None:
    site.person("liv@example.com", "live", "viewer", "Liv")
    key = site.key("live", name="live-agent")
    reviewer = site.agent(site.key("live", ("respond",)))
    sign_in(page, site, "liv@example.com")
    page.goto(f"{site.server.url}/inbox/p/live")
    expect(page.locator("#items")).to_contain_text("Nothing is waiting")
    # (a locator, not wait_for_function: the CSP forbids the eval its polling needs)
    expect(page.locator("body[data-live-connected='yes']")).to_have_count(1)
    page.evaluate("window.__not_reloaded = true")

    sdk = foureyes.HumanLayer(api_key=key, api_base_url=site.server.api_base, run_id="live-run")
    sdk.create_function_call(foureyes.FunctionCallSpec(fn="wire_money", kwargs={"to": "bob"}), call_id="l1")
    expect(page.locator("#items .item")).to_have_count(1)
    expect(page.locator("#items")).to_contain_text("wire_money")
    expect(page.locator("#pending-count")).to_have_text("1")

    assert reviewer.post("/agent/function_calls/l1/respond", json={"approved": True}).status_code == 200
    expect(page.locator("#items .item")).to_have_count(0)
    # All of it happened without a reload.
    assert page.evaluate("window.__not_reloaded") is True
    sdk.close()


@pytest.mark.parametrize(
    ("head", "refusal"),
    [
        # The browser names the forging page's origin: refused for coming from another site.
        ("", "another site"),
        # A page that hides its origin (Origin: null): refused for lacking the form's token.
        ('<meta name="referrer" content="no-referrer">', "security token"),
    ],
)
def test_a_forged_cross_site_post_is_refused(site: Site, page: Any, head: str, refusal: str) -> None:
    project = "csrf-null" if head else "csrf"
    site.person(f"fox@{project}.example.com", project, "reviewer", "Fox")
    agent = site.agent(site.key(project))
    agent.post("/function_calls", json=function_call("target"))
    sign_in(page, site, f"fox@{project}.example.com")
    target = f"{site.server.url}/inbox/p/{project}/function_calls/target"
    # Another origin (same host, another port): a page that posts the decision form by itself.
    evil = "http://127.0.0.1:9/evil.html"
    forged = (
        f'<html><head>{head}</head><body><form id="f" method="post" action="{target}">'
        '<input name="action" value="approve"><input name="csrf" value="guessed"></form>'
        "<script>document.getElementById('f').submit()</script></body></html>"
    )
    page.route(evil, lambda route: route.fulfill(status=200, content_type="text/html", body=forged))
    with page.expect_response(target) as answer:
        page.goto(evil)
    assert answer.value.status == 403
    expect(page.locator("#message")).to_contain_text(refusal)
    assert agent.get("/function_calls/target").json()["status"]["approved"] is None


def test_both_sdks_see_who_decided_in_the_browser(site: Site, page: Any) -> None:
    site.person("ora@example.com", "attr", "admin", "Ora")
    key = site.key("attr", name="attribution-agent")
    official = humanlayer.HumanLayer(
        api_key=key, api_base_url=site.server.api_base, sleep=lambda _s: time.sleep(0.05)
    )
    spec = humanlayer.FunctionCallSpec(fn="deploy", kwargs={"env": "prod"})
    waiting = in_thread(lambda: official.fetch_approval(spec))
    sign_in(page, site, "ora@example.com")
    page.goto(f"{site.server.url}/inbox/p/attr")
    page.get_by_role("link", name=re.compile("deploy")).click()
    page.get_by_label("Comment (optional)").fill("ship it")
    page.get_by_role("button", name="Approve").click()
    expect(page.locator(".verdict")).to_contain_text("Approved by Ora")

    result = waiting.result(timeout=60)
    completed = result.as_completed()
    assert (completed.approved, completed.comment) == (True, "ship it")

    ours = foureyes.HumanLayer(api_key=key, api_base_url=site.server.api_base)
    status = ours.get_function_call(result.call.call_id).status
    assert status is not None
    assert status.responded_by == foureyes.RespondedBy(email="ora@example.com", name="Ora", channel="inbox")
    ours.close()

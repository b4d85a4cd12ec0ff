"""Triage in Debian's Chromium: twenty requests decided by keyboard only and fifty approved in one
bulk action, every outcome reaching the agent's waiting long-poll."""

from __future__ import annotations

import re
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from .inbox_browser import Site, function_call, sign_in

pytestmark = pytest.mark.slow


def expect(locator: Any) -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


def _waiting(pool: ThreadPoolExecutor, agent: httpx.Client, ids: list[str]) -> list[Future[Any]]:
    """Each call's long-poll, as an SDK waiting for its decision."""
    return [pool.submit(agent.get, f"/function_calls/{c}", params={"wait": 50}, timeout=90) for c in ids]


def _ready(page: Any) -> None:
    # The script is running once the live stream is connected.
    expect(page.locator("body[data-live-connected='yes']")).to_have_count(1)


def test_twenty_requests_triaged_by_keyboard_only(site: Site, page: Any) -> None:
    site.person("kim@example.com", "keys", "reviewer", "Kim")
    agent = site.agent(site.key("keys"))
    ids = [f"k{n:02}" for n in range(20)]
    for call_id in ids:
        assert agent.post("/function_calls", json=function_call(call_id)).status_code == 200
    sign_in(page, site, "kim@example.com")
    base = f"{site.server.url}/inbox/p/keys"
    with ThreadPoolExecutor(max_workers=len(ids)) as pool:
        waiting = _waiting(pool, agent, ids)
        page.goto(base)
        _ready(page)
        page.keyboard.press("?")
        expect(page.locator("#shortcuts")).to_be_visible()
        expect(page.locator("#shortcuts")).to_contain_text("approve the selected")
        page.keyboard.press("Escape")
        expect(page.locator("#shortcuts")).to_be_hidden()

        # j then a: approve the newest, sixteen times (each returns to the list).
        for left in range(20, 4, -1):
            expect(page.locator("#pending-count")).to_have_text(str(left))
            _ready(page)
            page.keyboard.press("j")
            expect(page.locator("li.item[data-current]")).to_have_count(1)
            with page.expect_navigation():
                page.keyboard.press("a")
            expect(page.locator("#pending-count")).to_have_text(str(left - 1))

        # j, j, r: reject the second with a comment.
        _ready(page)
        page.keyboard.press("j")
        page.keyboard.press("j")
        second = page.locator("li.item[data-current]").get_attribute("data-call-id")
        page.keyboard.press("r")
        expect(page.locator("#bulk-comment")).to_be_focused()
        page.keyboard.type("not this one")
        page.keyboard.press("Tab")
        expect(page.locator("#confirm")).to_be_focused()
        page.keyboard.press("Enter")
        expect(page.locator("#decided-count")).to_have_text("1")

        # o opens; then back, select the other three with x, A, confirm with Enter.
        page.goto(base)
        _ready(page)
        page.keyboard.press("j")
        page.keyboard.press("o")
        page.wait_for_url(re.compile(r".*/function_calls/k0\d$"))
        page.go_back()
        _ready(page)
        for _ in range(3):
            page.keyboard.press("j")
            page.keyboard.press("x")
        expect(page.locator("input.select:checked")).to_have_count(3)
        page.keyboard.press("A")
        expect(page.locator(".bulk-confirm li.item")).to_have_count(3)
        expect(page.locator("#confirm")).to_be_focused()
        page.keyboard.press("Enter")
        expect(page.locator("#decided-count")).to_have_text("3")
        answers = {c: w.result(timeout=90).json()["status"] for c, w in zip(ids, waiting, strict=True)}
    assert answers[second]["approved"] is False
    assert answers[second]["comment"] == "not this one"
    assert [c for c, s in answers.items() if s["approved"] is not True] == [second]
    page.goto(base)
    expect(page.locator("#pending-count")).to_have_text("0")


def test_fifty_approved_in_one_bulk_action(site: Site, page: Any) -> None:
    site.person("bea@example.com", "bulk", "reviewer", "Bea")
    agent = site.agent(site.key("bulk"))
    ids = [f"b{n:02}" for n in range(50)]
    for call_id in ids:
        assert agent.post("/function_calls", json=function_call(call_id)).status_code == 200
    sign_in(page, site, "bea@example.com")
    with ThreadPoolExecutor(max_workers=len(ids)) as pool:
        waiting = _waiting(pool, agent, ids)
        page.goto(f"{site.server.url}/inbox/p/bulk")
        _ready(page)
        for box in page.locator("#items input.select").all():
            box.check()
        page.get_by_role("button", name="Approve selected…").click()
        expect(page.locator(".bulk-confirm li.item")).to_have_count(50)
        page.get_by_role("button", name="Approve 50").click()
        expect(page.locator("#decided-count")).to_have_text("50")
        answers = [w.result(timeout=90).json()["status"] for w in waiting]
    assert all(a["approved"] is True for a in answers)
    assert len(answers) == 50

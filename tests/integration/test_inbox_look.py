"""The inbox as a reviewer sees it in Debian's Chromium: the next pending request after a
decision (without JavaScript too), the deadline counting down to "expired", dark mode, and the
phone layout with the requests first and the filters folded away."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from .inbox_browser import HANG_GUARD_MS, Site, function_call, sign_in

pytestmark = pytest.mark.slow


def expect(locator: Any) -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


def _context(chromium: Any, **options: Any) -> Any:
    context = chromium.new_context(**options)
    context.set_default_timeout(HANG_GUARD_MS)
    return context


@pytest.mark.parametrize("javascript", [True, False])
def test_after_a_decision_the_next_pending_request_opens(site: Site, chromium: Any, javascript: bool) -> None:
    project = f"next-{'js' if javascript else 'plain'}"
    email = f"{project}@example.com"
    site.person(email, project, "reviewer", "Nia")
    agent = site.agent(site.key(project))
    for call_id in ("n1", "n2", "n3"):
        agent.post("/function_calls", json=function_call(call_id, fn=f"step_{call_id}"))
    context = _context(chromium, java_script_enabled=javascript)
    page = context.new_page()
    try:
        sign_in(page, site, email)
        base = f"{site.server.url}/inbox/p/{project}"
        page.goto(f"{base}/function_calls/n3")
        page.get_by_role("button", name="Approve").click()
        # The one below it in the list opens, saying what was decided.
        page.wait_for_url(re.compile(r".*/function_calls/n2\?done="))
        expect(page.locator("#decided")).to_contain_text("Approved by Nia")
        expect(page.locator("#decided")).to_contain_text("n3")
        page.get_by_label("Why reject?").fill("not now")
        page.get_by_role("button", name="Reject", exact=True).click()
        page.wait_for_url(re.compile(r".*/function_calls/n1\?done="))
        expect(page.locator("#decided .comment")).to_contain_text("not now")
        page.get_by_role("button", name="Approve").click()
        # None left: the list, empty, with the last decision on top.
        page.wait_for_url(re.compile(rf".*/inbox/p/{project}\?done="))
        expect(page.locator("#decided")).to_contain_text("n1")
        expect(page.locator("#pending-count")).to_have_text("0")
    finally:
        context.close()
    assert [agent.get(f"/function_calls/{c}").json()["status"]["approved"] for c in ("n1", "n2", "n3")] == [
        True,
        False,
        True,
    ]


def test_the_deadline_counts_down_to_expired(site: Site, chromium: Any) -> None:
    site.person("tia@example.com", "clock", "reviewer", "Tia")
    agent = site.agent(site.key("clock"))
    due = datetime.now(UTC) + timedelta(minutes=10)
    agent.post("/function_calls", json={**function_call("t1"), "expires_at": due.isoformat()})
    context = _context(chromium)
    page = context.new_page()
    try:
        # The page's clock is Playwright's, moved on by hand: no waiting for real minutes.
        page.clock.install(time=datetime.now(UTC))
        sign_in(page, site, "tia@example.com")
        for path in ("/function_calls/t1", ""):
            page.goto(f"{site.server.url}/inbox/p/clock{path}")
            deadline = page.locator("time.deadline")
            expect(deadline).to_have_text(re.compile(r"^in (9|10) min$"))
            page.clock.run_for("09:00")
            expect(deadline).to_have_text(re.compile(r"^in \d+ s$"))
            expect(deadline).to_have_class(re.compile(r"\bsoon\b"))
            expect(page.locator("time.since").first).to_have_text(re.compile(r"^9 min$"))
            page.clock.run_for("01:05")
            expect(deadline).to_have_text("expired")
            expect(deadline).to_have_class(re.compile(r"\bexpired\b"))
    finally:
        context.close()


def _luminance(css: str) -> float:
    red, green, blue = (int(v) for v in re.findall(r"\d+", css)[:3])
    return (0.2126 * red + 0.7152 * green + 0.0722 * blue) / 255


def test_dark_mode_follows_the_system(site: Site, chromium: Any) -> None:
    site.person("dan@example.com", "dark", "reviewer", "Dan")
    agent = site.agent(site.key("dark"))
    agent.post("/function_calls", json=function_call("d1", kwargs={"to": "x@example.com", "n": 1}))
    seen = {}
    for scheme in ("light", "dark"):
        context = _context(chromium, color_scheme=scheme)
        page = context.new_page()
        try:
            sign_in(page, site, "dan@example.com")
            page.goto(f"{site.server.url}/inbox/p/dark/function_calls/d1")

            def colour(selector: str, prop: str, page: Any = page) -> str:
                return str(page.locator(selector).first.evaluate(f"e => getComputedStyle(e).{prop}"))

            seen[scheme] = {
                "page": _luminance(colour("html", "backgroundColor")),
                "text": _luminance(colour("main h1", "color")),
                "card": _luminance(colour(".json", "backgroundColor")),
                "number": colour(".json .n", "color"),
            }
        finally:
            context.close()
    light, dark = seen["light"], seen["dark"]
    assert light["page"] > 0.9 > 0.15 > dark["page"]
    assert light["text"] < 0.2 < 0.8 < dark["text"]
    assert dark["card"] < 0.2
    assert light["number"] != dark["number"]  # the argument colours have their own dark set


def test_on_a_phone_the_requests_come_first_and_the_filters_fold_away(site: Site, chromium: Any) -> None:
    site.person("pia@example.com", "pocket", "reviewer", "Pia")
    agent = site.agent(site.key("pocket"))
    for n in range(6):
        agent.post("/function_calls", json=function_call(f"p{n}", fn="pay" if n % 2 else "mail"))
    context = _context(chromium, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        sign_in(page, site, "pia@example.com")
        page.goto(f"{site.server.url}/inbox/p/pocket")
        filters = page.locator("details.filters-box")
        expect(filters).not_to_have_attribute("open", "")
        expect(page.locator("#fn")).to_be_hidden()
        # The first request and its Approve button are on the first screen. The live stream
        # replaces the list once it connects, so the check waits for that and retries (a one-off
        # measure could land on a row that has just been swapped out).
        expect(page.locator("body[data-live-connected='yes']")).to_have_count(1)
        assert page.evaluate("window.scrollY") == 0
        first = page.locator("#items li.item").first.locator("button.row-approve")
        expect(first).to_be_in_viewport(ratio=1)
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        # One tap opens the filters; a filter in use keeps them open.
        page.locator("details.filters-box > summary").click()
        page.locator("#fn").select_option("pay")
        page.get_by_role("button", name="Filter", exact=True).click()
        page.wait_for_url(re.compile(r".*fn=pay"))
        expect(filters).to_have_attribute("open", "")
        expect(page.locator("details.filters-box > summary")).to_contain_text("1 active")
        expect(page.locator("#items li.item")).to_have_count(3)
    finally:
        context.close()


def test_a_removed_persons_open_page_stops_updating(site: Site, chromium: Any) -> None:
    site.person("rex@example.com", "gone", "reviewer", "Rex")
    agent = site.agent(site.key("gone"))
    context = _context(chromium)
    page = context.new_page()
    try:
        sign_in(page, site, "rex@example.com")
        page.goto(f"{site.server.url}/inbox/p/gone")
        expect(page.locator("body[data-live-connected='yes']")).to_have_count(1)
        agent.post("/function_calls", json=function_call("g1"))
        expect(page.locator("#items li.item")).to_have_count(1)
        # Removed by the operator's command (another process: the server's periodic re-check
        # finds it on SQLite, a notice on PostgreSQL).
        removed = site.server.foureyes("users", "remove", "rex@example.com", "--project", "gone")
        assert removed.returncode == 0, removed.stderr
        # The stream ends, the page reloads and says the project is not there for this person.
        expect(page.locator("main h1")).to_have_text("Not found")
        agent.post("/function_calls", json=function_call("g2"))
        expect(page.locator("#items")).to_have_count(0)
    finally:
        context.close()

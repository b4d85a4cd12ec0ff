"""Accessibility: axe-core (installed by scripts/_axe at the pinned version) run in Debian's
Chromium on every page of the inbox, in light and in dark mode, on a desktop and a phone: no
serious or critical violation anywhere."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from .inbox_browser import HANG_GUARD_MS, Site, function_call, human_contact, sign_in

pytestmark = pytest.mark.slow

AXE = Path(__file__).resolve().parents[1] / "axe" / "node_modules" / "axe-core" / "axe.min.js"
# Only what breaks use for someone: axe's "serious" and "critical" impacts.
BLOCKING = {"serious", "critical"}
RUN_AXE = "axe.run(document, {resultTypes: ['violations']}).then(r => r.violations)"


def axe_source() -> str:
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run `source scripts/_axe` (scripts/test does)")
    return AXE.read_text(encoding="utf-8")


def blocking_violations(page: Any) -> list[str]:
    """Inject axe into the page as it is and report each serious or critical violation."""
    page.evaluate(axe_source())
    found = page.evaluate(RUN_AXE)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:5]}"
        for v in found
        if v["impact"] in BLOCKING
    ]


def _project(site: Site) -> None:
    """Everything a page can show: pending and decided calls with folded, marked arguments, a
    question with options, a deadline, a run, an approver group."""
    site.person("ola@example.com", "a11y", "admin", "Ola")
    site.service.groups.add("a11y", "finance", ["ola@example.com"])
    agent = site.agent(site.key("a11y", name="agent-1"))
    lead = site.agent(site.key("a11y", ("respond",), name="lead"))
    due = (datetime.now(UTC) + timedelta(minutes=30)).isoformat()
    kwargs = {
        "to": "ana@example.com",
        "body": "Hello,\nsee https://example.com/offer\n" + "more text " * 40,
        "rows": [{"n": n, "ok": n % 2 == 0, "note": None} for n in range(20)],
    }
    options = [{"name": "too_big", "title": "Too big", "description": "over the limit"}]
    agent.post(
        "/function_calls",
        json={**function_call("p1", kwargs=kwargs, reject_options=options), "expires_at": due},
    )
    agent.post("/function_calls", json=function_call("d1", kwargs={"amount": 5}))
    lead.post("/agent/function_calls/d1/respond", json={"approved": False, "comment": "no"})
    answers = [{"name": "formal", "title": "Formal", "description": "Dear Sir or Madam"}]
    agent.post("/human_contacts", json=human_contact("q1", "Formal or casual?", response_options=answers))
    # A request that allows edits: its page has the arguments' editor.
    agent.post("/function_calls", json={**function_call("e1", kwargs={"usd": 40}), "allow_edit": True})
    # From now on the project's requests need step-up: the notice on s1, the passkey parts.
    site.service.projects.set_step_up("a11y", True)
    agent.post("/function_calls", json=function_call("s1", kwargs={"amount": 900}))


PAGES = [
    "/inbox",
    "/inbox/p/a11y",
    "/inbox/p/a11y?q=ana&kind=function_calls",
    "/inbox/p/a11y/history",
    "/inbox/p/a11y/function_calls/p1",
    "/inbox/p/a11y/function_calls/d1",
    "/inbox/p/a11y/function_calls/s1",
    "/inbox/p/a11y/function_calls/e1",
    "/inbox/p/a11y/settings",
    "/inbox/p/a11y/human_contacts/q1",
    "/inbox/p/a11y/runs/run-1",
    "/inbox/p/a11y/people",
    "/inbox/account",
    "/inbox/tokens",
    "/inbox/p/nowhere",
]


def test_the_check_finds_what_it_should(chromium: Any) -> None:
    """A page with a picture without text and an unnamed button: axe names both."""
    page = chromium.new_page()
    try:
        page.set_content('<html lang="en"><title>t</title><img src="x.png"><button></button></html>')
        found = " ".join(blocking_violations(page))
    finally:
        page.close()
    assert "image-alt (critical)" in found
    assert "button-name (critical)" in found


# Colours differ between the schemes, and the layout on a phone.
@pytest.mark.parametrize(("scheme", "width"), [("light", 1100), ("dark", 1100), ("light", 390)])
def test_no_serious_or_critical_violation_on_any_page(
    site: Site, chromium: Any, scheme: str, width: int
) -> None:
    if not any(p.email == "ola@example.com" for p in site.service.people.list_users()):
        _project(site)
    context = chromium.new_context(viewport={"width": width, "height": 800}, color_scheme=scheme)
    context.set_default_timeout(HANG_GUARD_MS)
    page = context.new_page()
    problems: dict[str, list[str]] = {}
    try:
        # Before signing in: the sign-in page and an invitation.
        for path in ("/inbox/login", "/inbox/invite/" + site.invitation("new@example.com", "a11y")):
            page.goto(site.server.url + path)
            problems[path] = blocking_violations(page)
        sign_in(page, site, "ola@example.com")
        for path in PAGES:
            page.goto(site.server.url + path)
            problems[path] = blocking_violations(page)
        # The pending list with the shortcut help open, and the bulk confirmation.
        page.goto(f"{site.server.url}/inbox/p/a11y")
        page.keyboard.press("?")
        problems["shortcut help"] = blocking_violations(page)
        page.keyboard.press("Escape")
        page.locator("#items input.select").first.check()
        page.locator("#approve-selected").click()
        page.locator(".bulk-confirm").wait_for()
        problems["bulk confirmation"] = blocking_violations(page)
    finally:
        context.close()
    assert {where: found for where, found in problems.items() if found} == {}

"""Edit before approve in Debian's Chromium: the arguments' editor checks the JSON as the reviewer
types (Approve stays disabled while it is invalid), shows the change against the agent's
arguments, resets, and the approved edit reaches the waiting agent (our SDK runs it); in light and
dark mode, at phone width, with no serious or critical axe violation; and without JavaScript the
plain form still approves an edit."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

import foureyes

from .inbox_browser import HANG_GUARD_MS, Site, expect, function_call, in_thread, sign_in
from .test_inbox_axe import blocking_violations

pytestmark = pytest.mark.slow

EDITOR = "#approve-args"


def _context(chromium: Any, **options: Any) -> Any:
    context = chromium.new_context(**options)
    context.set_default_timeout(HANG_GUARD_MS)
    return context


def _retype(page: Any, text: str) -> None:
    """Replace the editor's text by typing, as a reviewer does (every key an input event)."""
    page.locator(EDITOR).focus()
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    page.keyboard.type(text)


def test_an_edit_typed_checked_reset_and_approved_runs_in_our_sdk(site: Site, page: Any) -> None:
    site.person("eve@example.com", "edits", "reviewer", "Eve")
    key = site.key("edits")
    hl = foureyes.HumanLayer(api_key=key, api_base_url=site.server.api_base, timeout=90)
    ran: list[tuple[str, int]] = []

    @hl.require_approval(editable=True)
    def refund(order: str, usd: int) -> str:
        ran.append((order, usd))
        return f"refunded {usd}"

    answer = in_thread(lambda: refund("A-1", 400))
    sign_in(page, site, "eve@example.com")
    page.goto(f"{site.server.url}/inbox/p/edits")
    expect(page.locator("li.item[data-editable]")).to_have_count(1)
    expect(page.locator("body[data-live-connected='yes']")).to_have_count(1)

    # "e" on the list opens the request with its editor focused; "?" lists the shortcut.
    page.keyboard.press("?")
    expect(page.locator("#shortcuts")).to_contain_text("edit its arguments")
    page.keyboard.press("Escape")
    page.keyboard.press("j")
    with page.expect_navigation():
        page.keyboard.press("e")
    expect(page.locator(EDITOR)).to_be_focused()
    call_id = page.url.split("/function_calls/", 1)[1].split("#", 1)[0]
    status = page.locator("#edit-status")
    approve = page.locator("#decision button.approve")
    expect(status).to_have_text("Valid JSON, no changes: Approve approves the arguments as asked.")
    expect(page.locator("#edit-diff")).to_be_hidden()
    expect(page.locator("#edit-reset")).to_be_disabled()

    # Invalid JSON: where it breaks, Approve disabled, the field marked invalid.
    _retype(page, '{\n  "order": "A-1",\n  "usd": 40,\n}')
    expect(status).to_contain_text("Not valid JSON at line 4, column 1")
    expect(status).to_contain_text("Approve is disabled until it is valid")
    expect(approve).to_be_disabled()
    expect(page.locator(EDITOR)).to_have_attribute("aria-invalid", "true")
    typo = '{"order": "A-1", "usd": 4o}'
    _retype(page, typo)
    expect(status).to_contain_text(f"Not valid JSON at line 1, column {typo.index('o}') + 1}")
    # Neither the shortcut nor a submit by script sends it.
    page.keyboard.press("Escape")
    page.keyboard.press("a")
    page.evaluate("document.getElementById('approve-args').form.requestSubmit()")
    expect(status).to_contain_text("Nothing was sent")
    expect(page.locator(EDITOR)).to_be_focused()
    _retype(page, '["A-1", 40]')
    expect(status).to_have_text(
        "Not an object: the arguments must be a JSON object of the arguments by name."
        " Approve is disabled until it is valid."
    )
    expect(approve).to_be_disabled()
    assert site.agent(key).get(f"/function_calls/{call_id}").json()["status"]["approved"] is None

    # A valid edit: the diff shows the old and the new value.
    _retype(page, '{"order": "A-1", "usd": 40}')
    expect(status).to_have_text("Valid JSON: 1 argument changed (see below).")
    expect(approve).to_be_enabled()
    row = page.locator("#edit-diff tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_have_class("changed")
    expect(row.locator("th")).to_contain_text("usd")
    expect(row.locator("pre.removed")).to_have_text("400")
    expect(row.locator("pre.added")).to_have_text("40")

    # Reset: back to the agent's arguments, nothing changed.
    page.locator("#edit-reset").click()
    assert json.loads(page.locator(EDITOR).input_value()) == {"order": "A-1", "usd": 400}
    expect(page.locator("#edit-diff")).to_be_hidden()
    expect(status).to_contain_text("no changes")
    expect(page.locator(EDITOR)).to_be_focused()

    # Edit again and approve: our SDK runs the edited call and tells the LLM what changed.
    _retype(page, '{"order": "A-1", "usd": 40}')
    expect(row.locator("pre.added")).to_have_text("40")
    with page.expect_navigation():
        approve.click()
    assert "usd: 400 -> 40" in answer.result(timeout=90)
    assert ran == [("A-1", 40)]
    page.goto(f"{site.server.url}/inbox/p/edits/function_calls/{call_id}")
    expect(page.locator("#decision table.diff pre.added")).to_have_text("40")


def _colours(page: Any, selector: str) -> str:
    return str(page.locator(selector).first.evaluate("e => getComputedStyle(e).backgroundColor"))


def _luminance(css: str) -> float:
    red, green, blue = (int(v) for v in re.findall(r"\d+", css)[:3])
    return (0.2126 * red + 0.7152 * green + 0.0722 * blue) / 255


@pytest.mark.parametrize(("scheme", "width"), [("light", 1100), ("dark", 1100), ("dark", 390)])
def test_the_diff_in_light_and_dark_at_phone_width_passes_axe_and_reaches_the_http_agent(
    site: Site, chromium: Any, scheme: str, width: int
) -> None:
    project = f"diff-{scheme}-{width}"
    email = f"{project}@example.com"
    site.person(email, project, "reviewer", "Dee")
    agent = site.agent(site.key(project))
    kwargs = {"to": "ana@example.com", "usd": 400, "memo": "<b>refund</b>"}
    created = agent.post("/function_calls", json={**function_call("c1", kwargs=kwargs), "allow_edit": True})
    assert created.status_code == 200, created.text
    waiting = in_thread(lambda: agent.get("/function_calls/c1", params={"wait": 50}, timeout=90))
    context = _context(chromium, viewport={"width": width, "height": 800}, color_scheme=scheme)
    page = context.new_page()
    try:
        sign_in(page, site, email)
        page.goto(f"{site.server.url}/inbox/p/{project}/function_calls/c1")
        expect(page.locator("#edit-status")).to_contain_text("no changes")
        problems = {"editor": blocking_violations(page)}

        _retype(page, '{"to": "ana@example.com", "usd": ')
        expect(page.locator("#edit-status")).to_contain_text("it ends too early")
        problems["invalid"] = blocking_violations(page)

        edited = {"to": "bo@example.com", "usd": 40, "cc": ["ana@example.com"]}
        _retype(page, json.dumps(edited, indent=2))
        rows = page.locator("#edit-diff tbody tr")
        expect(rows).to_have_count(4)
        expect(page.locator("#edit-status")).to_have_text(
            "Valid JSON: 2 arguments changed, 1 removed, 1 added (see below)."
        )
        assert [r.get_attribute("data-key") for r in rows.all()] == ["to", "usd", "memo", "cc"]
        assert [r.get_attribute("class") for r in rows.all()] == ["changed", "changed", "removed", "added"]
        memo = page.locator("#edit-diff tr[data-key='memo']")
        expect(memo.locator("pre.removed")).to_have_text('"<b>refund</b>"')  # as text, not markup
        expect(memo.locator("td").nth(1)).to_have_text("(removed)")
        expect(page.locator("#edit-diff tr[data-key='cc'] td").first).to_have_text("(added)")
        problems["diff"] = blocking_violations(page)
        assert {where: found for where, found in problems.items() if found} == {}

        # Readable at this width: nothing sticks out sideways; the diff has its own colours.
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        added = _colours(page, "#edit-diff pre.added")
        removed = _colours(page, "#edit-diff pre.removed")
        plain = _colours(page, "#decision textarea")
        assert len({added, removed, plain}) == 3
        if scheme == "dark":
            assert max(_luminance(added), _luminance(removed)) < 0.2
        else:
            assert min(_luminance(added), _luminance(removed)) > 0.85

        with page.expect_navigation():
            page.locator("#decision button.approve").click()
        status = waiting.result(timeout=90).json()["status"]
        assert status["approved"] is True
        assert status["edited_kwargs"] == edited
        page.goto(f"{site.server.url}/inbox/p/{project}/function_calls/c1")
        decided = page.locator("#decision table.diff")
        expect(decided.locator("pre.added")).to_have_count(3)
        assert _colours(page, "#decision table.diff pre.added") == added
        assert blocking_violations(page) == []
    finally:
        context.close()


def test_without_javascript_the_plain_editor_still_approves_an_edit(site: Site, chromium: Any) -> None:
    site.person("nojs@example.com", "plain-edit", "reviewer", "Noa")
    agent = site.agent(site.key("plain-edit"))
    agent.post("/function_calls", json={**function_call("p1", kwargs={"usd": 400}), "allow_edit": True})
    context = _context(chromium, java_script_enabled=False)
    page = context.new_page()
    try:
        sign_in(page, site, "nojs@example.com")
        page.goto(f"{site.server.url}/inbox/p/plain-edit/function_calls/p1")
        expect(page.locator("#edit-status")).to_be_hidden()
        expect(page.locator("#edit-reset")).to_be_hidden()
        page.locator(EDITOR).fill('{"usd": 4o}')
        page.locator("#decision button.approve").click()
        expect(page.locator("#message")).to_contain_text("not valid JSON")
        page.locator(EDITOR).fill('{"usd": 40}')
        with page.expect_navigation():
            page.locator("#decision button.approve").click()
    finally:
        context.close()
    assert agent.get("/function_calls/p1").json()["status"]["edited_kwargs"] == {"usd": 40}

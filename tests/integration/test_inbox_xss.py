"""A corpus of XSS payloads in every field an agent controls, rendered by the real inbox in
Chromium: no script runs (no dialog, no marker set, no console error, which includes CSP
violations) and every payload is shown as literal text."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest
from playwright.sync_api import expect

from ..xss_payloads import PAYLOADS
from .inbox_browser import Site, sign_in

pytestmark = pytest.mark.slow

# An element's text without the "agent link" / "agent address" marks the renderer adds.
WITHOUT_MARKS = (
    "e => { const c = e.cloneNode(true); c.querySelectorAll('.tag').forEach(t => t.remove());"
    " return c.textContent; }"
)


def _setup(site: Site) -> list[str]:
    """One function call and one question per payload, each created by an agent named by it."""
    site.person("xena@example.com", "xss", "reviewer", "Xena")
    ids = []
    for n, payload in enumerate(PAYLOADS):
        agent = site.agent(site.key("xss", name=payload))
        call = {
            "run_id": payload,
            "call_id": f"fc-{n}",
            "spec": {
                "fn": payload,
                "kwargs": {payload: payload, "nested": {"k": [payload]}},
                "reject_options": [{"name": payload, "title": payload, "description": payload}],
            },
            "allow_edit": True,
        }
        question = {
            "run_id": payload,
            "call_id": f"hc-{n}",
            "spec": {
                "msg": payload,
                "subject": payload,
                "response_options": [{"name": payload, "title": payload, "description": payload}],
            },
        }
        assert agent.post("/function_calls", json=call).status_code == 200
        assert agent.post("/human_contacts", json=question).status_code == 200
        ids.append(str(n))
    return ids


def test_xss_corpus_renders_as_text(site: Site, page: Any) -> None:
    assert len(PAYLOADS) >= 40
    ids = _setup(site)
    dialogs: list[str] = []
    problems: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    sign_in(page, site, "xena@example.com")

    def clean(where: str) -> None:
        assert dialogs == [], f"a dialog opened on {where}: {dialogs}"
        assert page.evaluate("window.__xss") is None, f"a payload ran on {where}"
        assert page.evaluate("window.parent.__xss") is None
        assert problems == [], f"console errors on {where}: {problems}"

    base = f"{site.server.url}/inbox/p/xss"
    page.goto(base)
    # (a locator, not wait_for_function: the CSP forbids the eval its polling needs)
    expect(page.locator("body[data-live-connected='yes']")).to_have_count(1)
    titles = page.locator("#items .item .title")
    assert titles.count() == 2 * len(PAYLOADS)
    shown = set(page.locator("#items code.fn").all_text_contents())
    assert shown == set(PAYLOADS)
    assert set(page.locator("#items .meta dd").all_text_contents()) >= set(PAYLOADS)  # runs and agents
    assert set(page.locator("#fn option").all_text_contents()) >= set(PAYLOADS)
    clean("the pending list")

    for n in ids:
        payload = PAYLOADS[int(n)]
        page.goto(f"{base}/function_calls/fc-{n}")
        assert page.locator("code.fn").text_content() == payload
        assert page.locator("code.run").text_content() == payload
        assert page.locator(".agent").text_content() == payload
        keys = page.locator(".arg dt code").all_text_contents()
        assert keys == [payload, "nested"]
        # Shown as the agent wrote it (the marks on links and addresses left out), never a link.
        strings = [s.evaluate(WITHOUT_MARKS) for s in page.locator(".arg .json .s").all()]
        assert strings == [f'"{payload}"'] * 2
        assert page.locator(".arg a").count() == 0
        assert page.locator(".option button").text_content() == f"Reject: {payload}"
        assert page.locator(".option button").get_attribute("value") == payload
        assert page.locator(".option .description").text_content() == payload
        # The editor holds them as text, and its live diff shows keys and values as text.
        editor = page.locator("#approve-args")
        assert json.loads(editor.input_value()) == {payload: payload, "nested": {"k": [payload]}}
        editor.fill(json.dumps({"nested": {"k": [payload, 1]}, "added": payload}))
        keys = page.locator("#edit-diff tbody th code")
        expect(keys).to_have_count(3)
        assert keys.all_text_contents() == ["nested", payload, "added"]
        values = page.locator("#edit-diff pre").all_text_contents()
        assert (
            values
            == [
                json.dumps({"k": [payload]}, indent=2, ensure_ascii=False),
                json.dumps({"k": [payload, 1]}, indent=2, ensure_ascii=False),
            ]
            + [json.dumps(payload, ensure_ascii=False)] * 2
        )
        clean(f"function call {n}")

        page.goto(f"{base}/runs/{quote(payload, safe='')}")
        assert page.locator("h1 code.run").text_content() == payload
        assert set(page.locator("#run code.fn").all_text_contents()) == {payload}
        assert set(page.locator("#run .msg").all_text_contents()) == {payload}
        clean(f"the run of {n}")

        page.goto(f"{base}/human_contacts/hc-{n}")
        assert page.locator(".message-text").text_content() == payload
        assert page.locator("h1 .subject").text_content() == payload
        assert page.locator(".option button").text_content() == payload
        assert page.locator(".option .description").text_content() == payload
        clean(f"question {n}")

    # The bulk confirmation lists every selected call as text.
    page.goto(base)
    for box in page.locator("#items input.select").all():
        box.check()
    page.locator("#reject-selected").click()
    assert set(page.locator(".bulk-confirm code.fn").all_text_contents()) == set(PAYLOADS)
    clean("the bulk confirmation")

    # Decided items in the history, with the agent's option as the verdict.
    first = PAYLOADS[0]
    page.goto(f"{base}/function_calls/fc-0")
    page.locator(".option button").click()
    page.goto(f"{base}/history")
    assert first in page.locator("#items .verdict").first.text_content()
    page.goto(f"{base}/history?q={first}")
    clean("the history")

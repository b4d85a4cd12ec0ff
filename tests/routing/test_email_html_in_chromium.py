"""The HTML part of a request's email, rendered in Chromium: the function and every argument
shown as text (escaped, nothing runs), the approve and reject links present, and no request
leaves the page (no remote image, font or script)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from ..email_channel.test_message import PAYLOADS, item, render
from ..integration.inbox_browser import CHROMIUM_ARGS, HANG_GUARD_MS, chromium_path

pytestmark = pytest.mark.slow

LINK = "https://approvals.example.com/email/TOKEN"


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def test_the_html_part_renders_the_request_and_runs_nothing(chromium: Any) -> None:
    kwargs = {f"arg_{n}": payload for n, payload in enumerate(PAYLOADS)}
    record = item({"fn": "wire_money<script>alert(2)</script>", "kwargs": kwargs})
    _, html, _ = render(record, {"address": "boss@example.com"})

    page = chromium.new_page(java_script_enabled=True)
    page.set_default_timeout(HANG_GUARD_MS)
    requests: list[str] = []
    dialogs: list[str] = []
    page.route("**/*", lambda route: (requests.append(route.request.url), route.abort()))
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    try:
        page.set_content(html, wait_until="load")
        page.wait_for_timeout(200)  # let any inline handler (onerror, onload) have its turn
        body = page.inner_text("body")
        assert "wire_money<script>alert(2)</script>" in body
        shown = page.evaluate("[...document.querySelectorAll('pre')].map(p => p.textContent)")
        # each argument exactly as the agent wrote it (a JSON string), as text
        assert shown == [json.dumps(kwargs[name], ensure_ascii=False) for name in sorted(kwargs)]
        # every element came from the template: no script or handler from a value
        assert page.evaluate("document.querySelectorAll('script').length") == 0
        handlers = page.evaluate(
            "[...document.querySelectorAll('*')].flatMap(e => [...e.attributes]"
            ".filter(a => a.name.startsWith('on')).map(a => a.name))"
        )
        assert handlers == []
        links = page.evaluate(
            "Object.fromEntries([...document.links].map(a => [a.textContent.trim(), a.href]))"
        )
        assert links["Approve"] == f"{LINK}?approve=true"
        assert links["Reject"] == f"{LINK}?reject=true"
        assert dialogs == []
        assert requests == []
    finally:
        page.close()

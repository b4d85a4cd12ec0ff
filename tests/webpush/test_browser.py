"""The installable inbox in Debian's Chromium: the pending page registers the inbox's service
worker and shows the notification switch."""

from __future__ import annotations

from typing import Any

import pytest

from ..integration.inbox_browser import Site, sign_in

pytestmark = pytest.mark.slow


def expect(locator: Any) -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


def test_the_inbox_registers_its_service_worker_and_shows_the_switch(site: Site, page: Any) -> None:
    site.person("pia@example.com", "phones", "reviewer", "Pia")
    sign_in(page, site, "pia@example.com")
    page.goto(f"{site.server.url}/inbox/p/phones")

    scope = page.evaluate("navigator.serviceWorker.ready.then(function (r) { return r.scope; })")
    assert scope == f"{site.server.url}/inbox"
    assert page.evaluate("typeof window.PushManager") == "function"
    switch = page.locator("#push-switch")
    expect(switch).to_be_visible()
    expect(page.get_by_role("button", name="Notify me on this device")).to_be_enabled()
    expect(page.locator("html")).to_have_attribute("data-sw", "registered")


def test_without_javascript_the_page_works_and_the_switch_stays_hidden(site: Site, chromium: Any) -> None:
    from ..integration.inbox_browser import HANG_GUARD_MS, function_call

    site.person("quin@example.com", "nojs", "reviewer", "Quin")
    site.agent(site.key("nojs")).post("/function_calls", json=function_call("plain-1"))
    context = chromium.new_context(java_script_enabled=False)
    context.set_default_timeout(HANG_GUARD_MS)
    try:
        plain = context.new_page()
        sign_in(plain, site, "quin@example.com")
        plain.goto(f"{site.server.url}/inbox/p/nojs")
        expect(plain.locator("code.fn")).to_have_text("send_email")
        expect(plain.locator("#push-switch")).to_be_hidden()
    finally:
        context.close()

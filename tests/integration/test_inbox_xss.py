"""A corpus of XSS payloads in every field an agent controls, rendered by the real inbox in
Chromium: no script runs (no dialog, no marker set, no console error, which includes CSP
violations) and every payload is shown as literal text."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest
from playwright.sync_api import expect

from .inbox_browser import Site, sign_in

pytestmark = pytest.mark.slow

# Every payload either calls alert() (a dialog) or sets window.__xss (a marker).
PAYLOADS = [
    "<script>window.__xss=1;alert(1)</script>",
    '<img src=x onerror="window.__xss=1;alert(1)">',
    "<svg onload=alert(1)>",
    "<svg/onload=window.__xss=1>",
    "<svg><script>alert(1)</script></svg>",
    '"><script>alert(1)</script>',
    "'><script>alert(1)</script>",
    "</textarea><script>alert(1)</script>",
    "</title><script>alert(1)</script>",
    "</pre><script>alert(1)</script>",
    "</code><img src=x onerror=alert(1)>",
    "</script><script>alert(1)</script>",
    '<iframe src="javascript:alert(1)"></iframe>',
    '<iframe srcdoc="<script>parent.__xss=1</script>"></iframe>',
    '<a href="javascript:alert(1)">click</a>',
    "<body onload=alert(1)>",
    "<details open ontoggle=alert(1)>",
    "<input autofocus onfocus=alert(1)>",
    "<select autofocus onfocus=window.__xss=1>",
    '<video><source onerror="alert(1)"></video>',
    "<audio src=x onerror=alert(1)>",
    '<object data="javascript:alert(1)"></object>',
    '<embed src="javascript:alert(1)">',
    "<math><mtext></form><form><mglyph><style></math><img src onerror=alert(1)>",
    "<style>@import 'javascript:alert(1)';</style>",
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    '<base href="javascript:alert(1)//">',
    '<form action="javascript:alert(1)"><button>x</button></form>',
    "<scr<script>ipt>alert(1)</scr</script>ipt>",
    "<!--<script>alert(1)</script>-->",
    "<![CDATA[<script>alert(1)</script>]]>",
    "<img src=x onerror=&#97;&#108;&#101;&#114;&#116;(1)>",
    '<img """><script>alert(1)</script>">',
    "<IMG SRC=JaVaScRiPt:alert(1)>",
    '<div style="background:url(javascript:alert(1))">x</div>',
    "<marquee onstart=alert(1)>x</marquee>",
    "<template><script>alert(1)</script></template><img src=x onerror=alert(1)>",
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>">',
    '"onmouseover="alert(1)',
    "' onfocus='alert(1)' autofocus='",
    "<x onclick=alert(1) tabindex=1 autofocus>x</x>",
    "javascript:alert(1)",
    "{{7*7}} {% raw %}${alert(1)}",
    "%3Cscript%3Ealert(1)%3C%2Fscript%3E",
    "&lt;script&gt;alert(1)&lt;/script&gt;",
    "\\u003cscript\\u003ealert(1)\\u003c/script\\u003e",
    "<script src=//127.0.0.1:9/x.js></script>",
    '<link rel="stylesheet" href="javascript:alert(1)">',
    "<table background=javascript:alert(1)>",
    "<img src=1 onerror=eval(atob('YWxlcnQoMSk='))>",
]


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
        values = page.locator(".arg pre.json").all_text_contents()
        assert values[0] == json.dumps(payload, ensure_ascii=False)
        assert json.loads(values[1]) == {"k": [payload]}
        assert page.locator(".option button").text_content() == f"Reject: {payload}"
        assert page.locator(".option button").get_attribute("value") == payload
        assert page.locator(".option .description").text_content() == payload
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

"""Edit before approve in the inbox: a JSON editor on requests that allow edits, checked on the
server, and the change shown as a diff once decided."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi import FastAPI
from markupsafe import escape

from foureyes.server.service import Service

from .inbox_helpers import Browser, make_person

BASE = "/inbox/p/default/function_calls"


@pytest.fixture
def browser(app: FastAPI, client: Any, service: Service) -> Browser:
    make_person(service, "ed@example.com", "default", "reviewer", "Ed")
    signed_in = Browser(app)
    signed_in.sign_in("ed@example.com")
    return signed_in


def test_a_reviewer_edits_the_arguments_and_sees_the_diff(
    browser: Browser, agent: Any, make_function_call: Any
) -> None:
    agent.post(
        "/function_calls",
        {**make_function_call("e1", kwargs={"to": "<b>bob</b>", "usd": 400}), "allow_edit": True},
    )
    page = browser.get(f"{BASE}/e1").text
    assert 'name="edited_kwargs"' in page
    assert str(escape(json.dumps({"to": "<b>bob</b>", "usd": 400}, indent=2))) in page

    bad = browser.post(f"{BASE}/e1", {"action": "approve", "edited_kwargs": "{not json"})
    assert bad.status_code == 422
    assert "not valid JSON" in bad.text
    assert browser.post(f"{BASE}/e1", {"action": "approve", "edited_kwargs": "[1]"}).status_code == 422
    assert agent.get("/function_calls/e1").json()["status"]["approved"] is None

    edited = {"to": "<b>bob</b>", "usd": 40}
    assert (
        browser.post(f"{BASE}/e1", {"action": "approve", "edited_kwargs": json.dumps(edited)}).status_code
        == 303
    )
    status = agent.get("/function_calls/e1").json()["status"]
    assert status["edited_kwargs"] == edited
    decided = browser.get(f"{BASE}/e1").text
    assert "Approved with edited arguments" in decided
    assert '<pre class="json removed">400</pre>' in decided
    assert '<pre class="json added">40</pre>' in decided
    assert "<b>bob</b>" not in decided  # agent-supplied text stays escaped


def test_unchanged_arguments_approve_as_asked_and_requests_without_allow_edit_get_no_editor(
    browser: Browser, agent: Any, make_function_call: Any
) -> None:
    agent.post("/function_calls", {**make_function_call("same"), "allow_edit": True})
    text = json.dumps({"x": 2, "y": 5}, indent=2)
    assert browser.post(f"{BASE}/same", {"action": "approve", "edited_kwargs": text}).status_code == 303
    assert "edited_kwargs" not in agent.get("/function_calls/same").json()["status"]

    agent.post("/function_calls", make_function_call("fixed"))
    assert 'name="edited_kwargs"' not in browser.get(f"{BASE}/fixed").text
    forced = browser.post(f"{BASE}/fixed", {"action": "approve", "edited_kwargs": '{"x": 9}'})
    assert forced.status_code == 422
    assert "does not allow edits" in forced.text


EDIT_SCRIPT = '<script src="/inbox/static/edit.js" defer></script>'


def test_the_editor_script_comes_only_with_an_editor_and_a_refused_text_is_kept(
    app: FastAPI, browser: Browser, agent: Any, make_function_call: Any, service: Service
) -> None:
    agent.post("/function_calls", {**make_function_call("ed1", kwargs={"usd": 400}), "allow_edit": True})
    agent.post("/function_calls", make_function_call("plain"))
    page = browser.get(f"{BASE}/ed1")
    assert EDIT_SCRIPT in page.text
    # same origin, so the Content-Security-Policy (script-src 'self') lets it run
    assert "script-src 'self'" in page.headers["content-security-policy"]
    script = browser.get("/inbox/static/edit.js")
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    # the script's parts are there, hidden until it runs; the agent's arguments ride along
    assert '<p id="edit-status" class="edit-status" role="status" aria-live="polite" hidden>' in page.text
    assert f'data-asked="{escape(json.dumps({"usd": 400}, indent=2))}"' in page.text
    assert EDIT_SCRIPT not in browser.get(f"{BASE}/plain").text
    # the list marks the row the "e" shortcut may open for editing
    listed = browser.get("/inbox/p/default").text
    assert listed.count('data-editable="yes"') == 1

    # Without the script, a refused text comes back as typed, to be corrected.
    typed = '{"usd": 4o}'
    refused = browser.post(f"{BASE}/ed1", {"action": "approve", "edited_kwargs": typed})
    assert refused.status_code == 422
    assert (
        f'class="json" data-asked="{escape(json.dumps({"usd": 400}, indent=2))}">{escape(typed)}</textarea>'
        in (refused.text)
    )

    # A viewer sees no editor; a decided request neither.
    make_person(service, "vi@example.com", "default", "viewer", "Vi")
    viewer = Browser(app)
    viewer.sign_in("vi@example.com")
    assert EDIT_SCRIPT not in viewer.get(f"{BASE}/ed1").text
    assert (
        browser.post(f"{BASE}/ed1", {"action": "approve", "edited_kwargs": '{"usd": 40}'}).status_code == 303
    )
    assert EDIT_SCRIPT not in browser.get(f"{BASE}/ed1").text

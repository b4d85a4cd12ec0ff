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

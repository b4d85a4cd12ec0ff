"""After a decision on an item's page the next pending request of the same filters opens (a plain
redirect, so it works without JavaScript), and that page says what was just decided."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI

from foureyes.server.service import Service

from .inbox_helpers import Browser, signed_in_browser

BASE = "/inbox/p/default"


@pytest.fixture
def noa(app: FastAPI, client: Any, service: Service) -> Browser:
    return signed_in_browser(app, service, "noa@example.com")


def test_the_next_pending_request_opens_in_list_order_then_the_list(
    noa: Browser, agent: Any, make_function_call: Any
) -> None:
    for call_id in ("old", "middle", "new"):
        assert agent.post("/function_calls", make_function_call(call_id)).status_code == 200
    # The list shows the newest first; deciding "middle" opens the one below it.
    decided = noa.post(f"{BASE}/function_calls/middle", {"action": "approve"})
    assert decided.status_code == 303
    assert decided.headers["location"] == f"{BASE}/function_calls/old?done=function_calls%2Fmiddle"
    shown = noa.get(decided.headers["location"])
    assert 'id="decided"' in shown.text
    assert 'Approved</strong> by <span class="who">Noa' in shown.text
    assert "<code>middle</code>" in shown.text
    assert 'data-state="pending"' in shown.text  # old's own decision form

    # Past the last one it starts again from the newest.
    after_old = noa.post(f"{BASE}/function_calls/old", {"action": "reject", "comment": "no"})
    assert after_old.headers["location"] == f"{BASE}/function_calls/new?done=function_calls%2Fold"
    # Nothing left: the list, saying what was decided.
    last = noa.post(f"{BASE}/function_calls/new", {"action": "approve"})
    assert last.headers["location"] == f"{BASE}?done=function_calls%2Fnew"
    listed = noa.get(last.headers["location"]).text
    assert 'id="decided"' in listed
    assert '<span id="pending-count">0</span>' in listed


def test_the_next_pending_request_keeps_the_filters(
    noa: Browser, agent: Any, make_function_call: Any, make_human_contact: Any
) -> None:
    agent.post("/function_calls", make_function_call("pay-1", fn="pay"))
    agent.post("/function_calls", make_function_call("mail-1", fn="mail"))
    agent.post("/function_calls", make_function_call("pay-2", fn="pay"))
    agent.post("/human_contacts", make_human_contact("q-1"))
    listed = noa.get(f"{BASE}?fn=pay").text
    # The list's links carry its filters to the item's page, and its form keeps them.
    assert f'href="{BASE}/function_calls/pay-2?fn=pay"' in listed
    page = noa.get(f"{BASE}/function_calls/pay-2?fn=pay").text
    assert f'action="{BASE}/function_calls/pay-2?fn=pay"' in page
    assert f'href="{BASE}?fn=pay"' in page

    decided = noa.post(f"{BASE}/function_calls/pay-2?fn=pay", {"action": "approve"})
    # Not the newer question nor mail-1: the next "pay" call.
    assert decided.headers["location"] == f"{BASE}/function_calls/pay-1?fn=pay&done=function_calls%2Fpay-2"
    done = noa.post(f"{BASE}/function_calls/pay-1?fn=pay", {"action": "approve"})
    assert done.headers["location"] == f"{BASE}?fn=pay&done=function_calls%2Fpay-1"


def test_a_question_answered_opens_the_next_and_a_bad_done_is_ignored(
    noa: Browser, agent: Any, make_function_call: Any, make_human_contact: Any
) -> None:
    agent.post("/function_calls", make_function_call("c-1"))
    agent.post("/human_contacts", make_human_contact("q-1"))
    answered = noa.post(f"{BASE}/human_contacts/q-1", {"response": "casual"})
    assert answered.headers["location"] == f"{BASE}/function_calls/c-1?done=human_contacts%2Fq-1"
    shown = noa.get(answered.headers["location"]).text
    assert "Answer: <span>casual</span>" in shown
    # A "done" that names nothing decided (or nothing at all) shows no notice.
    for done in ("function_calls/c-1", "nowhere/x", "human_contacts/missing", ""):
        assert 'id="decided"' not in noa.get(f"{BASE}/function_calls/c-1", params={"done": done}).text

"""Triage in the inbox over HTTP: bulk decisions in one transaction (every waiter answered,
every webhook queued), approving and rejecting from the list, keyset paging past a page, the
per-project counts and the run view."""

from __future__ import annotations

import html
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from foureyes.server.inbox.items import PAGE_SIZE
from foureyes.server.service import Service
from foureyes.storage.schema import deliveries, events

from .inbox_helpers import Browser, make_person, signed_in_browser

BASE = "/inbox/p/default"


@pytest.fixture
def ann(app: FastAPI, client: Any, service: Service) -> Browser:
    return signed_in_browser(app, service, "ann@example.com")


def _selected_on(page: str) -> list[str]:
    return [
        html.unescape(v) for v in re.findall(r'<input type="hidden" name="call_id" value="([^"]+)"', page)
    ]


def test_bulk_approval_of_fifty_answers_every_waiting_call(
    ann: Browser, agent: Any, service: Service, make_function_call: Any
) -> None:
    service.webhooks.add_webhook("default", "https://hooks.example.com/x", allow_private=True)
    ids = [f"bulk-{n:02}" for n in range(50)]
    for call_id in ids:
        assert agent.post("/function_calls", make_function_call(call_id)).status_code == 200
    listed = ann.get(BASE).text
    assert all(f'name="call_id" value="{c}"' in listed for c in ids)

    with ThreadPoolExecutor(max_workers=len(ids)) as pool:
        waiting = [pool.submit(agent.get, f"/function_calls/{c}", params={"wait": 30}) for c in ids]
        confirm = ann.post(f"{BASE}/bulk", {"action": "approve", "call_id": ids})
        # The confirmation lists them all and decides nothing yet.
        assert confirm.status_code == 200
        assert sorted(_selected_on(confirm.text)) == ids
        assert "Approve 50" in confirm.text
        assert service.items.get_function_call(agent.project_id, ids[0]).state == "pending"
        done = ann.post(f"{BASE}/bulk/decide", {"action": "approve", "call_id": ids})
        assert done.status_code == 200
        assert '<span id="decided-count">50</span>' in done.text
        answers = [w.result(timeout=30) for w in waiting]
    for answer in answers:
        status = answer.json()["status"]
        assert status["approved"] is True
        assert status["responded_at"] is not None
    with service.db.read() as conn:
        decided = conn.execute(select(func.count()).select_from(events).where(events.c.type == "decided"))
        assert decided.scalar_one() == 50
        queued = conn.execute(
            select(func.count()).select_from(deliveries).where(deliveries.c.sink == "webhook")
        )
        assert queued.scalar_one() >= 50
    for call_id in ids:
        item = service.items.get_function_call(agent.project_id, call_id)
        assert item.state == "approved"
        assert [(d.channel, d.actor_name) for d in item.decisions] == [("inbox", "Ann")]


def test_bulk_rejection_needs_a_comment_and_skips_the_decided(
    ann: Browser, agent: Any, reviewer: Any, service: Service, make_function_call: Any
) -> None:
    for call_id in ("r1", "r2", "r3"):
        agent.post("/function_calls", make_function_call(call_id))
    reviewer.post("/agent/function_calls/r2/respond", {"approved": True})
    confirm = ann.post(f"{BASE}/bulk", {"action": "reject", "call_id": ["r1", "r2", "r3"]})
    # Only what is still pending is listed for confirmation.
    assert _selected_on(confirm.text) == ["r1", "r3"]
    assert 'name="comment" rows="3" required' in confirm.text
    missing = ann.post(f"{BASE}/bulk/decide", {"action": "reject", "call_id": ["r1", "r3"]})
    assert missing.status_code == 422
    assert "needs a comment" in missing.text
    assert service.items.get_function_call(agent.project_id, "r1").state == "pending"
    done = ann.post(
        f"{BASE}/bulk/decide",
        {"action": "reject", "comment": "not today", "call_id": ["r1", "r2", "r3", "nope"]},
    )
    assert done.status_code == 200
    assert '<span id="decided-count">2</span>' in done.text
    assert "<code>r2</code>: already approved" in done.text
    assert "<code>nope</code>: not found" in done.text
    for call_id in ("r1", "r3"):
        item = service.items.get_function_call(agent.project_id, call_id)
        assert item.state == "rejected"
        assert item.decisions[0].comment == "not today"
        assert agent.get(f"/function_calls/{call_id}").json()["status"]["comment"] == "not today"


def test_bulk_forms_need_the_csrf_token_and_a_deciding_role(
    app: FastAPI, ann: Browser, agent: Any, service: Service, make_function_call: Any
) -> None:
    agent.post("/function_calls", make_function_call("c1"))
    for path in (f"{BASE}/bulk", f"{BASE}/bulk/decide"):
        assert ann.post(path, {"action": "approve", "call_id": ["c1"]}, csrf=False).status_code == 403
        forged = ann.post(path, {"action": "approve", "call_id": ["c1"], "csrf": "forged"}, csrf=False)
        assert forged.status_code == 403
    make_person(service, "val@example.com", "default", "viewer")
    viewer = Browser(app)
    viewer.sign_in("val@example.com")
    assert 'name="call_id"' not in viewer.get(BASE).text
    assert viewer.post(f"{BASE}/bulk/decide", {"action": "approve", "call_id": ["c1"]}).status_code == 403
    assert service.items.get_function_call(agent.project_id, "c1").state == "pending"


def test_the_service_decides_all_in_one_transaction(
    agent: Any, service: Service, make_function_call: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    for call_id in ("t1", "t2"):
        agent.post("/function_calls", make_function_call(call_id))
    writes = 0
    real = service.db.write_grouped

    def counted(work: Any) -> Any:
        nonlocal writes
        writes += 1
        return real(work)

    monkeypatch.setattr(service.db, "write_grouped", counted)
    outcome = service.bulk.decide_function_calls(
        agent.project_id, ["t1", "t2", "t1"], approved=True, channel="cli", actor_key_id=None
    )
    assert writes == 1
    assert [i.call_id for i in outcome.decided] == ["t1", "t2"]
    assert outcome.skipped == ()


def test_approve_and_reject_from_the_list(
    ann: Browser, agent: Any, service: Service, make_function_call: Any
) -> None:
    for call_id in ("l1", "l2"):
        agent.post("/function_calls", make_function_call(call_id))
    listed = ann.get(BASE).text
    assert f'formaction="{BASE}/function_calls/l1" name="action" value="approve"' in listed
    approved = ann.post(f"{BASE}/function_calls/l1", {"action": "approve", "back": "list", "call_id": ["l2"]})
    assert approved.status_code == 303
    assert approved.headers["location"] == BASE
    assert service.items.get_function_call(agent.project_id, "l1").state == "approved"
    # The selection sent along with a row's own button decides nothing else.
    assert service.items.get_function_call(agent.project_id, "l2").state == "pending"
    # A row's Reject… asks for the comment on the confirmation page, for that request alone.
    confirm = ann.post(f"{BASE}/bulk", {"reject_one": "l2", "call_id": ["l1"]})
    assert _selected_on(confirm.text) == ["l2"]
    assert "Reject 1" in confirm.text


def _walk(browser: Browser, url: str) -> tuple[list[str], list[str]]:
    """Follow a list's "Older" links to the end: the ids listed, and each page's text."""
    seen: list[str] = []
    pages: list[str] = []
    next_url: str | None = url
    while next_url:
        assert len(pages) < 20, "the pages never end"
        text = browser.get(next_url).text
        pages.append(text)
        seen += re.findall(r'<li class="item" data-call-id="([^"]+)"', text)
        found = re.search(r'<a href="([^"]+)" id="next-page"', text)
        next_url = html.unescape(found.group(1)) if found else None
    return seen, pages


def test_pending_and_history_page_past_a_page_with_filters_kept(
    ann: Browser, agent: Any, service: Service, make_function_call: Any
) -> None:
    total = PAGE_SIZE * 2 + 5
    for n in range(total):
        agent.post("/function_calls", make_function_call(f"p{n:03}", fn="refund" if n % 2 else "multiply"))
    seen, pages = _walk(ann, BASE)
    assert len(pages) == 3
    assert seen == [f"p{n:03}" for n in reversed(range(total))]
    for text in pages:
        assert f'<span id="pending-count">{total}</span>' in text
        assert f'<span class="count" id="nav-pending-count">({total})</span>' in text

    refunds, pages = _walk(ann, f"{BASE}?fn=refund")
    assert refunds == [f"p{n:03}" for n in reversed(range(total)) if n % 2]
    assert all("fn=refund" in u for p in pages[:-1] for u in re.findall(r'href="([^"]+)" id="next-page"', p))

    everything = [f"p{n:03}" for n in range(total)]
    service.bulk.decide_function_calls(
        agent.project_id, everything, approved=True, channel="cli", actor_key_id=None
    )
    decided, pages = _walk(ann, f"{BASE}/history")
    assert len(pages) == 3
    assert sorted(decided) == everything
    assert len(decided) == total
    assert '<span id="pending-count">0</span>' in ann.get(BASE).text


def test_the_run_view_shows_every_request_of_the_run_in_order(
    ann: Browser, agent: Any, reviewer: Any, make_function_call: Any, make_human_contact: Any
) -> None:
    agent.post("/function_calls", make_function_call("first", fn="read_file"))
    agent.post("/function_calls", {**make_function_call("other"), "run_id": "run-2"})
    agent.post("/contact_requests", make_human_contact("second"))
    agent.post("/function_calls", make_function_call("third", fn="delete_file"))
    reviewer.post("/agent/function_calls/first/respond", {"approved": True})
    reviewer.post("/agent/human_contacts/second/respond", {"response": "go on"})
    item = ann.get(f"{BASE}/function_calls/third").text
    assert f'<a href="{BASE}/runs/run-1" id="run-link">' in item
    run = ann.get(f"{BASE}/runs/run-1")
    assert run.status_code == 200
    assert re.findall(r'data-call-id="([^"]+)"', run.text) == ["first", "second", "third"]
    assert "Approved</strong>" in run.text
    assert "go on" in run.text
    assert '<strong class="state">pending</strong>' in run.text
    assert "other" not in re.findall(r'data-call-id="([^"]+)"', run.text)
    assert "No requests in this run" in ann.get(f"{BASE}/runs/nothing-here").text


def test_the_contact_channel_is_shown_in_words(ann: Browser, agent: Any, make_human_contact: Any) -> None:
    channel = {"email": {"address": "boss@example.com", "context_about_user": None}, "slack": None}
    agent.post("/contact_requests", make_human_contact("asks", channel=channel))
    text = ann.get(f"{BASE}/human_contacts/asks").text
    shown = '<span class="agent-supplied" title="written by the agent">email to boss@example.com</span>'
    assert f'<dd class="channel">{shown}</dd>' in text
    assert "context_about_user" not in text

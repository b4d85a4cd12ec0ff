"""The inbox's item page lists the item's audit entries: created, then decided, each with its
index and leaf hash; agent-written text in them stays escaped."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from foureyes.server.service import Service
from foureyes.storage import audit as audit_rows

from .conftest import Caller, function_call
from .inbox_helpers import Browser, make_person


def test_the_item_page_shows_its_audit_entries(
    app: FastAPI, client: Any, service: Service, agent: Caller
) -> None:
    make_person(service, "ann@example.com", "default", "reviewer", "Ann")
    ann = Browser(app)
    assert ann.sign_in("ann@example.com").status_code == 303
    assert agent.post("/function_calls", function_call("<b>c-1</b>")).status_code == 200
    page = "/inbox/p/default/function_calls/%3Cb%3Ec-1%3C/b%3E"
    assert ann.post(page, {"action": "approve"}).status_code == 303
    text = ann.get(page).text
    assert "Audit log" in text
    with service.db.read() as conn:
        entries = audit_rows.for_call(conn, "<b>c-1</b>")
    assert [e.kind for e in entries] == ["created", "decided"]
    for entry in entries:
        assert f"<td>{entry.seq}</td>" in text
        assert entry.leaf_hash[:12] in text
    assert "decided: approved" in text
    assert "<b>c-1</b>" not in text
    assert "foureyes audit prove &lt;b&gt;c-1&lt;/b&gt;" in text

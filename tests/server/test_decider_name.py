"""The history names a decider as they were called when they decided: renaming the person later
(a password reset lets them give a new name) does not rewrite decisions already made."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from foureyes.server.service import Service

from .inbox_helpers import PASSWORD, Browser, make_person


def test_a_rename_after_deciding_leaves_the_decision_with_the_old_name(
    app: FastAPI, agent: Any, service: Service, make_function_call: Any
) -> None:
    make_person(service, "ann@example.com", "default", "reviewer", "Ann Old")
    ann = Browser(app)
    assert ann.sign_in("ann@example.com").status_code == 303
    for call_id in ("before", "after"):
        assert agent.post("/function_calls", make_function_call(call_id)).status_code == 200
    decided = ann.post("/inbox/p/default/function_calls/before", {"action": "approve"})
    assert decided.status_code == 303, decided.text

    link = service.people.reset_password("ann@example.com")
    service.people.accept_invitation(link.rsplit("/", 1)[1], None, "Ann New", PASSWORD)
    assert ann.sign_in("ann@example.com").status_code == 303
    decided = ann.post("/inbox/p/default/function_calls/after", {"action": "approve"})
    assert decided.status_code == 303, decided.text

    names = {
        call_id: [d.actor_name for d in service.items.get_function_call(agent.project_id, call_id).decisions]
        for call_id in ("before", "after")
    }
    assert names == {"before": ["Ann Old"], "after": ["Ann New"]}
    page = ann.get("/inbox/p/default/function_calls/before").text
    assert "Ann Old" in page  # the page's header names her as she is called now
    wire = agent.get("/function_calls/before").json()["status"]["responded_by"]
    assert wire["name"] == "Ann Old"

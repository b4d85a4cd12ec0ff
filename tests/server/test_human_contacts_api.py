"""The human-contact endpoints, including the /human_contacts alias."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from foureyes.models import HumanContact

OPTIONS = [
    {
        "name": "formal",
        "title": "Formal",
        "description": None,
        "prompt_fill": "be formal",
        "interactive": False,
    },
    {"name": "casual", "title": "Casual", "description": None, "prompt_fill": None, "interactive": False},
]


def test_create_get_and_answer(agent: Any, reviewer: Any, make_human_contact: Any) -> None:
    body = make_human_contact(state={"thread": {"id": 3}}, extra={"kept": [1]})
    created = agent.post("/contact_requests", body)
    assert created.status_code == 200
    data = created.json()
    assert data["spec"] == body["spec"]
    assert data["status"]["response"] is None
    assert data["status"]["responded_at"] is None
    assert set(data["status"]) == {
        *("requested_at", "responded_at", "response", "response_option_name"),
        "responded_by",  # foureyes' extension: who answered
    }
    HumanContact.model_validate(data)
    assert agent.get("/contact_requests/hc-1").json() == data

    answer = {
        "requested_at": None,
        "responded_at": None,
        "response": "formal, please",
        "response_option_name": None,
    }
    answered = reviewer.post("/agent/human_contacts/hc-1/respond", answer)
    assert answered.status_code == 200
    status = answered.json()["status"]
    assert status["response"] == "formal, please"
    assert status["response_option_name"] is None
    assert datetime.fromisoformat(status["responded_at"]).utcoffset() is not None
    assert agent.get("/contact_requests/hc-1").json() == answered.json()


def test_human_contacts_alias(agent: Any, make_human_contact: Any) -> None:
    created = agent.post("/human_contacts", make_human_contact(call_id="alias"))
    assert created.status_code == 200
    assert agent.get("/human_contacts/alias").json() == created.json()
    assert agent.get("/contact_requests/alias").json() == created.json()


@pytest.mark.parametrize(
    ("body", "response"),
    [
        ({"response_option_name": "formal"}, "be formal"),
        ({"response_option_name": "casual"}, "Casual"),
        ({"response": "my words", "response_option_name": "casual"}, "my words"),
    ],
)
def test_answer_with_an_option(
    agent: Any, reviewer: Any, make_human_contact: Any, body: dict[str, Any], response: str
) -> None:
    agent.post("/contact_requests", make_human_contact(response_options=OPTIONS))
    status = reviewer.post("/agent/human_contacts/hc-1/respond", body).json()["status"]
    assert status["response"] == response
    assert status["response_option_name"] == body["response_option_name"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"response": None, "response_option_name": None}, "response"),
        ({}, "response"),
        ({"response": ""}, "response"),
        ({"response_option_name": "shouty"}, "response_option_name"),
        ({"response": ["a"]}, "response"),
    ],
)
def test_bad_answers_are_refused(
    agent: Any, reviewer: Any, make_human_contact: Any, expect_error: Any, body: dict[str, Any], field: str
) -> None:
    agent.post("/contact_requests", make_human_contact(response_options=OPTIONS))
    error = expect_error(reviewer.post("/agent/human_contacts/hc-1/respond", body), 422, "validation_error")
    assert ["body", field] in [d["loc"] for d in error["details"]]
    assert agent.get("/contact_requests/hc-1").json()["status"]["response"] is None


def test_second_answer_is_a_conflict(
    agent: Any, reviewer: Any, make_human_contact: Any, expect_error: Any
) -> None:
    agent.post("/contact_requests", make_human_contact())
    first = reviewer.post("/agent/human_contacts/hc-1/respond", {"response": "yes"}).json()
    expect_error(reviewer.post("/agent/human_contacts/hc-1/respond", {"response": "no"}), 409, "conflict")
    assert agent.get("/contact_requests/hc-1").json() == first


def test_idempotent_create_and_conflict(agent: Any, make_human_contact: Any, expect_error: Any) -> None:
    first = agent.post("/contact_requests", make_human_contact()).json()
    assert agent.post("/contact_requests", make_human_contact()).json() == first
    expect_error(agent.post("/contact_requests", make_human_contact(msg="other")), 409, "conflict")
    assert agent.get("/contact_requests/hc-1").json() == first


def test_kinds_have_separate_call_ids(agent: Any, make_human_contact: Any, make_function_call: Any) -> None:
    assert agent.post("/contact_requests", make_human_contact(call_id="same")).status_code == 200
    assert agent.post("/function_calls", make_function_call(call_id="same")).status_code == 200
    assert "msg" in agent.get("/contact_requests/same").json()["spec"]
    assert "fn" in agent.get("/function_calls/same").json()["spec"]


def test_validation(agent: Any, make_human_contact: Any, expect_error: Any) -> None:
    body = make_human_contact()
    body["spec"]["msg"] = None
    error = expect_error(agent.post("/contact_requests", body), 422, "validation_error")
    assert ["body", "spec", "msg"] in [d["loc"] for d in error["details"]]
    dupes = make_human_contact(response_options=[{"name": "a"}, {"name": "a"}])
    expect_error(agent.post("/contact_requests", dupes), 422, "validation_error")


def test_escalate(agent: Any, reviewer: Any, make_human_contact: Any, expect_error: Any) -> None:
    created = agent.post("/contact_requests", make_human_contact()).json()
    escalation = {
        "escalation_msg": "urgent",
        "additional_recipients": None,
        "channel": {"email": {"address": "a@b.c"}},
    }
    assert agent.post("/agent/human_contacts/hc-1/escalate_email", escalation).json() == created
    expect_error(agent.post("/agent/human_contacts/nope/escalate_email", escalation), 404, "not_found")
    reviewer.post("/agent/human_contacts/hc-1/respond", {"response": "ok"})
    expect_error(agent.post("/agent/human_contacts/hc-1/escalate_email", escalation), 409, "conflict")


def test_pending_list(agent: Any, reviewer: Any, make_human_contact: Any) -> None:
    for n in range(3):
        agent.post("/contact_requests", make_human_contact(call_id=f"h{n}"))
    reviewer.post("/agent/human_contacts/h0/respond", {"response": "done"})
    page = reviewer.get("/agent/human_contacts/pending").json()
    assert [i["call_id"] for i in page["items"]] == ["h1", "h2"]
    assert (page["total"], page["has_more"]) == (2, False)
    assert reviewer.get("/agent/function_calls/pending").json()["items"] == []

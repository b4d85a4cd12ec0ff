"""The function-call endpoints: create, get, respond, escalate and the pending list."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from foureyes.models import FunctionCall
from foureyes.server.service import Service

from ..db import decisions_of, events_of

REJECT_OPTIONS = [
    {
        "name": "too_big",
        "title": "Too big",
        "description": "d",
        "prompt_fill": "use smaller",
        "interactive": False,
    },
    {
        "name": "titled",
        "title": "Wrong account",
        "description": None,
        "prompt_fill": None,
        "interactive": False,
    },
    {"name": "bare", "title": None, "description": None, "prompt_fill": None, "interactive": False},
]


def test_create_echoes_spec_exactly_and_is_pending(agent: Any, make_function_call: Any) -> None:
    body = make_function_call(
        channel={
            "slack": {
                "channel_or_user_id": "C0123",
                "context_about_channel_or_user": "ops",
                "future_key": [1],
            },
            "sms": None,
            "whatsapp": None,
            "email": None,
        },
        reject_options=REJECT_OPTIONS,
        state={"order": 17, "nested": {"deep": [1, 2.5, None, "é"]}},
        unknown_top={"kept": True},
    )
    response = agent.post("/function_calls", body)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    data = response.json()
    assert data["spec"] == body["spec"]
    assert (data["run_id"], data["call_id"]) == ("run-1", "call-1")
    status = data["status"]
    assert set(status) == {
        "requested_at",
        "responded_at",
        "approved",
        "comment",
        "reject_option_name",
        "slack_message_ts",
        "responded_by",  # foureyes' extension: who decided
    }
    assert status["approved"] is None
    assert status["responded_at"] is None
    assert status["comment"] is None
    assert datetime.fromisoformat(status["requested_at"]).utcoffset() is not None
    FunctionCall.model_validate(data)
    assert agent.get("/function_calls/call-1").json() == data


def test_create_ignores_a_client_status(agent: Any, make_function_call: Any) -> None:
    body = make_function_call()
    body["status"] = {"approved": True, "comment": "self-approved", "requested_at": "2001-01-01T00:00:00"}
    status = agent.post("/function_calls", body).json()["status"]
    assert status["approved"] is None
    assert status["comment"] is None
    assert not status["requested_at"].startswith("2001")


def test_repeated_create_returns_the_stored_record(
    agent: Any, reviewer: Any, make_function_call: Any
) -> None:
    first = agent.post("/function_calls", make_function_call()).json()
    again = agent.post("/function_calls", make_function_call())
    assert again.status_code == 200
    assert again.json() == first
    reviewer.post("/agent/function_calls/call-1/respond", {"approved": True})
    after_decision = agent.post("/function_calls", make_function_call())
    assert after_decision.status_code == 200
    assert after_decision.json()["status"]["approved"] is True


def test_same_call_id_with_another_body_is_a_conflict(
    agent: Any, make_function_call: Any, expect_error: Any
) -> None:
    original = agent.post("/function_calls", make_function_call()).json()
    expect_error(agent.post("/function_calls", make_function_call(kwargs={"x": 3})), 409, "conflict")
    other_run = make_function_call()
    other_run["run_id"] = "run-2"
    expect_error(agent.post("/function_calls", other_run), 409, "conflict")
    assert agent.get("/function_calls/call-1").json() == original


def test_approve(agent: Any, reviewer: Any, make_function_call: Any) -> None:
    agent.post("/function_calls", make_function_call())
    body = {"requested_at": None, "responded_at": None, "approved": True, "comment": None}
    response = reviewer.post("/agent/function_calls/call-1/respond", body)
    assert response.status_code == 200
    status = response.json()["status"]
    assert status["approved"] is True
    assert status["comment"] is None
    assert datetime.fromisoformat(status["responded_at"]) >= datetime.fromisoformat(status["requested_at"])
    assert agent.get("/function_calls/call-1").json() == response.json()


def test_reject_with_comment_and_option(agent: Any, reviewer: Any, make_function_call: Any) -> None:
    agent.post("/function_calls", make_function_call(reject_options=REJECT_OPTIONS))
    body = {"approved": False, "comment": "no way", "reject_option_name": "too_big", "slack_message_ts": "x"}
    status = reviewer.post("/agent/function_calls/call-1/respond", body).json()["status"]
    assert status.pop("receipt").count(".") == 2  # every decision is signed (tests/server/test_receipts.py)
    assert status == {
        "requested_at": status["requested_at"],
        "responded_at": status["responded_at"],
        "approved": False,
        "comment": "no way",
        "reject_option_name": "too_big",
        "slack_message_ts": None,
        # foureyes' extension: a project-wide key belongs to no person
        "responded_by": {"email": None, "name": None, "channel": "api"},
    }
    assert FunctionCall.model_validate(agent.get("/function_calls/call-1").json()).status is not None


@pytest.mark.parametrize(
    ("option", "comment"), [("too_big", "use smaller"), ("titled", "Wrong account"), ("bare", "bare")]
)
def test_reject_with_only_an_option_fills_the_comment(
    agent: Any, reviewer: Any, make_function_call: Any, option: str, comment: str
) -> None:
    agent.post("/function_calls", make_function_call(reject_options=REJECT_OPTIONS))
    body = {"approved": False, "comment": None, "reject_option_name": option}
    status = reviewer.post("/agent/function_calls/call-1/respond", body).json()["status"]
    assert (status["comment"], status["reject_option_name"]) == (comment, option)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"approved": False}, "comment"),
        ({"approved": False, "comment": "   "}, "comment"),
        ({"approved": False, "comment": "x", "reject_option_name": "nope"}, "reject_option_name"),
        ({"approved": True, "reject_option_name": "too_big"}, "reject_option_name"),
        ({"approved": None, "comment": "x"}, "approved"),
        ({"comment": "x"}, "approved"),
        ({"approved": "maybe"}, "approved"),
        ({"approved": False, "comment": 5}, "comment"),
    ],
)
def test_bad_responses_are_refused_and_change_nothing(
    agent: Any, reviewer: Any, make_function_call: Any, expect_error: Any, body: dict[str, Any], field: str
) -> None:
    agent.post("/function_calls", make_function_call(reject_options=REJECT_OPTIONS))
    error = expect_error(reviewer.post("/agent/function_calls/call-1/respond", body), 422, "validation_error")
    assert ["body", field] in [d["loc"] for d in error["details"]]
    assert agent.get("/function_calls/call-1").json()["status"]["approved"] is None


def test_rejection_without_comment_says_why(
    agent: Any, reviewer: Any, make_function_call: Any, expect_error: Any
) -> None:
    agent.post("/function_calls", make_function_call())
    error = expect_error(
        reviewer.post("/agent/function_calls/call-1/respond", {"approved": False}), 422, "validation_error"
    )
    assert "a rejection needs a comment" in error["message"]


def test_second_decision_is_a_conflict_and_changes_nothing(
    agent: Any, reviewer: Any, make_function_call: Any, expect_error: Any, service: Service
) -> None:
    agent.post("/function_calls", make_function_call())
    decided = reviewer.post(
        "/agent/function_calls/call-1/respond", {"approved": False, "comment": "no"}
    ).json()
    again = reviewer.post("/agent/function_calls/call-1/respond", {"approved": True})
    expect_error(again, 409, "conflict")
    assert agent.get("/function_calls/call-1").json() == decided
    item = service.items.get_function_call(agent.project_id, "call-1")
    assert len(decisions_of(service.db, item.id)) == 1


@pytest.mark.parametrize(
    ("mutate", "loc"),
    [
        (lambda b: b.update(call_id=5), ["body", "call_id"]),
        (lambda b: b.update(call_id=""), ["body", "call_id"]),
        (lambda b: b.update(call_id="x" * 257), ["body", "call_id"]),
        (lambda b: b.update(run_id=None), ["body", "run_id"]),
        (lambda b: b.pop("spec"), ["body", "spec"]),
        (lambda b: b["spec"].pop("fn"), ["body", "spec", "fn"]),
        (lambda b: b["spec"].update(kwargs=[1, 2]), ["body", "spec", "kwargs"]),
        (lambda b: b["spec"].update(state="s"), ["body", "spec", "state"]),
        (
            lambda b: b["spec"].update(reject_options=[{"title": "no name"}]),
            ["body", "spec", "reject_options", 0, "name"],
        ),
        (
            lambda b: b["spec"].update(reject_options=[{"name": "a"}, {"name": "a"}]),
            ["body", "spec", "reject_options"],
        ),
        (
            lambda b: b["spec"].update(channel={"slack": {"channel_or_user_id": 1}}),
            ["body", "spec", "channel", "slack", "channel_or_user_id"],
        ),
    ],
)
def test_create_validates_types(
    agent: Any, make_function_call: Any, expect_error: Any, mutate: Any, loc: list[Any]
) -> None:
    body = make_function_call()
    mutate(body)
    error = expect_error(agent.post("/function_calls", body), 422, "validation_error")
    assert loc in [d["loc"] for d in error["details"]]
    assert all(set(d) == {"loc", "message", "type"} for d in error["details"])


def test_unknown_ids_are_not_found(agent: Any, reviewer: Any, expect_error: Any) -> None:
    expect_error(agent.get("/function_calls/nope"), 404, "not_found")
    expect_error(reviewer.post("/agent/function_calls/nope/respond", {"approved": True}), 404, "not_found")
    expect_error(
        agent.post("/agent/function_calls/nope/escalate_email", {"escalation_msg": "hi"}), 404, "not_found"
    )


def test_call_ids_with_odd_characters_round_trip(agent: Any, make_function_call: Any) -> None:
    call_id = "call/with spaces?&#ü"
    assert agent.post("/function_calls", make_function_call(call_id=call_id)).status_code == 200
    from urllib.parse import quote

    assert agent.get(f"/function_calls/{quote(call_id, safe='')}").json()["call_id"] == call_id


def test_escalate_records_an_event(
    agent: Any, reviewer: Any, make_function_call: Any, expect_error: Any, service: Service
) -> None:
    created = agent.post("/function_calls", make_function_call()).json()
    escalation = {
        "escalation_msg": "please look",
        "additional_recipients": [{"address": "boss@example.com", "context_about_user": None, "field": "cc"}],
        "channel": None,
    }
    response = agent.post("/agent/function_calls/call-1/escalate_email", escalation)
    assert response.status_code == 200
    assert response.json() == created
    item = service.items.get_function_call(agent.project_id, "call-1")
    events = events_of(service.db, item.id)
    assert [e.type for e in events] == ["created", "escalated"]
    assert events[1].data == escalation
    assert events[1].actor_key_id == agent.key_id

    bad = agent.post("/agent/function_calls/call-1/escalate_email", {"additional_recipients": None})
    expect_error(bad, 422, "validation_error")
    reviewer.post("/agent/function_calls/call-1/respond", {"approved": True})
    expect_error(agent.post("/agent/function_calls/call-1/escalate_email", escalation), 409, "conflict")
    assert [e.type for e in events_of(service.db, item.id)] == ["created", "escalated", "decided"]


def test_pending_list(agent: Any, reviewer: Any, make_function_call: Any, expect_error: Any) -> None:
    for n in range(5):
        agent.post("/function_calls", make_function_call(call_id=f"c{n}"))
    reviewer.post("/agent/function_calls/c1/respond", {"approved": True})

    page = reviewer.get("/agent/function_calls/pending").json()
    assert set(page) == {"items", "total", "limit", "offset", "has_more"}
    assert [i["call_id"] for i in page["items"]] == ["c0", "c2", "c3", "c4"]
    assert (page["total"], page["limit"], page["offset"], page["has_more"]) == (4, 100, 0, False)
    assert all(i["status"]["approved"] is None for i in page["items"])

    window = agent.get("/agent/function_calls/pending", params={"limit": 2, "offset": 1}).json()
    assert [i["call_id"] for i in window["items"]] == ["c2", "c3"]
    assert (window["total"], window["limit"], window["offset"], window["has_more"]) == (4, 2, 1, True)

    for params in ({"limit": 0}, {"limit": 501}, {"limit": "x"}, {"offset": -1}, {"offset": "1.5"}):
        expect_error(agent.get("/agent/function_calls/pending", params=params), 400, "invalid_parameter")
    assert agent.get("/agent/function_calls/pending", params={"limit": 500}).status_code == 200


def test_racing_responders_over_http_get_one_decision(
    agent: Any, reviewer: Any, make_function_call: Any, service: Service
) -> None:
    import threading
    from concurrent.futures import ThreadPoolExecutor

    agent.post("/function_calls", make_function_call())
    barrier = threading.Barrier(6)

    def respond(n: int) -> int:
        barrier.wait()
        body = {"approved": n % 2 == 0, "comment": f"r{n}"}
        return int(reviewer.post("/agent/function_calls/call-1/respond", body).status_code)

    with ThreadPoolExecutor(max_workers=6) as pool:
        codes = sorted(pool.map(respond, range(6)))
    assert codes == [200, 409, 409, 409, 409, 409]
    item = service.items.get_function_call(agent.project_id, "call-1")
    assert len(decisions_of(service.db, item.id)) == 1

"""Deadlines: ``expires_at`` in the create body or a project default, and the server's expiry
task completing a request as expired through the one decision path."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from foureyes.models import FunctionCall, HumanContact
from foureyes.server.expiry import ExpiryTask
from foureyes.server.service import Service
from foureyes.storage import keys
from foureyes.storage.schema import decisions, events

from .conftest import Caller

LONG = 30  # what a long-poll asks for: far longer than the deadlines below


def _in(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


def test_a_request_expires_on_its_own_at_its_deadline(agent: Caller, make_function_call: Any) -> None:
    body = make_function_call("soon") | {"expires_at": _in(1.5)}
    created = agent.post("/function_calls", body).json()
    assert created["status"]["approved"] is None
    assert created["status"]["expires_at"] is not None
    # The expiry task sleeps until this deadline: the long-poll ends with it, not at its end.
    done = agent.get("/function_calls/soon", params={"wait": LONG}).json()
    status = done["status"]
    assert status["approved"] is False
    assert status["comment"].startswith("expired")
    assert status["expired_at"] is not None
    assert status["responded_by"] is None
    assert datetime.fromisoformat(status["expired_at"]) >= datetime.fromisoformat(status["expires_at"])
    FunctionCall.model_validate(done).status.as_completed()  # type: ignore[union-attr]


def test_a_question_expires_with_a_response_that_says_so(agent: Caller, make_human_contact: Any) -> None:
    agent.post("/contact_requests", make_human_contact("q") | {"expires_at": _in(1)})
    done = agent.get("/contact_requests/q", params={"wait": LONG}).json()
    assert done["status"]["response"].startswith("expired")
    assert done["status"]["expired_at"] is not None
    assert HumanContact.model_validate(done).is_completed


def test_a_decision_after_the_deadline_is_a_conflict(
    agent: Caller, reviewer: Caller, make_function_call: Any, expect_error: Any
) -> None:
    agent.post("/function_calls", make_function_call("late") | {"expires_at": _in(1)})
    agent.get("/function_calls/late", params={"wait": LONG})
    response = reviewer.post("/agent/function_calls/late/respond", {"approved": True})
    expect_error(response, 409, "conflict")
    assert agent.get("/function_calls/late").json()["status"]["approved"] is False


def test_without_a_deadline_a_request_waits(agent: Caller, service: Service, make_function_call: Any) -> None:
    created = agent.post("/function_calls", make_function_call("forever")).json()
    assert "expires_at" not in created["status"]
    task = ExpiryTask(service.db, service.decisions, service.now, poll_interval_seconds=1)
    assert task.run_once(datetime.now(UTC) + timedelta(days=3650)) == 0
    assert agent.get("/function_calls/forever").json()["status"]["approved"] is None


def test_expired_once_however_often_the_scan_runs(
    agent: Caller, service: Service, make_function_call: Any
) -> None:
    deadline = datetime.now(UTC) + timedelta(hours=1)
    agent.post("/function_calls", make_function_call("once") | {"expires_at": deadline.isoformat()})
    later = deadline + timedelta(seconds=1)
    first = ExpiryTask(service.db, service.decisions, service.now, poll_interval_seconds=1)
    second = ExpiryTask(service.db, service.decisions, service.now, poll_interval_seconds=1)
    assert first.run_once(deadline - timedelta(seconds=1)) == 0
    assert first.run_once(later) == 1
    assert second.run_once(later) == 0
    item_id = service.items.get_function_call(agent.project_id, "once").id
    with service.db.read() as conn:
        verdicts = conn.execute(select(decisions.c.verdict).where(decisions.c.item_id == item_id)).scalars()
        assert list(verdicts) == ["expired"]
        decided = conn.execute(
            select(events.c.type).where(events.c.item_id == item_id, events.c.type == "decided")
        ).scalars()
        assert len(list(decided)) == 1


def test_a_project_default_deadline(agent: Caller, service: Service, make_function_call: Any) -> None:
    with service.db.write() as tx:
        assert keys.set_project_expiry(tx.conn, agent.project_id, 1)
    created = agent.post("/function_calls", make_function_call("default")).json()
    requested = datetime.fromisoformat(created["status"]["requested_at"])
    assert datetime.fromisoformat(created["status"]["expires_at"]) == requested + timedelta(seconds=1)
    done = agent.get("/function_calls/default", params={"wait": LONG}).json()
    assert done["status"]["expired_at"] is not None
    # A deadline in the body wins over the project's.
    chosen = datetime.now(UTC) + timedelta(hours=2)
    mine = agent.post(
        "/function_calls", make_function_call("mine") | {"expires_at": chosen.isoformat()}
    ).json()
    assert datetime.fromisoformat(mine["status"]["expires_at"]) == chosen


def test_bad_deadlines_are_refused(agent: Caller, make_function_call: Any, expect_error: Any) -> None:
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    for value in ("2030-01-01T12:00:00", "tomorrow", 12, past, "9999-01-01T00:00:00Z"):
        response = agent.post("/function_calls", make_function_call("bad") | {"expires_at": value})
        error = expect_error(response, 422, "validation_error")
        assert "expires_at" in error["message"], value
    assert agent.get("/function_calls/bad").status_code == 404
    # A moment ago is a deadline that has just passed (clocks differ), not an error.
    just = (datetime.now(UTC) - timedelta(seconds=5)).isoformat()
    assert agent.post("/function_calls", make_function_call("just") | {"expires_at": just}).status_code == 200

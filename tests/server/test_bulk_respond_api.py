"""``POST /agent/function_calls/respond``: many verdicts in one request and one transaction, each
recorded, audited and pushed as a single respond would be, with a result per verdict."""

from __future__ import annotations

from typing import Any

import pytest

from foureyes.models import MAX_BULK_DECISIONS, BulkDecisionResponse
from foureyes.server.service import Service
from foureyes.server.settings import Settings
from foureyes.storage import audit as audit_rows

from ..db import decisions_of, events_of
from ..fast_hashing import FAST_HASHING
from .conftest import Caller
from .test_quorum import _person

BULK = "/agent/function_calls/respond"


@pytest.fixture
def settings(database_url: str) -> Settings:
    # The default body limit: a full batch is larger than the suite's 4 KiB.
    return Settings(database_url=database_url, **FAST_HASHING)


def _create(agent: Caller, make_function_call: Any, *call_ids: str, **spec: Any) -> None:
    for call_id in call_ids:
        assert agent.post("/function_calls", make_function_call(call_id, **spec)).status_code == 200


def test_each_verdict_is_recorded_audited_and_published_like_a_single_respond(
    agent: Caller, reviewer: Caller, service: Service, make_function_call: Any
) -> None:
    _create(agent, make_function_call, "a", "b", "c")
    published: list[tuple[int, str, str]] = []
    real_publish = service.notifier.publish

    def record(topic: tuple[int, str, str], *handed: Any) -> None:
        published.append(topic)
        real_publish(topic, *handed)

    service.notifier.publish = record  # type: ignore[method-assign]
    answer = reviewer.post(
        BULK,
        {
            "decisions": [
                {"call_id": "a", "approved": True, "comment": "fine"},
                {"call_id": "b", "approved": False, "comment": "too much"},
                {"call_id": "c", "approved": True},
            ]
        },
    )
    assert answer.status_code == 200, answer.text
    results = BulkDecisionResponse.model_validate(answer.json()).results
    assert [(r.call_id, r.result, r.reason) for r in results] == [
        ("a", "decided", None),
        ("b", "decided", None),
        ("c", "decided", None),
    ]
    # Each answer is the call as the single GET renders it now.
    for result in answer.json()["results"]:
        assert result["function_call"] == agent.get(f"/function_calls/{result['call_id']}").json()
    assert agent.get("/function_calls/b").json()["status"]["comment"] == "too much"
    for call_id, verdict in (("a", "approved"), ("b", "rejected"), ("c", "approved")):
        item = service.items.get_function_call(agent.project_id, call_id)
        assert item.state == verdict
        [decision] = decisions_of(service.db, item.id)
        assert (decision.channel, decision.actor_key_id) == ("api", reviewer.key_id)
        assert decision.receipt is not None  # signed, as a single decision is
        assert [e.type for e in events_of(service.db, item.id)] == ["created", "decided"]
        with service.db.read() as conn:
            assert [e.kind for e in audit_rows.for_call(conn, call_id)] == ["created", "decided"]
        assert (agent.project_id, "function_call", call_id) in published


def test_skipped_verdicts_say_why_and_the_rest_are_decided(
    agent: Caller, reviewer: Caller, outsider: Caller, service: Service, make_function_call: Any
) -> None:
    _create(agent, make_function_call, "done", "ok", "bare", "badopt", "edit")
    assert outsider.post("/function_calls", make_function_call("theirs")).status_code == 200
    reviewer.post("/agent/function_calls/done/respond", {"approved": True})
    decisions = [
        {"call_id": "done", "approved": False, "comment": "late"},
        {"call_id": "missing", "approved": True},
        {"call_id": "theirs", "approved": True},  # another project's: exactly like a missing one
        {"call_id": "bare", "approved": False},  # a rejection with no comment
        {"call_id": "badopt", "approved": False, "reject_option_name": "nope"},
        {"call_id": "edit", "approved": True, "edited_kwargs": {"x": 3}},  # the request allows no edit
        {"call_id": "ok", "approved": True},
    ]
    answer = reviewer.post(BULK, {"decisions": decisions})
    assert answer.status_code == 200, answer.text
    results = {r["call_id"]: r for r in answer.json()["results"]}
    assert list(results) == [d["call_id"] for d in decisions]
    assert results["ok"]["result"] == "decided"
    assert results["ok"]["function_call"]["status"]["approved"] is True
    skipped = {c: r["reason"] for c, r in results.items() if r["result"] == "skipped"}
    assert skipped.keys() == {"done", "missing", "theirs", "bare", "badopt", "edit"}
    assert skipped["done"] == "approved"
    assert skipped["missing"] == skipped["theirs"] == "not found"
    assert "needs a comment" in skipped["bare"]
    assert "'nope' is not one of the request's reject_options" in skipped["badopt"]
    assert "edit" in skipped["edit"]
    for call_id in ("bare", "badopt", "edit"):
        assert service.items.get_function_call(agent.project_id, call_id).state == "pending"
    assert service.items.get_function_call(outsider.project_id, "theirs").state == "pending"
    assert service.items.get_function_call(agent.project_id, "done").state == "approved"


def test_a_batch_is_bounded_well_formed_and_names_each_call_once(
    agent: Caller, reviewer: Caller, make_function_call: Any, expect_error: Any
) -> None:
    _create(agent, make_function_call, "a")
    too_many = [{"call_id": f"c{n}", "approved": True} for n in range(MAX_BULK_DECISIONS + 1)]
    error = expect_error(reviewer.post(BULK, {"decisions": too_many}), 422, "validation_error")
    assert error["message"].startswith(
        f"at most {MAX_BULK_DECISIONS} requests can be decided at once, not 501"
    )
    error = expect_error(reviewer.post(BULK, {"decisions": []}), 422, "validation_error")
    assert error["message"] == "select at least one request"
    expect_error(reviewer.post(BULK, {"decisions": [{"call_id": "a"}]}), 422, "validation_error")
    expect_error(
        reviewer.post(BULK, {"decisions": [{"call_id": "a", "approved": "yes"}]}), 422, "validation_error"
    )
    twice = [{"call_id": "a", "approved": True}, {"call_id": "a", "approved": False, "comment": "no"}]
    error = expect_error(reviewer.post(BULK, {"decisions": twice}), 422, "validation_error")
    assert "'a'" in error["message"]
    expect_error(reviewer.post(BULK, [1, 2]), 422, "validation_error")
    assert agent.get("/function_calls/a").json()["status"]["approved"] is None
    # Exactly the limit is allowed.
    at_limit = [{"call_id": f"c{n}", "approved": True} for n in range(MAX_BULK_DECISIONS)]
    answer = reviewer.post(BULK, {"decisions": at_limit})
    assert answer.status_code == 200
    assert {r["reason"] for r in answer.json()["results"]} == {"not found"}


def test_it_needs_the_respond_scope_and_a_deciding_role(
    client: Any, agent: Caller, service: Service, make_function_call: Any, expect_error: Any
) -> None:
    _create(agent, make_function_call, "a")
    body = {"decisions": [{"call_id": "a", "approved": True}]}
    expect_error(agent.post(BULK, body), 403, "forbidden")
    expect_error(agent.post(BULK, body, headers={"Authorization": "Bearer fe_nope"}), 401, "unauthorized")
    viewer = _person(client, service, "vic@example.com")
    service.people.add_user("vic@example.com", "default", "viewer")
    expect_error(viewer.post(BULK, body), 403, "forbidden")
    assert service.items.get_function_call(agent.project_id, "a").state == "pending"
    ann = _person(client, service, "ann@example.com")
    answer = ann.post(BULK, body).json()["results"]
    assert answer[0]["result"] == "decided"
    assert answer[0]["function_call"]["status"]["responded_by"]["email"] == "ann@example.com"


def test_a_quorum_counts_it_as_one_approval(
    client: Any, agent: Caller, service: Service, make_function_call: Any
) -> None:
    assert (
        agent.post("/function_calls", make_function_call("q") | {"required_approvals": 2}).status_code == 200
    )
    ann = _person(client, service, "ann@example.com")
    first = ann.post(BULK, {"decisions": [{"call_id": "q", "approved": True}]}).json()["results"][0]
    assert first["result"] == "decided"
    assert first["function_call"]["status"]["approved"] is None  # one of two
    again = ann.post(BULK, {"decisions": [{"call_id": "q", "approved": True}]}).json()["results"][0]
    assert again["result"] == "skipped"
    assert "already approved" in again["reason"]

"""Policies: rules in CEL that decide, raise the bar or route a request in its create
transaction, attributed to the rule; shadow rules only record; bad rules are refused."""

from __future__ import annotations

from typing import Any

import humanlayer
import pytest
from fastapi import FastAPI
from humanlayer import FunctionCallSpec

from foureyes.server.domain.errors import InvalidParameterError
from foureyes.server.service import Service

from ..db import decisions_of, events_of, get_item
from .conftest import Caller
from .test_long_poll import served


def _hl(port: int, key: str) -> Any:
    return humanlayer.HumanLayer(api_key=key, api_base_url=f"http://127.0.0.1:{port}/humanlayer/v1")


def test_an_approve_rule_answers_the_official_sdks_create_at_once(
    app: FastAPI, service: Service, agent: Caller
) -> None:
    service.policies.add("default", "small-refunds", 'fn == "refund" && args.amount < 100', "approve")
    with served(app) as port:
        call = _hl(port, agent.key).create_function_call(FunctionCallSpec(fn="refund", kwargs={"amount": 20}))
    assert call.status is not None
    assert call.status.approved is True
    raw = agent.get(f"/function_calls/{call.call_id}").json()["status"]
    assert raw["responded_by"] == {"email": None, "name": "policy:small-refunds", "channel": "policy"}
    item = get_item(service.db, agent.project_id, "function_call", call.call_id)
    assert item is not None
    assert item.state == "approved"
    (decision,) = decisions_of(service.db, item.id)
    assert (decision.policy, decision.channel, decision.verdict) == ("small-refunds", "policy", "approved")
    # A decision like a human's: in the history as created, then decided, through the one writer.
    assert [e.type for e in events_of(service.db, item.id)] == ["created", "decided"]
    assert events_of(service.db, item.id)[1].data["policy"] == "small-refunds"
    assert events_of(service.db, item.id)[1].channel == "policy"


def test_a_reject_rules_comment_reaches_the_agent_through_the_official_sdk(
    app: FastAPI, service: Service, agent: Caller
) -> None:
    service.policies.add(
        "default", "no-deletes", 'fn.startsWith("delete_")', "reject", comment="deletes are never allowed"
    )
    ran: list[str] = []

    def delete_table(name: str) -> str:
        ran.append(name)
        return "deleted"

    with served(app) as port:
        hl = _hl(port, agent.key)
        hl.sleep = lambda _s: None
        answer = hl.require_approval()(delete_table)(name="users")
    assert ran == []
    assert answer == "User denied delete_table with message: deletes are never allowed"


def test_the_first_matching_rule_wins_and_no_match_leaves_it_to_a_human(
    service: Service, agent: Caller, make_function_call: Any
) -> None:
    service.policies.add("default", "big", "args.x > 1", "reject", comment="too big")
    service.policies.add("default", "any", "true", "approve")
    service.policies.add("default", "first", "args.y == 5", "route:email,slack", position=1)
    assert [p.name for p in service.policies.list_policies("default")] == ["first", "big", "any"]
    routed = agent.post("/function_calls", make_function_call()).json()["status"]
    assert routed["approved"] is None
    assert routed["routes"] == ["email", "slack"]
    service.policies.remove("default", "first")
    assert agent.post("/function_calls", make_function_call("c2")).json()["status"]["comment"] == "too big"
    service.policies.apply("default", [{"name": "only-pay", "when": 'fn == "pay"', "then": "approve"}])
    assert agent.post("/function_calls", make_function_call("c3")).json()["status"]["approved"] is None
    # An expression that fails on this request (no such argument) is no match.
    service.policies.add("default", "missing", "args.amount > 3", "approve")
    assert agent.post("/function_calls", make_function_call("c4")).json()["status"]["approved"] is None


def test_a_require_rule_raises_the_quorum(service: Service, agent: Caller, make_function_call: Any) -> None:
    service.policies.add("default", "careful", 'agent == "" || kind == "function_call"', "require:3")
    status = agent.post("/function_calls", make_function_call()).json()["status"]
    assert status["required_approvals"] == 3
    assert status["approved"] is None


def test_a_shadow_rule_decides_nothing_but_is_recorded(
    service: Service, agent: Caller, make_function_call: Any
) -> None:
    service.policies.add("default", "would-approve", "args.x == 2", "approve", shadow=True)
    status = agent.post("/function_calls", make_function_call()).json()["status"]
    assert status["approved"] is None
    item = get_item(service.db, agent.project_id, "function_call", "call-1")
    assert item is not None
    assert item.state == "pending"
    shadow = [e for e in events_of(service.db, item.id) if e.type == "policy"]
    assert [(e.data, e.channel) for e in shadow] == [
        ({"policy": "would-approve", "action": "approve", "shadow": True}, "policy")
    ]


@pytest.mark.parametrize(
    ("expression", "where"),
    [("args.amount > 1000 &&", "line 1, column 22"), ('fn == "x" &&\n  (args.y', "line 2, column 10")],
)
def test_a_bad_expression_is_refused_with_its_position(service: Service, expression: str, where: str) -> None:
    with pytest.raises(InvalidParameterError) as refused:
        service.policies.add("default", "broken", expression, "approve")
    assert where in refused.value.message
    assert service.policies.list_policies("default") == []


@pytest.mark.parametrize(
    ("then", "problem"),
    [("maybe", "invalid action"), ("require:0", "invalid action"), ("route:", "invalid action")],
)
def test_a_bad_action_is_refused(service: Service, then: str, problem: str) -> None:
    with pytest.raises(InvalidParameterError, match=problem):
        service.policies.add("default", "bad", "true", then)


def test_apply_is_atomic_a_bad_file_changes_nothing(service: Service) -> None:
    service.policies.add("default", "keep", "true", "approve")
    with pytest.raises(InvalidParameterError, match="policy 'second'"):
        service.policies.apply(
            "default",
            [
                {"name": "first", "when": "true", "then": "reject", "comment": "no"},
                {"name": "second", "when": "args.(", "then": "approve"},
            ],
        )
    assert [p.name for p in service.policies.list_policies("default")] == ["keep"]
    with pytest.raises(InvalidParameterError, match="unique"):
        service.policies.apply("default", [{"name": "a", "when": "true", "then": "approve"}] * 2)
    applied = service.policies.apply(
        "default", [{"name": "a", "when": "true", "then": "approve", "shadow": True}]
    )
    assert [(p.name, p.position, p.shadow) for p in applied] == [("a", 1, True)]


def test_the_rule_count_and_expression_length_are_capped(service: Service) -> None:
    with pytest.raises(InvalidParameterError, match="longer than"):
        service.policies.add("default", "long", "true || " * 200 + "true", "approve")
    with pytest.raises(InvalidParameterError, match="at most 50"):
        service.policies.apply(
            "default", [{"name": f"r{i}", "when": "true", "then": "approve"} for i in range(51)]
        )


def test_policies_test_runs_an_expression_over_recent_requests(
    service: Service, agent: Caller, make_function_call: Any
) -> None:
    agent.post("/function_calls", make_function_call("a", kwargs={"amount": 5}))
    agent.post("/function_calls", make_function_call("b", kwargs={"amount": 500}))
    trials = service.policies.test("default", "args.amount > 100", last=10)
    assert [(t.item.call_id, t.matched) for t in trials] == [("b", True), ("a", False)]

"""``timeout=`` becomes the server's deadline (``expires_at``), and a request the server expired
is reported as expired: not as a human's rejection."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from foureyes import ApprovalTimeout, Decision, FunctionCallSpec, HumanLayer

from .conftest import FakeServer

SPEC = FunctionCallSpec(fn="transfer", kwargs={"to": "alice", "usd": 10})
EXPIRED = {"expired_at": "2026-01-01T00:00:00Z"}


def _create_body(server: FakeServer) -> dict[str, object]:
    [create] = server.sent("POST")
    body: dict[str, object] = json.loads(create.content)
    return body


def test_timeout_is_sent_as_the_deadline(make_hl: Callable[..., HumanLayer], server: FakeServer) -> None:
    hl = make_hl(timeout=60)
    server.decide_on_get(1)
    before = datetime.now(UTC)
    hl.fetch_approval(SPEC)
    sent = datetime.fromisoformat(str(_create_body(server)["expires_at"]))
    assert sent.utcoffset() is not None
    assert before + timedelta(seconds=60) <= sent <= datetime.now(UTC) + timedelta(seconds=60)


def test_without_timeout_no_deadline_is_sent(hl: HumanLayer, server: FakeServer) -> None:
    server.decide_on_get(1)
    hl.fetch_approval(SPEC)
    assert "expires_at" not in _create_body(server)


def test_an_expired_call_is_expired_not_rejected(hl: HumanLayer, server: FakeServer) -> None:
    comment = "expired: nobody responded before the deadline"
    server.on_get = lambda call_id: server.decide(call_id, False, comment, **EXPIRED)
    ran: list[int] = []

    @hl.require_approval()
    def transfer(to: str, usd: int) -> str:
        ran.append(usd)
        return "sent"

    refusal = transfer("alice", 10)
    assert ran == []
    assert refusal == (
        f"Nobody answered in time: transfer was not approved before its deadline and did not run ({comment})"
    )
    decision = Decision.of_function_call(hl.fetch_approval(SPEC))
    assert decision.expired
    assert not decision.rejected
    assert decision.detail == comment


def test_a_question_that_expired_tells_the_llm(hl: HumanLayer, server: FakeServer) -> None:
    def expire(call_id: str) -> None:
        item = server.items[("contact_requests", call_id)]
        item["status"].update(
            response="expired: nobody responded", responded_at="2026-01-01T00:00:00Z", **EXPIRED
        )

    server.on_get = expire
    answer = hl.human_as_tool()("Which region?")
    assert (
        answer
        == "Nobody answered in time: the question expired before anyone responded (expired: nobody responded)"
    )


def test_the_callers_own_deadline_says_no_human_completed_it(make_hl: Callable[..., HumanLayer]) -> None:
    hl = make_hl(timeout=5)

    @hl.require_approval()
    def transfer(to: str, usd: int) -> str:
        raise AssertionError("never runs")

    refusal = transfer("alice", 10)
    assert refusal.startswith("Error fetching approval for transfer: no human completed function call")
    with pytest.raises(ApprovalTimeout):
        hl.fetch_approval(SPEC)


def test_a_wait_without_expiry_leaves_the_request_for_later(
    make_hl: Callable[..., HumanLayer], server: FakeServer
) -> None:
    hl = make_hl(timeout=60, expire_on_timeout=False)
    server.decide_on_get(1)
    hl.fetch_approval(SPEC)
    assert "expires_at" not in _create_body(server)

"""Our SDK against a real server: ``approvals=`` and ``approvers=`` reach it as
``required_approvals`` / ``required_approvers``, the agent waits until the quorum (and the
groups) are met, and the status it reads back says who approved and what is still needed."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from fastapi import FastAPI

import foureyes
from foureyes import FunctionCallSpec, InvalidRequestError, all_of
from foureyes.server.service import Service

from .conftest import Caller
from .test_long_poll import served
from .test_quorum import _person, _wait_pending


def _approve(caller: Caller, call_id: str) -> None:
    answer = caller.post(f"/agent/function_calls/{call_id}/respond", {"approved": True})
    assert answer.status_code == 200, answer.text


def test_our_decorator_asks_for_two_approvals_and_runs_only_after_both(
    app: FastAPI, client: Any, service: Service, agent: Caller
) -> None:
    alice = _person(client, service, "alice@example.com")
    bob = _person(client, service, "bob@example.com")
    ran: list[int] = []
    answers: list[Any] = []
    with served(app) as port:
        hl = foureyes.HumanLayer(
            api_key=agent.key, api_base_url=f"http://127.0.0.1:{port}/humanlayer/v1", timeout=30
        )

        @hl.require_approval(approvals=2)
        def pay(usd: int) -> str:
            ran.append(usd)
            return f"paid {usd}"

        thread = threading.Thread(target=lambda: answers.append(pay(900)))
        thread.start()
        call_id = _wait_pending(agent)
        _approve(alice, call_id)
        seen = hl.get_function_call(call_id)
        assert seen.status is not None
        assert seen.status.approved is None
        assert seen.status.required_approvals == 2
        assert [a.email for a in seen.status.approvals or []] == ["alice@example.com"]
        assert seen.status.approvals_needed is not None
        assert seen.status.approvals_needed.approvals == 1
        assert seen.status.approvals_needed.text == "1 more from other people"
        time.sleep(0.2)
        assert ran == []
        _approve(bob, call_id)
        thread.join(timeout=15)
    assert ran == [900]  # the last approval's receipt checked out
    assert answers == ["paid 900"]


def test_our_sdk_asks_for_approver_groups_and_reads_what_they_still_need(
    app: FastAPI, client: Any, service: Service, agent: Caller
) -> None:
    fin = _person(client, service, "fin@example.com")
    sec = _person(client, service, "sec@example.com")
    service.groups.add("default", "finance", ["fin@example.com"])
    service.groups.add("default", "security", ["sec@example.com"])
    results: list[Any] = []
    spec = FunctionCallSpec(fn="wire", kwargs={"usd": 50_000})
    with served(app) as port:
        hl = foureyes.HumanLayer(
            api_key=agent.key, api_base_url=f"http://127.0.0.1:{port}/humanlayer/v1", timeout=30
        )
        with pytest.raises(InvalidRequestError, match="no group named legal"):
            hl.create_function_call(spec, approvers={"any_of": ["legal"]})

        thread = threading.Thread(
            target=lambda: results.append(
                hl.fetch_approval(spec, approvals=3, approvers=all_of("finance", "security"))
            )
        )
        thread.start()
        call_id = _wait_pending(agent)
        _approve(fin, call_id)
        seen = hl.get_function_call(call_id).status
        assert seen is not None
        assert seen.required_approvals == 3
        assert seen.required_approvers == {"all_of": ["finance", "security"]}
        assert [(a.email, a.groups) for a in seen.approvals or []] == [("fin@example.com", ["finance"])]
        assert seen.approvals_needed is not None
        assert seen.approvals_needed.groups == ["security"]
        assert seen.approvals_needed.from_groups == 1
        assert seen.approvals_needed.approvals == 2
        _approve(sec, call_id)
        assert hl.get_function_call(call_id).status.approved is None  # type: ignore[union-attr]
        _approve(_person(client, service, "cy@example.com"), call_id)  # the third may be anyone
        thread.join(timeout=15)
    [completed] = results
    assert completed.call.status.approved is True
    assert [a.email for a in completed.call.status.approvals] == [
        "fin@example.com",
        "sec@example.com",
        "cy@example.com",
    ]

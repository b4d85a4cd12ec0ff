"""Bulk decisions against a real server: the SDK's respond_to_function_calls (sync and async)
resumes every waiting agent, and `foureyes approve/reject` with several ids or --all-pending."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
from typing import Any

import httpx
import pytest

import foureyes
from foureyes import FunctionCallDecision

from .conftest import LiveServer

pytestmark = pytest.mark.slow


def _cli(server: LiveServer, key: str, *args: str, answer: str = "") -> subprocess.CompletedProcess[str]:
    env = server.env | {"FOUREYES_REVIEWER_KEY": key, "FOUREYES_API_BASE": server.api_base}
    return subprocess.run(
        [sys.executable, "-m", "foureyes", *args],
        env=env,
        cwd=server.workdir,
        input=answer,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _spec(n: int) -> foureyes.FunctionCallSpec:
    return foureyes.FunctionCallSpec(fn="transfer", kwargs={"n": n})


def test_the_sdks_decide_many_and_every_waiting_agent_resumes(live_server: LiveServer) -> None:
    agent_key, reviewer_key = live_server.create_key("agent"), live_server.create_key("respond")
    agent = foureyes.HumanLayer(api_key=agent_key, api_base_url=live_server.api_base)
    outcomes: dict[int, bool | None] = {}

    def wait(n: int) -> None:
        outcomes[n] = agent.fetch_approval(_spec(n)).as_completed().approved

    threads = [threading.Thread(target=wait, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    reviewer = foureyes.HumanLayer(api_key=reviewer_key, api_base_url=live_server.api_base)
    deadline = time.monotonic() + 60
    while len(page := reviewer_page(live_server, reviewer_key)) < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    by_n = {item["spec"]["kwargs"]["n"]: item["call_id"] for item in page}
    results = reviewer.respond_to_function_calls(
        [
            FunctionCallDecision(call_id=by_n[0], approved=True),
            FunctionCallDecision(call_id=by_n[1], approved=False, comment="no"),
            FunctionCallDecision(call_id="nope", approved=True),
        ]
    )
    assert [(r.call_id, r.result, r.reason) for r in results] == [
        (by_n[0], "decided", None),
        (by_n[1], "decided", None),
        ("nope", "skipped", "not found"),
    ]
    assert results[1].function_call is not None
    assert results[1].function_call.status is not None
    assert results[1].function_call.status.comment == "no"

    async def the_rest() -> list[foureyes.BulkDecisionResult]:
        async with foureyes.AsyncHumanLayer(api_key=reviewer_key, api_base_url=live_server.api_base) as ahl:
            return await ahl.respond_to_function_calls(
                [FunctionCallDecision(call_id=by_n[n], approved=True) for n in (2, 3)]
            )

    assert [r.result for r in asyncio.run(the_rest())] == ["decided", "decided"]
    for thread in threads:
        thread.join(timeout=60)
    assert outcomes == {0: True, 1: False, 2: True, 3: True}


def reviewer_page(server: LiveServer, key: str) -> list[dict[str, Any]]:
    answer = httpx.get(
        f"{server.api_base}/agent/function_calls/pending", headers={"Authorization": f"Bearer {key}"}
    )
    answer.raise_for_status()
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


def test_approve_and_reject_several_ids_and_all_pending(live_server: LiveServer) -> None:
    agent = foureyes.HumanLayer(api_key=live_server.create_key("agent"), api_base_url=live_server.api_base)
    for n in range(6):
        agent.create_function_call(_spec(n), call_id=f"c{n}")
    key = live_server.create_key("respond")

    several = _cli(live_server, key, "approve", "c0", "c1", "--comment", "fine")
    assert several.returncode == 0, several.stderr
    assert "Approved c0." in several.stdout
    assert "Approved c1." in several.stdout
    assert agent.get_function_call("c1").status.approved is True

    mixed = _cli(live_server, key, "reject", "c2", "c0", "gone", "--comment", "not now")
    assert mixed.returncode == 1
    assert "Rejected c2." in mixed.stdout
    assert "Skipped c0: approved" in mixed.stdout
    assert "Skipped gone: not found" in mixed.stdout
    assert "2 of 3 were not decided" in mixed.stderr
    assert agent.get_function_call("c2").status.comment == "not now"

    wrong = _cli(live_server, key, "approve", "--all-pending", "--project", "ops")
    assert wrong.returncode == 1
    assert "belongs to project 'default'" in wrong.stderr
    assert _cli(live_server, key, "approve", "--all-pending").returncode == 1
    assert _cli(live_server, key, "approve", "c3", "--all-pending", "--project", "default").returncode == 1

    declined = _cli(live_server, key, "approve", "--all-pending", "--project", "default", answer="n\n")
    assert declined.returncode == 1
    for n in (3, 4, 5):
        assert f"c{n}  transfer" in declined.stdout
    assert "c0  transfer" not in declined.stdout
    assert agent.get_function_call("c3").status.approved is None

    confirmed = _cli(live_server, key, "approve", "--all-pending", "--project", "default", answer="y\n")
    assert confirmed.returncode == 0, confirmed.stderr
    assert "3 pending in default" in confirmed.stdout
    for n in (3, 4, 5):
        assert agent.get_function_call(f"c{n}").status.approved is True
    empty = _cli(
        live_server, key, "reject", "--all-pending", "--project", "default", "--comment", "x", "--yes"
    )
    assert empty.returncode == 0
    assert "Nothing is waiting" in empty.stdout

"""Durability and resilience: a server SIGKILLed mid-wait loses nothing and waiting agents resume."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

import foureyes

from .conftest import LiveServer
from .test_sdk_compat import Reviewer

# Real server processes (or SIGKILLed ones): part of the full suite, not of --fast.
pytestmark = pytest.mark.slow


def test_acknowledged_creates_survive_sigkill(live_server: LiveServer) -> None:
    hl = foureyes.HumanLayer(api_key=live_server.create_key("agent"), api_base_url=live_server.api_base)
    ids = [
        hl.create_function_call(foureyes.FunctionCallSpec(fn="f", kwargs={"n": n})).call_id for n in range(50)
    ]
    live_server.kill()
    live_server.start()
    for n, call_id in enumerate(ids):
        assert hl.get_function_call(call_id).spec.kwargs == {"n": n}


def test_sync_waits_resume_across_sigkill_and_restart(live_server: LiveServer) -> None:
    hl = foureyes.HumanLayer(api_key=live_server.create_key("agent"), api_base_url=live_server.api_base)
    reviewer = Reviewer(live_server)
    ran: list[str] = []

    @hl.require_approval()
    def transfer(to: str, usd: int) -> str:
        ran.append(to)
        return f"sent {usd} to {to}"

    with ThreadPoolExecutor(max_workers=3) as pool:
        decorated = pool.submit(transfer, "alice", 10)
        fetched = pool.submit(hl.fetch_approval, foureyes.FunctionCallSpec(fn="wire", kwargs={"usd": 99}))
        asked = pool.submit(hl.human_as_tool(), "Proceed?")
        calls = reviewer.wait_pending(count=2)
        [question] = reviewer.wait_pending("human_contacts")

        live_server.kill()
        time.sleep(0.5)  # the agents now see refused connections and back off
        assert not decorated.done()
        assert ran == []
        live_server.start()

        for item in calls:
            if item["spec"]["fn"] == "transfer":
                assert reviewer.respond(item["call_id"], approved=True).status_code == 200
            else:
                assert (
                    reviewer.respond(item["call_id"], approved=False, comment="too much").status_code == 200
                )
        assert reviewer.answer(question["call_id"], response="go ahead").status_code == 200

        assert decorated.result(timeout=60) == "sent 10 to alice"
        assert fetched.result(timeout=60).as_completed().comment == "too much"
        assert asked.result(timeout=60) == "go ahead"
    assert ran == ["alice"]
    reviewer.http.close()


@pytest.mark.anyio
async def test_async_wait_resumes_across_sigkill(live_server: LiveServer) -> None:
    ahl = foureyes.AsyncHumanLayer(api_key=live_server.create_key("agent"), api_base_url=live_server.api_base)
    reviewer = Reviewer(live_server)
    task = asyncio.create_task(ahl.fetch_approval(foureyes.FunctionCallSpec(fn="drop_table", kwargs={})))
    [item] = await asyncio.to_thread(reviewer.wait_pending)
    live_server.kill()
    await asyncio.sleep(0.5)
    assert not task.done()
    await asyncio.to_thread(live_server.start)
    await asyncio.to_thread(reviewer.respond, item["call_id"], approved=True)
    result = await asyncio.wait_for(task, 60)
    assert result.as_completed().approved is True
    reviewer.http.close()


def test_server_down_never_runs_the_function(live_server: LiveServer) -> None:
    hl = foureyes.HumanLayer(
        api_key=live_server.create_key("agent"), api_base_url=live_server.api_base, timeout=1.5
    )
    live_server.stop()
    ran: list[int] = []

    @hl.require_approval()
    def dangerous() -> str:
        ran.append(1)
        return "ran"

    result = dangerous()
    assert result.startswith("Error fetching approval for dangerous:")
    assert ran == []


def test_timeout_never_runs_the_function(live_server: LiveServer) -> None:
    hl = foureyes.HumanLayer(
        api_key=live_server.create_key("agent"), api_base_url=live_server.api_base, timeout=1.0
    )
    ran: list[int] = []

    @hl.require_approval()
    def dangerous() -> str:
        ran.append(1)
        return "ran"

    started = time.monotonic()
    result = dangerous()
    assert result.startswith("Error fetching approval for dangerous:")
    assert time.monotonic() - started < 10
    assert ran == []
    with pytest.raises(foureyes.ApprovalTimeout):
        hl.fetch_approval(foureyes.FunctionCallSpec(fn="dangerous", kwargs={}))


def test_long_poll_answers_on_decision(live_server: LiveServer) -> None:
    key = live_server.create_key("agent")
    reviewer = Reviewer(live_server)
    with httpx.Client(base_url=live_server.api_base, headers={"Authorization": f"Bearer {key}"}) as http:
        body = {"run_id": "r", "call_id": "lp-1", "spec": {"fn": "f", "kwargs": {}}, "status": None}
        assert http.post("/function_calls", json=body).status_code == 200
        started = time.monotonic()
        pending = http.get("/function_calls/lp-1", params={"wait": 0.5}).json()
        assert pending["status"]["approved"] is None
        assert time.monotonic() - started >= 0.45
        with ThreadPoolExecutor(max_workers=1) as pool:
            waiting = pool.submit(http.get, "/function_calls/lp-1", params={"wait": 30})
            time.sleep(0.3)
            decided_at = time.monotonic()
            reviewer.respond("lp-1", approved=True)
            answer = waiting.result(timeout=30)
            assert time.monotonic() - decided_at < 5
        assert answer.json()["status"]["approved"] is True
    reviewer.http.close()

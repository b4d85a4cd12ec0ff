"""Two real `foureyes serve` processes on one PostgreSQL database, as two replicas behind a load
balancer would run: a decision through one wakes agents waiting on the other, also after one is
SIGKILLed and restarted, and nothing either acknowledged is lost.

The waits below ask for far longer than their hang-guards allow: when a result arrives within
the guard, it was the cross-replica wake-up that delivered it, not the end of a wait.
"""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import httpx
import pytest

import foureyes
from foureyes.server.service import Service

from ..webhooks.receiver import Receiver, running_receiver
from .conftest import LiveServer
from .test_sdk_compat import Reviewer

pytestmark = pytest.mark.slow

LONG_WAIT = 55.0  # what the waiters ask the server for
GUARD = 30.0  # how long the test lets them take after the decision


@pytest.fixture
def replica_env() -> dict[str, str]:
    return {
        "FOUREYES_WEBHOOK_ALLOW_PRIVATE": "true",
        "FOUREYES_WEBHOOK_POLL_INTERVAL_SECONDS": "0.1",
        "FOUREYES_WEBHOOK_TIMEOUT_SECONDS": "2",
    }


def sdk_on(server: LiveServer, key: str) -> foureyes.HumanLayer:
    return foureyes.HumanLayer(
        api_key=key, api_base_url=server.api_base, retry=foureyes.RetryPolicy(poll_wait=LONG_WAIT)
    )


def long_poll(server: LiveServer, key: str, call_id: str) -> Any:
    with httpx.Client(base_url=server.api_base, headers={"Authorization": f"Bearer {key}"}) as http:
        response = http.get(f"/function_calls/{call_id}", params={"wait": LONG_WAIT}, timeout=LONG_WAIT + 10)
        response.raise_for_status()
        return response.json()


def create(server: LiveServer, key: str, call_id: str, **kwargs: Any) -> None:
    body = {"run_id": "replicas", "call_id": call_id, "spec": {"fn": "wire", "kwargs": kwargs}}
    response = httpx.post(
        f"{server.api_base}/function_calls", json=body, headers={"Authorization": f"Bearer {key}"}, timeout=30
    )
    assert response.status_code == 200, response.text


def wake_across(a: LiveServer, b: LiveServer, key: str, reviewer: Reviewer, tag: str) -> None:
    """An SDK wait and a raw long-poll on A, both completed by a decision through B."""
    with sdk_on(a, key) as hl, ThreadPoolExecutor(2) as pool:
        fetched: Future[Any] = pool.submit(
            hl.fetch_approval, foureyes.FunctionCallSpec(fn="wire", kwargs={"tag": tag})
        )
        create(a, key, f"raw-{tag}", usd=1)
        polled = pool.submit(long_poll, a, key, f"raw-{tag}")
        pending = reviewer.wait_pending(count=2)
        time.sleep(0.5)  # let both requests park on replica A
        assert not fetched.done()
        assert not polled.done()
        for item in pending:
            assert reviewer.respond(item["call_id"], approved=True, comment=f"ok {tag}").status_code == 200
        assert fetched.result(timeout=GUARD).as_completed().comment == f"ok {tag}"
        assert polled.result(timeout=GUARD)["status"]["approved"] is True


def test_a_decision_on_one_replica_wakes_waiters_on_the_other_also_after_a_sigkill(
    replicas: tuple[LiveServer, LiveServer],
) -> None:
    a, b = replicas
    key = a.create_key("agent")
    reviewer = Reviewer(b)
    try:
        wake_across(a, b, key, reviewer, "first")

        # Acknowledged by A, then A dies without any shutdown.
        for n in range(30):
            create(a, key, f"kept-{n}", n=n)
        with sdk_on(a, key) as hl, ThreadPoolExecutor(1) as pool:
            waiting = pool.submit(hl.fetch_approval, foureyes.FunctionCallSpec(fn="wire", kwargs={}))
            [during] = [i for i in reviewer.wait_pending(count=31) if not i["call_id"].startswith("kept-")]
            a.kill()
            # Decided through B while A is down: the agent's retries reach the restarted A,
            # which finds the decision in the database.
            assert reviewer.respond(during["call_id"], approved=False, comment="not now").status_code == 200
            a.start()
            assert waiting.result(timeout=60).as_completed().comment == "not now"

        with httpx.Client(base_url=b.api_base, headers={"Authorization": f"Bearer {key}"}) as http:
            for n in range(30):
                assert http.get(f"/function_calls/kept-{n}").json()["spec"]["kwargs"] == {"n": n}
        for item in reviewer.wait_pending(count=30):
            assert reviewer.respond(item["call_id"], approved=True).status_code == 200

        # The restarted A listens again: B's decisions wake its waiters as before, and A's wake B's.
        wake_across(a, b, key, reviewer, "after-restart")
        other_way = Reviewer(a)
        try:
            wake_across(b, a, key, other_way, "other-way")
        finally:
            other_way.http.close()
    finally:
        reviewer.http.close()


def test_two_replicas_deliver_each_webhook_once(
    replicas: tuple[LiveServer, LiveServer], replica_service: Service
) -> None:
    a, b = replicas
    with running_receiver() as receiver:
        done = a.foureyes("webhooks", "add", receiver.url)
        assert done.returncode == 0, done.stderr
        key = a.create_key("agent")
        reviewers = {a.port: Reviewer(a), b.port: Reviewer(b)}
        try:
            count = 20
            for n in range(count):
                made, decider = (a, b) if n % 2 else (b, a)
                create(made, key, f"hook-{n}", n=n)
                assert reviewers[decider.port].respond(f"hook-{n}", approved=True).status_code == 200
            expected = 2 * count  # created and completed for each
            _wait_for_deliveries(receiver, expected)
        finally:
            for reviewer in reviewers.values():
                reviewer.http.close()

    received = Counter(r.headers["webhook-id"] for r in receiver.snapshot())
    assert len(received) == expected
    assert set(received.values()) == {1}, "a delivery was sent twice"
    deliveries = replica_service.webhooks.list_deliveries(limit=500)
    assert len(deliveries) == expected
    assert {d.status for d in deliveries} == {"succeeded"}
    # One attempt each: no delivery was claimed by both replicas.
    assert all(len(replica_service.webhooks.list_attempts(d.id)) == 1 for d in deliveries)


def _wait_for_deliveries(receiver: Receiver, expected: int) -> None:
    deadline = time.monotonic() + 60
    while len({r.headers["webhook-id"] for r in receiver.snapshot()}) < expected:
        assert time.monotonic() < deadline, "webhooks did not all arrive"
        time.sleep(0.05)
    time.sleep(0.5)  # room for a duplicate to show up, if there were one

"""What an event costs with many WebSocket subscriptions open: the SQL statements a create and a
decision cause must not grow with the number of runs watched (a watcher is woken only by its
own run's or item's topic, not by every event of the project)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event
from starlette.testclient import TestClient, WebSocketTestSession

from foureyes.server.api import ws as ws_module
from foureyes.server.push import InProcessNotifier, PostgresNotifier
from foureyes.server.service import Service
from foureyes.server.settings import Settings

from .test_websocket import connect, items_until_subscribed, ready

MANY = 20_000


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        ws_max_subscriptions_per_connection=MANY + 10,
        ws_max_subscriptions_per_key=MANY + 10,
        ws_heartbeat_seconds=3600.0,  # no ping frame among the ones counted here
        webhook_poll_interval_seconds=3600.0,  # nor the delivery worker's statements
        # nor the periodic tasks': a slow run with many runs watched lasts long enough for them
        expiry_poll_interval_seconds=3600.0,
        revocation_recheck_seconds=3600.0,
        audit_checkpoint_interval_seconds=3600.0,
    )


@pytest.fixture(autouse=True)
def no_periodic_rechecks(monkeypatch: pytest.MonkeyPatch) -> None:
    # The safety-net re-read a watcher makes every minute or so would land in the counts.
    monkeypatch.setattr(ws_module, "RECHECK_SECONDS", 3600.0)


class StatementCounter:
    def __init__(self, service: Service) -> None:
        self.service = service
        self.engine = service.db.engine
        self.count = 0

    def _seen(self, *_: Any) -> None:
        self.count += 1

    @contextlib.contextmanager
    def counting(self) -> Iterator[list[int]]:
        result: list[int] = []
        self.count = 0
        event.listen(self.engine, "before_cursor_execute", self._seen)
        try:
            yield result
        finally:
            event.remove(self.engine, "before_cursor_execute", self._seen)
            result.append(self.count)


def costs(
    ws: WebSocketTestSession, agent: Any, reviewer: Any, counter: StatementCounter, n: int, fc: Any
) -> dict[str, int]:
    """Statements caused by a create in an unwatched run, a create in watched run ``n`` (until
    its push arrived) and a decision there (until its push arrived). Each ``n`` has a run of its
    own, so every measure re-reads a run of one item."""
    with counter.counting() as unrelated:
        elsewhere = agent.post("/function_calls", fc(f"elsewhere-{n}") | {"run_id": "unwatched"})
        assert elsewhere.status_code == 200
        ws.send_json({"type": "ping"})
        assert ws.receive_json() == {"type": "pong"}
    with counter.counting() as watched:
        created = agent.post("/function_calls", fc(f"watched-{n}") | {"run_id": f"watched-run-{n}"})
        assert created.status_code == 200
        assert ws.receive_json()["item"]["call_id"] == f"watched-{n}"
    with counter.counting() as reread:  # what the run's watcher did for that push
        counter.service.items.list_run_items(agent.project_id, f"watched-run-{n}")
    with counter.counting() as decision:
        answer = reviewer.post(f"/agent/function_calls/watched-{n}/respond", {"approved": True})
        assert answer.status_code == 200
        pushed = ws.receive_json()
        assert (pushed["item"]["call_id"], pushed["item"]["status"]["approved"]) == (f"watched-{n}", True)
    return {
        "unrelated create": unrelated[0],
        "create in the run": watched[0],
        "one read of the run": reread[0],
        "decision": decision[0],
    }


# Each cost is measured three times, in runs of its own, and the least kept: a statement of the
# server's own timers or workers that lands inside one measure is not the event's, while a cost
# that grows with the runs watched grows in every measure.
FEW = (1, 3, 5)
LOTS = (2, 4, 6)


def least(measures: list[dict[str, int]]) -> dict[str, int]:
    return {what: min(m[what] for m in measures) for what in measures[0]}


# 20,000 subscriptions over one WebSocket take seconds to set up: left out of scripts/test --fast.
@pytest.mark.slow
def test_an_event_costs_the_same_with_10_or_20000_runs_watched(
    client: TestClient, service: Service, agent: Any, reviewer: Any, make_function_call: Any
) -> None:
    service.on_outbox = None  # the delivery worker is not woken by these events either
    counter = StatementCounter(service)
    notifier = service.notifier
    assert isinstance(notifier, InProcessNotifier | PostgresNotifier)
    standing = notifier.subscriber_count()  # the app's revocation check
    with connect(client, agent.key) as ws:
        ready(ws)
        # Runs watched-run-N get items; the rest are made up, as a hostile client would send them.
        runs = [*(f"watched-run-{n}" for n in (0, *FEW)), *(f"made-up-{i}" for i in range(6))]
        ws.send_json({"type": "subscribe", "id": 1, "runs": runs})
        assert items_until_subscribed(ws, 1) == []
        costs(ws, agent, reviewer, counter, 0, make_function_call)  # warm-up: pools, caches
        few = least([costs(ws, agent, reviewer, counter, n, make_function_call) for n in FEW])

        runs = [*(f"watched-run-{n}" for n in LOTS), *(f"made-up-{i}" for i in range(6, MANY - 7))]
        ws.send_json({"type": "subscribe", "id": 2, "runs": runs})
        assert items_until_subscribed(ws, 2) == []
        assert notifier.subscriber_count() == standing + MANY
        many = least([costs(ws, agent, reviewer, counter, n, make_function_call) for n in LOTS])
    assert notifier.subscriber_count() == standing
    assert few == many, f"10 runs watched: {few}; {MANY} runs watched: {many}"
    # A create in the watched run costs the create plus one read of that run, by its watcher.
    assert many["create in the run"] == many["unrelated create"] + many["one read of the run"]

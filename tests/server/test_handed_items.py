"""A decision hands its completed item to this process's waiters with the wake-up: it must be
exactly what reading it back would give, and the waiters then send it without a read."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from foureyes.server.service import Service
from foureyes.server.wire import render_item
from foureyes.storage import ItemRecord

from .conftest import Caller
from .test_quorum import _person
from .test_websocket import connect, items_until_subscribed, ready


@pytest.fixture
def handed(service: Service) -> list[ItemRecord]:
    found: list[ItemRecord] = []
    real_publish = service.notifier.publish

    def record(topic: tuple[int, str, str], *item: Any) -> None:
        found.extend(i for i in item if topic[1] == "function_call")
        real_publish(topic, *item)

    service.notifier.publish = record  # type: ignore[method-assign]
    return found


def _reread(service: Service, item: ItemRecord) -> ItemRecord:
    return service.items.get_function_call(item.project_id, item.call_id)


def test_what_is_handed_over_is_what_a_read_finds(
    client: TestClient,
    agent: Caller,
    reviewer: Caller,
    service: Service,
    make_function_call: Any,
    handed: list[ItemRecord],
) -> None:
    for call_id in ("single", "rejected", "bulk-1", "bulk-2"):
        agent.post("/function_calls", make_function_call(call_id, reject_options=[{"name": "later"}]))
    agent.post("/function_calls", make_function_call("quorum") | {"required_approvals": 2})
    reviewer.post("/agent/function_calls/single/respond", {"approved": True, "comment": "ok"})
    reviewer.post(
        "/agent/function_calls/rejected/respond", {"approved": False, "reject_option_name": "later"}
    )
    decisions = [
        {"call_id": "bulk-1", "approved": True},
        {"call_id": "bulk-2", "approved": False, "comment": "x"},
    ]
    reviewer.post("/agent/function_calls/respond", {"decisions": decisions})
    for email in ("ann@example.com", "bob@example.com"):
        _person(client, service, email).post("/agent/function_calls/quorum/respond", {"approved": True})
    assert [i.call_id for i in handed] == ["single", "rejected", "bulk-1", "bulk-2", "quorum"]
    for item in handed:
        assert item.state != "pending"
        assert item == _reread(service, item)
        assert render_item(item) == render_item(_reread(service, item))


def test_a_websocket_watcher_sends_the_decision_without_reading_it_back(
    client: TestClient, agent: Caller, reviewer: Caller, service: Service, make_function_call: Any
) -> None:
    agent.post("/function_calls", make_function_call("w"))
    with connect(client, agent.key) as ws:
        ready(ws)
        ws.send_json({"type": "subscribe", "id": 1, "function_calls": ["w"]})
        [pending] = items_until_subscribed(ws, 1)
        assert pending["item"]["status"]["approved"] is None
        reads: list[str] = []
        real_find = service.items._find

        def counted(project_id: int, kind: str, call_id: str) -> ItemRecord | None:
            reads.append(call_id)
            return real_find(project_id, kind, call_id)

        service.items._find = counted  # type: ignore[method-assign]
        answer = reviewer.post("/agent/function_calls/w/respond", {"approved": True})
        pushed = ws.receive_json()
        assert pushed["item"] == answer.json()
        assert pushed["item"]["status"]["approved"] is True
    # The decision's own read; the watcher read nothing.
    assert reads == ["w"]

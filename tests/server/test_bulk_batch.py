"""A bulk decision written as one batch: each item still gets exactly one decision with its
receipt, one ``decided`` event, one audit entry and one delivery per webhook endpoint, the audit
log stays dense and verifies, and the batch costs the same statements however many it decides."""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, select

from foureyes import _receipts
from foureyes.server.audit.verify import verify
from foureyes.server.domain import receipts as receipts_module
from foureyes.server.service import Service
from foureyes.server.settings import Settings
from foureyes.storage import audit as audit_rows
from foureyes.storage.schema import deliveries

from ..db import decisions_of, events_of
from ..fast_hashing import FAST_HASHING
from .conftest import Caller

BULK = "/agent/function_calls/respond"


@pytest.fixture
def settings(database_url: str) -> Settings:
    # The default body limit (a batch is larger than the suite's 4 KiB); no delivery attempts
    # while the test reads the outbox.
    return Settings(database_url=database_url, webhook_poll_interval_seconds=3600.0, **FAST_HASHING)


def _create(agent: Caller, make_function_call: Any, call_ids: list[str]) -> None:
    for call_id in call_ids:
        assert agent.post("/function_calls", make_function_call(call_id)).status_code == 200


def _verdict(call_id: str) -> dict[str, Any]:
    n = int(call_id.rpartition("-")[2])
    return {"call_id": call_id, "approved": n % 3 != 0} | ({} if n % 3 else {"comment": f"no {n}"})


def test_each_item_of_a_batch_is_decided_once_and_the_audit_log_verifies(
    agent: Caller, reviewer: Caller, service: Service, make_function_call: Any
) -> None:
    service.webhooks.add_webhook("default", "http://127.0.0.1:9/in", allow_private=True)
    call_ids = [f"batch-{n}" for n in range(60)]
    _create(agent, make_function_call, [*call_ids, "decided-before"])
    assert (
        reviewer.post("/agent/function_calls/decided-before/respond", {"approved": True}).status_code == 200
    )
    published: list[Any] = []
    real_publish = service.notifier.publish

    def record(topic: Any, *handed: Any) -> None:
        published.append(topic)
        real_publish(topic, *handed)

    service.notifier.publish = record  # type: ignore[method-assign]
    body = {"decisions": [*map(_verdict, call_ids), {"call_id": "decided-before", "approved": False}]}
    answer = reviewer.post(BULK, body)
    assert answer.status_code == 200, answer.text
    results = answer.json()["results"]
    assert [r["result"] for r in results] == ["decided"] * 60 + ["skipped"]
    assert results[-1]["reason"] == "approved"

    jwks = service.receipts.jwks()
    with service.db.read() as conn:
        entries = list(audit_rows.entries(conn))
        outbox = Counter(
            (row.item_id, row.event_type)
            for row in conn.execute(select(deliveries.c.item_id, deliveries.c.event_type))
        )
    for call_id, result in zip(call_ids, results, strict=False):
        wanted = _verdict(call_id)
        item = service.items.get_function_call(agent.project_id, call_id)
        assert item.state == ("approved" if wanted["approved"] else "rejected")
        [decision] = decisions_of(service.db, item.id)
        assert decision.comment == wanted.get("comment")
        assert decision.receipt is not None
        claims = _receipts.verify(decision.receipt, jwks)
        outcome = _receipts.APPROVED if wanted["approved"] else _receipts.REJECTED
        assert (claims["call_id"], claims["outcome"]) == (call_id, outcome)
        assert [e.type for e in events_of(service.db, item.id)] == ["created", "decided"]
        [decided] = [json.loads(e.entry) for e in entries if e.call_id == call_id and e.kind == "decided"]
        assert decided["data"]["decision"]["id"] == decision.id
        assert decided["data"]["decision"]["receipt"] == decision.receipt
        # one delivery per event, to the one endpoint
        assert sorted(n for (item_id, _), n in outbox.items() if item_id == item.id) == [1, 1]
        # what the answer shows is what is stored
        assert result["function_call"] == agent.get(f"/function_calls/{call_id}").json()
        assert published.count((agent.project_id, "function_call", call_id)) == 1
    # dense, each entry once, and the whole log verifies (before and after a checkpoint)
    assert [e.seq for e in entries] == list(range(len(entries)))
    report = verify(service.db)
    assert report.ok, report.problems
    assert service.audit.checkpoint() is not None
    report = verify(service.db, pinned_key=service.audit.verifier_key())
    assert report.ok, report.problems
    assert report.entries == len(entries)


@contextlib.contextmanager
def _counting(service: Service) -> Iterator[list[int]]:
    seen: list[int] = []

    def count(*_: Any) -> None:
        seen.append(1)

    event.listen(service.db.engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(service.db.engine, "before_cursor_execute", count)


def test_a_batch_costs_the_same_statements_however_many_it_decides(
    agent: Caller,
    reviewer: Caller,
    service: Service,
    make_function_call: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the signing key's periodic re-read would land in one of the counts, and so would the
    # delivery worker's attempts were it woken
    monkeypatch.setattr(receipts_module, "KEY_RECHECK", timedelta(hours=1))
    monkeypatch.setattr(service.emitter, "on_queued", None)
    service.webhooks.add_webhook("default", "http://127.0.0.1:9/in", allow_private=True)
    _create(agent, make_function_call, [f"warm-{n}" for n in range(2)])
    # the first batch reads what is then remembered (the signing key, the project's slug)
    assert reviewer.post(BULK, {"decisions": [_verdict("warm-0"), _verdict("warm-1")]}).status_code == 200
    counts = []
    for size in (3, 30):
        call_ids = [f"size{size}-{n}" for n in range(size)]
        _create(agent, make_function_call, call_ids)
        with _counting(service) as seen:
            answer = reviewer.post(BULK, {"decisions": [_verdict(c) for c in call_ids]})
        assert [r["result"] for r in answer.json()["results"]] == ["decided"] * size
        counts.append(len(seen))
    assert counts[0] == counts[1], counts

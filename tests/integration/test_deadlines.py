"""Deadlines on real server processes: a request expires after a SIGKILL and restart, and with
two replicas on one PostgreSQL database each request is expired exactly once."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from foureyes.server.service import Service
from foureyes.storage.schema import decisions, events, items

from .conftest import LiveServer

pytestmark = pytest.mark.slow

GUARD = 30.0  # how long a test lets a long-poll hold past the deadline


@pytest.fixture
def replica_env() -> dict[str, str]:
    # A short poll, so a replica that did not store a deadline still finds it soon.
    return {"FOUREYES_EXPIRY_POLL_INTERVAL_SECONDS": "0.2"}


def create(server: LiveServer, key: str, call_id: str, expires_at: datetime) -> dict[str, Any]:
    body = {
        "run_id": "deadlines",
        "call_id": call_id,
        "spec": {"fn": "wire", "kwargs": {}},
        "expires_at": expires_at.isoformat(),
    }
    response = httpx.post(
        f"{server.api_base}/function_calls", json=body, headers={"Authorization": f"Bearer {key}"}, timeout=30
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def long_poll(server: LiveServer, key: str, call_id: str) -> dict[str, Any]:
    response = httpx.get(
        f"{server.api_base}/function_calls/{call_id}",
        params={"wait": GUARD},
        headers={"Authorization": f"Bearer {key}"},
        timeout=GUARD + 10,
    )
    response.raise_for_status()
    return dict(response.json())


def test_a_deadline_passed_while_the_server_was_down_expires_at_start(live_server: LiveServer) -> None:
    key = live_server.create_key("agent")
    create(live_server, key, "across", datetime.now(UTC) + timedelta(seconds=2))
    live_server.kill()
    time.sleep(2.5)  # the deadline passes while no server runs
    live_server.start()
    status = long_poll(live_server, key, "across")["status"]
    assert status["approved"] is False
    assert status["expired_at"] is not None
    assert status["comment"].startswith("expired")


def test_two_replicas_expire_each_request_once(
    replicas: tuple[LiveServer, LiveServer], replica_service: Service
) -> None:
    a, b = replicas
    key = a.create_key("agent")
    deadline = datetime.now(UTC) + timedelta(seconds=2)
    ids = [f"r{n}" for n in range(20)]
    for n, call_id in enumerate(ids):
        create(a if n % 2 else b, key, call_id, deadline)
    for n, call_id in enumerate(ids):
        assert long_poll(b if n % 2 else a, key, call_id)["status"]["expired_at"] is not None
    with replica_service.db.read() as conn:
        per_item = conn.execute(
            select(items.c.call_id, func.count(decisions.c.id))
            .join(decisions, decisions.c.item_id == items.c.id)
            .where(items.c.call_id.in_(ids))
            .group_by(items.c.call_id)
        ).all()
        assert sorted(per_item) == sorted((call_id, 1) for call_id in ids)
        decided = conn.execute(
            select(func.count())
            .select_from(events)
            .join(items, items.c.id == events.c.item_id)
            .where(items.c.call_id.in_(ids), events.c.type == "decided")
        ).scalar_one()
        assert decided == len(ids)
        states = conn.execute(select(items.c.state).where(items.c.call_id.in_(ids))).scalars()
        assert set(states) == {"expired"}

"""LISTEN/NOTIFY wake-ups between processes sharing one PostgreSQL database.

Two ``PostgresNotifier`` objects on one database stand for two replicas: each has its own
connections, exactly as two server processes would. Timeouts here are hang-guards only.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import text
from starlette.testclient import TestClient

from foureyes.server.app import create_app
from foureyes.server.push import InProcessNotifier, PostgresNotifier, notifier_for, project_topic
from foureyes.server.push.postgres import MAX_PAYLOAD_BYTES, decode, encode
from foureyes.server.service import open_service
from foureyes.server.settings import Settings
from foureyes.storage import Database

from .conftest import API, function_call

GUARD = 30.0


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def storage(postgres_database_url: str) -> Iterator[Database]:
    storage = Database.from_url(postgres_database_url)
    yield storage
    storage.close()


@pytest.fixture
def replicas(storage: Database) -> Iterator[tuple[PostgresNotifier, PostgresNotifier]]:
    a, b = PostgresNotifier(storage.engine), PostgresNotifier(storage.engine)
    a.start()
    b.start()
    yield a, b
    a.close()
    b.close()


def test_payloads_round_trip_and_stay_under_the_limit() -> None:
    topics = [(7, "function_call", f"call-{n}-" + "x" * 200) for n in range(100)]
    payloads = encode("me", [*topics, topics[0]])
    assert len(payloads) > 1
    assert all(len(p.encode()) < MAX_PAYLOAD_BYTES for p in payloads)
    decoded = [topic for p in payloads for topic in decode(p)[1]]
    assert decoded == topics
    assert {decode(p)[0] for p in payloads} == {"me"}


@pytest.mark.anyio
async def test_a_publish_on_one_replica_wakes_a_waiter_on_the_other(
    replicas: tuple[PostgresNotifier, PostgresNotifier],
) -> None:
    a, b = replicas
    topic = (1, "function_call", "call-é")
    async with a.subscribe(topic) as waiting, a.subscribe((1, "function_call", "other")) as bystander:
        b.publish(topic)
        b.publish(project_topic(1))
        assert await waiting.wait(GUARD)
        assert not await bystander.wait(0.2)


@pytest.mark.anyio
async def test_project_topics_cross_replicas(replicas: tuple[PostgresNotifier, PostgresNotifier]) -> None:
    a, b = replicas
    async with b.subscribe(project_topic(3)) as watching:
        a.publish(project_topic(3))
        assert await watching.wait(GUARD)


@pytest.mark.anyio
async def test_a_lost_listening_connection_is_replaced_and_waiters_re_read(
    storage: Database, replicas: tuple[PostgresNotifier, PostgresNotifier]
) -> None:
    a, b = replicas
    topic = (1, "function_call", "call-1")
    async with a.subscribe(topic) as waiting:
        old_pid = a.listener_pid
        with storage.engine.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": old_pid})
            conn.commit()
        # Wake-ups sent while it was gone are lost, so every waiter is woken to re-read.
        assert await waiting.wait(GUARD)
        assert a.listener_pid != old_pid
        assert a.listening
        # And the new connection receives what the other replica publishes.
        b.publish(topic)
        assert await waiting.wait(GUARD)


@pytest.mark.anyio
async def test_the_sender_survives_a_lost_connection(
    storage: Database, replicas: tuple[PostgresNotifier, PostgresNotifier]
) -> None:
    a, b = replicas
    topic = (1, "function_call", "call-2")
    async with a.subscribe(topic) as waiting:
        b.publish(topic)
        assert await waiting.wait(GUARD)
        with storage.engine.connect() as conn:
            # every connection of b's process but the listener: its sending connection
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid NOT IN (:a, :b, pg_backend_pid())"
                ),
                {"a": a.listener_pid, "b": b.listener_pid},
            )
            conn.commit()
        b.publish(topic)
        assert await waiting.wait(GUARD)


def test_the_notifier_follows_the_database(postgres_database_url: str, tmp_path: Any) -> None:
    on_postgres = open_service(Settings(database_url=postgres_database_url))
    on_sqlite = open_service(Settings(database_url=f"sqlite:///{tmp_path / 'n.db'}"))
    try:
        assert isinstance(on_postgres.notifier, PostgresNotifier)
        assert isinstance(on_sqlite.notifier, InProcessNotifier)
        assert isinstance(notifier_for(on_sqlite.db), InProcessNotifier)
    finally:
        on_postgres.close()
        on_sqlite.close()


def test_a_decision_through_one_app_wakes_a_long_poll_on_another(postgres_database_url: str) -> None:
    """Two apps on one database, each with its own pool and notifier: two replicas in-process."""
    settings = Settings(database_url=postgres_database_url)
    app_a, app_b = create_app(settings), create_app(settings)
    with TestClient(app_a) as a, TestClient(app_b) as b, ThreadPoolExecutor(1) as pool:
        agent = app_a.state.service.keys.create_api_key(scopes=["agent"]).plaintext
        reviewer = app_b.state.service.keys.create_api_key(scopes=["respond"]).plaintext
        created = a.post(
            f"{API}/function_calls", json=function_call(), headers={"Authorization": f"Bearer {agent}"}
        )
        assert created.status_code == 200, created.text
        waiting = pool.submit(
            a.get,
            f"{API}/function_calls/call-1",
            params={"wait": 50},
            headers={"Authorization": f"Bearer {agent}"},
        )
        # Decide only once the waiter is parked on replica A (beside the revocation check's
        # standing subscription).
        while app_a.state.service.notifier.subscriber_count() < 2:
            assert not waiting.done(), waiting.result().text
            time.sleep(0.01)
        decided = b.post(
            f"{API}/agent/function_calls/call-1/respond",
            json={"approved": True},
            headers={"Authorization": f"Bearer {reviewer}"},
        )
        assert decided.status_code == 200, decided.text
        response = waiting.result(timeout=GUARD)
    assert response.json()["status"]["approved"] is True

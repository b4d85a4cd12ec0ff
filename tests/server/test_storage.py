"""Migrations, durability across close and reopen, and races, on every selected backend; the
SQLite and PostgreSQL connection settings."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from foureyes.server.domain.events import Emitter
from foureyes.server.domain.items import Items
from foureyes.storage import Database, ItemRecord, NewDecision, NewItem
from foureyes.storage.database import DatabaseClosedError
from foureyes.storage.schema import metadata

from ..db import complete_item, create_item, ensure_project, events_of, get_item

NOW = datetime(2025, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)


def _storage(url: str) -> Database:
    storage = Database.from_url(url)
    storage.migrate()
    return storage


def _sqlite(path: Path) -> Database:
    return _storage(f"sqlite:///{path}")


def test_migrations_create_the_schema_from_empty_and_rerun_cleanly(empty_database_url: str) -> None:
    storage = Database.from_url(empty_database_url)
    try:
        assert inspect(storage.engine).get_table_names() == []
        storage.migrate()
        tables = set(inspect(storage.engine).get_table_names())
        assert tables == {
            *("alembic_version", "projects", "api_keys", "items", "decisions", "events"),
            *("webhook_endpoints", "deliveries", "delivery_attempts"),
            *("users", "memberships", "invitations", "sessions"),
            "login_throttle",
            *("server_keys", "push_subscriptions"),
            *("slack_interactions", "slack_users", "slack_link_codes", "slack_messages"),
            "channel_secrets",
            "signing_keys",
            "policies",
            *("audit_log", "audit_head", "audit_keys", "audit_checkpoints"),
            *("passkeys", "webauthn_challenges"),
            *("project_groups", "project_group_members"),
        }
        storage.migrate()
        with storage.engine.connect() as conn:
            context = MigrationContext.configure(conn)
            assert context.get_current_revision() == "0022"
            # The migrations build exactly what schema.py describes.
            assert compare_metadata(context, metadata) == []
    finally:
        storage.close()


def test_sqlite_is_set_up_for_durability(tmp_path: Path) -> None:
    storage = _sqlite(tmp_path / "d.db")
    try:
        with storage.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 10_000
    finally:
        storage.close()


def test_data_persists_across_close_and_reopen(database_url: str) -> None:
    storage = _storage(database_url)
    project = ensure_project(storage, "default", now=NOW)
    spec = {"fn": "f", "kwargs": {"a": [1, {"b": None}]}, "state": {"s": "é"}, "extra": True}
    item, created = create_item(
        storage, NewItem(project.id, "function_call", "c1", "r1", spec, "rd", "sd", NOW, None, "api")
    )
    assert created
    decision = NewDecision("approved", "ok", None, None, None, "api", NOW, "sd")
    assert complete_item(storage, item, "approved", decision)
    assert not complete_item(storage, item, "rejected", decision)
    storage.close()

    reopened = _storage(database_url)
    try:
        found = get_item(reopened, project.id, "function_call", "c1")
        assert found is not None
        assert found.spec == spec
        assert found.state == "approved"
        assert found.requested_at == NOW
        assert found.requested_at.tzinfo is not None
        assert found.decisions[0].decided_at == NOW
        assert found.decisions[0].comment == "ok"
        assert [e.type for e in events_of(reopened, item.id)] == ["created", "decided"]
        assert ensure_project(reopened, "default", now=NOW) == project
    finally:
        reopened.close()


def test_a_closed_database_makes_no_new_connection(database_url: str) -> None:
    # A thread still working after close() gets an error, not a fresh pool whose connection
    # nobody closes.
    storage = _storage(database_url)
    ensure_project(storage, "default", now=NOW)
    storage.close()
    with pytest.raises(DatabaseClosedError, match="is closed"):
        ensure_project(storage, "default", now=NOW)
    assert storage.engine.pool.checkedout() == 0
    assert storage.engine.pool.checkedin() == 0


def test_naive_datetimes_are_refused(database_url: str) -> None:
    storage = _storage(database_url)
    try:
        with pytest.raises(Exception, match="naive"):
            ensure_project(storage, "x", now=datetime(2025, 1, 1))
    finally:
        storage.close()


def test_relative_sqlite_path_is_under_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    storage = Database.from_url("sqlite:///.foureyes/foureyes.db")
    try:
        storage.migrate()
    finally:
        storage.close()
    assert (tmp_path / ".foureyes" / "foureyes.db").exists()


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_in_memory_sqlite_is_refused(url: str) -> None:
    with pytest.raises(ValueError, match="in-memory"):
        Database.from_url(url)


def test_timestamps_come_back_in_utc_whatever_offset_they_went_in_with(database_url: str) -> None:
    storage = _storage(database_url)
    try:
        tokyo = NOW.astimezone(timezone(timedelta(hours=9)))
        project = ensure_project(storage, "tz", now=tokyo)
        item, _ = create_item(
            storage,
            NewItem(project.id, "function_call", "tz", "r", {"fn": "f"}, "rd", "sd", tokyo, None, "api"),
        )
        found = get_item(storage, project.id, "function_call", "tz")
        assert found is not None
        assert found.requested_at == NOW
        assert found.requested_at.utcoffset() == timedelta(0)
        assert item.id == found.id
    finally:
        storage.close()


def test_racing_creates_of_one_call_id_store_one_item(database_url: str) -> None:
    """Two replicas (here: two Databases, each with its own pool) post the same call id."""
    first, second = _storage(database_url), _storage(database_url)
    try:
        project = ensure_project(first, "race", now=NOW)
        replicas = [Items(db, Emitter(lambda *_: None), lambda: NOW) for db in (first, second)]
        racers = 8
        barrier = threading.Barrier(racers)
        body = {"run_id": "r", "call_id": "same", "spec": {"fn": "f", "kwargs": {}}}

        def create(n: int) -> tuple[int, str]:
            barrier.wait()
            item = replicas[n % 2].create_function_call(project.id, body)
            return item.id, item.state

        with ThreadPoolExecutor(racers) as pool:
            results = list(pool.map(create, range(racers)))
        assert len({item_id for item_id, _ in results}) == 1
        (item_id, _) = results[0]
        # one insert won: one item, one created event
        assert [e.type for e in events_of(first, item_id)] == ["created"]
    finally:
        first.close()
        second.close()


def test_racing_project_creation_makes_one_project(database_url: str) -> None:
    first, second = _storage(database_url), _storage(database_url)
    try:
        barrier = threading.Barrier(6)

        def ensure(n: int) -> int:
            barrier.wait()
            return ensure_project(first if n % 2 else second, "new", now=NOW).id

        with ThreadPoolExecutor(6) as pool:
            assert len(set(pool.map(ensure, range(6)))) == 1
    finally:
        first.close()
        second.close()


def test_storage_reports_its_dialect(database_url: str, database_backend: str) -> None:
    storage = Database.from_url(database_url)
    try:
        assert storage.dialect == database_backend
    finally:
        storage.close()


def test_unsupported_databases_are_refused() -> None:
    with pytest.raises(ValueError, match="unsupported database"):
        Database.from_url("mysql://localhost/x")


def test_plain_postgresql_urls_use_psycopg_3() -> None:
    from sqlalchemy.engine import make_url

    from foureyes.storage._postgres import normalise_url

    assert normalise_url(make_url("postgresql://u@h/db")).drivername == "postgresql+psycopg"
    assert normalise_url(make_url("postgres://u@h/db")).drivername == "postgresql+psycopg"
    assert normalise_url(make_url("postgresql+psycopg://u@h/db")).drivername == "postgresql+psycopg"


def test_postgresql_commits_are_durable(postgres_database_url: str) -> None:
    database_url = postgres_database_url
    admin = _storage(database_url)
    try:
        with admin.engine.connect() as conn:
            name = conn.exec_driver_sql("SELECT current_database()").scalar()
            conn.exec_driver_sql(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
            conn.commit()
    finally:
        admin.close()
    # The database now acknowledges commits before they are flushed; ours switch that back.
    storage = _storage(database_url)
    try:
        with storage.engine.connect() as conn:
            assert conn.exec_driver_sql("SHOW synchronous_commit").scalar() == "on"
    finally:
        storage.close()


def test_concurrent_creates_commit_together_and_a_failing_one_alone_is_rolled_back(
    database_url: str,
) -> None:
    """On SQLite creates arriving together share one transaction (group commit), each in a
    savepoint: the bad one fails by itself, the others are stored with their events."""
    storage = _storage(database_url)
    try:
        project = ensure_project(storage, "group", now=NOW)
        racers = 24
        barrier = threading.Barrier(racers)

        def create(n: int) -> str:
            # A set is not JSON: this create fails inside the transaction, after its read.
            spec: dict[str, object] = {"fn": "f", "kwargs": {"n": {n} if n == 7 else n}}
            new = NewItem(project.id, "function_call", f"c{n}", "r", spec, "rd", "sd", NOW, None, "api")
            barrier.wait()
            try:
                item, created = create_item(storage, new)
            except TypeError:
                return "failed"
            assert created
            return item.call_id

        with ThreadPoolExecutor(racers) as pool:
            results = list(pool.map(create, range(racers)))
        assert results[7] == "failed"
        assert get_item(storage, project.id, "function_call", "c7") is None
        for n in (*range(7), *range(8, racers)):
            found = get_item(storage, project.id, "function_call", f"c{n}")
            assert found is not None
            assert found.spec["kwargs"] == {"n": n}
            assert [e.type for e in events_of(storage, found.id)] == ["created"]
    finally:
        storage.close()


def test_concurrent_decisions_each_win_once_and_are_all_stored(database_url: str) -> None:
    """Decisions arriving together (group commit on SQLite): each of 12 items is decided by two
    racers at once; exactly one wins each, and every winner's decision and event are stored."""
    storage = _storage(database_url)
    try:
        project = ensure_project(storage, "decide", now=NOW)
        created = []
        for n in range(12):
            new = NewItem(project.id, "function_call", f"d{n}", "r", {"fn": "f"}, "rd", "sd", NOW, None, "a")
            created.append(create_item(storage, new)[0])
        ids = [item.id for item in created]
        racers = [(item, verdict) for item in created for verdict in ("approved", "rejected")]
        barrier = threading.Barrier(len(racers))

        def decide(racer: tuple[ItemRecord, str]) -> bool:
            item, verdict = racer
            decision = NewDecision(verdict, verdict, None, None, None, "api", NOW, "sd")
            barrier.wait()
            return complete_item(storage, item, verdict, decision)

        with ThreadPoolExecutor(len(racers)) as pool:
            won = list(pool.map(decide, racers))
        for n, item_id in enumerate(ids):
            pair = won[2 * n : 2 * n + 2]
            assert sorted(pair) == [False, True]
            winner = racers[2 * n + pair.index(True)][1]
            found = get_item(storage, project.id, "function_call", f"d{n}")
            assert found is not None
            assert found.state == winner
            assert [d.verdict for d in found.decisions] == [winner]
            assert [e.type for e in events_of(storage, item_id)] == ["created", "decided"]
    finally:
        storage.close()

"""Migrations, SQLite settings and durability across close and reopen."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from foureyes.storage import NewDecision, NewItem, Storage
from foureyes.storage.schema import metadata

NOW = datetime(2025, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)


def _storage(path: Path) -> Storage:
    storage = Storage.from_url(f"sqlite:///{path}")
    storage.migrate()
    return storage


def test_migrations_create_the_schema_from_empty_and_rerun_cleanly(tmp_path: Path) -> None:
    storage = Storage.from_url(f"sqlite:///{tmp_path / 'm.db'}")
    try:
        assert inspect(storage.engine).get_table_names() == []
        storage.migrate()
        tables = set(inspect(storage.engine).get_table_names())
        assert tables == {
            *("alembic_version", "projects", "api_keys", "items", "decisions", "events"),
            *("webhook_endpoints", "webhook_deliveries", "webhook_attempts"),
            *("users", "memberships", "invitations", "sessions"),
        }
        storage.migrate()
        with storage.engine.connect() as conn:
            context = MigrationContext.configure(conn)
            assert context.get_current_revision() == "0003"
            # The migrations build exactly what schema.py describes.
            assert compare_metadata(context, metadata) == []
    finally:
        storage.close()


def test_sqlite_is_set_up_for_durability(tmp_path: Path) -> None:
    storage = _storage(tmp_path / "d.db")
    try:
        with storage.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 10_000
    finally:
        storage.close()


def test_data_persists_across_close_and_reopen(tmp_path: Path) -> None:
    path = tmp_path / "p.db"
    storage = _storage(path)
    project = storage.ensure_project("default", now=NOW)
    spec = {"fn": "f", "kwargs": {"a": [1, {"b": None}]}, "state": {"s": "é"}, "extra": True}
    item, created = storage.create_item(
        NewItem(project.id, "function_call", "c1", "r1", spec, "rd", "sd", NOW, None, "api")
    )
    assert created
    decision = NewDecision("approved", "ok", None, None, None, "api", NOW, "sd")
    assert storage.complete_item(item.id, "approved", decision, {"verdict": "approved"})
    assert not storage.complete_item(item.id, "rejected", decision, {})
    storage.close()

    reopened = _storage(path)
    try:
        found = reopened.get_item(project.id, "function_call", "c1")
        assert found is not None
        assert found.spec == spec
        assert found.state == "approved"
        assert found.requested_at == NOW
        assert found.requested_at.tzinfo is not None
        assert found.decisions[0].decided_at == NOW
        assert found.decisions[0].comment == "ok"
        assert [e.type for e in reopened.list_events(item.id)] == ["created", "decided"]
        assert reopened.ensure_project("default", now=NOW) == project
    finally:
        reopened.close()


def test_naive_datetimes_are_refused(tmp_path: Path) -> None:
    storage = _storage(tmp_path / "n.db")
    try:
        with pytest.raises(Exception, match="naive"):
            storage.ensure_project("x", now=datetime(2025, 1, 1))
    finally:
        storage.close()


def test_relative_sqlite_path_is_under_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    storage = Storage.from_url("sqlite:///.foureyes/foureyes.db")
    try:
        storage.migrate()
    finally:
        storage.close()
    assert (tmp_path / ".foureyes" / "foureyes.db").exists()


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_in_memory_sqlite_is_refused(url: str) -> None:
    with pytest.raises(ValueError, match="in-memory"):
        Storage.from_url(url)

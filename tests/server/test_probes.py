"""/healthz says the process answers; /readyz says it can serve (database up, schema current)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, make_url, text
from starlette.testclient import TestClient

from foureyes.server.service import Service


def test_healthz_and_readyz_answer_without_a_key(client: TestClient, service: Service) -> None:
    assert client.get("/healthz").json() == {"ok": True}
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.text
    current, heads = service.db.schema_revisions()
    assert current == heads
    assert ready.json() == {"ok": True, "migration": ",".join(sorted(heads))}


def test_readyz_is_503_when_the_schema_is_behind(
    client: TestClient, service: Service, expect_error: Any
) -> None:
    with service.db.write() as tx:
        tx.conn.execute(text("UPDATE alembic_version SET version_num = '0005'"))
    error = expect_error(client.get("/readyz"), 503, "unavailable")
    assert "newest migration" in error["message"]
    assert error["details"][0]["database"] == ["0005"]
    # Alive all the same: a supervisor must not restart it for this.
    assert client.get("/healthz").status_code == 200


def _take_database_down(service: Service, database_url: str) -> None:
    """No new connection can be opened, and the open ones are gone."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        service.db.engine.dispose()
        folder = Path(url.database or "").parent
        shutil.move(folder, folder.with_name("moved-away"))
        return
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{url.database}" ALLOW_CONNECTIONS false'))
            conn.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :name"),
                {"name": url.database},
            )
    finally:
        admin.dispose()
    service.db.engine.dispose()


def _bring_database_back(database_url: str) -> None:
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        folder = Path(url.database or "").parent
        shutil.move(folder.with_name("moved-away"), folder)
        return
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{url.database}" ALLOW_CONNECTIONS true'))
    finally:
        admin.dispose()


def test_readyz_is_503_not_a_traceback_when_the_database_is_down(
    client: TestClient, service: Service, database_url: str, expect_error: Any, caplog: Any
) -> None:
    _take_database_down(service, database_url)
    try:
        error = expect_error(client.get("/readyz"), 503, "unavailable")
        assert error["message"] == "the database cannot be reached"
        assert client.get("/healthz").status_code == 200
        # Not an unhandled error (background tasks may complain about the database meanwhile).
        assert not [r for r in caplog.records if r.name == "foureyes.server.http.errors"]
    finally:
        _bring_database_back(database_url)
    assert client.get("/readyz").status_code == 200

"""Migration 0006: webhook deliveries queued by the old code are delivered by the outbox."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import text

from foureyes.server.settings import Settings
from foureyes.storage import Database, outbox
from foureyes.storage.database import MIGRATIONS_DIR
from foureyes.storage.sealing import SecretBox
from foureyes.webhooks import verify

from ..clock import Clock
from ..db import attempts_of, delivery_of, events_of
from .conftest import webhook_worker
from .receiver import Receiver

pytestmark = pytest.mark.anyio


async def test_a_delivery_queued_before_0006_is_sent_after_it_with_its_webhook_id(
    empty_database_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    clock = Clock()
    key_file = tmp_path / "secret.key"
    db = Database.from_url(empty_database_url, secret_key_file=key_file)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["secret_box"] = SecretBox.from_file(key_file)
    secret = "whsec_" + "QUJD" * 8
    try:
        with db.engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "0005")
        now = clock()
        # What the old code wrote: an item, its event, an endpoint and a queued delivery with
        # one failed attempt behind it, due again now.
        with db.engine.begin() as conn:
            conn.execute(
                text("INSERT INTO projects (slug, name, created_at) VALUES ('default', 'default', :now)"),
                {"now": now},
            )
            conn.execute(
                text(
                    "INSERT INTO items (project_id, kind, call_id, run_id, spec, request_digest,"
                    " spec_digest, state, requested_at)"
                    " VALUES (1, 'function_call', 'old-call', 'r', :spec, 'rd', 'sd', 'pending', :now)"
                ),
                {"now": now, "spec": '{"fn": "f", "kwargs": {}}'},
            )
            conn.execute(
                text(
                    "INSERT INTO events (item_id, type, data, channel, created_at)"
                    " VALUES (1, 'created', '{}', 'api', :now)"
                ),
                {"now": now},
            )
            conn.execute(
                text(
                    "INSERT INTO webhook_endpoints (project_id, url, events, enabled, secret, created_at)"
                    " VALUES (1, :url, 'function_call.created', true, :secret, :now)"
                ),
                {"url": receiver.url, "secret": db.box.seal(secret), "now": now},
            )
            conn.execute(
                text(
                    "INSERT INTO webhook_deliveries (endpoint_id, item_id, event_type, webhook_id,"
                    " payload, status, attempts, next_attempt_at, expires_at, created_at)"
                    " VALUES (1, 1, 'function_call.created', 'msg_queued_before', :body,"
                    " 'pending', 1, :now, :later, :now)"
                ),
                {"now": now, "later": clock.advance(days=3), "body": '{"old": true}'},
            )
            conn.execute(
                text(
                    "INSERT INTO webhook_attempts (delivery_id, attempted_at, status_code, latency_ms, error)"
                    " VALUES (1, :now, 503, 12, 'HTTP 503: down')"
                ),
                {"now": now},
            )
        clock.now = now
        db.migrate()

        (event,) = events_of(db, 1)
        assert (event.project_id, event.type) == (1, "created")
        settings = Settings(database_url=empty_database_url, webhook_allow_private=True)
        worker = webhook_worker(db, settings, clock=clock)
        try:
            assert await worker.run_once() == 1
        finally:
            await worker.stop()
        (received,) = receiver.snapshot()
        assert received.body == b'{"old": true}'
        assert received.headers["webhook-id"] == "msg_queued_before"
        verify(received.body, received.headers, secret, now=clock.now.timestamp())
        delivered = delivery_of(db, 1)
        assert delivered is not None
        assert (delivered.sink, delivered.target, delivered.status, delivered.attempts) == (
            "webhook",
            "1",
            "succeeded",
            2,
        )
        # the attempt made before the upgrade is still on record, before the new one
        assert [a.status_code for a in attempts_of(db, 1)] == [503, 204]
        # and the ids continue after the copied rows
        with db.write() as tx:
            new_id = outbox.enqueue(
                tx.conn,
                sink="webhook",
                target="1",
                item_id=None,
                event_type="function_call.created",
                payload="{}",
                now=now,
                expires_at=now,
            )
        assert new_id == 2
    finally:
        db.close()

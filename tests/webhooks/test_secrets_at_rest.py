"""Signing secrets are sealed in the database with a key kept apart, and SQLite files are 0600."""

from __future__ import annotations

import shutil
import stat
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import select, text

from foureyes.server.push import InProcessNotifier
from foureyes.server.service import Service
from foureyes.server.settings import Settings
from foureyes.storage import Database
from foureyes.storage.database import MIGRATIONS_DIR
from foureyes.storage.schema import webhook_endpoints
from foureyes.storage.sealing import PREFIX, SealingKeyError, SecretBox
from foureyes.webhooks import verify

from ..clock import Clock
from ..db import endpoints_of, ensure_project
from .conftest import webhook_worker
from .receiver import Receiver

pytestmark = pytest.mark.anyio


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def stored_secrets(storage: Database) -> list[tuple[str, str | None]]:
    with storage.engine.connect() as conn:
        rows = conn.execute(
            select(webhook_endpoints.c.secret, webhook_endpoints.c.previous_secret).order_by(
                webhook_endpoints.c.id
            )
        ).all()
    return [(row.secret, row.previous_secret) for row in rows]


async def deliver_one(storage: Database, clock: Clock, receiver: Receiver, call_id: str) -> None:
    service = Service(storage, InProcessNotifier(), clock=clock)
    project = ensure_project(storage, "default", now=clock())
    body = {"run_id": "r", "call_id": call_id, "spec": {"fn": "wire", "kwargs": {}}}
    service.items.create_function_call(project.id, body)
    worker = webhook_worker(
        storage, Settings(database_url="sqlite:///unused.db", webhook_allow_private=True), clock=clock
    )
    try:
        assert await worker.run_once() == 1
    finally:
        await worker.stop()


def test_sqlite_files_and_the_key_file_are_created_0600(tmp_path: Path) -> None:
    database = tmp_path / "new" / "foureyes.db"
    storage = Database.from_url(f"sqlite:///{database}")
    try:
        storage.migrate()
        ensure_project(storage, "p", now=Clock()())
        # SQLite gives its write-ahead log and shared-memory files the database file's mode
        for path in (database, database.with_name("foureyes.db-wal"), database.with_name("foureyes.db-shm")):
            assert mode(path) == 0o600, path
        assert mode(database.parent) == 0o700
        assert mode(Path(f"{database}.key")) == 0o600
    finally:
        storage.close()


def test_an_existing_world_readable_database_is_narrowed(tmp_path: Path) -> None:
    database = tmp_path / "old.db"
    database.touch()
    database.chmod(0o644)
    Database.from_url(f"sqlite:///{database}").close()
    assert mode(database) == 0o600


async def test_stored_secrets_are_sealed_and_still_sign_after_a_restart(
    database_url: str, receiver: Receiver
) -> None:
    clock = Clock()
    storage = Database.from_url(database_url)
    storage.migrate()
    service = Service(storage, InProcessNotifier(), clock=clock)
    endpoint, first = service.webhooks.add_webhook("default", receiver.url, allow_private=True)
    second, _ = service.webhooks.rotate_webhook_secret(endpoint.id, overlap_seconds=3600)
    ((sealed, previous),) = stored_secrets(storage)
    assert previous is not None
    for stored, secret in ((sealed, second), (previous, first)):
        assert stored.startswith(PREFIX)
        assert secret not in stored
        assert secret.split("_", 1)[1] not in stored  # nor the key part on its own
    service.close()

    # a new process on the same database and key file
    restarted = Database.from_url(database_url)
    try:
        restarted.migrate()
        await deliver_one(restarted, clock, receiver, "call-1")
    finally:
        restarted.close()
    (received,) = receiver.snapshot()
    assert len(received.headers["webhook-signature"].split()) == 2
    for secret in (first, second):
        verify(received.body, received.headers, secret, now=clock.now.timestamp())


async def test_a_copy_of_the_sqlite_file_alone_cannot_sign(tmp_path: Path, receiver: Receiver) -> None:
    clock = Clock()
    original = tmp_path / "a" / "foureyes.db"
    storage = Database.from_url(f"sqlite:///{original}")
    storage.migrate()
    service = Service(storage, InProcessNotifier(), clock=clock)
    _, secret = service.webhooks.add_webhook("default", receiver.url, allow_private=True)
    service.close()
    copy = tmp_path / "b" / "foureyes.db"
    copy.parent.mkdir()
    shutil.copy(original, copy)
    assert secret.encode() not in copy.read_bytes()

    thief = Database.from_url(f"sqlite:///{copy}")  # finds no key: makes a new, useless one
    try:
        with pytest.raises(SealingKeyError, match="another key"):
            thief.migrate()
    finally:
        thief.close()
    # with the key file too, it works: the key file is what has to be kept apart
    shutil.copy(f"{original}.key", f"{copy}.key")
    owner = Database.from_url(f"sqlite:///{copy}")
    try:
        owner.migrate()
        (endpoint,) = endpoints_of(owner)
        assert endpoint.secret == secret
    finally:
        owner.close()


async def test_plaintext_secrets_of_older_versions_are_sealed_by_migration_0005(
    empty_database_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    clock = Clock()
    key_file = tmp_path / "secret.key"
    storage = Database.from_url(empty_database_url, secret_key_file=key_file)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["secret_box"] = SecretBox.from_file(key_file)

    def migrate_to(revision: str, *, down: bool = False) -> None:
        with storage.engine.begin() as conn:
            config.attributes["connection"] = conn
            (command.downgrade if down else command.upgrade)(config, revision)

    old_secret = "whsec_" + "QUJD" * 8
    migrate_to("0003")
    with storage.engine.begin() as conn:
        now = clock()
        conn.execute(
            text("INSERT INTO projects (slug, name, created_at) VALUES ('default', 'default', :now)"),
            {"now": now},
        )
        conn.execute(
            text(
                "INSERT INTO webhook_endpoints (project_id, url, events, enabled, secret, created_at)"
                " VALUES (1, :url, 'function_call.created', true, :secret, :now)"
            ),
            {"url": receiver.url, "secret": old_secret, "now": now},
        )
    try:
        storage.migrate()
        ((sealed, _),) = stored_secrets(storage)
        assert sealed.startswith(PREFIX)
        assert old_secret not in sealed
        await deliver_one(storage, clock, receiver, "call-1")
        (received,) = receiver.snapshot()
        verify(received.body, received.headers, old_secret, now=clock.now.timestamp())
        # and back: a downgrade puts the secrets in the clear again, as 0003 had them
        migrate_to("0003", down=True)
        assert stored_secrets(storage) == [(old_secret, None)]
    finally:
        storage.close()


def test_a_sealed_value_opens_only_with_its_key(tmp_path: Path) -> None:
    box = SecretBox.from_file(tmp_path / "one.key")
    again = SecretBox.from_file(tmp_path / "one.key")  # read back, not replaced
    other = SecretBox.from_file(tmp_path / "two.key")
    sealed = box.seal("whsec_abc")
    assert sealed != box.seal("whsec_abc")  # a fresh IV every time
    assert again.open(sealed) == "whsec_abc"
    with pytest.raises(SealingKeyError):
        other.open(sealed)
    assert box.open("whsec_plain") == "whsec_plain"  # written before 0005

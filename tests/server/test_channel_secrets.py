"""Credentials inside contact channels: redacted where a channel is stored or shown, sealed
apart, opened only for the Slack call; the replay rule; and migration 0017 moving the
credentials of rows stored before it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import select, text

from foureyes.server.audit.verify import verify
from foureyes.server.channels.slack import api
from foureyes.server.domain.errors import ConflictError, InvalidInputError
from foureyes.server.domain.items import request_digest_of
from foureyes.server.service import Service, notifier_for, open_service
from foureyes.server.settings import Settings
from foureyes.server.wire import render_item
from foureyes.storage import Database, credentials
from foureyes.storage.database import MIGRATIONS_DIR
from foureyes.storage.schema import channel_secrets, deliveries, events, items, projects
from foureyes.storage.sealing import SecretBox

from .conftest import function_call

TOKEN = "xoxb-own-9d2e71c4"
REDACTED = "[redacted]"


def slack(**fields: Any) -> dict[str, Any]:
    return {"slack": {"channel_or_user_id": "C0OPS", **fields}}


@pytest.fixture
def svc(database_url: str, tmp_path: Path) -> Any:
    service = open_service(Settings(database_url=database_url, secret_key_file=str(tmp_path / "s.key")))
    yield service
    service.close()


def _project(svc: Service) -> int:
    created = svc.keys.create_api_key(project="p", scopes=["agent", "respond"])
    return svc.keys.authenticate(created.plaintext).project_id


def _stored_text(db: Database) -> str:
    """Every stored column that could hold a channel, as text."""
    with db.read() as conn:
        found = [
            *conn.execute(select(items.c.spec)).scalars(),
            *conn.execute(select(events.c.data)).scalars(),
            *conn.execute(select(deliveries.c.payload)).scalars(),
            *conn.execute(select(projects.c.default_channels, projects.c.escalation_steps)).all(),
            *conn.execute(select(channel_secrets.c.secrets)).scalars(),
        ]
    return "\n".join(map(str, found))


def test_every_credential_of_a_channel_is_split_out_at_any_depth() -> None:
    channel = {
        "slack": {"channel_or_user_id": "C1", "bot_token": TOKEN, "thread_ts": "1.2"},
        "email": {"address": "a@example.com", "smtp_password": None},
        "future": {"auth": {"ApiSecret": "s3", "hops": [{"PASSWORD": "p4"}, {"name": "n"}]}},
    }
    kept, found = credentials.split(channel, ["channel"])
    assert kept["slack"] == {"channel_or_user_id": "C1", "bot_token": REDACTED, "thread_ts": "1.2"}
    assert kept["email"] == {"address": "a@example.com", "smtp_password": None}  # null: nothing to keep
    assert kept["future"]["auth"] == {"ApiSecret": REDACTED, "hops": [{"PASSWORD": REDACTED}, {"name": "n"}]}
    assert found == [
        (["channel", "slack", "bot_token"], TOKEN),
        (["channel", "future", "auth", "ApiSecret"], "s3"),
        (["channel", "future", "auth", "hops", 0, "PASSWORD"], "p4"),
    ]
    assert credentials.restore({"channel": kept}, found) == {"channel": channel}
    assert credentials.split(kept) == (kept, [])  # what is shown redacted holds nothing more


def test_a_created_request_keeps_its_token_sealed_and_shows_it_redacted(svc: Service) -> None:
    project_id = _project(svc)
    item = svc.items.create_function_call(project_id, function_call(channel=slack(bot_token=TOKEN)))
    assert item.spec["channel"]["slack"]["bot_token"] == REDACTED
    assert render_item(item)["spec"]["channel"]["slack"] == {
        "channel_or_user_id": "C0OPS",
        "bot_token": REDACTED,
    }
    again = svc.items.get_function_call(project_id, "call-1")
    assert again.spec["channel"]["slack"]["bot_token"] == REDACTED
    assert "C0OPS" in _stored_text(svc.db)
    assert TOKEN not in _stored_text(svc.db)
    with svc.db.read() as conn:
        assert credentials.opened(conn, svc.db.box, item.id) == [(["channel", "slack", "bot_token"], TOKEN)]
        assert api.request_token(conn, svc.db.box, Settings(slack_bot_token="xoxb-server"), again) == TOKEN
    assert verify(svc.db).ok


def test_a_request_without_a_token_uses_the_servers(svc: Service) -> None:
    project_id = _project(svc)
    item = svc.items.create_function_call(project_id, function_call(channel=slack(bot_token=None)))
    with svc.db.read() as conn:
        assert credentials.opened(conn, svc.db.box, item.id) == []
        assert (
            api.request_token(conn, svc.db.box, Settings(slack_bot_token="xoxb-server"), item)
            == "xoxb-server"
        )


def test_a_replay_is_the_same_request_after_redaction(svc: Service) -> None:
    project_id = _project(svc)
    first = svc.items.create_function_call(project_id, function_call(channel=slack(bot_token=TOKEN)))
    # the SDK retrying the same call, token and all, gets the same request back
    again = svc.items.create_function_call(project_id, function_call(channel=slack(bot_token=TOKEN)))
    assert again.id == first.id
    # another token is not another request: the first one's stays sealed, none is added
    other = svc.items.create_function_call(project_id, function_call(channel=slack(bot_token="xoxb-other")))
    assert other.id == first.id
    with svc.db.read() as conn:
        assert credentials.opened(conn, svc.db.box, first.id) == [(["channel", "slack", "bot_token"], TOKEN)]
    # what the reviewer is asked still binds the call id
    with pytest.raises(ConflictError):
        svc.items.create_function_call(
            project_id, function_call(kwargs={"x": 3, "y": 5}, channel=slack(bot_token=TOKEN))
        )
    with pytest.raises(ConflictError):
        svc.items.create_function_call(
            project_id, function_call(channel=slack(bot_token=TOKEN, thread_ts="9"))
        )


def test_an_escalations_channel_is_logged_redacted(svc: Service) -> None:
    project_id = _project(svc)
    item = svc.items.create_function_call(project_id, function_call())
    escalation = {"escalation_msg": "please", "channel": slack(bot_token=TOKEN)}
    svc.escalations.escalate_function_call(project_id, "call-1", escalation)
    with svc.db.read() as conn:
        logged = conn.execute(select(events.c.data).where(events.c.type == "escalated")).scalar_one()
        kept = credentials.opened(conn, svc.db.box, item.id, credentials.ESCALATION)
    assert json.loads(logged)["channel"]["slack"] == {"channel_or_user_id": "C0OPS", "bot_token": REDACTED}
    assert kept == [(["channel", "slack", "bot_token"], TOKEN)]
    assert TOKEN not in _stored_text(svc.db)


def test_a_projects_channels_take_no_new_token_and_keep_one_sealed_before(svc: Service) -> None:
    """A project's own token is set with ``foureyes projects slack-token``; its channels refuse
    a token of their own. One kept from an earlier version (migration 0017 sealed it, the
    channel shows ``[redacted]``) survives the inbox's settings form sending it back."""
    for refused in (
        lambda: svc.projects.set_default_channels("p", [slack(bot_token=TOKEN)]),
        lambda: svc.projects.add_escalation_step("p", 60, [slack(bot_token=TOKEN)]),
    ):
        with pytest.raises(InvalidInputError, match="slack-token"):
            refused()
    assert TOKEN not in _stored_text(svc.db)

    shown_before = [{"slack": {"channel_or_user_id": "C0OPS", "bot_token": REDACTED}}]
    project = svc.projects.set_default_channels("p", shown_before)
    with svc.db.write() as tx:  # what migration 0017 keeps for such a channel
        credentials.seal(
            tx.conn,
            svc.db.box,
            [([0, "slack", "bot_token"], TOKEN)],
            part=credentials.DEFAULT_CHANNELS,
            now=datetime.now(UTC),
            project_id=project.id,
            replace=True,
        )

    def kept() -> credentials.Secrets:
        with svc.db.read() as conn:
            return credentials.opened(
                conn, svc.db.box, None, credentials.DEFAULT_CHANNELS, project_id=project.id
            )

    # the inbox's settings form sends the other channels back as it shows them, after the emails
    shown = [dict(c) for c in project.default_channels]
    svc.projects.set_default_channels("p", [{"email": {"address": "ops@example.com"}}, *shown])
    assert kept() == [([1, "slack", "bot_token"], TOKEN)]
    svc.projects.set_default_channels("p", [{"email": {"address": "ops@example.com"}}])
    assert kept() == []


def test_migration_0017_moves_the_tokens_stored_before_it(empty_database_url: str, tmp_path: Path) -> None:
    key_file = tmp_path / "secret.key"
    storage = Database.from_url(empty_database_url, secret_key_file=key_file)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["secret_box"] = SecretBox.from_file(key_file)

    def migrate_to(revision: str, *, down: bool = False) -> None:
        with storage.engine.begin() as conn:
            config.attributes["connection"] = conn
            (command.downgrade if down else command.upgrade)(config, revision)

    body = function_call(channel=slack(bot_token=TOKEN))
    raw_spec = json.dumps(body["spec"])
    migrate_to("0016")
    with storage.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO projects (slug, name, created_at, default_channels)"
                " VALUES ('p', 'p', CURRENT_TIMESTAMP, :channels)"
            ),
            {"channels": json.dumps([slack(bot_token="xoxb-project")])},
        )
        # as the server stored a request before 0017: the spec as given, digested as given
        conn.execute(
            text(
                "INSERT INTO items (project_id, kind, call_id, run_id, spec, request_digest, spec_digest,"
                " state, requested_at) VALUES (1, 'function_call', 'call-1', 'run-1', :spec, :digest,"
                " 'd', 'pending', CURRENT_TIMESTAMP)"
            ),
            {"spec": raw_spec, "digest": request_digest_of("run-1", body["spec"])},
        )
        conn.execute(
            text(
                "INSERT INTO events (item_id, type, data, created_at, project_id)"
                " VALUES (1, 'escalated', :data, CURRENT_TIMESTAMP, 1)"
            ),
            {"data": json.dumps({"escalation_msg": "x", "channel": slack(bot_token="xoxb-escalated")})},
        )
    try:
        storage.migrate()
        stored = _stored_text(storage)
        assert "C0OPS" in stored
        for token in (TOKEN, "xoxb-project", "xoxb-escalated"):
            assert token not in stored
        with storage.read() as conn:
            spec = json.loads(conn.execute(select(items.c.spec)).scalar_one())
            assert credentials.opened(conn, storage.box, 1) == [(["channel", "slack", "bot_token"], TOKEN)]
            assert credentials.opened(conn, storage.box, 1, credentials.ESCALATION) == [
                (["channel", "slack", "bot_token"], "xoxb-escalated")
            ]
            assert credentials.opened(
                conn, storage.box, None, credentials.DEFAULT_CHANNELS, project_id=1
            ) == [([0, "slack", "bot_token"], "xoxb-project")]
        assert spec["channel"]["slack"]["bot_token"] == REDACTED
        # the agent retrying its old call, token and all, is still a replay
        service = Service(storage, notifier_for(storage), settings=Settings(database_url=empty_database_url))
        project_id = service.keys.authenticate(
            service.keys.create_api_key(project="p", scopes=["agent"]).plaintext
        ).project_id
        assert (
            service.items.create_function_call(project_id, function_call(channel=slack(bot_token=TOKEN))).id
            == 1
        )
        # and back: the downgrade puts the tokens where they were
        migrate_to("0016", down=True)
        with storage.read() as conn:
            assert json.loads(conn.execute(select(items.c.spec)).scalar_one()) == body["spec"]
            channels = conn.execute(select(projects.c.default_channels)).scalar_one()
        assert json.loads(channels) == [slack(bot_token="xoxb-project")]
    finally:
        storage.close()

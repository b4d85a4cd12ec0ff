"""``POST /slack/commands`` in process: ``/foureyes link CODE`` links the Slack user who typed
it to the person the one-time code was issued for; the request must be signed by Slack, recent
and new, and the code unused, unexpired and the newest of its person's. The code is kept only
as its digest."""

from __future__ import annotations

import hashlib
import itertools
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from foureyes.server.app import create_app
from foureyes.server.channels.slack.linking import SlackLinks
from foureyes.server.service import Service
from foureyes.server.settings import Settings
from foureyes.storage.schema import events, slack_link_codes, slack_users

from ..fast_hashing import FAST_HASHING
from .signing import SECRET, signed_raw

PERSON = "boss@example.com"
TRIGGERS = itertools.count()


class Slack:
    """Sends slash commands as Slack does: form-encoded, signed."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.service: Service = client.app.state.service  # type: ignore[attr-defined]

    def command(self, text: str, *, user: str = "U0BOSS", **signing: Any) -> httpx.Response:
        body = self.body(text, user=user)
        return self.client.post("/slack/commands", content=body, headers=signed_raw(body, **signing))

    @staticmethod
    def body(text: str, *, user: str = "U0BOSS") -> bytes:
        fields = {
            "token": "deprecated-verification-token",
            "team_id": "T0TEAM",
            "channel_id": "C0GENERAL",
            "user_id": user,
            "user_name": user.lower(),
            "command": "/foureyes",
            "text": text,
            "response_url": "http://127.0.0.1:9/unused",
            "trigger_id": f"trigger-{next(TRIGGERS)}",  # new for every command Slack sends
        }
        return urlencode(fields).encode()

    def code(self, email: str = PERSON) -> str:
        return self.service.slack_links.new_code(email)

    def linked(self, user: str = "U0BOSS") -> int | None:
        return self.service.slack_links.linked_person(user)


@pytest.fixture
def slack(database_url: str) -> Iterator[Slack]:
    settings = Settings(database_url=database_url, slack_signing_secret=SECRET, **FAST_HASHING)
    with TestClient(create_app(settings)) as client:
        found = Slack(client)
        found.service.people.add_user(PERSON, "default", "reviewer", None)
        found.service.people.add_user("viewer@example.com", "default", "viewer", None)
        yield found


def said(answer: httpx.Response) -> str:
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["response_type"] == "ephemeral"
    return str(body["text"])


def test_a_code_links_the_slack_user_once(slack: Slack) -> None:
    code = slack.code()
    assert len(code) == 14
    assert code.count("-") == 2
    assert slack.linked() is None
    assert said(slack.command("whoami")) == "Your Slack account is not linked to a foureyes account."
    # case, spaces and dashes do not count: a code typed by hand still works
    typed = code.lower().replace("-", " ")
    assert said(slack.command(f"link {typed}")).startswith(f"Linked: in Slack you now decide as {PERSON}")
    person = slack.service.people.find_user(PERSON).id
    assert slack.linked() == person
    assert said(slack.command("whoami")) == f"You decide as {PERSON}."
    # used: it links no one else, and the first link stays
    answer = said(slack.command(f"link {code}", user="U0THIEF"))
    assert answer.startswith("That code is not valid")
    assert slack.linked("U0THIEF") is None
    assert slack.linked() == person
    with slack.service.db.read() as conn:
        [row] = conn.execute(select(slack_users)).all()
        assert (row.slack_user_id, row.user_id, row.team_id) == ("U0BOSS", person, "T0TEAM")
        # only the digest of the code is stored, nowhere the code itself
        [stored] = conn.execute(select(slack_link_codes)).all()
        assert stored.code_hash == hashlib.sha256(code.replace("-", "").encode()).hexdigest()
        assert stored.used_at is not None
        logged = conn.execute(select(events.c.type, events.c.data, events.c.channel)).all()
    assert code.replace("-", "") not in str(logged)
    assert code not in str(logged)
    assert [(e.type, e.channel) for e in logged if e.type.startswith("slack_")] == [
        ("slack_link_code_issued", "admin"),
        ("slack_user_linked", "slack"),
    ]


def test_expired_unknown_and_voided_codes_are_refused(slack: Slack) -> None:
    service = slack.service
    issued_earlier = SlackLinks(
        service.db, service.emitter, service.people, lambda: service.now() - timedelta(minutes=10, seconds=1)
    )
    expired = issued_earlier.new_code(PERSON)
    assert said(slack.command(f"link {expired}")).startswith("That code is not valid")
    assert said(slack.command("link AAAA-BBBB-CCCC")).startswith("That code is not valid")
    older = slack.code()
    newer = slack.code()  # voids the older one
    assert said(slack.command(f"link {older}")).startswith("That code is not valid")
    assert slack.linked() is None
    assert said(slack.command(f"link {newer}")).startswith("Linked")
    # a code issued 9 minutes ago still works
    recent = SlackLinks(
        service.db, service.emitter, service.people, lambda: service.now() - timedelta(minutes=9)
    )
    code = recent.new_code("viewer@example.com")
    assert said(slack.command(f"link {code}", user="U0VIEWER")).startswith("Linked")


def test_unsigned_stale_and_replayed_commands_are_refused(slack: Slack) -> None:
    code = slack.code()
    assert slack.command(f"link {code}", secret="not-the-secret").status_code == 401
    assert slack.command(f"link {code}", at=int(time.time()) - 6 * 60).status_code == 401
    body = Slack.body(f"link {code}")
    headers = signed_raw(body)
    assert slack.client.post("/slack/commands", content=body + b"&x=1", headers=headers).status_code == 401
    assert slack.client.post("/slack/commands", content=body, headers={}).status_code == 401
    assert slack.linked() is None  # none of these used the code

    assert said(slack.client.post("/slack/commands", content=body, headers=headers)).startswith("Linked")
    assert slack.service.slack_links.unlink(PERSON) == 1
    # the same signed request again, within the 5 minutes: refused, the link is not made again
    assert slack.client.post("/slack/commands", content=body, headers=headers).status_code == 401
    retried = {**headers, "x-slack-retry-num": "1", "x-slack-retry-reason": "http_timeout"}
    answer = slack.client.post("/slack/commands", content=body, headers=retried)
    assert answer.status_code == 200
    assert answer.content == b""
    assert slack.linked() is None


def test_unlink_help_and_what_is_not_a_command(slack: Slack) -> None:
    assert said(slack.command(f"link {slack.code()}")).startswith("Linked")
    assert said(slack.command("unlink")) == "Unlinked."
    assert slack.linked() is None
    assert said(slack.command("unlink")) == "Your Slack account was not linked."
    for text in ("", "help", "link", "frobnicate <!channel>"):
        shown = said(slack.command(text))
        assert "`/foureyes link CODE`" in shown
        assert "<!channel>" not in shown
    # signed, but no user: not something Slack sends as a slash command
    body = b"text=link+X"
    assert slack.client.post("/slack/commands", content=body, headers=signed_raw(body)).status_code == 400

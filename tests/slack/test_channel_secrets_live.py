"""A Slack ``bot_token`` given by the official SDK, end to end: the stand-in for Slack's Web API
is called with it, and no one who can see the request ever sees it (the JSON API, the WebSocket,
webhooks, the inbox and its search), nor does the database hold it in the clear."""

from __future__ import annotations

import json
import re
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import humanlayer
import pytest
from websockets.sync.client import connect

from ..integration.conftest import LiveServer
from ..webhooks.receiver import Receiver, running_receiver
from .slack_api import SlackApi, running_slack_api

pytestmark = pytest.mark.slow

TOKEN = "xoxb-agents-own-4f1c9e7a2b"
PREFIX = TOKEN[:12]
CHANNEL = "C0SECRETS"
PASSWORD = "correct horse battery"
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def wait_for(condition: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


@pytest.fixture
def slack() -> Iterator[SlackApi]:
    with running_slack_api() as api:
        yield api


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as found:
        yield found


@pytest.fixture
def server(tmp_path: Path, slack: SlackApi) -> Iterator[LiveServer]:
    live = LiveServer(tmp_path)
    live.env |= {
        "FOUREYES_SLACK_API_URL": slack.url,
        "FOUREYES_SLACK_BOT_TOKEN": "xoxb-server",
        "FOUREYES_WEBHOOK_ALLOW_PRIVATE": "true",
        "FOUREYES_WEBHOOK_POLL_INTERVAL_SECONDS": "0.1",
        "FOUREYES_PUBLIC_URL": live.url,
    }
    live.start()
    try:
        yield live
    finally:
        live.stop()


@contextmanager
def signed_in_reviewer(server: LiveServer) -> Iterator[httpx.Client]:
    """A reviewer of the project who joined through their invitation link, signed in."""
    added = server.foureyes("users", "add", "rev@example.com", "--role", "reviewer", "--name", "Rev")
    assert added.returncode == 0, added.stderr
    path = "/inbox/invite/" + added.stdout.strip().splitlines()[-1].rsplit("/", 1)[1]
    with httpx.Client(base_url=server.url) as browser:
        form = browser.get(path)
        found = _CSRF.search(form.text)
        assert found, form.text
        joined = browser.post(
            path,
            data={
                "csrf": found.group(1),
                "display_name": "Rev",
                "password": PASSWORD,
                "password_again": PASSWORD,
            },
        )
        assert joined.status_code == 303, joined.text
        yield browser


def ws_item_frame(server: LiveServer, key: str, call_id: str) -> str:
    url = server.api_base.replace("http://", "ws://") + "/ws"
    with connect(url, additional_headers={"Authorization": f"Bearer {key}"}, open_timeout=10) as ws:
        ws.send(json.dumps({"type": "subscribe", "function_calls": [call_id]}))
        while True:
            text = str(ws.recv(timeout=10))
            if json.loads(text)["type"] == "item":
                return text


def test_a_bot_token_reaches_slack_and_nobody_else(
    server: LiveServer, slack: SlackApi, receiver: Receiver
) -> None:
    hooked = server.foureyes("webhooks", "add", receiver.url)
    assert hooked.returncode == 0, hooked.stderr
    key = server.create_key("agent")
    hl = humanlayer.HumanLayer(api_key=key, api_base_url=server.api_base)
    spec = humanlayer.FunctionCallSpec(
        fn="wire_money",
        kwargs={"amount": 100},
        channel=humanlayer.ContactChannel(
            slack=humanlayer.SlackContactChannel(channel_or_user_id=CHANNEL, bot_token=TOKEN)
        ),
    )

    # the official SDK parses what the server answers: the token is a string it can read
    created = hl.create_function_call(spec, call_id="call-secret")
    assert created.spec.channel is not None
    assert created.spec.channel.slack is not None
    assert created.spec.channel.slack.bot_token == "[redacted]"
    assert created.spec.channel.slack.channel_or_user_id == CHANNEL

    # Slack is called with the agent's own token
    [post] = slack.wait_for("chat.postMessage")
    assert post.token == TOKEN
    assert post.args["channel"] == CHANNEL

    with httpx.Client(base_url=server.api_base, headers={"Authorization": f"Bearer {key}"}) as agent:
        shown = {
            "GET": agent.get("/function_calls/call-secret"),
            "long poll": agent.get("/function_calls/call-secret", params={"wait": "0.2"}),
            "pending": agent.get("/agent/function_calls/pending"),
        }
    for name, answer in shown.items():
        assert answer.status_code == 200, (name, answer.text)
        assert "call-secret" in answer.text, name
        assert PREFIX not in answer.text, name
    assert shown["GET"].json()["spec"]["channel"]["slack"]["bot_token"] == "[redacted]"
    assert hl.get_function_call("call-secret").spec.channel.slack.bot_token == "[redacted]"  # type: ignore[union-attr]

    frame = ws_item_frame(server, key, "call-secret")
    assert "call-secret" in frame
    assert PREFIX not in frame

    wait_for(lambda: any(b"call-secret" in r.body for r in receiver.received))
    assert all(PREFIX.encode() not in r.body for r in receiver.received)

    with signed_in_reviewer(server) as reviewer:
        page = reviewer.get("/inbox/p/default/function_calls/call-secret")
        assert page.status_code == 200, page.text
        assert "wire_money" in page.text
        assert CHANNEL in page.text
        assert PREFIX not in page.text
        # the search finds the request by what it shows, never by its token
        assert "call-secret" in reviewer.get("/inbox/p/default", params={"q": "wire_mon"}).text
        searched = reviewer.get("/inbox/p/default", params={"q": PREFIX})
        assert searched.status_code == 200
        assert "call-secret" not in searched.text
        assert PREFIX not in searched.text.replace(f'value="{PREFIX}"', "")

    # nothing the database holds has the token in the clear (the sealed copy is encrypted)
    database = server.database_url.removeprefix("sqlite:///")
    with sqlite3.connect(database) as db:
        dump = "\n".join(db.iterdump())
    db.close()
    assert "call-secret" in dump
    assert PREFIX not in dump

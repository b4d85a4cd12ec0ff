"""A real foureyes server for the Slack channel's end-to-end tests: slack_sdk pointed at the
stand-in of Slack's Web API, the official humanlayer SDK as the agent, and requests signed as
Slack signs them."""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import humanlayer

from ..integration.conftest import LiveServer
from .signing import SECRET, signed, signed_raw
from .slack_api import SlackApi

CHANNEL = "C0APPROVALS"
REVIEWER = "U0REVIEWER"  # linked to a reviewer of the project by a verified email
STRANGER = "U0STRANGER"  # a verified email no person of the server has
UNVERIFIED = "U0UNVERIFIED"  # a reviewer's email, but Slack has not verified it


def fast_sleep(_seconds: float) -> None:
    time.sleep(0.02)


def in_thread(fn: Any) -> Future[Any]:
    pool = ThreadPoolExecutor(max_workers=1)
    future = pool.submit(fn)
    pool.shutdown(wait=False)
    return future


class SlackServer:
    def __init__(self, tmp_path: Path, slack: SlackApi, **env: str) -> None:
        self.slack = slack
        self.server = LiveServer(tmp_path)
        self.server.env |= {
            "FOUREYES_SLACK_API_URL": slack.url,
            "FOUREYES_SLACK_BOT_TOKEN": "xoxb-server",
            "FOUREYES_SLACK_SIGNING_SECRET": SECRET,
            "FOUREYES_PUBLIC_URL": self.server.url,
            **env,
        }
        self.server.start()
        added = self.server.foureyes("users", "add", "boss@example.com", "--role", "reviewer")
        assert added.returncode == 0, added.stderr
        slack.users |= {
            REVIEWER: ("Boss@Example.com", True),
            STRANGER: ("someone@example.com", True),
            UNVERIFIED: ("boss@example.com", False),
        }
        agent_key = self.server.create_key("agent")
        self.agent = httpx.Client(
            base_url=self.server.api_base, headers={"Authorization": f"Bearer {agent_key}"}
        )
        self.hl = humanlayer.HumanLayer(
            api_key=agent_key, api_base_url=self.server.api_base, sleep=fast_sleep
        )
        self.web = httpx.Client(base_url=self.server.url)

    def status(self, call_id: str, kind: str = "function_calls") -> dict[str, Any]:
        answer = self.agent.get(f"/{kind}/{call_id}")
        assert answer.status_code == 200, answer.text
        status: dict[str, Any] = answer.json()["status"]
        return status

    def interact(self, payload: dict[str, Any], **signing: Any) -> httpx.Response:
        body, headers = signed(payload, **signing)
        return self.web.post("/slack/interactions", content=body, headers=headers)

    def command(self, text: str, *, user: str, **signing: Any) -> httpx.Response:
        """``/foureyes TEXT`` typed by ``user``, sent as Slack sends a slash command."""
        fields = {"team_id": "T0TEAM", "user_id": user, "command": "/foureyes", "text": text}
        fields["trigger_id"] = f"{user}-{time.monotonic_ns()}"
        body = urlencode(fields).encode()
        return self.web.post("/slack/commands", content=body, headers=signed_raw(body, **signing))

    def close(self) -> None:
        self.agent.close()
        self.web.close()
        self.server.stop()


def slack_spec(fn: str = "wire_money", **slack: Any) -> humanlayer.FunctionCallSpec:
    channel = humanlayer.ContactChannel(
        slack=humanlayer.SlackContactChannel(channel_or_user_id=CHANNEL, **slack)
    )
    return humanlayer.FunctionCallSpec(
        fn=fn,
        kwargs={"amount": 100, "to": "ACME <ops@acme.example>"},
        channel=channel,
        reject_options=[humanlayer.ResponseOption(name="too_much", title="Too much money")],
    )


def texts(blocks: list[dict[str, Any]]) -> str:
    found: list[str] = []
    for block in blocks:
        if "text" in block:
            found.append(block["text"]["text"])
        for element in block.get("elements", []):
            found.append(element["text"] if isinstance(element["text"], str) else element["text"]["text"])
    return "\n".join(found)


def pending_call_id(live: SlackServer) -> str:
    key = live.server.create_key("respond")
    pending = httpx.get(
        f"{live.server.api_base}/agent/function_calls/pending", headers={"Authorization": f"Bearer {key}"}
    ).json()["items"]
    [item] = pending
    return str(item["call_id"])


def wait_until(check: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)

"""Interaction requests as Slack sends them: the payload form-encoded, signed v0 (written here
from Slack's description, not with slack_sdk, so the server's check is tested independently)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any
from urllib.parse import urlencode

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


def signed_raw(body: bytes, *, secret: str = SECRET, at: int | None = None) -> dict[str, str]:
    """The headers Slack sends with ``body``: its timestamp and v0 signature."""
    timestamp = str(int(time.time()) if at is None else at)
    mac = hmac.new(secret.encode(), b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256).hexdigest()
    return {
        "content-type": "application/x-www-form-urlencoded",
        "x-slack-request-timestamp": timestamp,
        "x-slack-signature": f"v0={mac}",
    }


def signed(
    payload: dict[str, Any], *, secret: str = SECRET, at: int | None = None
) -> tuple[bytes, dict[str, str]]:
    body = urlencode({"payload": json.dumps(payload)}).encode()
    return body, signed_raw(body, secret=secret, at=at)


def button(blocks: list[dict[str, Any]], action_id: str) -> dict[str, Any]:
    for block in blocks:
        for element in block.get("elements", []) if block["type"] == "actions" else []:
            if element["action_id"] == action_id:
                return dict(element)
    raise AssertionError(f"no button {action_id!r} in {blocks}")


def block_action(
    blocks: list[dict[str, Any]], action_id: str, *, user: str, channel: str, ts: str
) -> dict[str, Any]:
    """The ``block_actions`` payload of a click on the button ``action_id``."""
    pressed = button(blocks, action_id)
    return {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower()},
        "trigger_id": f"trigger-{user}-{action_id}",
        "container": {"type": "message", "message_ts": ts, "channel_id": channel},
        "channel": {"id": channel},
        "message": {"ts": ts, "blocks": blocks},
        "response_url": "http://127.0.0.1:9/unused",
        "actions": [
            {
                "type": "button",
                "action_id": pressed["action_id"],
                "block_id": "foureyes_decide",
                "value": pressed["value"],
                "action_ts": str(time.time()),
            }
        ],
    }


def view_submission(view: dict[str, Any], text: str, *, user: str) -> dict[str, Any]:
    """The ``view_submission`` payload of a modal opened with ``view``, its input filled in."""
    [field] = [b for b in view["blocks"] if b["type"] == "input"]
    action_id = field["element"]["action_id"]
    return {
        "type": "view_submission",
        "user": {"id": user},
        "view": {
            **view,
            "id": "V123",
            "state": {
                "values": {field["block_id"]: {action_id: {"type": "plain_text_input", "value": text}}}
            },
        },
    }

"""``POST /slack/commands``: the Request URL of the app's slash command (``/foureyes``).

Checked like an interaction (``verify.py``: Slack's signature, its 5-minute window, each
request once), then answered at once, ephemerally (only the person who typed it sees it):

- ``/foureyes link CODE``: link the Slack user who typed it to the person the one-time code
  was issued for (``linking.py``).
- ``/foureyes whoami``: say whom this Slack user is linked to.
- ``/foureyes unlink``: forget this Slack user's link.
- anything else: what the command does.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from foureyes.server.channels.slack.blocks import escape
from foureyes.server.channels.slack.interactions import in_thread
from foureyes.server.channels.slack.verify import verified_body
from foureyes.storage.people import UserRecord

logger = logging.getLogger(__name__)

PATH = "/slack/commands"
router = APIRouter(include_in_schema=False)

BAD_CODE = (
    "That code is not valid: it is mistyped, was used already, or has expired (a code lasts "
    "10 minutes). Ask an admin of foureyes for a new one."
)


def _say(text: str) -> Response:
    return JSONResponse({"response_type": "ephemeral", "text": text})


def _usage(command: str) -> Response:
    name = escape(command or "/foureyes")
    return _say(
        f"`{name} link CODE`: link your Slack account to your foureyes account, with the code an "
        f"admin gave you (`foureyes users slack-link-code`).\n`{name} whoami`: who you decide as.\n"
        f"`{name} unlink`: forget the link."
    )


def _who(user: UserRecord | None) -> str:
    return "a person who no longer exists" if user is None else escape(user.email)


@router.post(PATH)
async def commands(request: Request) -> Response:
    service = request.app.state.service
    body = await verified_body(request)
    if isinstance(body, Response):
        return body
    try:
        form = {k: v[0] for k, v in parse_qs(body.decode("utf-8"), strict_parsing=False).items()}
    except UnicodeDecodeError:
        form = {}
    slack_user = form.get("user_id", "")
    if not slack_user:
        return JSONResponse({"error": "not a Slack slash command"}, status_code=400)
    verb, _, rest = form.get("text", "").strip().partition(" ")
    links: Any = service.slack_links
    verb = verb.lower()
    if verb == "link" and rest.strip():
        user = await in_thread(links.redeem, rest.strip(), slack_user, form.get("team_id") or None)
        if user is None:
            logger.info("slack: %s tried a link code that is not valid", slack_user)
            return _say(BAD_CODE)
        return _say(f"Linked: in Slack you now decide as {_who(user)}, where that account may decide.")
    if verb == "whoami":
        person = await in_thread(links.linked_person, slack_user)
        if person is None:
            return _say("Your Slack account is not linked to a foureyes account.")
        return _say(f"You decide as {_who(await in_thread(service.people.get_user, person))}.")
    if verb == "unlink":
        removed = await in_thread(links.unlink_slack_user, slack_user)
        return _say("Unlinked." if removed else "Your Slack account was not linked.")
    return _usage(form.get("command", ""))

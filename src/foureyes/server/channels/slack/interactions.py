"""``POST /slack/interactions``: the Request URL of the Slack app, where buttons and modals land.

A request is believed only when Slack signed it, recently, and it was not handled before
(``verify.py``).

``block_actions``: Approve, a reject option or a response option decides at once; Reject and
Reply open a modal (``views.open``, within the trigger's 3 seconds). ``view_submission``: the
modal's text rejects or answers. Decisions go through ``service.decisions`` with channel
``slack``; the message is then updated by the outbox like for a decision made anywhere else.
Someone who may not decide (``access``) gets an ephemeral message and nothing changes.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import parse_qs

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from foureyes._protocol import ItemKind, ItemState
from foureyes.server.channels.slack import api
from foureyes.server.channels.slack.access import Decider, decider_for
from foureyes.server.channels.slack.blocks import (
    APPROVE,
    REJECT,
    REJECT_OPTION,
    REPLY,
    RESPOND_OPTION,
    TEXT_ACTION,
    TEXT_BLOCK,
    Ref,
    modal,
)
from foureyes.server.channels.slack.verify import verified_body
from foureyes.server.domain.errors import ConflictError, DomainError, NotFoundError
from foureyes.server.domain.quorum import progress
from foureyes.storage import ItemRecord

logger = logging.getLogger(__name__)
T = TypeVar("T")

PATH = "/slack/interactions"
CHANNEL = "slack"
CALL_TIMEOUT = 2.5  # seconds for each Slack call made while Slack waits for the answer
NOT_ALLOWED = "You may not decide this request."
router = APIRouter(include_in_schema=False)


async def in_thread(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    # the domain and the database are synchronous: not on the event loop
    return await asyncio.to_thread(functools.partial(fn, *args, **kwargs))


@router.post(PATH)
async def interactions(request: Request) -> Response:
    service = request.app.state.service
    body = await verified_body(request)
    if isinstance(body, Response):
        return body
    payload: Any = None
    try:
        payload = json.loads(parse_qs(body.decode("utf-8"))["payload"][0])
        kind = payload["type"]
    except (KeyError, IndexError, ValueError, TypeError):
        kind = None
    if not isinstance(payload, dict) or kind is None:
        return JSONResponse({"error": "not a Slack interaction payload"}, status_code=400)
    started = time.monotonic()
    handler = _Interaction(service, payload)
    if kind == "block_actions":
        answer = await handler.block_action()
    elif kind == "view_submission":
        answer = await handler.view_submission()
    else:
        answer = Response(status_code=200)
    logger.debug("slack %s handled in %.0f ms", kind, (time.monotonic() - started) * 1000)
    return answer


def _view_errors(text: str) -> Response:
    return JSONResponse({"response_action": "errors", "errors": {TEXT_BLOCK: text[:150]}})


class _Interaction:
    def __init__(self, service: Any, payload: dict[str, Any]) -> None:
        self.service = service
        self.settings = service.settings
        self.payload = payload
        self.user = str((payload.get("user") or {}).get("id") or "")
        self.channel: str | None = (payload.get("channel") or {}).get("id") or (
            payload.get("container") or {}
        ).get("channel_id")
        self.client = api.client(self.settings, self.settings.slack_bot_token, timeout=CALL_TIMEOUT)

    async def _open(self, ref: Ref) -> ItemRecord | None:
        try:
            item: ItemRecord = await in_thread(self.service.items.get, ref.project_id, ref.kind, ref.call_id)
        except NotFoundError:
            return None
        token = await in_thread(self._token, item)
        self.client = api.client(self.settings, token, timeout=CALL_TIMEOUT)
        return item

    def _token(self, item: ItemRecord) -> str:
        with self.service.db.read() as conn:
            return api.request_token(conn, self.service.db.box, self.settings, item)

    async def _tell(self, text: str) -> None:
        """An ephemeral message to the user who clicked, in the channel of the message."""
        if not self.channel or not self.user:
            return
        try:
            await self.client.chat_postEphemeral(channel=self.channel, user=self.user, text=text)
        except Exception as exc:  # best effort: the user's click changed nothing either way
            logger.warning("slack: could not tell %s %r: %s", self.user, text, exc)

    async def _decider(self, item: ItemRecord) -> Decider | None:
        try:
            return await decider_for(
                item, self.user, self.client, self.service.people, self.service.slack_links
            )
        except Exception as exc:  # users.info failed: nobody is let through unchecked
            logger.warning("slack: could not check who %s is: %s", self.user, exc)
            return None

    async def _decide(self, item: ItemRecord, decider: Decider, **verdict: Any) -> str | None:
        """Record the decision; None, or what to tell the person: why it was not recorded, or
        what a request needing several approvals still needs after theirs."""
        who = {"channel": CHANNEL, "actor_key_id": None, **decider.__dict__}
        decisions = self.service.decisions
        try:
            if item.kind == ItemKind.FUNCTION_CALL:
                done: ItemRecord = await in_thread(
                    decisions.decide_function_call, item.project_id, item.call_id, **verdict, **who
                )
            else:
                done = await in_thread(
                    decisions.answer_human_contact, item.project_id, item.call_id, **verdict, **who
                )
        except ConflictError:
            return "This request was already decided."
        except DomainError as exc:
            return str(exc)
        if done.state == ItemState.PENDING:
            return f"Your approval is recorded: {progress(done)}."
        return None

    async def _checked(self, ref: Ref) -> tuple[ItemRecord, Decider] | str:
        item = await self._open(ref)
        if item is None:
            return "This request no longer exists."
        if item.state != ItemState.PENDING:
            return f"This request was already {item.state}."
        decider = await self._decider(item)
        if decider is None:
            return NOT_ALLOWED
        return item, decider

    async def block_action(self) -> Response:
        try:
            action = self.payload["actions"][0]
            action_id = str(action["action_id"])
            ref = Ref.parse(str(action["value"]))
        except (KeyError, IndexError, ValueError, TypeError):
            return Response(status_code=200)
        checked = await self._checked(ref)
        if isinstance(checked, str):
            await self._tell(checked)
            return Response(status_code=200)
        item, decider = checked
        problem: str | None = None
        name, _, _index = action_id.partition(":")
        is_call = item.kind == ItemKind.FUNCTION_CALL
        if name == APPROVE and is_call:
            problem = await self._decide(item, decider, approved=True)
        elif name in (REJECT, REPLY) and is_call == (name == REJECT):
            try:
                await self.client.views_open(
                    trigger_id=str(self.payload.get("trigger_id") or ""),
                    view=modal(item, ref, channel=self.channel),
                )
            except Exception as exc:  # the trigger expired, or Slack is unreachable
                problem = f"Could not open the form ({exc}); try again, or decide in the inbox."
        elif name in (REJECT_OPTION, RESPOND_OPTION) and is_call == (name == REJECT_OPTION):
            options = item.spec.get("reject_options" if is_call else "response_options") or []
            if ref.option is None or not 0 <= ref.option < len(options):
                problem = "That option is not one of this request's."
            elif is_call:
                option = str(options[ref.option]["name"])
                problem = await self._decide(item, decider, approved=False, reject_option_name=option)
            else:
                option = str(options[ref.option]["name"])
                problem = await self._decide(item, decider, response_option_name=option)
        if problem:  # or what the request still needs after this approval
            await self._tell(problem)
        return Response(status_code=200)

    async def view_submission(self) -> Response:
        try:
            view = self.payload["view"]
            metadata = json.loads(view["private_metadata"])
            ref = Ref.parse(str(metadata["ref"]))
            text = str(view["state"]["values"][TEXT_BLOCK][TEXT_ACTION].get("value") or "")
        except (KeyError, ValueError, TypeError):
            return Response(status_code=200)
        self.channel = metadata.get("channel") or self.channel
        checked = await self._checked(ref)
        if isinstance(checked, str):
            await self._tell(checked)
            return _view_errors(checked)
        item, decider = checked
        if not text.strip():
            return _view_errors("Write something: the agent reads it.")
        if item.kind == ItemKind.FUNCTION_CALL:
            problem = await self._decide(item, decider, approved=False, comment=text)
        else:
            problem = await self._decide(item, decider, response=text)
        return _view_errors(problem) if problem else Response(status_code=200)

"""``SlackSink``: the Slack channel's half of the outbox.

``fan_out`` runs in the transaction of a change. A request created whose ``spec.channel.slack``
names a channel (or a user), else the first Slack channel it was routed to (a policy's route,
the project's default channels: ``target_of``), is frozen into one ``chat.postMessage``
delivery: its blocks with the buttons, and the ``thread_ts`` it asked for. When the request
completes (decided through any channel, or expired), a ``chat.update`` delivery follows,
showing the outcome without buttons. Both have the channel as their target, so the outbox keeps
them in order: the update goes out only after the post, and reads the message's ``ts``
(recorded by the post) when it is sent. A request a policy decides as it is created asks no
one: its one post shows the outcome, without buttons.

The token is read at delivery time: the request's own ``bot_token``, which its spec shows as
``[redacted]`` and ``channel_secrets`` keeps sealed (``storage/credentials.py``), else the
server's. It is in no payload, so the outbox never holds it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Collection, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from foureyes.server.channels.slack import api
from foureyes.server.channels.slack.blocks import (
    decided_blocks,
    fallback_text,
    inbox_link,
    outcome_line,
    request_blocks,
)
from foureyes.server.domain.events import Event, ItemCreated, ItemDecided
from foureyes.server.outbox import Attempt, FailureReport
from foureyes.server.settings import Settings
from foureyes.storage import Database, DeliveryRecord, ItemRecord, Tx, outbox
from foureyes.storage import events as event_rows
from foureyes.storage import keys as key_rows
from foureyes.storage import slack as slack_rows

SINK = "slack"
POST = "chat.postMessage"
UPDATE = "chat.update"
RETRY_MAX = timedelta(days=1)


def target_of(spec: Mapping[str, Any], routed_to: Iterable[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """Where a request's one Slack message goes: the agent's own Slack channel, else the first
    Slack channel it was routed to (a policy's route, the project's defaults)."""
    own = api.channel_slack(spec)
    if own is not None:
        return own
    return next((found for c in routed_to if (found := api.channel_slack({"channel": c}))), None)


def slack_deliveries(db: Database, item_id: int) -> list[DeliveryRecord]:
    """The Slack posts and updates of one request, oldest first: what its inbox page shows."""
    with db.read() as conn:
        return list(reversed(outbox.list_recent(conn, sink=SINK, item_id=item_id)))


class SlackSink:
    name = SINK

    def __init__(self, db: Database, settings: Settings) -> None:
        self._db = db
        self._settings = settings
        self.attempt_timeout_seconds = 15.0
        # Slack allows about one message a second per channel
        self.per_target_concurrency = 1
        # a message the agent asked for that failed means a person was not told: flagged
        self.flags_failures = True
        self.on_failed: FailureReport | None = None

    # ------------------------------------------------------------------ in the change's transaction

    def fan_out(self, tx: Tx, event: Event) -> int:
        if not isinstance(event, (ItemCreated, ItemDecided)):
            return 0
        item = event.record
        if isinstance(event, ItemCreated):
            slack, settled = target_of(item.spec, event.routed_to), event.settled
        else:
            created = event_rows.created_data(tx.conn, item.id)
            slack = target_of(item.spec, created.get("routed_to") or ())
            settled = bool(created.get("settled"))
        if slack is None or (settled and isinstance(event, ItemCreated)):
            return 0  # nowhere to post, or decided by a policy at once: its outcome is posted
        project = key_rows.get_project(tx.conn, item.project_id)
        slug = "" if project is None else project.slug
        link = inbox_link(self._settings.base_url, slug, item)
        agent = slack_rows.agent_of(tx.conn, item.id)
        payload: dict[str, Any]
        if isinstance(event, ItemCreated) or settled:
            payload = {
                "method": POST,
                "channel": str(slack["channel_or_user_id"]),
                "text": fallback_text(item),
                "blocks": request_blocks(item, agent=agent, project=slug, link=link),
            }
            if settled:  # no one was asked: the message says what the policy decided
                payload["text"] = f"{fallback_text(item)}: {outcome_line(item, link)}"[:3000]
                payload["blocks"] = decided_blocks(item, agent=agent, project=slug, link=link)
            if slack.get("thread_ts"):
                payload["thread_ts"] = str(slack["thread_ts"])
        else:
            payload = {
                "method": UPDATE,
                "text": f"{fallback_text(item)}: {outcome_line(item, link)}"[:3000],
                "blocks": decided_blocks(item, agent=agent, project=slug, link=link),
            }
        outbox.enqueue(
            tx.conn,
            sink=SINK,
            target=str(slack["channel_or_user_id"]),
            item_id=item.id,
            event_type=f"{item.kind}.{event.type}",
            payload=json.dumps(payload, ensure_ascii=False),
            now=event.at,
            expires_at=event.at + RETRY_MAX,
        )
        return 1

    # ------------------------------------------------------------------ in the outbox worker

    def paused_targets(self, conn: Connection) -> Collection[str]:
        return ()

    def _item(self, item_id: int | None) -> tuple[ItemRecord | None, tuple[str, str] | None, str]:
        """The item, its Slack message, and the token to call Slack with."""
        if item_id is None:
            return None, None, ""
        with self._db.read() as conn:
            item = slack_rows.item_by_id(conn, item_id)
            if item is None:
                return None, None, ""
            token = api.request_token(conn, self._db.box, self._settings, item)
            return item, slack_rows.message_of(conn, item_id), token

    def _posted(self, item_id: int, channel: str, ts: str) -> None:
        with self._db.write() as tx:
            slack_rows.set_message(tx.conn, item_id, channel=channel, ts=ts)

    async def deliver(self, delivery: DeliveryRecord, now: datetime) -> Attempt:
        payload: Mapping[str, Any] = json.loads(delivery.payload)
        item, message, token = await asyncio.to_thread(self._item, delivery.item_id)
        if item is None:
            return Attempt(error="the request is gone", permanent=True)
        if not token:
            return Attempt(error=api.NOT_CONFIGURED, permanent=True)
        client = api.client(self._settings, token, timeout=self.attempt_timeout_seconds)
        arguments = {"text": payload["text"], "blocks": payload["blocks"]}
        try:
            if payload["method"] == POST:
                if message is not None:
                    return Attempt(200)  # posted by an attempt whose result was lost: not twice
                if payload.get("thread_ts"):
                    arguments["thread_ts"] = payload["thread_ts"]
                answer = await client.chat_postMessage(channel=payload["channel"], **arguments)
                await asyncio.to_thread(self._posted, item.id, str(answer["channel"]), str(answer["ts"]))
            else:
                if message is None:
                    return Attempt(error="no Slack message was posted for this request", permanent=True)
                await client.chat_update(channel=message[0], ts=message[1], **arguments)
        except Exception as exc:  # mapped to retry or fail; anything unexpected is raised again
            return api.outcome(exc)
        return Attempt(200)

    async def aclose(self) -> None:
        return None

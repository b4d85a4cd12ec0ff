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

An approval of a request that needs several (``ItemApproved``) queues a ``chat.update`` of each
of its messages too, which keeps the buttons and shows how far the request has come. That one
is rendered from the request as it is when it is sent (``_current``), not as it was when it was
queued: sent late (retried after a rate limit, say), it shows the outcome if the request has
been decided since, and never puts the buttons back. The outcome's update, queued after it to
the same channel, is sent after it, so the outcome is what the message ends with.

An escalation (a step of the project's chain, or one through the API) that names a Slack
channel posts there too: a reply in the thread of the request's first message when it is that
message's channel, else a new message; each has the same buttons, and is updated with the
outcome like the first (``slack_messages`` keeps where each went).

The token is read at delivery time: the request's own ``bot_token``, which its spec shows as
``[redacted]`` and ``channel_secrets`` keeps sealed (``storage/credentials.py``), else the
project's (sealed too), else the server's. It is in no payload, so the outbox never holds it.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from foureyes._protocol import ItemState
from foureyes.server.channels.slack import api
from foureyes.server.channels.slack.blocks import (
    Framing,
    decided_blocks,
    fallback_text,
    inbox_link,
    outcome_line,
    request_blocks,
)
from foureyes.server.domain.events import Event, ItemApproved, ItemCreated, ItemDecided, ItemEscalated
from foureyes.server.outbox import Attempt, FailureReport
from foureyes.server.settings import Settings
from foureyes.server.threads import run_blocking
from foureyes.storage import Database, DeliveryRecord, ItemRecord, Tx, outbox
from foureyes.storage import events as event_rows
from foureyes.storage import keys as key_rows
from foureyes.storage import slack as slack_rows

SINK = "slack"
POST = "chat.postMessage"
UPDATE = "chat.update"
# an update rendered when it is sent, from the request as it is then (an approval's progress)
CURRENT = "current"
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


def escalation_targets(escalation: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The Slack channels an escalation posts to: a chain step's own Slack channel, or the one
    an escalation through the API names in its ``channel``."""
    if "step" in escalation:
        given = [c for c in escalation.get("channels") or () if isinstance(c, Mapping)]
    else:
        channel = escalation.get("channel")
        given = [channel] if isinstance(channel, Mapping) else []
    return [found for c in given if (found := api.channel_slack({"channel": c}))]


def _context_of(slack: Mapping[str, Any]) -> str | None:
    given = slack.get("context_about_channel_or_user")
    return str(given) if given else None


def _decided(item: ItemRecord, shown: Mapping[str, Any], framing: Framing) -> dict[str, Any]:
    """A message's text and blocks once the request is decided."""
    return {
        "text": f"{fallback_text(item)}: {outcome_line(item, shown['link'])}"[:3000],
        "blocks": decided_blocks(item, **shown, framing=framing),
    }


def _current(item: ItemRecord, payload: Mapping[str, Any]) -> dict[str, Any]:
    """A message's text and blocks as the request is now: still asking (with its progress and
    the buttons), or decided (the outcome, without them)."""
    shown, framing = payload["shown"], Framing(**payload["framing"])
    if item.state != ItemState.PENDING:
        return _decided(item, shown, framing)
    text = fallback_text(item) if framing.escalation is None else f"Escalated: {fallback_text(item)}"
    return {"text": text, "blocks": request_blocks(item, **shown, framing=framing)}


@dataclass(frozen=True)
class _Read:
    item: ItemRecord | None
    first: tuple[str, str] | None
    message: slack_rows.SlackMessage | None
    token: str

    @property
    def escalation_message(self) -> tuple[str, str] | None:
        found = self.message
        if found is None or found.channel is None or found.ts is None:
            return None
        return found.channel, found.ts


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
        if isinstance(event, ItemEscalated):
            return self._fan_out_escalation(tx, event)
        if isinstance(event, ItemApproved):
            return self._fan_out_progress(tx, event)
        if isinstance(event, ItemCreated):
            slack = target_of(event.record.spec, event.routed_to)
            return 0 if slack is None else self._fan_out_first(tx, event, slack, event.settled)
        if isinstance(event, ItemDecided):
            item_id = event.record.id
            created = event_rows.created_data(tx.conn, item_id)
            return self._fan_out_decided(tx, event, created, slack_rows.messages_of(tx.conn, item_id))
        return 0

    def fan_out_many(self, tx: Tx, events: Sequence[Event]) -> int:
        """``fan_out`` of each, with the decided ones' created events and escalation messages
        read in one statement each (a bulk decision's)."""
        ids = [event.record.id for event in events if isinstance(event, ItemDecided)]
        created = event_rows.created_data_many(tx.conn, ids) if ids else {}
        messages = slack_rows.messages_of_many(tx.conn, ids) if ids else {}
        queued = 0
        for event in events:
            if isinstance(event, ItemDecided):
                item_id = event.record.id
                found = created.get(item_id, {})
                queued += self._fan_out_decided(tx, event, found, messages.get(item_id, []))
            else:
                queued += self.fan_out(tx, event)
        return queued

    def _fan_out_decided(
        self,
        tx: Tx,
        event: ItemDecided,
        created: Mapping[str, Any],
        messages: list[slack_rows.SlackMessage],
    ) -> int:
        """The first message's update, then those of the escalations (each waits for its own
        post); ``created``: the data of the item's created event."""
        slack = target_of(event.record.spec, created.get("routed_to") or ())
        queued = 0 if slack is None else self._fan_out_first(tx, event, slack, bool(created.get("settled")))
        return queued + self._update_escalation_messages(tx, event, messages)

    def _fan_out_first(
        self, tx: Tx, event: ItemCreated | ItemDecided, slack: Mapping[str, Any], settled: bool
    ) -> int:
        item = event.record
        if settled and isinstance(event, ItemCreated):
            return 0  # decided by a policy at once: its outcome is posted
        shown = self._shown(tx, item)
        framing = Framing(context=_context_of(slack))
        payload: dict[str, Any]
        if isinstance(event, ItemCreated) or settled:
            payload = {
                "method": POST,
                "channel": str(slack["channel_or_user_id"]),
                "text": fallback_text(item),
                "blocks": request_blocks(item, **shown, framing=framing),
            }
            if settled:  # no one was asked: the message says what the policy decided
                payload |= _decided(item, shown, framing)
            if slack.get("thread_ts"):
                payload["thread_ts"] = str(slack["thread_ts"])
        else:
            payload = {"method": UPDATE, **_decided(item, shown, framing)}
        self._enqueue(tx, event, str(slack["channel_or_user_id"]), payload)
        return 1

    def _shown(self, tx: Tx, item: ItemRecord) -> dict[str, Any]:
        """The parts of a message that are not the request: its agent, project and inbox link."""
        project = key_rows.get_project(tx.conn, item.project_id)
        slug = "" if project is None else project.slug
        link = inbox_link(self._settings.base_url, slug, item)
        return {"agent": slack_rows.agent_of(tx.conn, item.id), "project": slug, "link": link}

    def _enqueue(self, tx: Tx, event: Event, target: str, payload: Mapping[str, Any]) -> None:
        item = event.item
        assert item is not None
        outbox.enqueue(
            tx.conn,
            sink=SINK,
            target=target,
            item_id=item.id,
            event_type=f"{item.kind}.{event.type}",
            payload=json.dumps(payload, ensure_ascii=False),
            now=event.at,
            expires_at=event.at + RETRY_MAX,
        )

    def _fan_out_escalation(self, tx: Tx, event: ItemEscalated) -> int:
        """One message per Slack channel the escalation names: in the thread of the request's
        first message when it is that message's channel, else a new message there."""
        item = event.record
        created = event_rows.created_data(tx.conn, item.id)
        first = target_of(item.spec, created.get("routed_to") or ())
        note = str(event.escalation.get("escalation_msg") or "")
        shown = self._shown(tx, item)
        queued = 0
        for slack in escalation_targets(event.escalation):
            target = str(slack["channel_or_user_id"])
            context = _context_of(slack)
            message = slack_rows.add_message(
                tx.conn, item.id, target=target, note=note, context=context, now=event.at
            )
            framing = Framing(context=context, escalation=note)
            payload: dict[str, Any] = {
                "method": POST,
                "message": message,
                "channel": target,
                "text": f"Escalated: {fallback_text(item)}",
                "blocks": request_blocks(item, **shown, framing=framing),
            }
            if first is not None and str(first["channel_or_user_id"]) == target:
                payload["in_thread"] = True
                if first.get("thread_ts"):
                    payload["thread_ts"] = str(first["thread_ts"])
            self._enqueue(tx, event, target, payload)
            queued += 1
        return queued

    def _update_escalation_messages(
        self, tx: Tx, event: ItemDecided, found: list[slack_rows.SlackMessage]
    ) -> int:
        item = event.record
        if not found:
            return 0
        shown = self._shown(tx, item)
        for message in found:
            framing = Framing(context=message.context, escalation=message.note)
            self._enqueue(
                tx,
                event,
                message.target,
                {"method": UPDATE, "message": message.id, **_decided(item, shown, framing)},
            )
        return len(found)

    def _fan_out_progress(self, tx: Tx, event: ItemApproved) -> int:
        """One approval of several: every message of the request, its first and those of its
        escalations, is updated to show it (rendered when sent: ``_current``)."""
        item = event.record
        created = event_rows.created_data(tx.conn, item.id)
        first = target_of(item.spec, created.get("routed_to") or ())
        shown = self._shown(tx, item)
        queued = 0
        if first is not None:
            framing = {"context": _context_of(first), "escalation": None}
            payload = {"method": UPDATE, CURRENT: True, "shown": shown, "framing": framing}
            self._enqueue(tx, event, str(first["channel_or_user_id"]), payload)
            queued += 1
        for message in slack_rows.messages_of(tx.conn, item.id):
            framing = {"context": message.context, "escalation": message.note}
            payload = {"method": UPDATE, CURRENT: True, "message": message.id, "shown": shown}
            self._enqueue(tx, event, message.target, payload | {"framing": framing})
            queued += 1
        return queued

    # ------------------------------------------------------------------ in the outbox worker

    def paused_targets(self, conn: Connection) -> Collection[str]:
        return ()

    def _read(self, item_id: int | None, message_id: int | None) -> _Read:
        if item_id is None:
            return _Read(None, None, None, "")
        with self._db.read() as conn:
            item = slack_rows.item_by_id(conn, item_id)
            return _Read(
                item,
                slack_rows.message_of(conn, item_id),
                None if message_id is None else slack_rows.get_message(conn, message_id),
                "" if item is None else api.request_token(conn, self._db.box, self._settings, item),
            )

    def _posted(self, item_id: int, message_id: int | None, channel: str, ts: str) -> None:
        with self._db.write() as tx:
            if message_id is None:
                slack_rows.set_message(tx.conn, item_id, channel=channel, ts=ts)
            else:
                slack_rows.set_message_posted(tx.conn, message_id, channel=channel, ts=ts)

    async def deliver(self, delivery: DeliveryRecord, now: datetime) -> Attempt:
        payload: Mapping[str, Any] = json.loads(delivery.payload)
        message_id = payload.get("message")
        found = await run_blocking(self._read, delivery.item_id, message_id)
        item = found.item
        if item is None:
            return Attempt(error="the request is gone", permanent=True)
        token = found.token
        if not token:
            return Attempt(error=api.NOT_CONFIGURED, permanent=True)
        client = api.client(self._settings, token, timeout=self.attempt_timeout_seconds)
        # an approval's progress is shown as the request is now: decided since, it shows that
        shown = _current(item, payload) if payload.get(CURRENT) else payload
        arguments = {"text": shown["text"], "blocks": shown["blocks"]}
        # the message this delivery is about: the request's first, or one an escalation posted
        posted = found.first if message_id is None else found.escalation_message
        try:
            if payload["method"] == POST:
                if posted is not None:
                    return Attempt(200)  # posted by an attempt whose result was lost: not twice
                channel = str(payload["channel"])
                if payload.get("in_thread") and found.first is not None:
                    channel = found.first[0]
                    arguments["thread_ts"] = payload.get("thread_ts") or found.first[1]
                elif payload.get("thread_ts"):
                    arguments["thread_ts"] = payload["thread_ts"]
                answer = await client.chat_postMessage(channel=channel, **arguments)
                await run_blocking(
                    self._posted, item.id, message_id, str(answer["channel"]), str(answer["ts"])
                )
            else:
                if posted is None:
                    return Attempt(error="no Slack message was posted for this request", permanent=True)
                await client.chat_update(channel=posted[0], ts=posted[1], **arguments)
        except Exception as exc:  # mapped to retry or fail; anything unexpected is raised again
            return api.outcome(exc)
        return Attempt(200)

    async def aclose(self) -> None:
        return None

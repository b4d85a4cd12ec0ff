"""Channels: the ways a change reaches people and systems outside the server.

Each channel is a folder implementing the outbox's ``Sink`` (``fan_out`` in the transaction of
the change, ``deliver`` from the outbox worker) plus its own administration. ``sinks_for`` is the
registry: the one place that lists the channels this server runs.
"""

from __future__ import annotations

import httpx

from foureyes.server.channels.email import EmailSink
from foureyes.server.channels.slack import SlackSink
from foureyes.server.channels.webhook import WebhookSink
from foureyes.server.channels.webpush import WebPushSink
from foureyes.server.outbox import Sink
from foureyes.server.settings import Settings
from foureyes.storage import Database


def sinks_for(
    db: Database, settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None
) -> list[Sink]:
    """Every channel's sink, configured from ``settings`` (``transport``: for tests)."""
    return [
        WebhookSink(db, settings, transport=transport),
        EmailSink(db, settings),
        WebPushSink(db, settings, transport=transport),
        SlackSink(db, settings),
    ]

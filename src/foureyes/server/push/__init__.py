"""Push: how a committed change reaches whoever waits for it, on this replica or another.

::

    service commits a change (a decision, a create, a revocation)
        │
        ▼  publish(topic) after the commit             topics.py: (project, kind, name), REVOKED
    Notifier ─────────────────────────────────────────┐
        │ local.InProcessNotifier                      │ postgres.PostgresNotifier (PostgreSQL):
        │   topic -> this process's waiters            │   pg_notify to every other replica; their
        │                                              │   LISTEN thread publishes it locally there
        ▼                                              ▼
    waiters of the topic, each a registered subscriber (registry.Registry)
        │   WebSocket watcher (api/ws.py)     one subscription per watched item or run
        │   long-poll (api/humanlayer.py)     one subscription for the wait
        │   inbox event stream (inbox/live.py) the project's topic
        ▼
    the waiter re-reads the database and sends what it finds

    REVOKED ──► revocations.Revocations: one batched re-check of every registered subscriber's
                grant (also every ``revocation_recheck_seconds``) ──► registry.end(gone):
                WebSocket closed with 4401, long-poll re-reads into a 401, stream ends

A wake-up carries no data, only the topic: a lost or duplicated one does no harm, since the
waiter re-reads (and re-reads anyway after a while), and the database stays the one source of
truth. Subscribing happens *before* the read, so a change committed in between still wakes.
The registry also holds the WebSocket limits of each API key (``limits.Limits``) and closes
every WebSocket with 1001 on shutdown.
"""

from foureyes.server.push.limits import Limits, Refusal
from foureyes.server.push.local import InProcessNotifier
from foureyes.server.push.postgres import PostgresNotifier, notifier_for
from foureyes.server.push.registry import (
    EVENT_STREAM,
    LONG_POLL,
    WEBSOCKET,
    Grant,
    KeyGrant,
    Registry,
    SessionGrant,
    Subscriber,
)
from foureyes.server.push.revocations import Revocations
from foureyes.server.push.topics import (
    REVOKED,
    Notifier,
    Subscription,
    Topic,
    item_topic,
    project_topic,
    run_topic,
    settled_item,
)

__all__ = [
    "EVENT_STREAM",
    "LONG_POLL",
    "REVOKED",
    "WEBSOCKET",
    "Grant",
    "InProcessNotifier",
    "KeyGrant",
    "Limits",
    "Notifier",
    "PostgresNotifier",
    "Refusal",
    "Registry",
    "Revocations",
    "SessionGrant",
    "Subscriber",
    "Subscription",
    "Topic",
    "item_topic",
    "notifier_for",
    "project_topic",
    "run_topic",
    "settled_item",
]

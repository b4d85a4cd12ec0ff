"""What a wake-up names, and the two interfaces every waiter and every publisher uses.

A topic is ``(project_id, kind, name)``: an item's topic is ``(project_id, kind, call_id)``;
``run_topic`` and ``project_topic`` are published too on every create and completion, so a
watcher of a run is woken only by its own run's changes, and ``REVOKED`` after every commit that
may end a live subscriber's access. A notification across processes carries nothing but the
topic: whoever is woken re-reads the database, so a lost or duplicate wake-up does no harm.
Within the publishing process a wake-up may also hand over the completed item as committed
(``Subscription.handed``), so the waiters of a decision send it without reading it back; a
completed item changes no more, so what was handed is what a re-read would find.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Protocol

from foureyes._protocol import ItemState
from foureyes.storage import ItemRecord

Topic = tuple[int, str, str]  # (project_id, kind, call_id | run_id | "")

PROJECT = "project"
RUN = "run"

# Project ids start at 1: no item or project topic is ever (0, ...).
REVOKED: Topic = (0, "revoked", "")


def item_topic(project_id: int, kind: str, call_id: str) -> Topic:
    """Published when the item completes."""
    return (project_id, kind, call_id)


def project_topic(project_id: int) -> Topic:
    """Published on every create and every completion in a project, beside the item's own topic:
    for watchers of a whole run or inbox, which re-read what they show."""
    return (project_id, PROJECT, "")


def run_topic(project_id: int, run_id: str) -> Topic:
    """Published on every create and every completion of an item of ``run_id``."""
    return (project_id, RUN, run_id)


class Subscription(Protocol):
    async def wait(self, seconds: float) -> bool:
        """True when the topic was published since subscribing (or since the last wait that
        returned True), False after ``seconds``."""
        ...

    def handed(self) -> object | None:
        """What the publish that ended the last ``wait`` handed over (a completed item), or None
        when it handed nothing, came from another process, or was followed by one that did."""
        ...


class Notifier(Protocol):
    def subscribe(self, topic: Topic) -> AbstractAsyncContextManager[Subscription]: ...

    def publish(self, topic: Topic, handed: object | None = None) -> None:
        """Wake every subscriber of ``topic`` (handing this process's ``handed``). Safe to call
        from any thread."""
        ...

    def start(self) -> None:
        """Begin receiving other processes' wake-ups, if there are any; blocking, call it on a
        worker thread before serving."""
        ...

    def close(self) -> None: ...

    def subscriber_count(self) -> int:
        """Topic subscriptions held in this process now (the revocation check's included)."""
        ...


def settled_item(subscription: Subscription, waited_for: ItemRecord) -> ItemRecord | None:
    """The completed ``waited_for`` as the wake-up handed it over, else None (read it back)."""
    handed = subscription.handed()
    if isinstance(handed, ItemRecord) and handed.id == waited_for.id and handed.state != ItemState.PENDING:
        return handed
    return None

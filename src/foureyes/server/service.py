"""``Service``: the composition root. It builds the domain services on one ``Database`` and one
notifier, with every channel's sink fanning out their events, and hands them to the HTTP API,
the inbox and the CLI::

    service.items        create, read and list requests            (domain/items.py)
    service.decisions    approve, reject, answer                   (domain/decisions.py)
    service.receipts     signing keys, the JWKS, each decision's receipt (domain/receipts.py)
    service.bulk         approve or reject many in one transaction (domain/bulk.py)
    service.escalations  record escalations                        (domain/escalation.py)
    service.policies     rules applied at create time              (domain/policies.py)
    service.groups       approver groups a requirement names       (domain/groups.py)
    service.keys         API keys, personal tokens, authenticate   (domain/keys.py)
    service.people       reviewers, roles, invitations, sessions   (people.py)
    service.passkeys     reviewers' passkeys, signing in, step-up  (domain/passkeys.py)
    service.slack_links  Slack users linked to people by a code    (channels/slack/linking.py)
    service.webhooks     endpoints and their deliveries            (channels/webhook/admin.py)
    service.push         reviewers' Web Push subscriptions          (channels/webpush/)
    service.projects     default channels, deadline, email deciders (domain/projects.py)
    service.chains       fire escalation chain steps                (domain/chains.py)
    service.deliveries   every channel's deliveries, and flagging the failed (domain/deliveries.py)
    service.audit        the tamper-evident log and its checkpoints (audit/log.py)

The domain methods are synchronous (SQLAlchemy is); the HTTP layer calls them from worker
threads. Failures are raised as the typed errors of ``foureyes.server.domain.errors``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from foureyes.server.audit import AuditLog
from foureyes.server.audit.log import default_origin
from foureyes.server.channels import sinks_for
from foureyes.server.channels.slack.linking import SlackLinks
from foureyes.server.channels.webhook import WebhookSink
from foureyes.server.channels.webhook.admin import Webhooks
from foureyes.server.channels.webpush import PushSubscriptions, WebPushSink
from foureyes.server.domain.bulk import BulkDecisions
from foureyes.server.domain.chains import EscalationChains
from foureyes.server.domain.decisions import Decisions
from foureyes.server.domain.deliveries import Deliveries, DeliveryFailures
from foureyes.server.domain.escalation import Escalations
from foureyes.server.domain.events import Emitter
from foureyes.server.domain.groups import Groups
from foureyes.server.domain.items import (
    DEFAULT_PAGE_SIZE,
    FUNCTION_CALL,
    HUMAN_CONTACT,
    Items,
    PendingPage,
)
from foureyes.server.domain.keys import CreatedKey, Keys
from foureyes.server.domain.passkeys import Passkeys
from foureyes.server.domain.policies import Policies
from foureyes.server.domain.projects import Projects
from foureyes.server.domain.receipts import Receipts
from foureyes.server.members import Members
from foureyes.server.outbox import Sink
from foureyes.server.people import People
from foureyes.server.push import Limits, Notifier, Registry, Revocations, Topic, notifier_for
from foureyes.server.settings import Settings
from foureyes.storage import Database, ItemRecord

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "FUNCTION_CALL",
    "HUMAN_CONTACT",
    "CreatedKey",
    "PendingPage",
    "Service",
    "open_service",
]


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Service:
    def __init__(
        self,
        db: Database,
        notifier: Notifier,
        *,
        clock: Callable[[], datetime] = _utcnow,
        settings: Settings | None = None,
    ) -> None:
        settings = settings or Settings()
        self.db = db
        self.notifier = notifier
        self.settings = settings
        self._clock = clock
        # Every live WebSocket, long-poll and inbox stream of this process, and the check that
        # ends those whose key or access is revoked (the app runs it).
        self.subscribers = Registry(Limits.from_settings(settings))
        self.revocations = Revocations(
            db, notifier, self.subscribers, clock, settings.revocation_recheck_seconds
        )
        # The fan-out half of every channel: the outbox worker the app runs has its own sinks.
        self.sinks = sinks_for(db, settings)
        # Every change is appended to the tamper-evident log in its own transaction (audit/).
        self.audit = AuditLog(db, clock, origin=settings.audit_origin or default_origin(settings.public_url))
        self.emitter = Emitter(self._publish, self.sinks, audit=self.audit)
        self.people = People(db, settings, clock, on_revoked=self.revocations.announce, emitter=self.emitter)
        self.members = Members(db, self.emitter, clock, on_revoked=self.revocations.announce)
        self.slack_links = SlackLinks(db, self.emitter, self.people, clock)
        self.items = Items(db, self.emitter, clock)
        self.passkeys = Passkeys(db, clock)
        self.receipts = Receipts(db, clock)
        self.decisions = Decisions(db, self.emitter, self.items, self.people, clock, self.receipts)
        self.bulk = BulkDecisions(db, self.items, self.decisions)
        self.policies = Policies(db, self.emitter, self.decisions, clock)
        self.items.policy = self.policies
        self.groups = Groups(db, self.emitter, clock)
        self.escalations = Escalations(db, self.emitter, self.items, clock)
        self.keys = Keys(db, self.emitter, self.people, clock, on_revoked=self.revocations.announce)
        webhook_sink = next(s for s in self.sinks if isinstance(s, WebhookSink))
        self.webhooks = Webhooks(db, self.emitter, webhook_sink, clock)
        push_sink = next(s for s in self.sinks if isinstance(s, WebPushSink))
        self.push = PushSubscriptions(db, settings, push_sink, clock)
        self.projects = Projects(db, self.emitter, clock)
        self.chains = EscalationChains(db, self.emitter)
        self.delivery_failures = DeliveryFailures(self.emitter)
        self.deliveries = Deliveries(db)
        self.report_failures_of(self.sinks)

    def report_failures_of(self, sinks: Sequence[Sink]) -> None:
        """Let these sinks (and the app's outbox worker, given its sinks) report deliveries that
        failed for good through the domain."""
        for sink in sinks:
            if sink.flags_failures:
                sink.on_failed = self.delivery_failures.report

    def _publish(self, topic: Topic, settled: ItemRecord | None) -> None:
        # Looked up at each call, so whoever replaces the notifier's publish (tests) sees it.
        if settled is None:
            self.notifier.publish(topic)
        else:
            self.notifier.publish(topic, settled)

    @property
    def on_outbox(self) -> Callable[[], None] | None:
        """Called after a commit that queued deliveries (the app sets the worker's wake)."""
        return self.emitter.on_queued

    @on_outbox.setter
    def on_outbox(self, wake: Callable[[], None] | None) -> None:
        self.emitter.on_queued = wake

    def now(self) -> datetime:
        return self._clock()

    def close(self) -> None:
        self.notifier.close()
        self.db.close()


def open_service(settings: Settings) -> Service:
    """A Service on the configured database, migrated, for commands that do not run the server."""
    db = Database.from_url(settings.database_url, secret_key_file=settings.secret_key_file or None)
    try:
        db.migrate()
    except Exception:
        db.close()
        raise
    return Service(db, notifier_for(db), settings=settings)

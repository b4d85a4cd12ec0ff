"""``WebPushSink``: the Web Push channel's half of the outbox.

``fan_out`` runs in the transaction of a change: for a request created (unless a policy decides
it in that same transaction) or escalated it freezes
one notification (``message``) into one delivery per subscription of the project whose person
is still a member of it; the target is the subscription's id. ``deliver`` encrypts it for that
browser (``aes128gcm``, RFC 8188/8291, by pywebpush), signs the request with the server's VAPID
key (RFC 8292) and POSTs it to the subscription's push service, after the SSRF guard has passed
its host. A 404 or 410 means the subscription is gone: it is removed and the delivery failed
for good; any other failure is retried by the outbox.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import Connection

from foureyes.server.channels.webhook.sink import read_capped
from foureyes.server.channels.webpush import message
from foureyes.server.channels.webpush.vapid import VapidKey, contact_of, load_or_create
from foureyes.server.domain.events import Event, ItemCreated, ItemEscalated
from foureyes.server.outbox import Attempt, FailureReport
from foureyes.server.settings import Settings
from foureyes.server.ssrf import UnsafeURLError, check_url_async
from foureyes.server.threads import run_blocking
from foureyes.storage import Database, DeliveryRecord, Tx, outbox
from foureyes.storage import keys as key_rows
from foureyes.storage import push as push_rows

SINK = "webpush"
SWITCH = "FOUREYES_PUSH_ALLOW_PRIVATE"
# A notification is worth little after a day: retried that long, and kept that long by the push
# service for a phone that is offline (its TTL).
RETRY_MAX = timedelta(days=1)
TTL_SECONDS = 86_400
ATTEMPT_TIMEOUT_SECONDS = 10.0
MAX_RESPONSE_BYTES = 4096
GONE = (404, 410)


class WebPushSink:
    name = SINK

    def __init__(
        self, db: Database, settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self._db = db
        self._settings = settings
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self._key: VapidKey | None = None
        self.attempt_timeout_seconds = ATTEMPT_TIMEOUT_SECONDS
        self.per_target_concurrency = 1  # one browser: in order, one at a time
        # a phone not buzzed is not a request unseen: the inbox shows it anyway, so not flagged
        self.flags_failures = False
        self.on_failed: FailureReport | None = None
        self.retry_max = RETRY_MAX

    def vapid_key(self) -> VapidKey:
        """The server's VAPID key, made and stored on first use (blocking: the database)."""
        if self._key is None:
            self._key = load_or_create(self._db, datetime.now(UTC))
        return self._key

    # ------------------------------------------------------------------ in the change's transaction

    def fan_out(self, tx: Tx, event: Event) -> int:
        if not isinstance(event, ItemCreated | ItemEscalated):
            return 0
        if isinstance(event, ItemCreated) and event.settled:
            return 0  # decided by a policy as it was created: no one is asked
        item = event.record
        wanted = push_rows.recipients(tx.conn, item.project_id)
        project = key_rows.get_project(tx.conn, item.project_id) if wanted else None
        if project is None:
            return 0
        payload = message.encode(
            message.notification(
                item,
                project_slug=project.slug,
                agent=push_rows.agent_of(tx.conn, item.id),
                escalated=isinstance(event, ItemEscalated),
            )
        )
        for subscription_id in wanted:
            outbox.enqueue(
                tx.conn,
                sink=SINK,
                target=str(subscription_id),
                item_id=item.id,
                event_type=f"{item.kind}.{event.type}",
                payload=payload,
                now=event.at,
                expires_at=event.at + self.retry_max,
            )
        return len(wanted)

    # ------------------------------------------------------------------ in the outbox worker

    def paused_targets(self, conn: Connection) -> Collection[str]:
        return ()

    def _subscription(self, delivery: DeliveryRecord) -> push_rows.PushSubscription | None:
        with self._db.read() as conn:
            return push_rows.get(conn, int(delivery.target))

    def _remove(self, subscription_id: int) -> None:
        with self._db.write() as tx:
            push_rows.remove(tx.conn, subscription_id)

    async def deliver(self, delivery: DeliveryRecord, now: datetime) -> Attempt:
        subscription = await run_blocking(self._subscription, delivery)
        if subscription is None:
            return Attempt(
                error=f"push subscription {delivery.target} was turned off or expired", permanent=True
            )
        key = await run_blocking(self.vapid_key)
        # pywebpush (and its requests and aiohttp) on first use, not at every server's start.
        from pywebpush import WebPusher, WebPushException

        info = {
            "endpoint": subscription.endpoint,
            "keys": {"p256dh": subscription.p256dh, "auth": subscription.auth},
        }
        try:
            await check_url_async(
                subscription.endpoint, allow_private=self._settings.push_allow_private, switch=SWITCH
            )
            body = WebPusher(info).encode(delivery.payload.encode("utf-8"), "aes128gcm")["body"]
            headers = {
                "authorization": key.authorization(
                    subscription.endpoint, contact_of(self._settings.email_from, self._settings.base_url)
                ),
                "content-encoding": "aes128gcm",
                "content-type": "application/octet-stream",
                "ttl": str(TTL_SECONDS),
                "urgency": "high",
            }
            async with self._http().stream(
                "POST", subscription.endpoint, content=body, headers=headers
            ) as response:
                answer = await read_capped(response, MAX_RESPONSE_BYTES)
        except UnsafeURLError as exc:
            return Attempt(error=f"refused: {exc}")
        except (WebPushException, ValueError) as exc:
            # keys that cannot be encrypted for: no retry can fix them
            return Attempt(error=f"cannot encrypt for this subscription: {exc}", permanent=True)
        except httpx.TimeoutException:
            return Attempt(error=f"timed out after {self.attempt_timeout_seconds:g} s")
        except httpx.HTTPError as exc:
            return Attempt(error=f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
        status = response.status_code
        if 200 <= status < 300:
            return Attempt(status)
        text = answer.decode("utf-8", "replace")[:200]
        if status in GONE:
            await run_blocking(self._remove, subscription.id)
            return Attempt(
                status, f"HTTP {status}: the subscription is gone, removed: {text}", permanent=True
            )
        return Attempt(status, f"HTTP {status}: {text}")

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=self.attempt_timeout_seconds,
                follow_redirects=False,  # a redirect could lead past the SSRF guard
                trust_env=False,
                transport=self._transport,
            )
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

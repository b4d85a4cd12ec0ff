"""``PushSubscriptions``: a reviewer turns phone notifications on or off for one project.

The inbox posts what ``PushManager.subscribe`` gave the browser: the push service's endpoint
URL and the browser's keys. The endpoint is checked like a webhook URL (``server/ssrf.py``;
https only unless ``push_allow_private``), and the keys must be a P-256 point and a 16-byte
secret, so nothing that could never be encrypted for is stored.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric import ec

from foureyes.server.channels.webpush.sink import SWITCH, WebPushSink
from foureyes.server.domain.errors import InvalidParameterError
from foureyes.server.settings import Settings
from foureyes.server.ssrf import check_url
from foureyes.storage import Database
from foureyes.storage import push as push_rows

ENDPOINT_MAX = 2048


def _unb64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raise InvalidParameterError(f"the subscription's {what} is not base64url") from None


def check_keys(p256dh: str, auth: str) -> None:
    if len(p256dh) > 128 or len(auth) > 64:
        raise InvalidParameterError("the subscription's keys are too long")
    point = _unb64(p256dh, "p256dh key")
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    except ValueError:
        raise InvalidParameterError("the subscription's p256dh key is not a P-256 public key") from None
    if len(_unb64(auth, "auth secret")) != 16:
        raise InvalidParameterError("the subscription's auth secret must be 16 bytes")


class PushSubscriptions:
    def __init__(
        self, db: Database, settings: Settings, sink: WebPushSink, clock: Callable[[], datetime]
    ) -> None:
        self._db = db
        self._settings = settings
        self._sink = sink
        self._clock = clock

    def public_key(self) -> str:
        """The VAPID public key browsers subscribe with (made and stored on first use)."""
        return self._sink.vapid_key().public_key

    def check_endpoint(self, endpoint: str) -> None:
        if len(endpoint) > ENDPOINT_MAX:
            raise InvalidParameterError(f"a push endpoint is at most {ENDPOINT_MAX} characters")
        allow_private = self._settings.push_allow_private
        if not endpoint.startswith("https://") and not allow_private:
            raise InvalidParameterError("a push endpoint must be an https URL")
        check_url(endpoint, allow_private=allow_private, switch=SWITCH)

    def turn_on(self, user_id: int, project_id: int, endpoint: str, p256dh: str, auth: str) -> int:
        self.check_endpoint(endpoint)
        check_keys(p256dh, auth)
        with self._db.write() as tx:
            return push_rows.subscribe(
                tx.conn,
                user_id=user_id,
                project_id=project_id,
                endpoint=endpoint,
                p256dh=p256dh,
                auth=auth,
                now=self._clock(),
            )

    def turn_off(self, user_id: int, project_id: int, endpoint: str) -> int:
        """Off for this project; how many projects still notify this browser."""
        with self._db.write() as tx:
            return push_rows.unsubscribe(tx.conn, user_id=user_id, project_id=project_id, endpoint=endpoint)

    def is_on(self, user_id: int, project_id: int, endpoint: str) -> bool:
        with self._db.read() as conn:
            return push_rows.is_subscribed(conn, user_id=user_id, project_id=project_id, endpoint=endpoint)

    def of(self, user_id: int | None = None) -> list[push_rows.PushSubscription]:
        with self._db.read() as conn:
            return push_rows.list_for(conn, user_id=user_id)

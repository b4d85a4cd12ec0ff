"""The server's VAPID key (RFC 8292): made on first start, kept in the database.

Push services accept a message for a subscription only when it is signed by the key the browser
subscribed with, so the key must outlive restarts and be the same on every replica: it is one
``server_keys`` row, its private half sealed with the key file's key (``storage/sealing.py``).
Of several replicas starting together the first to insert wins, and every one reads that row.
"""

from __future__ import annotations

import base64
import functools
import time
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid02

from foureyes.storage import Database
from foureyes.storage import push as push_rows

KEY_NAME = "vapid"
# How long one signed request header stays valid (RFC 8292 allows at most 24 hours).
TOKEN_SECONDS = 12 * 3600


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _raw_public(key: ec.EllipticCurvePrivateKey) -> str:
    point = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return b64url(point)


@dataclass(frozen=True)
class VapidKey:
    # the uncompressed P-256 point, base64url: what PushManager.subscribe takes as
    # applicationServerKey, and the ``k`` of every request's Authorization header
    public_key: str
    private_pem: str

    def authorization(self, endpoint: str, contact: str) -> str:
        """The ``Authorization: vapid t=<JWT>, k=<public key>`` header for one endpoint."""
        parts = urlsplit(endpoint)
        claims = {
            "aud": f"{parts.scheme}://{parts.netloc}",
            "sub": contact,
            "exp": int(time.time()) + TOKEN_SECONDS,
        }
        return str(self._signer.sign(claims)["Authorization"])

    @functools.cached_property
    def _signer(self) -> Vapid02:
        signer = Vapid02.from_pem(self.private_pem.encode("ascii"))
        signer.conf = {"no-strict": True}  # ``sub`` is made by ``contact_of``, not matched by regex
        return signer


def load_or_create(db: Database, now: datetime) -> VapidKey:
    with db.read() as conn:
        found = push_rows.get_server_key(conn, db.box, KEY_NAME)
    if found is None:
        key = ec.generate_private_key(ec.SECP256R1())
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode("ascii")
        with db.write() as tx:
            push_rows.add_server_key(
                tx.conn, db.box, name=KEY_NAME, public_key=_raw_public(key), private_key=pem, now=now
            )
        with db.read() as conn:
            found = push_rows.get_server_key(conn, db.box, KEY_NAME)
        assert found is not None
    return VapidKey(found.public_key, found.private_key)


def contact_of(email_from: str, base_url: str) -> str:
    """The ``sub`` claim: who the push service may contact about this server's messages. The
    email channel's From address when there is one, else the server's public https URL, else a
    mailto: address at the server's host."""
    if "@" in email_from:
        address = email_from.rsplit("<", 1)[-1].rstrip(">").strip()
        return f"mailto:{address}"
    if base_url.startswith("https://"):
        return base_url
    return f"mailto:foureyes@{urlsplit(base_url).hostname or 'localhost'}"

"""``Receipts``: the signed receipt every decision carries, and the keys that sign them.

A decision is signed in its own transaction, before its row is written, so no decision is ever
stored without its receipt (``Decisions.record``). The claims are those of
``foureyes._receipts``; the signing key is the newest unretired row of ``signing_keys``, made
on first use (the server also makes one at start, so the JWKS is never empty). A rotation by
another process (``foureyes receipts rotate-key``) is picked up within ``KEY_RECHECK``; the old
key stays in the JWKS, so what it signed still verifies.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Connection

from foureyes import _receipts
from foureyes._protocol import ItemKind, ItemState
from foureyes.storage import Database, ItemRecord, NewDecision, Tx, keys
from foureyes.storage import signing_keys as key_rows
from foureyes.storage.records import SigningKeyRecord

logger = logging.getLogger(__name__)

KEY_RECHECK = timedelta(seconds=30)

_OUTCOMES: dict[str, str] = {
    ItemState.APPROVED: _receipts.APPROVED,
    ItemState.REJECTED: _receipts.REJECTED,
    ItemState.EXPIRED: _receipts.EXPIRED,
    ItemState.ANSWERED: _receipts.RESPONDED,
}


def _digest(value: Any, call_id: str) -> str | None:
    try:
        return _receipts.arguments_digest(value)
    except ValueError as exc:
        # Nothing can match it, so our SDK refuses to run on such a receipt; it still records
        # who decided what.
        logger.warning("receipt of %r without an argument digest: %s", call_id, exc)
        return None


def claims_for(
    item: ItemRecord,
    decision: NewDecision,
    project_slug: str,
    actor_email: str | None,
    actor_name: str | None,
) -> dict[str, Any]:
    """What a receipt of ``decision`` on ``item`` says (see ``foureyes._receipts``)."""
    is_call = item.kind == ItemKind.FUNCTION_CALL
    if is_call:
        edited = decision.edited_kwargs is not None
        arguments = decision.edited_kwargs if edited else item.spec.get("kwargs")
    else:
        edited, arguments = False, {"msg": item.spec.get("msg"), "subject": item.spec.get("subject")}
    return _receipts.claims(
        call_id=item.call_id,
        project=project_slug,
        kind=item.kind,
        fn=item.spec.get("fn") if is_call else None,
        arguments_sha256=_digest(arguments, item.call_id),
        edited=edited,
        outcome=_OUTCOMES[decision.verdict],
        response=decision.response,
        decided_by={"email": actor_email, "name": actor_name, "key_id": decision.actor_key_id},
        channel=decision.channel,
        decided_at=decision.decided_at,
        expires_at=item.expires_at,
    )


class Receipts:
    def __init__(self, db: Database, clock: Callable[[], datetime]) -> None:
        self._db = db
        self._clock = clock
        self._lock = threading.Lock()
        self._key: SigningKeyRecord | None = None
        self._private: tuple[str, Ed25519PrivateKey] | None = None
        self._checked_at: datetime | None = None
        # Slugs never change, so each project's is read once.
        self._slugs: dict[int, str] = {}

    def ensure_key(self) -> str:
        """Make the first signing key if there is none (at start); its kid."""
        with self._db.write() as tx:
            return self._signing_key(tx.conn, fresh=True).kid

    def rotate(self) -> str:
        """A new key signs from now on; the previous ones are retired but stay in the JWKS."""
        now = self._clock()
        with self._db.write() as tx:
            key = key_rows.insert(tx.conn, self._db.box, _receipts.new_private_key(), now)
            retired = key_rows.retire_all_but(tx.conn, key.id, now)
        with self._lock:
            self._key, self._checked_at = key, now
        logger.info("receipt signing key rotated: %s now signs (%d retired)", key.kid, retired)
        return key.kid

    def jwks(self) -> dict[str, Any]:
        """Every public key, current first, as a JWK Set."""
        with self._db.read() as conn:
            found = key_rows.public_keys(conn)
        return {"keys": [_receipts.public_jwk(public) for _, public, _, _ in found]}

    def sign(
        self,
        tx: Tx,
        item: ItemRecord,
        decision: NewDecision,
        actor_email: str | None,
        actor_name: str | None,
    ) -> str:
        """The receipt of ``decision``, signed in ``tx`` (the decision's own transaction)."""
        key = self._signing_key(tx.conn)
        slug = self._slugs.get(item.project_id)
        if slug is None:
            project = keys.get_project(tx.conn, item.project_id)
            slug = self._slugs[item.project_id] = "" if project is None else project.slug
        claims = claims_for(item, decision, slug, actor_email, actor_name)
        return _receipts.sign_with(claims, self._loaded(key), key.kid)

    def _loaded(self, key: SigningKeyRecord) -> Ed25519PrivateKey:
        """The key ready to sign: loaded once per key, not once per decision."""
        with self._lock:
            if self._private is None or self._private[0] != key.kid:
                self._private = (key.kid, Ed25519PrivateKey.from_private_bytes(key.private_key))
            return self._private[1]

    def _signing_key(self, conn: Connection, *, fresh: bool = False) -> SigningKeyRecord:
        now = self._clock()
        with self._lock:
            key, checked = self._key, self._checked_at
        if key is not None and checked is not None and not fresh and now - checked < KEY_RECHECK:
            return key
        key = key_rows.current(conn, self._db.box)
        if key is None:
            # Not cached: the transaction may yet roll back, and with it the key.
            key = key_rows.insert(conn, self._db.box, _receipts.new_private_key(), now)
            logger.warning("made the first key that signs decision receipts: %s", key.kid)
            return key
        with self._lock:
            self._key, self._checked_at = key, now
        return key

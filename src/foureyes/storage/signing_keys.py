"""The keys that sign decision receipts. Private keys are sealed with the database's
``SecretBox`` (like webhook secrets), so a copy of the database alone cannot forge a receipt."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, select

from foureyes._receipts import b64url, public_of, thumbprint, unb64url
from foureyes.storage.records import SigningKeyRecord
from foureyes.storage.schema import signing_keys
from foureyes.storage.sealing import SecretBox


def _record(box: SecretBox, row: Row[Any]) -> SigningKeyRecord:
    return SigningKeyRecord(
        id=row.id,
        kid=row.kid,
        public_key=unb64url(row.public_key),
        private_key=unb64url(box.open(row.private_key)),
        created_at=row.created_at,
        retired_at=row.retired_at,
    )


def current(conn: Connection, box: SecretBox) -> SigningKeyRecord | None:
    """The key that signs now: the newest one not retired."""
    row = conn.execute(
        select(signing_keys)
        .where(signing_keys.c.retired_at.is_(None))
        .order_by(signing_keys.c.id.desc())
        .limit(1)
    ).first()
    return None if row is None else _record(box, row)


def insert(conn: Connection, box: SecretBox, private: bytes, now: datetime) -> SigningKeyRecord:
    public = public_of(private)
    kid = thumbprint(public)
    result = conn.execute(
        signing_keys.insert().values(
            kid=kid,
            public_key=b64url(public),
            private_key=box.seal(b64url(private)),
            created_at=now,
        )
    )
    (key_id,) = result.inserted_primary_key or (None,)
    assert isinstance(key_id, int)
    return SigningKeyRecord(key_id, kid, public, private, now, None)


def retire_all_but(conn: Connection, key_id: int, now: datetime) -> int:
    """Retire every signing key other than ``key_id``; how many were retired."""
    result = conn.execute(
        signing_keys.update()
        .where(signing_keys.c.id != key_id, signing_keys.c.retired_at.is_(None))
        .values(retired_at=now)
    )
    return int(result.rowcount)


def public_keys(conn: Connection) -> list[tuple[str, bytes, datetime, datetime | None]]:
    """Every key's kid, public key, creation and retirement, newest first."""
    rows = conn.execute(select(signing_keys).order_by(signing_keys.c.id.desc())).all()
    return [(row.kid, unb64url(row.public_key), row.created_at, row.retired_at) for row in rows]

"""Reviewers' passkeys and the single-use WebAuthn challenges. Every function takes the
connection of the caller's unit of work."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, select

from foureyes.storage.schema import passkeys, webauthn_challenges


@dataclass(frozen=True)
class PasskeyRecord:
    id: int
    user_id: int
    # base64url, as WebAuthn's JSON carries it
    credential_id: str
    public_key: bytes
    sign_count: int
    name: str
    created_at: datetime
    last_used_at: datetime | None


@dataclass(frozen=True)
class ChallengeRecord:
    purpose: str
    user_id: int | None
    challenge: bytes
    item_id: int | None
    verdict: str | None
    expires_at: datetime


def _passkey(row: Row[Any]) -> PasskeyRecord:
    return PasskeyRecord(
        row.id,
        row.user_id,
        row.credential_id,
        bytes(row.public_key),
        row.sign_count,
        row.name,
        row.created_at,
        row.last_used_at,
    )


def add(
    conn: Connection,
    user_id: int,
    credential_id: str,
    public_key: bytes,
    sign_count: int,
    name: str,
    now: datetime,
) -> PasskeyRecord:
    result = conn.execute(
        passkeys.insert().values(
            user_id=user_id,
            credential_id=credential_id,
            public_key=public_key,
            sign_count=sign_count,
            name=name,
            created_at=now,
        )
    )
    (passkey_id,) = result.inserted_primary_key or (None,)
    assert isinstance(passkey_id, int)
    return PasskeyRecord(passkey_id, user_id, credential_id, public_key, sign_count, name, now, None)


def of_user(conn: Connection, user_id: int) -> list[PasskeyRecord]:
    rows = conn.execute(select(passkeys).where(passkeys.c.user_id == user_id).order_by(passkeys.c.id))
    return [_passkey(row) for row in rows]


def by_credential_id(conn: Connection, credential_id: str) -> PasskeyRecord | None:
    row = conn.execute(select(passkeys).where(passkeys.c.credential_id == credential_id)).first()
    return None if row is None else _passkey(row)


def remove(conn: Connection, user_id: int, passkey_id: int) -> bool:
    """Remove one of the person's own passkeys; False when they have none by that id."""
    result = conn.execute(passkeys.delete().where(passkeys.c.id == passkey_id, passkeys.c.user_id == user_id))
    return result.rowcount == 1


def record_use(conn: Connection, passkey: PasskeyRecord, sign_count: int, now: datetime) -> bool:
    """Store the counter of a checked assertion, only if no other use was stored since this
    passkey was read (two racing uses of one assertion: one wins)."""
    result = conn.execute(
        passkeys.update()
        .where(passkeys.c.id == passkey.id, passkeys.c.sign_count == passkey.sign_count)
        .values(sign_count=sign_count, last_used_at=now)
    )
    return result.rowcount == 1


def add_challenge(
    conn: Connection,
    nonce_hash: str,
    purpose: str,
    challenge: bytes,
    expires_at: datetime,
    *,
    user_id: int | None = None,
    item_id: int | None = None,
    verdict: str | None = None,
) -> None:
    conn.execute(
        webauthn_challenges.insert().values(
            nonce_hash=nonce_hash,
            purpose=purpose,
            user_id=user_id,
            challenge=challenge,
            item_id=item_id,
            verdict=verdict,
            expires_at=expires_at,
        )
    )


def take_challenge(conn: Connection, nonce_hash: str, now: datetime) -> ChallengeRecord | None:
    """The challenge handed out under this nonce, deleted as it is read: of two answers sent
    with one nonce only the first finds it. None when unknown, used or expired."""
    row = conn.execute(
        select(webauthn_challenges).where(webauthn_challenges.c.nonce_hash == nonce_hash)
    ).first()
    if row is None:
        return None
    deleted = conn.execute(webauthn_challenges.delete().where(webauthn_challenges.c.id == row.id))
    if deleted.rowcount != 1 or row.expires_at <= now:
        return None
    return ChallengeRecord(
        row.purpose, row.user_id, bytes(row.challenge), row.item_id, row.verdict, row.expires_at
    )


def prune_challenges(conn: Connection, now: datetime) -> int:
    """Forget challenges nobody answered in time."""
    result = conn.execute(webauthn_challenges.delete().where(webauthn_challenges.c.expires_at <= now))
    return int(result.rowcount)

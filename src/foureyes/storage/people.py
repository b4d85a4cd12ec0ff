"""``PeopleStore``: the queries about people: users, roles per project, invitations and sessions.

It shares the ``Database``'s engine and its one writer, so its writes are serialised with every
other write. Secrets (invitation links, session cookies) arrive here already hashed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, func, select
from sqlalchemy.exc import IntegrityError

from foureyes.storage import keys
from foureyes.storage.database import Database, Tx
from foureyes.storage.records import ProjectRecord
from foureyes.storage.schema import api_keys, invitations, memberships, projects, sessions, users


@dataclass(frozen=True)
class UserRecord:
    id: int
    email: str
    display_name: str
    password_hash: str | None
    created_at: datetime


@dataclass(frozen=True)
class MembershipRecord:
    user_id: int
    project_id: int
    project_slug: str
    project_name: str
    role: str


@dataclass(frozen=True)
class InvitationRecord:
    id: int
    email: str | None
    project_id: int
    project_slug: str
    role: str
    kind: str
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None


@dataclass(frozen=True)
class SessionRecord:
    id: int
    user_id: int
    csrf_token: str
    expires_at: datetime


class DuplicateEmailError(Exception):
    """Another user already has this address."""


def _user(row: Row[Any]) -> UserRecord:
    return UserRecord(row.id, row.email, row.display_name, row.password_hash, row.created_at)


class PeopleStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    # ------------------------------------------------------------------ users

    def count_users(self) -> int:
        with self._db.read() as conn:
            return int(conn.execute(select(func.count()).select_from(users)).scalar_one())

    def insert_user(
        self, tx: Tx, email: str, display_name: str, password_hash: str | None, *, now: datetime
    ) -> UserRecord:
        """In the caller's transaction, which records the change; DuplicateEmailError (the
        transaction is then unusable on PostgreSQL: let it roll back)."""
        try:
            result = tx.execute(
                users.insert().values(
                    email=email, display_name=display_name, password_hash=password_hash, created_at=now
                )
            )
            (user_id,) = result.inserted_primary_key or (None,)
        except IntegrityError:
            raise DuplicateEmailError(email) from None
        assert isinstance(user_id, int)
        return UserRecord(user_id, email, display_name, password_hash, now)

    def get_user(self, user_id: int) -> UserRecord | None:
        with self._db.read() as conn:
            row = conn.execute(select(users).where(users.c.id == user_id)).first()
        return None if row is None else _user(row)

    def find_user(self, email: str) -> UserRecord | None:
        with self._db.read() as conn:
            row = conn.execute(select(users).where(users.c.email == email)).first()
        return None if row is None else _user(row)

    def list_users(self) -> list[UserRecord]:
        with self._db.read() as conn:
            return [_user(row) for row in conn.execute(select(users).order_by(users.c.id))]

    def set_password(self, user_id: int, password_hash: str, display_name: str | None = None) -> None:
        values: dict[str, Any] = {"password_hash": password_hash}
        if display_name is not None:
            values["display_name"] = display_name
        with self._db.write() as conn:
            conn.execute(users.update().where(users.c.id == user_id).values(**values))

    def change_password(self, user_id: int, password_hash: str, keep_session_hash: str) -> None:
        """A new password, in one transaction with the end of every other session of the person
        (a session on another machine may be the reason the password is changed)."""
        with self._db.write() as conn:
            conn.execute(users.update().where(users.c.id == user_id).values(password_hash=password_hash))
            conn.execute(
                sessions.delete().where(
                    sessions.c.user_id == user_id, sessions.c.token_hash != keep_session_hash
                )
            )

    def clear_password(self, tx: Tx, user_id: int) -> None:
        """No password and no session any more: the person can only come back through a link."""
        tx.execute(users.update().where(users.c.id == user_id).values(password_hash=None))
        tx.execute(sessions.delete().where(sessions.c.user_id == user_id))

    # ------------------------------------------------------------------ memberships

    def set_role(self, tx: Tx, user_id: int, project: ProjectRecord, role: str, *, now: datetime) -> None:
        """Give the user ``role`` in the project, replacing any role they had there (in the
        caller's transaction, which records the change)."""
        updated = tx.execute(
            memberships.update()
            .where(memberships.c.user_id == user_id, memberships.c.project_id == project.id)
            .values(role=role)
        )
        if updated.rowcount == 0:
            tx.execute(
                memberships.insert().values(user_id=user_id, project_id=project.id, role=role, created_at=now)
            )

    def remove_role(self, tx: Tx, user_id: int, project_id: int, *, now: datetime) -> bool:
        """Take the role away, and with it the person's personal tokens for the project: they
        are revoked (kept for the record), so adding the person again does not revive them."""
        result = tx.execute(
            memberships.delete().where(
                memberships.c.user_id == user_id, memberships.c.project_id == project_id
            )
        )
        tx.execute(
            api_keys.update()
            .where(
                api_keys.c.user_id == user_id,
                api_keys.c.project_id == project_id,
                api_keys.c.revoked_at.is_(None),
            )
            .values(revoked_at=now)
        )
        return result.rowcount == 1

    def role_in_tx(self, tx: Tx, user_id: int, project_id: int) -> str | None:
        """The user's role in the project, read in the caller's write transaction."""
        role = tx.execute(
            select(memberships.c.role).where(
                memberships.c.user_id == user_id, memberships.c.project_id == project_id
            )
        ).scalar_one_or_none()
        return None if role is None else str(role)

    def count_with_role(self, tx: Tx, project_id: int, role: str) -> int:
        """How many hold ``role`` in the project, their rows locked until the caller's
        transaction ends (FOR UPDATE on PostgreSQL; SQLite has the one writer): two concurrent
        changes of the same roles see each other's outcome."""
        held = tx.execute(
            select(memberships.c.user_id)
            .where(memberships.c.project_id == project_id, memberships.c.role == role)
            .with_for_update()
        )
        return len(held.all())

    def memberships_of(self, user_id: int) -> list[MembershipRecord]:
        query = (
            select(memberships, projects.c.slug, projects.c.name)
            .join(projects, projects.c.id == memberships.c.project_id)
            .where(memberships.c.user_id == user_id)
            .order_by(projects.c.slug)
        )
        with self._db.read() as conn:
            return [
                MembershipRecord(row.user_id, row.project_id, row.slug, row.name, row.role)
                for row in conn.execute(query)
            ]

    def members_of(self, project_id: int) -> list[tuple[UserRecord, str]]:
        query = (
            select(users, memberships.c.role)
            .join(memberships, memberships.c.user_id == users.c.id)
            .where(memberships.c.project_id == project_id)
            .order_by(users.c.email)
        )
        with self._db.read() as conn:
            return [(_user(row), str(row.role)) for row in conn.execute(query)]

    def role_in(self, user_id: int, project_id: int) -> str | None:
        with self._db.read() as conn:
            role = conn.execute(
                select(memberships.c.role).where(
                    memberships.c.user_id == user_id, memberships.c.project_id == project_id
                )
            ).scalar_one_or_none()
        return None if role is None else str(role)

    def find_project(self, slug: str) -> ProjectRecord | None:
        with self._db.read() as conn:
            return keys.find_project(conn, slug)

    # ------------------------------------------------------------------ invitations

    def insert_invitation(
        self,
        tx: Tx,
        *,
        token_hash: str,
        email: str | None,
        project: ProjectRecord,
        role: str,
        kind: str,
        now: datetime,
        expires_at: datetime,
        revoke_unused_of_kind: bool = False,
    ) -> int:
        """The new invitation's id, inserted in the caller's transaction."""
        if revoke_unused_of_kind:
            # A new setup link replaces older ones: only the last one printed works.
            tx.execute(
                invitations.update()
                .where(invitations.c.kind == kind, invitations.c.used_at.is_(None))
                .values(expires_at=now)
            )
        result = tx.execute(
            invitations.insert().values(
                token_hash=token_hash,
                email=email,
                project_id=project.id,
                role=role,
                kind=kind,
                created_at=now,
                expires_at=expires_at,
            )
        )
        (invitation_id,) = result.inserted_primary_key or (None,)
        assert isinstance(invitation_id, int)
        return invitation_id

    def find_invitation(self, token_hash: str) -> InvitationRecord | None:
        query = (
            select(invitations, projects.c.slug)
            .join(projects, projects.c.id == invitations.c.project_id)
            .where(invitations.c.token_hash == token_hash)
        )
        with self._db.read() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        return InvitationRecord(
            row.id,
            row.email,
            row.project_id,
            row.slug,
            row.role,
            row.kind,
            row.created_at,
            row.expires_at,
            row.used_at,
        )

    def use_invitation(self, invitation_id: int, *, now: datetime) -> bool:
        """Mark the invitation used; False when it was used (or expired) already: exactly one
        of two racing accepts wins."""
        with self._db.write() as conn:
            result = conn.execute(
                invitations.update()
                .where(
                    invitations.c.id == invitation_id,
                    invitations.c.used_at.is_(None),
                    invitations.c.expires_at > now,
                )
                .values(used_at=now)
            )
            return result.rowcount == 1

    # ------------------------------------------------------------------ sessions

    def insert_session(
        self, *, token_hash: str, user_id: int, csrf_token: str, now: datetime, expires_at: datetime
    ) -> None:
        with self._db.write() as conn:
            # Expired sessions are swept here, so the table does not grow without bound.
            conn.execute(sessions.delete().where(sessions.c.expires_at <= now))
            conn.execute(
                sessions.insert().values(
                    token_hash=token_hash,
                    user_id=user_id,
                    csrf_token=csrf_token,
                    created_at=now,
                    expires_at=expires_at,
                )
            )

    def find_session(self, token_hash: str, *, now: datetime) -> SessionRecord | None:
        with self._db.read() as conn:
            row = conn.execute(
                select(sessions).where(sessions.c.token_hash == token_hash, sessions.c.expires_at > now)
            ).first()
        return None if row is None else SessionRecord(row.id, row.user_id, row.csrf_token, row.expires_at)

    def delete_session(self, token_hash: str) -> None:
        with self._db.write() as conn:
            conn.execute(sessions.delete().where(sessions.c.token_hash == token_hash))

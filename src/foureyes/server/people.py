"""People: users, their role in each project, invitations, inbox sessions and personal tokens.

Roles, per project: ``admin`` (decides and invites), ``reviewer`` (decides), ``viewer`` (sees).
Passwords are hashed with argon2id. There is no default password: people arrive through a
one-time, expiring link (an invitation, or the first-admin setup link printed at the first start
of a server with no users) whose token is stored only as a SHA-256 hash, as are session cookies.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2.exceptions import InvalidHashError, VerificationError

from foureyes.server import auth
from foureyes.server.domain.errors import (
    ForbiddenError,
    InvalidParameterError,
    InvitationError,
    LockedOutError,
    NotFoundError,
    UnauthorizedError,
)
from foureyes.server.domain.events import Emitter, SettingsChanged
from foureyes.server.passwords import check_password, password_hasher
from foureyes.server.settings import Settings
from foureyes.server.throttle import LoginThrottle
from foureyes.storage import Database, ProjectRecord, Tx
from foureyes.storage import keys as key_rows
from foureyes.storage.people import (
    DuplicateEmailError,
    InvitationRecord,
    MembershipRecord,
    PeopleStore,
    UserRecord,
)

logger = logging.getLogger(__name__)

ADMIN = "admin"
REVIEWER = "reviewer"
VIEWER = "viewer"
ROLES = (ADMIN, REVIEWER, VIEWER)
DECIDING_ROLES = frozenset({ADMIN, REVIEWER})

INVITE = "invite"
SETUP = "setup"
SETUP_PROJECT = "default"

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")


def hash_secret(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def normalise_email(email: str) -> str:
    address = email.strip().lower()
    if not _EMAIL.match(address) or len(address) > 320:
        raise InvalidParameterError(f"{email!r} is not an email address")
    return address


def check_role(role: str) -> str:
    if role not in ROLES:
        raise InvalidParameterError(f"role must be one of {', '.join(ROLES)}")
    return role


@dataclass(frozen=True)
class NewSession:
    """A signed-in session. ``token`` (the cookie) exists only here: the database keeps its hash."""

    token: str
    csrf_token: str
    user: UserRecord


@dataclass(frozen=True)
class SignedIn:
    user: UserRecord
    csrf_token: str


class People:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        clock: Callable[[], datetime],
        on_revoked: Callable[[], None] = lambda: None,
        emitter: Emitter | None = None,
    ) -> None:
        self.store = PeopleStore(db)
        self._db = db
        # Role changes are recorded in the change log with the change itself.
        self._emitter = emitter or Emitter(lambda *_: None)
        self._settings = settings
        self._clock = clock
        self.hasher = password_hasher(settings)
        # Called after a commit that ends someone's access, so their open streams are closed.
        self._on_revoked = on_revoked
        self.throttle = LoginThrottle(
            db,
            clock,
            max_failures=settings.login_max_failures,
            max_per_address=settings.login_max_failures_per_address,
            max_per_account=settings.login_max_failures_per_account,
            base_seconds=settings.login_lockout_seconds,
            ceiling_seconds=settings.login_lockout_max_seconds,
        )

    def _ensure_project(self, slug: str, now: datetime) -> ProjectRecord:
        with self._db.write() as tx:
            return key_rows.ensure_project(tx.conn, slug, now=now)

    def _changed(self, tx: Tx, project_id: int | None, what: str, channel: str, **details: object) -> None:
        self._emitter.emit(
            tx,
            SettingsChanged(
                project_id=project_id, at=self._clock(), channel=channel, what=what, details=details
            ),
        )

    def _set_role(
        self, user_id: int, project: ProjectRecord, role: str, channel: str, **details: object
    ) -> None:
        with self._db.write() as tx:
            self.store.set_role(tx, user_id, project, role, now=self._clock())
            self._changed(tx, project.id, "role_granted", channel, user_id=user_id, role=role, **details)

    def _insert_user(self, email: str, name: str, password_hash: str | None, channel: str) -> UserRecord:
        with self._db.write() as tx:
            user = self.store.insert_user(tx, email, name, password_hash, now=self._clock())
            self._changed(tx, None, "user_created", channel, user_id=user.id, email=email)
        return user

    # ------------------------------------------------------------------ users and roles

    def add_user(
        self, email: str, project: str, role: str, display_name: str | None = None
    ) -> tuple[UserRecord, str | None]:
        """Give ``email`` ``role`` in ``project`` (both created if new). For a person with no
        password yet, also an invitation link for setting one; None otherwise."""
        address = normalise_email(email)
        check_role(role)
        now = self._clock()
        record = self._ensure_project(_checked_slug(project), now)
        user = self.store.find_user(address)
        if user is None:
            user = self._insert_user(address, display_name or address.split("@")[0], None, "cli")
            logger.info("user %d (%s) created", user.id, address)
        self._set_role(user.id, record, role, "cli")
        logger.info("user %d is %s in project %r", user.id, role, record.slug)
        link = None if user.password_hash else self._link(address, record.slug, role, INVITE)
        return user, link

    def reset_password(self, email: str) -> str:
        """For the operator (the CLI): void the password, end every session and return a
        one-time link for choosing a new one, in the person's first project."""
        user = self.find_user(email)
        memberships = self.store.memberships_of(user.id)
        if not memberships:
            raise InvalidParameterError(
                f"{user.email} has no role in any project; give them one with users add"
            )
        with self._db.write() as tx:
            self.store.clear_password(tx, user.id)
            self._changed(tx, memberships[0].project_id, "password_reset", "cli", user_id=user.id)
        logger.info("password of user %d reset; sessions ended", user.id)
        self._on_revoked()
        first = memberships[0]
        return self._link(user.email, first.project_slug, first.role, INVITE)

    def remove_user(self, email: str, project: str) -> bool:
        user = self.store.find_user(normalise_email(email))
        found = self.store.find_project(project)
        if user is None or found is None:
            return False
        with self._db.write() as tx:
            removed = self.store.remove_role(tx, user.id, found.id, now=self._clock())
            if removed:
                self._changed(tx, found.id, "role_removed", "cli", user_id=user.id)
        if removed:
            logger.info("user %d removed from project %r; their tokens there revoked", user.id, found.slug)
            self._on_revoked()
        return removed

    def role_in(self, user_id: int, project_id: int) -> str | None:
        return self.store.role_in(user_id, project_id)

    def memberships_of(self, user_id: int) -> list[MembershipRecord]:
        return self.store.memberships_of(user_id)

    def project_for(self, user_id: int, slug: str) -> tuple[ProjectRecord, str]:
        """The project and the user's role in it; a project they are not in does not exist."""
        project = self.store.find_project(slug)
        role = None if project is None else self.store.role_in(user_id, project.id)
        if project is None or role is None:
            raise NotFoundError(f"project {slug!r} not found")
        return project, role

    def may_decide(self, user_id: int, project_id: int) -> None:
        role = self.store.role_in(user_id, project_id)
        if role is None:
            raise NotFoundError("not found")
        if role not in DECIDING_ROLES:
            raise ForbiddenError(f"your role in this project is {role}: viewers can see but not decide")

    # ------------------------------------------------------------------ invitations

    def invite(self, email: str, project: str, role: str) -> str | None:
        """A one-time link that lets ``email`` choose a password and join ``project`` as ``role``.
        Someone who already has a password gets the role at once and no link (None): a link
        must never let its holder take over an existing account."""
        address = normalise_email(email)
        existing = self.store.find_user(address)
        if existing is not None and existing.password_hash is not None:
            record = self._ensure_project(_checked_slug(project), self._clock())
            self._set_role(existing.id, record, check_role(role), "cli")
            logger.info("user %d is %s in project %r", existing.id, role, record.slug)
            return None
        return self._link(address, project, role, INVITE)

    def _link(self, email: str | None, project: str, role: str, kind: str) -> str:
        check_role(role)
        now = self._clock()
        record = self._ensure_project(_checked_slug(project), now)
        token = secrets.token_urlsafe(32)
        with self._db.write() as tx:
            invitation = self.store.insert_invitation(
                tx,
                token_hash=hash_secret(token),
                email=email,
                project=record,
                role=role,
                kind=kind,
                now=now,
                expires_at=now + timedelta(seconds=self._settings.invitation_max_age_seconds),
                revoke_unused_of_kind=kind == SETUP,
            )
            details = {"invitation": invitation, "email": email, "role": role, "kind": kind}
            self._changed(tx, record.id, "invitation_created", "cli", **details)
        logger.info("%s link created for project %r, role %s", kind, record.slug, role)
        return f"{self._settings.base_url}/inbox/invite/{token}"

    def setup_link_if_needed(self) -> str | None:
        """With no users at all, a fresh first-admin link (older ones stop working); else None."""
        if self.store.count_users() > 0:
            return None
        return self._link(None, SETUP_PROJECT, ADMIN, SETUP)

    def open_invitation(self, token: str) -> InvitationRecord:
        found = self.store.find_invitation(hash_secret(token))
        if found is None or found.used_at is not None or found.expires_at <= self._clock():
            raise InvitationError("this link is unknown, was used already or has expired")
        if found.kind == SETUP and self.store.count_users() > 0:
            raise InvitationError("this setup link is no longer valid: the server has users")
        return found

    def accept_invitation(
        self, token: str, email: str | None, display_name: str, password: str
    ) -> UserRecord:
        invitation = self.open_invitation(token)
        address = normalise_email(invitation.email or email or "")
        check_password(password)
        name = display_name.strip() or address.split("@")[0]
        user = self.store.find_user(address)
        if user is not None and user.password_hash is not None:
            # A link never sets the password of an account that has one.
            raise InvitationError("an account with this address exists already; sign in instead")
        if not self.store.use_invitation(invitation.id, now=self._clock()):
            raise InvitationError("this link was used already or has expired")
        password_hash = self.hasher.hash(password)
        if user is None:
            try:
                user = self._insert_user(address, name[:200], password_hash, "inbox")
            except DuplicateEmailError:
                raise InvitationError("an account with this address was created meanwhile") from None
        else:
            self.store.set_password(user.id, password_hash, name[:200])
        project = self.store.find_project(invitation.project_slug)
        assert project is not None
        self._set_role(user.id, project, invitation.role, "inbox", invitation=invitation.id)
        logger.info(
            "user %d joined project %r as %s by %s link",
            user.id,
            project.slug,
            invitation.role,
            invitation.kind,
        )
        found = self.store.get_user(user.id)
        assert found is not None
        return found

    # ------------------------------------------------------------------ sign-in and sessions

    @functools.cached_property
    def _dummy_hash(self) -> str:
        """Verified against when the account does not exist, so a wrong address costs as long as
        a wrong password and the timing does not tell which addresses have accounts. Made on the
        first sign-in, not at start: one hash at the production cost takes a good part of a
        second, which every CLI command and every test opening a service would pay."""
        return self.hasher.hash(secrets.token_urlsafe(16))

    def sign_in(self, email: str, password: str, address: str) -> NewSession:
        """A new session, or UnauthorizedError (one message for every wrong detail), or
        LockedOutError while this account or address is throttled (see ``throttle``).
        The failure is counted before the slow hash is checked, and given back when it is right."""
        account = email.strip().lower()
        wait = self.throttle.reserve(account, address)
        if wait > 0:
            logger.info("sign-in for %r from %s refused: locked out", account, address)
            raise LockedOutError(wait)
        dummy = self._dummy_hash  # before the look-up: the first sign-in is as slow either way
        user = self.store.find_user(account)
        stored = user.password_hash if user is not None and user.password_hash else dummy
        try:
            self.hasher.verify(stored, password)
            ok = user is not None and user.password_hash is not None
        except (VerificationError, InvalidHashError):
            ok = False
        if not ok or user is None:
            logger.info("failed sign-in for %r from %s", account, address)
            raise UnauthorizedError("wrong email address or password")
        self.throttle.succeeded(account, address)
        if user.password_hash is not None and self.hasher.check_needs_rehash(user.password_hash):
            self.store.set_password(user.id, self.hasher.hash(password))
        return self.start_session(user)

    def start_session(self, user: UserRecord) -> NewSession:
        token = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        now = self._clock()
        self.store.insert_session(
            token_hash=hash_secret(token),
            user_id=user.id,
            csrf_token=csrf,
            now=now,
            expires_at=now + timedelta(seconds=self._settings.session_max_age_seconds),
        )
        logger.info("user %d signed in", user.id)
        return NewSession(token, csrf, user)

    def session(self, token: str) -> SignedIn | None:
        found = self.store.find_session(hash_secret(token), now=self._clock())
        if found is None:
            return None
        user = self.store.get_user(found.user_id)
        return None if user is None else SignedIn(user, found.csrf_token)

    def sign_out(self, token: str) -> None:
        self.store.delete_session(hash_secret(token))
        self._on_revoked()

    # ------------------------------------------------------------------ personal tokens

    def personal_token_project(self, user_id: int, project: str) -> ProjectRecord:
        found, role = self.project_for(user_id, project)
        if role not in DECIDING_ROLES:
            raise ForbiddenError("viewers cannot have tokens that decide")
        return found

    def find_user(self, email: str) -> UserRecord:
        user = self.store.find_user(normalise_email(email))
        if user is None:
            raise NotFoundError(f"no user {email!r}")
        return user

    def get_user(self, user_id: int) -> UserRecord | None:
        return self.store.get_user(user_id)

    def list_users(self) -> list[UserRecord]:
        return self.store.list_users()

    def members_of(self, project_id: int) -> list[tuple[UserRecord, str]]:
        """Everyone with a role in the project, and the role."""
        return self.store.members_of(project_id)


def _checked_slug(project: str) -> str:
    if not auth.PROJECT_SLUG.match(project):
        raise InvalidParameterError(
            f"invalid project name {project!r}: use letters, digits, '.', '_' or '-' (at most 100)"
        )
    return project

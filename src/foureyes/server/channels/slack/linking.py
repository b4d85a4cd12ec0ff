"""Linking a Slack user to a person of this server by a one-time code.

An admin runs ``foureyes users slack-link-code EMAIL`` and hands the code to that person, who
types ``/foureyes link CODE`` in Slack (``commands.py``). The code is 60 random bits, valid for
10 minutes and once; the database keeps only its SHA-256 digest, and a newer code voids an older
one. The Slack user id comes from Slack's signed request, so whoever holds the code links the
Slack account they are signed in with: the code is as private as a password-reset link. A
linked Slack user decides as that person, in every project where the person has a deciding role
(``access.py``). Each link and unlink is a ``SettingsChanged`` event in the change log.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta

from foureyes.server.domain.events import Emitter, SettingsChanged
from foureyes.server.people import People, hash_secret
from foureyes.storage import Database, Tx
from foureyes.storage import slack_people as link_rows
from foureyes.storage.people import UserRecord

logger = logging.getLogger(__name__)

CODE_TTL = timedelta(minutes=10)
# No 0/O, 1/I/L or U: a code read aloud or copied by hand is typed right.
ALPHABET = "ABCDEFGHJKMNPQRSTVWXYZ23456789"
CODE_LENGTH = 12  # 12 characters of 30: about 59 bits
_NOT_CODE = re.compile(r"[\s-]+")


def code_digest(code: str) -> str:
    """The digest a code is kept as: case, spaces and dashes do not count."""
    return hash_secret(_NOT_CODE.sub("", code).upper())


def _new_code() -> str:
    raw = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
    return "-".join(raw[i : i + 4] for i in range(0, CODE_LENGTH, 4))


class SlackLinks:
    def __init__(self, db: Database, emitter: Emitter, people: People, clock: Callable[[], datetime]) -> None:
        self._db = db
        self._emitter = emitter
        self._people = people
        self._clock = clock

    def _changed(self, tx: Tx, what: str, channel: str, **details: object) -> None:
        self._emitter.emit(
            tx,
            SettingsChanged(project_id=None, at=self._clock(), channel=channel, what=what, details=details),
        )

    def new_code(self, email: str) -> str:
        """A fresh one-time code for the person with this address (NotFoundError: no such person)."""
        person = self._people.find_user(email)
        code = _new_code()
        now = self._clock()
        with self._db.write() as tx:
            link_rows.add_code(tx.conn, person.id, code_digest(code), now=now, expires_at=now + CODE_TTL)
            self._changed(tx, "slack_link_code_issued", "admin", email=person.email)
        logger.info("slack: link code issued for user %d", person.id)
        return code

    def redeem(self, code: str, slack_user: str, team_id: str | None) -> UserRecord | None:
        """Link ``slack_user`` to the person the code was issued for; None when the code is
        unknown, used or expired (which of these is not said)."""
        now = self._clock()
        with self._db.write() as tx:
            user_id = link_rows.use_code(tx.conn, code_digest(code), now=now)
            if user_id is None:
                return None
            link_rows.link(tx.conn, slack_user, user_id, team_id=team_id, now=now)
            self._changed(tx, "slack_user_linked", "slack", user_id=user_id, slack_user_id=slack_user)
        logger.info("slack: %s linked to user %d", slack_user, user_id)
        return self._people.get_user(user_id)

    def unlink(self, email: str) -> int:
        """Forget the Slack users linked to the person: how many there were."""
        person = self._people.find_user(email)
        with self._db.write() as tx:
            removed = link_rows.unlink(tx.conn, person.id)
            if removed:
                self._changed(tx, "slack_user_unlinked", "admin", email=person.email)
        return removed

    def unlink_slack_user(self, slack_user: str) -> bool:
        """Forget this Slack user's link (``/foureyes unlink``): whether there was one."""
        with self._db.write() as tx:
            user_id = link_rows.linked_person(tx.conn, slack_user)
            if user_id is None:
                return False
            link_rows.unlink_slack_user(tx.conn, slack_user)
            self._changed(tx, "slack_user_unlinked", "slack", user_id=user_id, slack_user_id=slack_user)
        return True

    def linked_person(self, slack_user: str) -> int | None:
        with self._db.read() as conn:
            return link_rows.linked_person(conn, slack_user)

    def slack_ids_of(self, user_id: int) -> list[str]:
        with self._db.read() as conn:
            return link_rows.slack_ids_of(conn, user_id)

    def slack_ids_by_person(self) -> dict[int, list[str]]:
        with self._db.read() as conn:
            return link_rows.slack_ids_by_person(conn)

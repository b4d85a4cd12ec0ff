"""Who is in a project, managed by its admins from the inbox: change a person's role, or take
them out of the project (their personal tokens there are revoked with it).

A project keeps at least one admin: the last admin can be neither demoted nor removed, checked
in the same write transaction as the change, so two admins demoting each other at once cannot
leave the project with none. Each change is recorded in the change log (channel ``inbox``, with
the admin who made it), and a change that takes access away closes the person's open streams.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from foureyes.server.domain.errors import ConflictError, NotFoundError
from foureyes.server.domain.events import Emitter, SettingsChanged
from foureyes.server.people import ADMIN, DECIDING_ROLES, check_role
from foureyes.storage import Database, ProjectRecord, Tx
from foureyes.storage.people import PeopleStore

CHANNEL = "inbox"
LAST_ADMIN = "a project keeps at least one admin: make someone else admin first"


class Members:
    def __init__(
        self,
        db: Database,
        emitter: Emitter,
        clock: Callable[[], datetime],
        on_revoked: Callable[[], None] = lambda: None,
    ) -> None:
        self._db = db
        self._store = PeopleStore(db)
        self._emitter = emitter
        self._clock = clock
        self._on_revoked = on_revoked

    def change_role(self, project: ProjectRecord, user_id: int, role: str, *, by: int) -> bool:
        """Give a member another role; False when that was their role already."""
        check_role(role)
        with self._db.write() as tx:
            current = self._role_in(tx, project, user_id)
            if current == role:
                return False
            if current == ADMIN:
                self._keep_an_admin(tx, project)
            self._store.set_role(tx, user_id, project, role, now=self._clock())
            self._record(tx, project, "role_granted", user_id=user_id, role=role, by=by)
        if current in DECIDING_ROLES and role not in DECIDING_ROLES:
            self._on_revoked()  # their open pages stop offering decisions
        return True

    def remove(self, project: ProjectRecord, user_id: int, *, by: int) -> None:
        with self._db.write() as tx:
            if self._role_in(tx, project, user_id) == ADMIN:
                self._keep_an_admin(tx, project)
            self._store.remove_role(tx, user_id, project.id, now=self._clock())
            self._record(tx, project, "role_removed", user_id=user_id, by=by)
        self._on_revoked()

    def _role_in(self, tx: Tx, project: ProjectRecord, user_id: int) -> str:
        role = self._store.role_in_tx(tx, user_id, project.id)
        if role is None:
            raise NotFoundError(f"that person is not in project {project.slug!r}")
        return role

    def _keep_an_admin(self, tx: Tx, project: ProjectRecord) -> None:
        if self._store.count_with_role(tx, project.id, ADMIN) <= 1:
            raise ConflictError(LAST_ADMIN)

    def _record(self, tx: Tx, project: ProjectRecord, what: str, **details: object) -> None:
        change = SettingsChanged(
            project_id=project.id, at=self._clock(), channel=CHANNEL, what=what, details=details
        )
        self._emitter.emit(tx, change)

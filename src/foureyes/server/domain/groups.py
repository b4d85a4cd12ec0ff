"""``Groups``: a project's approver groups, kept by the admin commands (``foureyes groups``).

A group is a name and a set of people (foureyes users, named by address); a request's approver
requirement names groups (``approvers.py``). A group that a policy names, or that a pending
request still needs, cannot be removed: the rule would refer to nothing, the request could never
be approved. Each change is a ``SettingsChanged`` event in the project's change log (and so in
the audit log), naming the people by user id.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from foureyes.server.domain.approvers import check_group_name
from foureyes.server.domain.errors import ConflictError, InvalidParameterError, NotFoundError
from foureyes.server.domain.events import Emitter, SettingsChanged
from foureyes.server.domain.rules import parse_action
from foureyes.storage import Database, GroupRecord, ProjectRecord, Tx
from foureyes.storage import groups as group_rows
from foureyes.storage import keys as key_rows
from foureyes.storage import policies as policy_rows

logger = logging.getLogger(__name__)

MAX_GROUPS = 100
MAX_MEMBERS = 1000


class Groups:
    def __init__(self, db: Database, emitter: Emitter, clock: Callable[[], datetime]) -> None:
        self._db = db
        self._emitter = emitter
        self._clock = clock

    def add(self, project: str, name: str, members: Sequence[str]) -> GroupRecord:
        """A new group of these people (every address must be a person's)."""
        check_group_name(name)
        with self._db.write() as tx:
            found = key_rows.ensure_project(tx.conn, project, now=self._clock())
            existing = group_rows.list_groups(tx.conn, found.id)
            if any(g.name == name for g in existing):
                raise InvalidParameterError(f"project {project!r} already has a group named {name!r}")
            if len(existing) >= MAX_GROUPS:
                raise InvalidParameterError(
                    f"project {project!r} has {MAX_GROUPS} groups, the most it may have"
                )
            people = self._people(tx, members)
            group_id = group_rows.insert(tx.conn, found.id, name, self._clock())
            group_rows.add_members(tx.conn, group_id, sorted(set(people.values())))
            self._changed(tx, found, "group_added", name=name, user_ids=sorted(set(people.values())))
            added = group_rows.list_groups(tx.conn, found.id, [name])[0]
        logger.info("group %r added to project %r with %d people", name, project, len(added.members))
        return added

    def change_members(
        self, project: str, name: str, *, add: Sequence[str] = (), remove: Sequence[str] = ()
    ) -> GroupRecord:
        """Add people to a group and take others out of it."""
        with self._db.write() as tx:
            found, group = self._group(tx, project, name)
            joining = self._people(tx, add)
            leaving = self._people(tx, remove)
            current = set(group_rows.people_by_address(tx.conn, group.members).values())
            new = sorted(set(joining.values()) - current)
            if len(current) + len(new) > MAX_MEMBERS:
                raise InvalidParameterError(f"a group has at most {MAX_MEMBERS} people")
            gone = sorted(set(leaving.values()) & current)
            group_rows.add_members(tx.conn, group.id, new)
            if gone:
                group_rows.remove_members(tx.conn, group.id, gone)
            self._changed(tx, found, "group_members_changed", name=name, added=new, removed=gone)
            changed = group_rows.list_groups(tx.conn, found.id, [name])[0]
        logger.info("group %r of project %r: %d joined, %d left", name, project, len(new), len(gone))
        return changed

    def remove(self, project: str, name: str) -> None:
        with self._db.write() as tx:
            found, group = self._group(tx, project, name)
            rules = [
                p.name
                for p in policy_rows.list_policies(tx.conn, found.id)
                if name in _groups_of_action(p.action)
            ]
            if rules:
                raise ConflictError(
                    f"group {name!r} is named by policy {', '.join(rules)}: change that first"
                )
            waiting = group_rows.pending_needing(tx.conn, found.id, name)
            if waiting:
                shown = ", ".join(waiting[:5])
                raise ConflictError(
                    f"group {name!r} is needed by {len(waiting)} pending request(s) ({shown}): "
                    "decide them first"
                )
            group_rows.remove(tx.conn, group.id)
            self._changed(tx, found, "group_removed", name=name)
        logger.info("group %r removed from project %r", name, project)

    def list_groups(self, project: str | None = None) -> list[tuple[str, GroupRecord]]:
        """Every project's groups (or one project's), each with its project's slug."""
        with self._db.read() as conn:
            projects = key_rows.list_projects(conn)
            return [
                (p.slug, g)
                for p in projects
                if project is None or p.slug == project
                for g in group_rows.list_groups(conn, p.id)
            ]

    def list_for(self, project_id: int) -> list[GroupRecord]:
        with self._db.read() as conn:
            return group_rows.list_groups(conn, project_id)

    def _group(self, tx: Tx, project: str, name: str) -> tuple[ProjectRecord, GroupRecord]:
        found = key_rows.find_project(tx.conn, project)
        # held to the end of the change: a create or policy naming it waits, then sees it
        group = None if found is None else group_rows.find(tx.conn, found.id, name, lock="update")
        if found is None or group is None:
            raise NotFoundError(f"project {project!r} has no group named {name!r}")
        return found, group

    def _people(self, tx: Tx, addresses: Sequence[str]) -> dict[str, int]:
        people = group_rows.people_by_address(tx.conn, addresses)
        unknown = sorted({a.strip().lower() for a in addresses} - set(people))
        if unknown:
            raise InvalidParameterError(
                f"no person with the address {', '.join(unknown)}: add them first (foureyes users add)"
            )
        return people

    def _changed(self, tx: Tx, project: ProjectRecord, what: str, **details: Any) -> None:
        self._emitter.emit(
            tx,
            SettingsChanged(
                project_id=project.id, at=self._clock(), channel="admin", what=what, details=details
            ),
        )


def _groups_of_action(action: str) -> tuple[str, ...]:
    try:
        approvers = parse_action(action).approvers
    except InvalidParameterError:
        return ()
    return () if approvers is None else approvers.groups

"""Approver groups in a request's requirement: approvals from members of named groups.

A requirement names some of its project's groups and how many distinct ones of them must each
have an approval: ``{"all_of": [a, b]}`` (every one), ``{"any_of": [a, b]}`` (one of them),
``{"at_least": M, "of": [a, b, c]}`` (M of them); a policy writes ``require:all_of(a,b)``,
``require:any_of(a,b)``, ``require:2_of(a,b,c)``. One person counts for at most one group, so
``all_of(finance,security)`` needs two people even when one is in both. An approval counts for
the groups its approver was in when approving (kept with the decision), and the groups are
matched to the approvers as well as they can be (a bipartite matching): someone in finance and
security who approved first still lets a later finance-only approver complete the pair.

With a count as well (``required_approvals``, ``require:N``), both hold: the groups are met and
at least that many distinct people approved; approvals beyond the groups' may come from anyone.
An approval that helps neither (its approver is in no group still needed and every other
approval is spoken for) is refused, so nobody believes their click counted when it did not.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from foureyes._approvers import GROUP_NAME, MAX_GROUPS, wire_shape
from foureyes.server.domain.errors import InvalidParameterError, ValidationFailedError, field_error
from foureyes.storage import ItemRecord
from foureyes.storage import groups as group_rows

REQUIRED_APPROVERS = "required_approvers"
_SPELLING = re.compile(r"^(all|any|\d+)_of\((.*)\)$")
SYNTAX = "all_of(A,B), any_of(A,B) or M_of(A,B,C)"


@dataclass(frozen=True)
class Requirement:
    """Approvals from ``needed`` distinct ones of ``groups``."""

    groups: tuple[str, ...]
    needed: int

    def as_json(self) -> dict[str, Any]:
        return wire_shape(self.groups, self.needed)

    def __str__(self) -> str:
        if self.needed == len(self.groups):
            head = "all"
        elif self.needed == 1:
            head = "any"
        else:
            head = str(self.needed)
        return f"{head}_of({','.join(self.groups)})"


def check_group_name(name: str) -> str:
    if not GROUP_NAME.match(name):
        raise InvalidParameterError(
            f"invalid group name {name!r}: use letters, digits, '.', '_' or '-' (at most 100)"
        )
    return name


def _requirement(groups: Any, needed: Any) -> Requirement | str:
    """The requirement, or what is wrong with it."""
    if not isinstance(groups, list) or not groups or len(groups) > MAX_GROUPS:
        return f"must name from 1 to {MAX_GROUPS} groups"
    if not all(isinstance(g, str) and GROUP_NAME.match(g) for g in groups):
        return "group names are letters, digits, '.', '_' or '-' (at most 100)"
    if len(set(groups)) != len(groups):
        return "names a group twice"
    if isinstance(needed, bool) or not isinstance(needed, int) or not 1 <= needed <= len(groups):
        return f"at_least must be an integer from 1 to the number of groups ({len(groups)})"
    return Requirement(tuple(groups), needed)


def requested_approvers(payload: Mapping[str, Any]) -> Requirement | None:
    """The ``required_approvers`` a create body names, checked in shape (whether the groups exist
    is the project's to say); None when it names none."""
    raw = payload.get(REQUIRED_APPROVERS)
    if raw is None:
        return None
    found: Requirement | str = "must be {all_of: [...]}, {any_of: [...]} or {at_least: M, of: [...]}"
    if isinstance(raw, dict) and len(raw) == 1 and "all_of" in raw:
        groups = raw["all_of"]
        found = _requirement(groups, len(groups) if isinstance(groups, list) else 0)
    elif isinstance(raw, dict) and len(raw) == 1 and "any_of" in raw:
        found = _requirement(raw["any_of"], 1)
    elif isinstance(raw, dict) and set(raw) == {"at_least", "of"}:
        found = _requirement(raw["of"], raw["at_least"])
    if isinstance(found, str):
        raise ValidationFailedError(
            f"required_approvers {found}", [field_error(["body", REQUIRED_APPROVERS], found)]
        )
    return found


def unknown_groups(conn: Connection, project_id: int, requirement: Requirement) -> list[str]:
    """The groups of ``requirement`` that the project does not have (those it has are held
    against a removal until this transaction ends)."""
    known = {g.name for g in group_rows.list_groups(conn, project_id, requirement.groups, lock="share")}
    return [g for g in requirement.groups if g not in known]


def check_requested(conn: Connection, project_id: int, requirement: Requirement) -> None:
    """A create body's requirement names only groups its project has (else 422 on the field)."""
    unknown = unknown_groups(conn, project_id, requirement)
    if unknown:
        message = f"the project has no group named {', '.join(unknown)}"
        raise ValidationFailedError(
            f"required_approvers: {message}", [field_error(["body", REQUIRED_APPROVERS], message)]
        )


def parse_spelling(text: str) -> Requirement | None:
    """A policy's ``all_of(a,b)``, ``any_of(a,b)`` or ``M_of(a,b,c)``; None when ``text`` is
    not of that form; InvalidParameterError when it is, but wrong."""
    found = _SPELLING.match(text.strip())
    if found is None:
        return None
    head = found.group(1)
    groups = [g.strip() for g in found.group(2).split(",")]
    needed = len(groups) if head == "all" else 1 if head == "any" else int(head)
    checked = _requirement(groups, needed)
    if isinstance(checked, str):
        raise InvalidParameterError(f"invalid action 'require:{text.strip()}': {checked} (require:{SYNTAX})")
    return checked


def requirement_of(item: ItemRecord) -> Requirement | None:
    if not item.approver_groups:
        return None
    return Requirement(item.approver_groups, item.approver_groups_needed)


def matching(candidates: Sequence[Sequence[str]]) -> dict[str, int]:
    """Groups matched to approvers (by index), as many as can each count for one of their own
    (augmenting paths; a requirement has at most 20 groups)."""
    owner: dict[str, int] = {}

    def place(person: int, seen: set[str]) -> bool:
        for group in candidates[person]:
            if group in seen:
                continue
            seen.add(group)
            if group not in owner or place(owner[group], seen):
                owner[group] = person
                return True
        return False

    for person in range(len(candidates)):
        place(person, set())
    return owner


def freeable(groups: Sequence[str], candidates: Sequence[Sequence[str]], owner: dict[str, int]) -> set[str]:
    """The groups one more approver could count for: those no one counts for, and those whose
    approver could move to another such group (an alternating path)."""
    free = {g for g in groups if g not in owner}
    grown = True
    while grown:
        grown = False
        for group, person in owner.items():
            if group not in free and any(g in free for g in candidates[person]):
                free.add(group)
                grown = True
    return free


@dataclass(frozen=True)
class Tally:
    """Where an item's approvals stand against its count and its groups."""

    approvals: int
    required: int
    groups_met: int
    groups_needed: int
    # the groups from which one more approver would count
    wanted: tuple[str, ...]

    @property
    def groups_left(self) -> int:
        return self.groups_needed - self.groups_met

    @property
    def others_left(self) -> int:
        """Approvals still needed beyond the groups', from anyone."""
        return max(self.required - self.approvals - self.groups_left, 0)

    @property
    def met(self) -> bool:
        return self.approvals >= self.required and self.groups_left == 0

    def still_needs(self) -> str:
        """'security', 'finance or legal', '2 of a, b, c', '... and 1 more from other people'."""
        parts = []
        if self.groups_left:
            wanted = list(self.wanted)
            if self.groups_left == len(wanted):
                parts.append(", ".join(wanted[:-1]) + (" and " if len(wanted) > 1 else "") + wanted[-1])
            elif self.groups_left == 1:
                parts.append(", ".join(wanted[:-1]) + " or " + wanted[-1])
            else:
                parts.append(f"{self.groups_left} of {', '.join(wanted)}")
        if self.others_left:
            parts.append(f"{self.others_left} more from other people")
        return " and ".join(parts)


def tally(item: ItemRecord, newcomer: Sequence[str] | None = None) -> Tally:
    """The item's tally, with one more approval by someone in ``newcomer``'s groups if given."""
    requirement = requirement_of(item)
    groups = () if requirement is None else requirement.groups
    people = [sorted(set(d.approver_groups) & set(groups)) for d in item.approvals()]
    if newcomer is not None:
        people.append(sorted(set(newcomer) & set(groups)))
    needed = 0 if requirement is None else requirement.needed
    owner = matching(people)
    met = min(len(owner), needed)
    free = freeable(groups, people, owner) if met < needed else set()
    return Tally(len(people), item.quorum, met, needed, tuple(g for g in groups if g in free))


def counts(item: ItemRecord, groups: Sequence[str]) -> bool:
    """Whether an approval by someone in ``groups`` brings the item closer: it counts for a group
    still needed, or some approval not spoken for by the groups remains."""
    before, after = tally(item), tally(item, groups)
    spare = (before.required - before.groups_needed) - (before.approvals - before.groups_met)
    return after.groups_met > before.groups_met or spare >= 1

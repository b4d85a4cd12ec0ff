"""What a function call asks of its reviewers beyond HumanLayer's protocol (foureyes extensions).

``allow_edit`` (a reviewer may approve edited arguments), ``required_approvals`` (that many
distinct people must approve) and ``required_approvers`` (approvals from members of named
groups: ``all_of("finance", "security")``, ``any_of(...)``, ``at_least(2, ...)``, or the wire
shape ``{"all_of": [...]}`` itself). Each is checked here, before anything is sent, with the
server's bounds; a request that asks for none of them is sent exactly as HumanLayer's SDK sends it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# The server's bounds too (server/domain/quorum.py and approvers.py take them from here), so
# the SDK's checks and the server's cannot drift apart.
MAX_REQUIRED_APPROVALS = 20
MAX_GROUPS = 20
GROUP_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_SHAPES = '{"all_of": [...]}, {"any_of": [...]} or {"at_least": M, "of": [...]}'


@dataclass(frozen=True)
class Approvers:
    """Approvals from members of ``needed`` distinct ones of ``groups`` (one person counts for
    one group). Made by `all_of`, `any_of` or `at_least`."""

    groups: tuple[str, ...]
    needed: int

    def __post_init__(self) -> None:
        groups = self.groups
        if not 1 <= len(groups) <= MAX_GROUPS:
            raise ValueError(f"approvers must name from 1 to {MAX_GROUPS} groups")
        for group in groups:
            if not isinstance(group, str) or not GROUP_NAME.match(group):
                raise ValueError(
                    f"invalid approver group name {group!r}: use letters, digits, '.', '_' or '-' "
                    "(at most 100, starting with a letter or digit)"
                )
        if len(set(groups)) != len(groups):
            raise ValueError(f"approvers name a group twice: {list(groups)}")
        needed = self.needed
        if isinstance(needed, bool) or not isinstance(needed, int) or not 1 <= needed <= len(groups):
            raise ValueError(
                f"at_least must be an integer from 1 to the number of groups ({len(groups)}), not {needed!r}"
            )

    def as_json(self) -> dict[str, Any]:
        """The create body's ``required_approvers``."""
        return wire_shape(self.groups, self.needed)


def wire_shape(groups: tuple[str, ...], needed: int) -> dict[str, Any]:
    """``required_approvers`` as the wire writes it (the server's ``status`` too): ``all_of``
    when every group is needed, ``any_of`` when one is, else ``at_least``/``of``."""
    if needed == len(groups):
        return {"all_of": list(groups)}
    if needed == 1:
        return {"any_of": list(groups)}
    return {"at_least": needed, "of": list(groups)}


def all_of(*groups: str) -> Approvers:
    """An approver from each of ``groups`` (``all_of("finance", "security")`` needs two people)."""
    return Approvers(tuple(groups), len(groups))


def any_of(*groups: str) -> Approvers:
    """An approver from one of ``groups``."""
    return Approvers(tuple(groups), 1)


def at_least(needed: int, *groups: str) -> Approvers:
    """Approvers from ``needed`` distinct ones of ``groups``."""
    return Approvers(tuple(groups), needed)


def approvers_of(value: Approvers | Mapping[str, Any]) -> Approvers:
    """``value`` as `Approvers`: one already, or the wire shape, checked."""
    if isinstance(value, Approvers):
        return value
    if not isinstance(value, Mapping):
        raise TypeError(f"approvers must be all_of(...), any_of(...), at_least(...) or {_SHAPES}")
    keys = set(value)
    if keys == {"all_of"}:
        return all_of(*_names(value["all_of"], "all_of"))
    if keys == {"any_of"}:
        return any_of(*_names(value["any_of"], "any_of"))
    if keys == {"at_least", "of"}:
        return at_least(value["at_least"], *_names(value["of"], "of"))
    raise ValueError(f"approvers must be {_SHAPES}, not {dict(value)!r}")


def _names(groups: Any, key: str) -> list[str]:
    if isinstance(groups, str) or not isinstance(groups, list | tuple):
        raise ValueError(f"approvers' {key!r} must be a list of group names, not {groups!r}")
    return list(groups)


def check_approvals(approvals: int | None) -> int | None:
    if approvals is None:
        return None
    if (
        isinstance(approvals, bool)
        or not isinstance(approvals, int)
        or not 1 <= approvals <= MAX_REQUIRED_APPROVALS
    ):
        raise ValueError(
            f"approvals must be an integer from 1 to {MAX_REQUIRED_APPROVALS}, not {approvals!r}"
        )
    return approvals


@dataclass(frozen=True)
class Ask:
    """What one function call asks beyond HumanLayer's protocol; `of` checks it."""

    allow_edit: bool = False
    approvals: int | None = None
    approvers: Approvers | None = None

    @classmethod
    def of(
        cls,
        allow_edit: bool = False,
        approvals: int | None = None,
        approvers: Approvers | Mapping[str, Any] | None = None,
    ) -> Ask:
        return cls(
            allow_edit=bool(allow_edit),
            approvals=check_approvals(approvals),
            approvers=None if approvers is None else approvers_of(approvers),
        )

    def body(self) -> dict[str, Any]:
        """The create-body keys this asks for (none by default: HumanLayer's body, unchanged)."""
        extra: dict[str, Any] = {}
        if self.allow_edit:
            extra["allow_edit"] = True
        if self.approvals is not None:
            extra["required_approvals"] = self.approvals
        if self.approvers is not None:
            extra["required_approvers"] = self.approvers.as_json()
        return extra


NOTHING = Ask()

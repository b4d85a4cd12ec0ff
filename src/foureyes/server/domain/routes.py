"""Route targets: where a policy's ``route:`` action sends a request.

A target is one of

- ``email:ADDRESS``: an email to that address (as if the agent had named it);
- ``slack:ID``: a Slack message, with its buttons, in that channel (``C...``) or to that user;
- ``email`` or ``slack``: the project's default channels of that kind;
- ``defaults``: all the project's default channels.

Targets are checked when the rule is written (``check_target``) and turned into ContactChannel
objects when a request matches (``resolve``): those are the ``routed_to`` of its ``created``
event, which the email and Slack sinks deliver to alongside the agent's own channel. A routed
request no longer goes to the project's default channels unless the route names them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from foureyes.server.domain.errors import InvalidParameterError
from foureyes.server.domain.projects import ADDRESS

EMAIL = "email"
SLACK = "slack"
DEFAULTS = "defaults"
NAMES = (EMAIL, SLACK, DEFAULTS)
_SLACK_ID = re.compile(r"^#?[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")
_USAGE = "use email:ADDRESS, slack:CHANNEL_ID, or email, slack or defaults (the project's default channels)"


def check_target(text: str) -> str:
    """One target as stored, or InvalidParameterError saying what is wrong with it."""
    target = text.strip()
    if target in NAMES:
        return target
    kind, _, value = target.partition(":")
    value = value.strip()
    if kind == EMAIL and len(value) <= 320 and ADDRESS.match(value):
        return f"{EMAIL}:{value}"
    if kind == SLACK and _SLACK_ID.match(value):
        return f"{SLACK}:{value}"
    if kind in (EMAIL, SLACK):
        what = "an email address" if kind == EMAIL else "a Slack channel or user id"
        raise InvalidParameterError(f"route target {target!r}: {value!r} is not {what}")
    raise InvalidParameterError(f"unknown route target {target!r}: {_USAGE}")


def check_targets(targets: Iterable[str]) -> tuple[str, ...]:
    checked = tuple(dict.fromkeys(check_target(t) for t in targets if t.strip()))
    if not checked:
        raise InvalidParameterError(f"a route needs at least one target: {_USAGE}")
    if sum(t.startswith(f"{SLACK}:") for t in checked) > 1:
        raise InvalidParameterError("a request has one Slack message: route to at most one slack:ID")
    return checked


def resolve(targets: Sequence[str], defaults: Sequence[Mapping[str, Any]]) -> tuple[dict[str, Any], ...]:
    """The ContactChannel objects ``targets`` name, in order, each once."""
    found: list[dict[str, Any]] = []
    for target in targets:
        kind, _, value = target.partition(":")
        if value and kind == EMAIL:
            found.append({EMAIL: {"address": value}})
        elif value and kind == SLACK:
            found.append({SLACK: {"channel_or_user_id": value}})
        else:
            found += [dict(c) for c in defaults if target == DEFAULTS or isinstance(c.get(target), Mapping)]
    unique: list[dict[str, Any]] = []
    for channel in found:
        if channel not in unique:
            unique.append(channel)
    return tuple(unique)

"""Presentation: what the templates show, computed in Python so templates stay plain.

Agent-written text is passed to the templates as plain strings; Jinja2's autoescaping makes it
literal text. Nothing here builds HTML (a call's arguments are rendered by ``arguments``). Stored
JSON is shown through ``renderable.json_text``, so a value that cannot be rendered shows as a
placeholder instead of failing the page.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from foureyes._protocol import ItemKind, ItemState
from foureyes.server.domain.errors import ValidationFailedError
from foureyes.server.renderable import json_text
from foureyes.storage import DecisionRecord, ItemRecord

AGES: dict[str, tuple[str, timedelta, bool]] = {
    # value: (label, age, newer-than?)
    "lt1h": ("newer than 1 hour", timedelta(hours=1), True),
    "lt24h": ("newer than 1 day", timedelta(days=1), True),
    "gt1h": ("older than 1 hour", timedelta(hours=1), False),
    "gt24h": ("older than 1 day", timedelta(days=1), False),
}


def age(then: datetime, now: datetime) -> str:
    seconds = max(0, int((now - then).total_seconds()))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 86400:
        return f"{seconds // 3600} h {seconds % 3600 // 60} min"
    return f"{seconds // 86400} d {seconds % 86400 // 3600} h"


def deadline(expires_at: datetime | None, now: datetime) -> str:
    """How long until ``expires_at``, as ``age`` says it ("in 4 min"); "expired" once past."""
    if expires_at is None:
        return ""
    return "expired" if expires_at <= now else "in " + age(now, expires_at)


def when(value: datetime | None) -> str:
    return "" if value is None else value.strftime("%Y-%m-%d %H:%M:%S UTC")


def who(decision: DecisionRecord) -> str:
    if decision.policy is not None:
        return f"policy:{decision.policy}"
    if decision.actor_email:
        name = decision.actor_name or decision.actor_email
        return f"{name} <{decision.actor_email}>" if name != decision.actor_email else name
    if decision.actor_key_id is not None:
        return f"API key #{decision.actor_key_id}"
    return "unknown"


def headline(item: ItemRecord) -> str:
    """What the item is about, in one line: the function name, or the question."""
    if item.kind == ItemKind.FUNCTION_CALL:
        return str(item.spec.get("fn", ""))
    subject = item.spec.get("subject")
    return str(subject) if subject else str(item.spec.get("msg", ""))


@dataclass(frozen=True)
class Option:
    name: str
    title: str | None
    description: str | None

    @property
    def label(self) -> str:
        return self.title or self.name


def preview(item: ItemRecord, limit: int = 160) -> str:
    """The arguments in one short line, for lists; the item's page shows them in full."""
    if item.kind != ItemKind.FUNCTION_CALL:
        return ""
    text = json_text(item.spec.get("kwargs") or {}, separators=(", ", ": "))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def options(item: ItemRecord) -> list[Option]:
    field = "reject_options" if item.kind == ItemKind.FUNCTION_CALL else "response_options"
    found = [o for o in item.spec.get(field) or [] if isinstance(o, dict)]
    return [Option(str(o["name"]), o.get("title"), o.get("description")) for o in found]


_VERDICT_LABELS: dict[str, str] = {
    ItemState.APPROVED: "Approved",
    ItemState.REJECTED: "Rejected",
    ItemState.ANSWERED: "Answered",
    ItemState.EXPIRED: "Expired: nobody decided before the deadline",
}


def verdict_label(decision: DecisionRecord) -> str:
    label = _VERDICT_LABELS[decision.verdict]
    return f"{label} ({decision.option_name})" if decision.option_name else label


# How each contact channel reads in words: its name, and the field naming whom it reaches.
_CHANNEL_WORDS = {
    "email": ("email to", "address"),
    "slack": ("Slack to", "channel_or_user_id"),
    "sms": ("SMS to", "phone_number"),
    "whatsapp": ("WhatsApp to", "phone_number"),
}


def channel_words(channel: Any) -> list[str]:
    """The contact channel an item asked for, in words ("email to boss@example.com"), one line
    per channel that is set; unknown channels by their name."""
    if not isinstance(channel, dict):
        return []
    found = []
    for name, value in channel.items():
        if value is None:
            continue
        words, field = _CHANNEL_WORDS.get(str(name), (str(name), ""))
        target = value.get(field) if isinstance(value, dict) else None
        found.append(f"{words} {target}" if isinstance(target, str) and target else words)
    return found


@dataclass(frozen=True)
class Change:
    key: str
    before: str | None  # None: added by the reviewer
    after: str | None  # None: removed by the reviewer


def _pretty(value: Any) -> str:
    return json_text(value, indent=2)


def edit_diff(asked: dict[str, Any], approved: dict[str, Any]) -> list[Change]:
    """The arguments a reviewer changed, added or removed before approving, as pretty JSON."""
    changed = [Change(str(k), _pretty(v), _pretty(approved[k])) for k, v in asked.items() if k in approved]
    found = [c for c in changed if c.before != c.after]
    found += [Change(str(k), _pretty(v), None) for k, v in asked.items() if k not in approved]
    return found + [Change(str(k), None, _pretty(v)) for k, v in approved.items() if k not in asked]


def edit_text(kwargs: dict[str, Any]) -> str:
    """The arguments as the JSON a reviewer edits."""
    return json.dumps(kwargs, indent=2, ensure_ascii=False)


def parse_edit(text: str) -> dict[str, Any] | None:
    """A reviewer's edited arguments from the form: None when left empty; a JSON object, or
    ``ValidationFailedError`` with what is wrong."""
    if not text.strip():
        return None
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise ValidationFailedError(f"The edited arguments are not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ValidationFailedError("The edited arguments must be a JSON object of the arguments by name.")
    return value

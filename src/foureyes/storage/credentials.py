"""Credentials inside contact channels, kept out of everything a person or a copy of the
database can read.

An agent may put a credential in a channel: the official SDK's ``SlackContactChannel`` has a
``bot_token``, and any channel kind may grow a field like it. A field inside a channel whose name
says it is a credential (it contains ``token``, ``secret`` or ``password``, in any case, at any
depth) is one. ``split`` takes a channel apart: the channel as stored and shown, each
credential's value replaced by ``[redacted]`` (still a string, so the official SDK parses what
the server answers), and the values by their path. ``seal`` keeps the values in
``channel_secrets``, sealed with the database's ``SecretBox``, one row per thing that holds
channels: a request's spec or one of its escalations (by item), a project's default channels or
escalation steps (by project). ``opened`` gives them back to the one reader that needs them (the
Slack sink, posting with the agent's token). ``redact`` is the replacement alone, applied again
wherever a channel is rendered, so a credential that reached a stored spec some other way is
still never shown.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, select

from foureyes.storage.schema import channel_secrets
from foureyes.storage.sealing import SecretBox

REDACTED = "[redacted]"
_WORDS = ("token", "secret", "password")

# What a row of channel_secrets belongs to.
SPEC = "spec"
ESCALATION = "escalation"
DEFAULT_CHANNELS = "default_channels"
ESCALATION_STEPS = "escalation_steps"

Path = list[str | int]
Secrets = list[tuple[Path, Any]]


def is_credential(name: str) -> bool:
    lowered = name.lower()
    return any(word in lowered for word in _WORDS)


def split(value: Any, at: Sequence[str | int] = ()) -> tuple[Any, Secrets]:
    """``value`` with every credential replaced by ``[redacted]``, and the credentials' values by
    their path (beginning with ``at``). A null, or ``[redacted]`` itself, is no credential."""
    found: Secrets = []

    def walk(node: Any, path: tuple[str | int, ...]) -> Any:
        if isinstance(node, Mapping):
            kept: dict[str, Any] = {}
            for key, child in node.items():
                if is_credential(str(key)) and child is not None and child != REDACTED:
                    found.append(([*path, key], child))
                    kept[key] = REDACTED
                else:
                    kept[key] = walk(child, (*path, key))
            return kept
        if isinstance(node, list):
            return [walk(child, (*path, index)) for index, child in enumerate(node)]
        return node

    return walk(value, tuple(at)), found


def split_channel_of(holder: Mapping[str, Any]) -> tuple[dict[str, Any], Secrets]:
    """A spec or an escalation with its ``channel`` split: the holder as stored, and the values."""
    if holder.get("channel") is None:
        return dict(holder), []
    channel, found = split(holder["channel"], ["channel"])
    return {**holder, "channel": channel}, found


def redact(value: Any) -> Any:
    return split(value)[0]


def redact_channel_of(holder: Mapping[str, Any]) -> dict[str, Any]:
    return split_channel_of(holder)[0]


def restore(value: Any, secrets: Secrets) -> Any:
    """A copy of ``value`` with the credentials put back where ``split`` found them."""
    restored = copy.deepcopy(value)
    for path, secret in secrets:
        node = restored
        for step in path[:-1]:
            node = node[step]
        node[path[-1]] = secret
    return restored


def seal(
    conn: Connection,
    box: SecretBox,
    secrets: Secrets,
    *,
    part: str,
    now: datetime,
    item_id: int | None = None,
    project_id: int | None = None,
    replace: bool = False,
) -> None:
    """Keep ``secrets`` sealed for an item or a project; ``replace``: instead of what the
    project kept for ``part`` before."""
    if replace and project_id is not None:
        conn.execute(
            delete(channel_secrets).where(
                channel_secrets.c.project_id == project_id, channel_secrets.c.part == part
            )
        )
    if not secrets:
        return
    conn.execute(
        channel_secrets.insert().values(
            item_id=item_id,
            project_id=project_id,
            part=part,
            secrets=box.seal(json.dumps(secrets, ensure_ascii=False)),
            created_at=now,
        )
    )


def carried(before: Sequence[Any], kept: Secrets, after: Sequence[Any]) -> Secrets:
    """The credentials of a list of channels that is set again: a channel given back as it is
    shown (``[redacted]`` where its credential was, as a settings form sends it) keeps its
    credential, at its new place in the list."""
    found: Secrets = []
    for path, secret in kept:
        if not path or not isinstance(path[0], int) or path[0] >= len(before):
            continue
        for index, channel in enumerate(after):
            if channel == before[path[0]]:
                found.append(([index, *path[1:]], secret))
                break
    return found


def opened(
    conn: Connection, box: SecretBox, item_id: int | None, part: str = SPEC, *, project_id: int | None = None
) -> Secrets:
    """The credentials kept for an item's ``part`` (its spec unless told), or a project's,
    oldest first."""
    owner = (
        channel_secrets.c.item_id == item_id
        if project_id is None
        else channel_secrets.c.project_id == project_id
    )
    rows = conn.execute(
        select(channel_secrets.c.secrets)
        .where(owner, channel_secrets.c.part == part)
        .order_by(channel_secrets.c.id)
    ).all()
    return [(list(path), value) for row in rows for path, value in json.loads(box.open(row.secrets))]

"""Slack users linked to people of this server, and the one-time codes that link them.

A code is kept only as its SHA-256 digest. Redeeming it is one conditional UPDATE (unused and
not expired), so of two attempts with the same code exactly one wins; a new code for a person
voids their codes not yet used. A Slack user is linked to one person; linking again moves it.
Every function takes the caller's connection.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, delete, select

from foureyes.storage.schema import slack_link_codes, slack_users


def add_code(conn: Connection, user_id: int, code_hash: str, *, now: datetime, expires_at: datetime) -> None:
    """Keep a new code for the person, voiding their unused ones (and every expired code)."""
    conn.execute(
        delete(slack_link_codes).where(
            ((slack_link_codes.c.user_id == user_id) & slack_link_codes.c.used_at.is_(None))
            | (slack_link_codes.c.expires_at <= now)
        )
    )
    conn.execute(
        slack_link_codes.insert().values(
            code_hash=code_hash, user_id=user_id, created_at=now, expires_at=expires_at
        )
    )


def use_code(conn: Connection, code_hash: str, *, now: datetime) -> int | None:
    """The person the code links, marking it used; None when it is unknown, used or expired."""
    unused = (
        (slack_link_codes.c.code_hash == code_hash)
        & slack_link_codes.c.used_at.is_(None)
        & (slack_link_codes.c.expires_at > now)
    )
    user_id = conn.execute(select(slack_link_codes.c.user_id).where(unused)).scalar()
    if user_id is None:
        return None
    result = conn.execute(slack_link_codes.update().where(unused).values(used_at=now))
    return int(user_id) if result.rowcount == 1 else None


def link(conn: Connection, slack_user_id: str, user_id: int, *, team_id: str | None, now: datetime) -> None:
    unlink_slack_user(conn, slack_user_id)
    conn.execute(
        slack_users.insert().values(
            slack_user_id=slack_user_id, user_id=user_id, team_id=team_id, linked_at=now
        )
    )


def unlink(conn: Connection, user_id: int) -> int:
    """Forget every Slack user linked to the person: how many there were."""
    return int(conn.execute(delete(slack_users).where(slack_users.c.user_id == user_id)).rowcount)


def unlink_slack_user(conn: Connection, slack_user_id: str) -> None:
    conn.execute(delete(slack_users).where(slack_users.c.slack_user_id == slack_user_id))


def linked_person(conn: Connection, slack_user_id: str) -> int | None:
    """The person the Slack user is linked to, if any."""
    found = conn.execute(
        select(slack_users.c.user_id).where(slack_users.c.slack_user_id == slack_user_id)
    ).scalar()
    return None if found is None else int(found)


def slack_ids_of(conn: Connection, user_id: int) -> list[str]:
    rows = conn.execute(
        select(slack_users.c.slack_user_id)
        .where(slack_users.c.user_id == user_id)
        .order_by(slack_users.c.slack_user_id)
    )
    return [str(row[0]) for row in rows]


def slack_ids_by_person(conn: Connection) -> dict[int, list[str]]:
    """Every link, by person (``foureyes users list`` shows them in one read)."""
    found: dict[int, list[str]] = {}
    rows = conn.execute(
        select(slack_users.c.user_id, slack_users.c.slack_user_id).order_by(slack_users.c.slack_user_id)
    )
    for user_id, slack_user_id in rows:
        found.setdefault(int(user_id), []).append(str(slack_user_id))
    return found

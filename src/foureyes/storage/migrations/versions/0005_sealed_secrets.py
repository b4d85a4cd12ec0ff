"""Webhook signing secrets sealed with the key file's key, no longer stored in the clear.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from alembic import context, op

from foureyes.storage.sealing import PREFIX, SecretBox

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

endpoints = sa.table(
    "webhook_endpoints",
    sa.column("id", sa.Integer()),
    sa.column("secret", sa.Text()),
    sa.column("previous_secret", sa.Text()),
)


def _box() -> SecretBox:
    box = context.config.attributes.get("secret_box")
    if not isinstance(box, SecretBox):
        raise RuntimeError("migration 0005 needs the sealing key: run it through Database.migrate()")
    return box


def _rewrite(change: Callable[[str], str]) -> None:
    conn = op.get_bind()
    for row in conn.execute(sa.select(endpoints)).all():
        conn.execute(
            endpoints.update()
            .where(endpoints.c.id == row.id)
            .values(
                secret=change(row.secret),
                previous_secret=None if row.previous_secret is None else change(row.previous_secret),
            )
        )


def _set_type(kind: sa.types.TypeEngine[str]) -> None:
    # A sealed secret is longer than the 100 characters a plain one had. SQLite does not enforce
    # the length, and rebuilding a table other rows refer to would trip its foreign keys.
    if op.get_bind().dialect.name == "postgresql":
        for column in ("secret", "previous_secret"):
            op.alter_column("webhook_endpoints", column, type_=kind)


def upgrade() -> None:
    box = _box()
    _set_type(sa.Text())
    _rewrite(lambda stored: stored if stored.startswith(PREFIX) else box.seal(stored))


def downgrade() -> None:
    _rewrite(_box().open)
    _set_type(sa.String(100))

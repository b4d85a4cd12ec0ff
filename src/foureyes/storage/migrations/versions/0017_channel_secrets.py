"""Credentials inside contact channels sealed apart: ``channel_secrets``, and the stored specs,
project channels and change-log entries that held one rewritten with ``[redacted]`` in its place.

Rows written before this migration are moved like new ones would have been stored: a request's
spec (its ``channel``), a project's default channels and escalation steps, and the ``channel``,
``routed_to``, ``channels`` and ``steps`` of change-log entries. An item keeps its
``request_digest`` (the audit log recorded it; ``audit verify`` puts the sealed values back to
check it). Only rows that mention a credential's word at all are read. The downgrade puts the
values back into specs and project channels; change-log entries stay redacted.

Revision ID: 0017
Revises: 0020
Create Date: 2026-12-03
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import context, op

from foureyes.storage.credentials import (
    DEFAULT_CHANNELS,
    ESCALATION,
    ESCALATION_STEPS,
    SPEC,
    Secrets,
    restore,
    split,
    split_channel_of,
)
from foureyes.storage.sealing import SecretBox

revision = "0017"
down_revision = "0020"
branch_labels = None
depends_on = None

items = sa.table("items", sa.column("id", sa.Integer()), sa.column("spec", sa.Text()))
projects = sa.table(
    "projects",
    sa.column("id", sa.Integer()),
    sa.column("default_channels", sa.Text()),
    sa.column("escalation_steps", sa.Text()),
)
events = sa.table(
    "events",
    sa.column("id", sa.Integer()),
    sa.column("item_id", sa.Integer()),
    sa.column("type", sa.String()),
    sa.column("data", sa.Text()),
)
secrets_table = sa.table(
    "channel_secrets",
    sa.column("id", sa.Integer()),
    sa.column("item_id", sa.Integer()),
    sa.column("project_id", sa.Integer()),
    sa.column("part", sa.String()),
    sa.column("secrets", sa.Text()),
    sa.column("created_at", sa.DateTime(timezone=True)),
)
_CHANNEL_FIELDS = ("channel", "routed_to", "channels", "steps")


def _box() -> SecretBox:
    box = context.config.attributes.get("secret_box")
    if not isinstance(box, SecretBox):
        raise RuntimeError("migration 0017 needs the sealing key: run it through Database.migrate()")
    return box


def _mentions_credentials(column: Any) -> Any:
    lowered = sa.func.lower(column)
    return sa.or_(lowered.like("%token%"), lowered.like("%secret%"), lowered.like("%password%"))


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _keep(
    box: SecretBox, found: Secrets, part: str, *, item_id: int | None = None, project_id: int | None = None
) -> None:
    op.get_bind().execute(
        secrets_table.insert().values(
            item_id=item_id,
            project_id=project_id,
            part=part,
            secrets=box.seal(json.dumps(found, ensure_ascii=False)),
            created_at=datetime.now(UTC),
        )
    )


def upgrade() -> None:
    op.create_table(
        "channel_secrets",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("item_id", sa.Integer(), nullable=True),
        sa.Column("project_id", sa.Integer(), nullable=True),
        sa.Column("part", sa.String(32), nullable=False),
        sa.Column("secrets", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_channel_secrets"),
        sa.ForeignKeyConstraint(["item_id"], ["items.id"], name="fk_channel_secrets_item_id_items"),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name="fk_channel_secrets_project_id_projects"
        ),
    )
    op.create_index("ix_channel_secrets_item_id", "channel_secrets", ["item_id"])
    op.create_index("ix_channel_secrets_project_id", "channel_secrets", ["project_id"])
    box = _box()
    conn = op.get_bind()
    for row in conn.execute(sa.select(items).where(_mentions_credentials(items.c.spec))).all():
        spec, found = split_channel_of(json.loads(row.spec))
        if found:
            _keep(box, found, SPEC, item_id=row.id)
            conn.execute(items.update().where(items.c.id == row.id).values(spec=_dumps(spec)))
    for row in conn.execute(sa.select(projects)).all():
        for column, part in (("default_channels", DEFAULT_CHANNELS), ("escalation_steps", ESCALATION_STEPS)):
            stored = getattr(row, column)
            if stored is None:
                continue
            kept, found = split(json.loads(stored))
            if found:
                _keep(box, found, part, project_id=row.id)
                conn.execute(projects.update().where(projects.c.id == row.id).values({column: _dumps(kept)}))
    for row in conn.execute(sa.select(events).where(_mentions_credentials(events.c.data))).all():
        data = json.loads(row.data)
        if not isinstance(data, dict):
            continue
        kept_data = dict(data)
        found_all: Secrets = []
        for name in _CHANNEL_FIELDS:
            if name in data:
                kept_data[name], found = split(data[name], [name])
                found_all += found
        if found_all:
            if row.type == "escalated" and row.item_id is not None:
                _keep(box, found_all, ESCALATION, item_id=row.item_id)
            conn.execute(events.update().where(events.c.id == row.id).values(data=_dumps(kept_data)))


def downgrade() -> None:
    box = _box()
    conn = op.get_bind()
    kept = conn.execute(sa.select(secrets_table).order_by(secrets_table.c.id)).all()
    for row in kept:
        found = [(list(path), value) for path, value in json.loads(box.open(row.secrets))]
        if row.part == SPEC and row.item_id is not None:
            spec = conn.execute(sa.select(items.c.spec).where(items.c.id == row.item_id)).scalar_one()
            restored = restore(json.loads(spec), found)
            conn.execute(items.update().where(items.c.id == row.item_id).values(spec=_dumps(restored)))
        elif row.part in (DEFAULT_CHANNELS, ESCALATION_STEPS) and row.project_id is not None:
            column = getattr(projects.c, row.part)
            stored = conn.execute(sa.select(column).where(projects.c.id == row.project_id)).scalar_one()
            if stored is not None:
                restored = restore(json.loads(stored), found)
                conn.execute(
                    projects.update()
                    .where(projects.c.id == row.project_id)
                    .values({row.part: _dumps(restored)})
                )
    op.drop_index("ix_channel_secrets_project_id", "channel_secrets")
    op.drop_index("ix_channel_secrets_item_id", "channel_secrets")
    op.drop_table("channel_secrets")

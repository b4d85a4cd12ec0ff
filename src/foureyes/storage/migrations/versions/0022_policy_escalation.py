"""A request's own escalation steps, given by a policy's ``escalate:`` action.

``items.escalation_steps`` is a JSON list of steps in order of their delay, the shape of a
project's chain (``{"after_seconds": 1800, "channels": [{"email": {"address": ...}}]}``); null:
the request follows its project's chain. ``items.next_escalation_at`` is when the next of its
own steps is due (null: none left), indexed with the state for the deadline task's scan;
``items.escalation_steps_done`` (0016) counts the steps fired, for both kinds.
``policies.action`` widens from 200 to 1000 characters for an escalate action's steps.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN on every backend (a batch copy would trip SQLite's foreign keys).
    op.add_column("items", sa.Column("escalation_steps", sa.Text(), nullable=True))
    op.add_column("items", sa.Column("next_escalation_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_items_own_escalation", "items", ["state", "next_escalation_at"])
    # An escalate: action of several steps is longer than the 200 characters of the other
    # actions (nothing refers to policies, so SQLite's table copy is safe here).
    with op.batch_alter_table("policies") as batch:
        batch.alter_column(
            "action", type_=sa.String(1000), existing_type=sa.String(200), existing_nullable=False
        )


def downgrade() -> None:
    with op.batch_alter_table("policies") as batch:
        batch.alter_column(
            "action", type_=sa.String(200), existing_type=sa.String(1000), existing_nullable=False
        )
    op.drop_index("ix_items_own_escalation", table_name="items")
    op.drop_column("items", "next_escalation_at")
    op.drop_column("items", "escalation_steps")

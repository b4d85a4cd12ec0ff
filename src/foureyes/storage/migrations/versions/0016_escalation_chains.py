"""Escalation chains: a project's steps, and how many of them each request has had.

``projects.escalation_steps`` is a JSON list of steps, in order of their delay:
``{"after_seconds": 600, "channels": [{"email": {"address": ...}}]}`` (null: none).
``items.escalation_steps_done`` counts the steps a request has had (0: none). Steps fire in
order, so it says which ones fired; the conditional UPDATE that raises it by one lets exactly
one replica fire each step.

Revision ID: 0016
Revises: 0014
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN on every backend (a batch copy would trip SQLite's foreign keys).
    op.add_column("projects", sa.Column("escalation_steps", sa.Text(), nullable=True))
    op.add_column(
        "items",
        sa.Column("escalation_steps_done", sa.Integer(), nullable=False, server_default=sa.text("0")),
    )


def downgrade() -> None:
    op.drop_column("items", "escalation_steps_done")
    op.drop_column("projects", "escalation_steps")

"""Deadlines: an item may carry ``expires_at``, and a project a default for it.

``items.expires_at`` is when a pending item completes as expired (null: it waits indefinitely),
indexed with the state for the server's expiry scan. ``projects.expires_after_seconds`` is the
deadline given to a request that names none (null: none).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN (nullable) on every backend: a batch copy would drop tables that other
    # rows refer to, which SQLite refuses with foreign keys on.
    op.add_column("items", sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_items_expiry", "items", ["state", "expires_at"])
    op.add_column("projects", sa.Column("expires_after_seconds", sa.Integer(), nullable=True))


def downgrade() -> None:
    # Plain DROP COLUMN (SQLite 3.35+), for the same reason as the upgrade's ADD COLUMN.
    op.drop_column("projects", "expires_after_seconds")
    op.drop_index("ix_items_expiry", table_name="items")
    op.drop_column("items", "expires_at")
